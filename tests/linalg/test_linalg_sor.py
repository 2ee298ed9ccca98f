"""SOR/SSOR: sweeps against a dense reference and PyAMG, solves against spsolve, bad input."""

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

import numopt
from numopt.linalg import sor
from numopt.linalg._sor import sor_sweep as reference_sweep
from numopt.problems import poisson_2d, poisson_3d, random_spd_matrix
from numopt.testing import assert_same_stop


def dense_sor_sweep(A, b, x, omega, reverse=False):
    """One SOR sweep in matrix form: (D/w + L) x+ = b - (U + (1 - 1/w) D) x (forward),
    the roles of L and U swapped backward."""
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    if reverse:
        L, U = U, L
    rhs = b - (U + (1.0 - 1.0 / omega) * D) @ x
    return sla.solve_triangular(D / omega + L, rhs, lower=not reverse)


def _csr(A):
    A = sp.csr_array(A)
    return A.indptr.astype(np.int64), A.indices.astype(np.int64), A.data


def _numba_sweep(A, b, x, omega, reverse, order=None):
    from numopt.linalg._kernels_numba import sor_sweep

    return sor_sweep(np, *_csr(A), b, x, omega, order, None, reverse)


@pytest.fixture(scope="module")
def system():
    rng = np.random.default_rng(0)
    A = poisson_2d(6, 5).toarray() + np.diag(rng.uniform(0, 1, 30))
    A[0, 7] = A[7, 0] = -0.3  # not a pure stencil: unsorted couplings across rows
    return A, rng.standard_normal(30), rng.standard_normal(30)


@pytest.mark.parametrize("omega", [0.4, 1.0, 1.3, 1.9])
@pytest.mark.parametrize("reverse", [False, True])
def test_sweep_matches_dense_reference(system, omega, reverse):
    A, b, x0 = system
    expected = dense_sor_sweep(A, b, x0, omega, reverse)
    fast = _numba_sweep(A, b, x0.copy(), omega, reverse)
    ref = reference_sweep(np, *_csr(A), b, x0.copy(), omega, None, None, reverse)
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ref, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("omega", [0.8, 1.6])
def test_multicolor_sweep_is_sor_of_permuted_matrix(system, omega):
    A, b, x0 = system
    from numopt.linalg._validation import as_csr_system

    order, color_ptr = as_csr_system(A, np, np.float64).coloring()
    assert color_ptr[0] == 0 and color_ptr[-1] == 30
    # colour classes are independent sets: no coupling inside a class
    for k in range(len(color_ptr) - 1):
        rows = order[color_ptr[k]:color_ptr[k + 1]]
        block = A[np.ix_(rows, rows)]
        assert np.count_nonzero(block - np.diag(np.diag(block))) == 0
    P = A[np.ix_(order, order)]
    expected = np.empty(30)
    expected[order] = dense_sor_sweep(P, b[order], x0[order], omega)
    fast = _numba_sweep(A, b, x0.copy(), omega, False, order=order)
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=1e-12)


def test_five_point_stencil_gets_red_black_colouring():
    from numopt.linalg._validation import as_csr_system

    order, color_ptr = as_csr_system(poisson_2d(8), np, np.float64).coloring()
    assert len(color_ptr) == 3 and color_ptr[1] == 32
    i, j = np.divmod(order[:32], 8)
    assert np.all((i + j) % 2 == 0)


@pytest.mark.parametrize("omega", [1.0, 1.5])
@pytest.mark.parametrize("sweep", ["forward", "backward"])
def test_sweeps_agree_with_pyamg(omega, sweep):
    # to rounding: bit for bit holds where PyAMG's compiler did not fuse multiply-adds,
    # a property of its build; test_linalg_smoother pins down the order of operations
    from pyamg.relaxation.relaxation import sor as pyamg_sor

    A = poisson_2d(24)
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    x_ours, x_pyamg = np.zeros_like(b), np.zeros_like(b)
    for _ in range(4):
        pyamg_sor(A, x_pyamg, b, omega, sweep=sweep)
        _numba_sweep(A, b, x_ours, omega, sweep == "backward")
        np.testing.assert_allclose(x_ours, x_pyamg, rtol=1e-13, atol=1e-14)


def test_pyamg_symmetric_sweep_ignores_omega():
    """PyAMG 5.x runs its symmetric sweep as plain Gauss-Seidel whatever omega is:
    its 'SSOR(1.5)' equals our SSOR(1.0), not our SSOR(1.5)."""
    from pyamg.relaxation.relaxation import sor as pyamg_sor

    A = poisson_2d(12)
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    x_pyamg = np.zeros_like(b)
    pyamg_sor(A, x_pyamg, b, 1.5, sweep="symmetric")
    gs = _numba_sweep(A, b, _numba_sweep(A, b, np.zeros_like(b), 1.0, False), 1.0, True)
    ssor = _numba_sweep(A, b, _numba_sweep(A, b, np.zeros_like(b), 1.5, False), 1.5, True)
    np.testing.assert_allclose(x_pyamg, gs, rtol=1e-13, atol=1e-14)
    assert np.abs(x_pyamg - ssor).max() > 1e-2


@pytest.mark.parametrize("symmetric", [False, True])
def test_negative_diagonal_is_accepted(symmetric):
    # SOR needs a nonzero diagonal, of either sign (it used to demand a positive one):
    # on -A x = -b every row update negates numerator and divisor exactly, so the
    # iterates are those for A x = b bit for bit
    A = poisson_2d(6)
    b = np.random.default_rng(5).standard_normal(36)
    plus = sor(A, b, omega=1.3, symmetric=symmetric, tol=1e-10)
    minus = sor(-A, -b, omega=1.3, symmetric=symmetric, tol=1e-10)
    assert plus.success and minus.success and minus.nit == plus.nit
    np.testing.assert_array_equal(minus.x, plus.x)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense"])
def test_solve_matches_spsolve(symmetric, fmt):
    A = poisson_3d(5)
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    x_ref = spsolve(sp.csc_array(A), b)
    A_in = A.toarray() if fmt == "dense" else A.asformat(fmt)
    res = sor(A_in, b, omega=1.4, symmetric=symmetric, tol=1e-12)
    assert res.success and res.status == 0
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-9, atol=1e-10)
    assert res.residual <= 1e-12 * np.linalg.norm(b)
    assert res.omega == 1.4 and isinstance(res.nit, int)


def test_iteration_counts_and_stopping_rule():
    """nit is the first iteration whose residual meets the target."""
    A = poisson_2d(10)
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    seen = []
    res = sor(A, b, omega=1.5, tol=1e-8,
              callback=lambda xk: seen.append(np.linalg.norm(b - A @ xk)))
    # the callback sees every iteration, the converging one included (as in SciPy)
    assert len(seen) == res.nit
    assert all(s > 1e-8 * np.linalg.norm(b) for s in seen[:-1])
    assert seen[-1] <= 1e-8 * np.linalg.norm(b)
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)


def test_reference_path_agrees_with_kernels():
    A = random_spd_matrix(15, cond=5.0, seed=1) + 15 * np.eye(15)
    b = np.arange(15.0)
    fast = sor(A, b, omega=1.2, symmetric=True, tol=1e-13)
    seen = []
    with numopt.config_context(kernels="reference"):
        ref = sor(A, b, omega=1.2, symmetric=True, tol=1e-13,
                  callback=lambda intermediate_result: seen.append(
                      intermediate_result.residual))
    # the reference sums each row pairwise, the kernel in row order: the same stop
    # wherever rounding cannot move it
    assert_same_stop(fast.nit, ref.nit, seen, 1e-13 * np.linalg.norm(b))
    np.testing.assert_allclose(fast.x, ref.x, rtol=1e-12)


def test_float32_stays_float32():
    A = sp.csr_array(poisson_2d(6), dtype=np.float32)
    res = sor(A, np.ones(36, dtype=np.float32), omega=1.3, tol=1e-5)
    assert res.success and res.x.dtype == np.float32


def test_nonconvergence_reports_residual():
    A = poisson_2d(16)
    res = sor(A, np.ones(256), omega=1.0, maxiter=5)
    assert not res.success and res.status == numopt.Status.MAXITER and res.nit == 5
    assert "Residual norm" in res.message and res.residual > 0


def test_zero_rhs_converges_at_once():
    res = sor(poisson_2d(4), np.zeros(16))
    assert res.success and res.nit == 0 and not res.x.any()


def test_x0_is_not_modified():
    A = poisson_2d(5)
    x0 = np.ones(25)
    sor(A, np.zeros(25), x0, omega=1.2)
    assert np.all(x0 == 1.0)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"omega": 0.0}, "omega"), ({"omega": 2.0}, "omega"), ({"omega": -1.0}, "omega"),
    ({"omega": float("nan")}, "omega"), ({"tol": -1.0}, "tol"),
    ({"maxiter": -1}, "maxiter"), ({"ordering": "random"}, "ordering"),
])
def test_bad_parameters(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        sor(poisson_2d(3), np.ones(9), **kwargs)


def test_bad_matrices():
    b = np.ones(4)
    with pytest.raises(ValueError, match=r"\bA\b.*square"):
        sor(np.ones((4, 3)), b)
    with pytest.raises(ValueError, match=r"\bA\b.*nonzero diagonal"):
        sor(np.diag([1.0, 0.0, 2.0, 3.0]), b)
    with pytest.raises(ValueError, match=r"\bA\b.*nonzero diagonal"):
        sor(sp.csr_array(np.diag([1.0, -1.0, 0.0, 3.0])), b)
    # a stored zero counts as zero; a missing diagonal entry too
    with pytest.raises(ValueError, match=r"\bA\b.*nonzero diagonal"):
        sor(sp.csr_array(np.array([[0.0, 1.0], [1.0, 2.0]])), b[:2])
    bad = poisson_2d(2).toarray()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"\bA\b.*finite"):
        sor(sp.csr_array(bad), b)
    with pytest.raises(ValueError, match=r"\bb\b"):
        sor(poisson_2d(2), np.ones(5))
    with pytest.raises(ValueError, match=r"\bb\b.*finite"):
        sor(poisson_2d(2), np.array([1.0, np.inf, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"\bx0\b"):
        sor(poisson_2d(2), b, np.ones(3))
    with pytest.raises(TypeError, match=r"\bA\b"):
        from scipy.sparse.linalg import aslinearoperator
        sor(aslinearoperator(poisson_2d(2)), b)


@pytest.mark.parametrize("kernels", ["auto", "reference"])
def test_check_every(kernels):
    A = poisson_2d(6)
    b = np.ones(36)
    every = sor(A, b, omega=1.3, tol=1e-10)
    with numopt.config_context(kernels=kernels):
        res = sor(A, b, omega=1.3, tol=1e-10, check_every=4)
    assert res.success and res.nit % 4 == 0 and 0 <= res.nit - every.nit < 4
    assert res.residual == pytest.approx(np.linalg.norm(b - A @ res.x), rel=1e-6)


def test_success_holds_for_the_residual_recomputed_in_wider_precision():
    # success was decided on the residual in the working precision: near tol its own
    # rounding decides (22 of 285 successes of this sweep missed tol recomputed in
    # longdouble, float32 and float64 alike); the wider check makes it 0
    missed = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(10, 60))
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        A = (Q * np.geomspace(1, 10 ** rng.uniform(1, 4), n)) @ Q.T
        A = (A + A.T) / 2
        b = rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3)
        for dtype, tols in ((np.float32, (1e-4, 1e-5, 1e-6)),
                            (np.float64, (1e-12, 1e-13, 1e-14))):
            Ad, bd = A.astype(dtype), b.astype(dtype)
            for tol in tols:
                res = sor(Ad, bd, omega=1.2, tol=tol, maxiter=20000)
                wide_b = bd.astype(np.longdouble)
                true = np.linalg.norm(wide_b - Ad.astype(np.longdouble)
                                      @ res.x.astype(np.longdouble))
                assert res.residual == pytest.approx(float(true), rel=1e-6)
                if res.success and true > tol * np.linalg.norm(wide_b):
                    missed.append((seed, dtype.__name__, tol))
    assert not missed
