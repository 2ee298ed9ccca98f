"""CG/PCG against SciPy's iterates; the SSOR preconditioner against its matrix formula."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import numopt
from numopt.linalg import cg, ssor_preconditioner
from numopt.problems import poisson_2d, poisson_3d, random_spd_matrix
from numopt.testing import assert_same_stop


def _scipy_iterates(A, b, **kwargs):
    its = []
    x, info = spla.cg(A, b, callback=lambda xk: its.append(xk.copy()), **kwargs)
    return x, info, its


def _our_iterates(A, b, **kwargs):
    its = []
    res = cg(A, b, callback=lambda xk: its.append(xk), **kwargs)
    its.append(np.array(res.x))
    return res, its


def _true_residuals(A, b, iterates):
    return [np.linalg.norm(b - A @ x) for x in iterates]


def _compare(A, b, scipy_kwargs, our_kwargs):
    x_s, info, its_s = _scipy_iterates(A, b, **scipy_kwargs)
    res, its_o = _our_iterates(A, b, **our_kwargs)
    assert info == 0 and res.success
    # SciPy's count, unless a residual lies so near the target that the rounding of
    # the build decides (the true residual stands in for SciPy's updated one)
    threshold = max(scipy_kwargs.get("atol", 0.0), scipy_kwargs["rtol"] * np.linalg.norm(b))
    assert_same_stop(res.nit, len(its_s), _true_residuals(A, b, its_s), threshold,
                     margin=1e-4)
    scale = np.linalg.norm(x_s)
    for k, (a, c) in enumerate(zip(its_o, its_s)):
        assert np.linalg.norm(a - c) <= 1e-10 * scale, f"iterate {k + 1} differs"
    return res


@pytest.mark.parametrize("kind", ["csr", "dense", "operator"])
def test_iterates_match_scipy(kind):
    A = poisson_2d(20)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    A_in = {"csr": A, "dense": A.toarray(), "operator": spla.aslinearoperator(A)}[kind]
    _compare(A_in, b, {"rtol": 1e-8}, {"tol": 1e-8})


def test_iterates_match_scipy_with_x0_atol_and_rtol_alias():
    A = poisson_3d(6)
    rng = np.random.default_rng(1)
    b, x0 = rng.standard_normal(A.shape[0]), rng.standard_normal(A.shape[0])
    _compare(A, b, {"x0": x0, "rtol": 1e-7, "atol": 1e-3},
             {"x0": x0, "rtol": 1e-7, "atol": 1e-3})


@pytest.mark.parametrize("omega", [1.0, 1.6])
def test_pcg_iterates_match_scipy(omega):
    A = poisson_2d(16)
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    M = ssor_preconditioner(A, omega)
    res = _compare(A, b, {"rtol": 1e-9, "M": M}, {"tol": 1e-9, "M": M})
    plain = cg(A, b, tol=1e-9)
    assert res.nit < plain.nit / 2


def test_reference_path_agrees_with_kernels():
    A = poisson_2d(12)
    b = np.linspace(-1, 1, 144)
    fast = cg(A, b, tol=1e-10)
    seen = []
    with numopt.config_context(kernels="reference"):
        ref = cg(A, b, tol=1e-10,
                 callback=lambda intermediate_result: seen.append(intermediate_result.x))
    # the kernels sum in another order than the reference: the same stop wherever
    # rounding cannot move it
    assert_same_stop(fast.nit, ref.nit, _true_residuals(A, b, seen),
                     1e-10 * np.linalg.norm(b), margin=1e-4)
    np.testing.assert_allclose(fast.x, ref.x, rtol=1e-10)


def dense_sor_sweep(A, b, x, omega, reverse=False):
    """One SOR sweep in matrix form (see test_linalg_sor.py)."""
    import scipy.linalg as sla

    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    if reverse:
        L, U = U, L
    rhs = b - (U + (1.0 - 1.0 / omega) * D) @ x
    return sla.solve_triangular(D / omega + L, rhs, lower=not reverse)


def explicit_ssor(A, omega):
    """Saad's (D + w L) D^{-1} (D + w U) / (w (2 - w))."""
    A = np.asarray(A)
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    return (D + omega * L) @ np.linalg.inv(D) @ (D + omega * U) / (omega * (2 - omega))


@pytest.mark.parametrize("omega", [0.3, 1.0, 1.5, 1.95])
def test_ssor_preconditioner_is_the_explicit_matrix(omega):
    A = random_spd_matrix(12, cond=30.0, seed=4)
    M = explicit_ssor(A, omega)
    # the same matrix written as the issue writes it
    D = np.diag(np.diag(A))
    L, U = np.tril(A, -1), np.triu(A, 1)
    M_alt = (D / omega + L) @ np.linalg.inv(D / omega) @ (D / omega + U) / (2 - omega)
    np.testing.assert_allclose(M, M_alt, rtol=1e-12, atol=1e-12)
    op = ssor_preconditioner(A, omega)
    Minv = op.matmat(np.eye(12))
    np.testing.assert_allclose(Minv @ M, np.eye(12), atol=1e-10)
    # and it is one SSOR iteration: x + M^{-1}(b - A x) equals a symmetric sweep
    rng = np.random.default_rng(5)
    b, x = rng.standard_normal(12), rng.standard_normal(12)
    sweep = dense_sor_sweep(A, b, dense_sor_sweep(A, b, x, omega), omega, reverse=True)
    np.testing.assert_allclose(x + op.matvec(b - A @ x), sweep, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("omega", [0.7, 1.4])
def test_ssor_preconditioner_reference_and_multicolor(omega):
    A = poisson_2d(5, 4).toarray() + 0.5 * np.eye(20)
    r = np.random.default_rng(6).standard_normal(20)
    fast = ssor_preconditioner(A, omega).matvec(r)
    with numopt.config_context(kernels="reference"):
        ref = ssor_preconditioner(A, omega).matvec(r)
    np.testing.assert_allclose(fast, ref, rtol=1e-12)
    np.testing.assert_allclose(fast, np.linalg.solve(explicit_ssor(A, omega), r), rtol=1e-10)
    # multicolour SSOR is SSOR of the permuted matrix P A P^T
    from numopt.linalg._validation import as_csr_system

    order, _ = as_csr_system(A, np, np.float64).coloring()
    multi = ssor_preconditioner(A, omega, ordering="multicolor").matvec(r)
    P = A[np.ix_(order, order)]
    expected = np.empty(20)
    expected[order] = np.linalg.solve(explicit_ssor(P, omega), r[order])
    np.testing.assert_allclose(multi, expected, rtol=1e-10)


def test_nonconvergence_and_breakdown():
    A = poisson_2d(16)
    b = np.ones(256)
    res = cg(A, b, tol=1e-12, maxiter=3)
    assert not res.success and res.nit == 3 and "Residual norm" in res.message
    indefinite = sp.diags_array([1.0, -1.0, 2.0, 3.0])
    res = cg(indefinite, np.ones(4), tol=1e-12)
    assert not res.success and "positive definite" in res.message


def test_zero_rhs_and_float32():
    res = cg(poisson_2d(4), np.zeros(16))
    assert res.success and res.nit == 0 and not res.x.any()
    A32 = sp.csr_array(poisson_2d(8), dtype=np.float32)
    res = cg(A32, np.ones(64, dtype=np.float32), tol=1e-5)
    assert res.success and res.x.dtype == np.float32


def test_bad_input():
    b = np.ones(9)
    with pytest.raises(ValueError, match=r"\bA\b.*square"):
        cg(np.ones((9, 8)), b)
    with pytest.raises(ValueError, match=r"\bb\b"):
        cg(poisson_2d(3), np.ones(8))
    with pytest.raises(ValueError, match=r"\bM\b"):
        cg(poisson_2d(3), b, M=np.eye(4))
    with pytest.raises(ValueError, match=r"\btol\b"):
        cg(poisson_2d(3), b, tol=-1)
    with pytest.raises(ValueError, match=r"\bA\b.*finite"):
        cg(sp.csr_array(np.diag([1.0, np.nan, 1.0])), np.ones(3))
    with pytest.raises(ValueError, match=r"\bomega\b"):
        ssor_preconditioner(poisson_2d(3), 2.5)
    with pytest.raises(ValueError, match=r"\bA\b.*diagonal"):
        ssor_preconditioner(np.diag([1.0, 0.0]), 1.0)


def test_array_api_strict_pcg_and_multicolor_sor():
    xp = pytest.importorskip("array_api_strict")
    from numopt.linalg import sor

    A = poisson_2d(5).toarray()
    b = np.linspace(0, 1, 25)
    x_ref = np.linalg.solve(A, b)
    M = ssor_preconditioner(xp.asarray(A), 1.3)
    res = cg(xp.asarray(A), xp.asarray(b), M=M, tol=1e-12)
    assert res.success and isinstance(res.x, type(xp.asarray(b)))
    np.testing.assert_allclose(np.asarray(res.x), x_ref, rtol=1e-10)
    res = sor(xp.asarray(A), xp.asarray(b), omega=1.3, ordering="multicolor", tol=1e-12)
    np.testing.assert_allclose(np.asarray(res.x), x_ref, rtol=1e-10)
