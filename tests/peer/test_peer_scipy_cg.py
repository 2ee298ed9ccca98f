"""SciPy's own CG tests, translated for numopt.linalg.cg.

Source: scipy/sparse/linalg/_isolve/tests/test_iterative.py (SciPy 1.17), the cases
that apply to ``cg``: the positive definite cases of ``IterativeParams`` (the others
skip ``cg`` there) with test_maxiter, test_convergence, test_precond_dummy and
test_x0_equals_Mb; test_precond_inverse; and the solver-wide test_atol, test_zero_rhs,
test_x0_working, test_x0_solves_problem_exactly, test_positional_error and
test_invalid_atol. Where numopt differs on purpose (real input only, finite
tolerances, no ``x0="Mb"``, no legacy ``A.psolve``, TypeError for a non-number) the
case asserts numopt's documented behaviour (docs/linalg.rst, "SciPy's and PyAMG's
tests").
"""

import itertools

import numpy as np
import pytest
from numpy.linalg import norm
from scipy.sparse import dia_array, kronsum
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from numopt.linalg import cg


def _poisson1d():
    data = np.ones((3, 40))
    data[0, :] = 2
    data[1, :] = -1
    data[2, :] = -1
    return dia_array((data, [0, -1, 1]), shape=(40, 40)).tocsr()


def _rand_sym_pd():
    np.random.seed(1234)  # SciPy's generator for this case
    data = np.random.rand(9, 9)
    return np.dot(data.conj(), data.T)


def _positive_definite_cases():
    """test_iterative.py::IterativeParams, the cases cg runs (b = arange(n) there)."""
    P1 = _poisson1d()
    P2 = kronsum(P1, P1)
    R = _rand_sym_pd()
    return {"poisson1d": P1, "poisson1d-F": P1.astype("f"), "poisson2d": P2,
            "poisson2d-F": P2.astype("f"), "rand-sym-pd": R, "rand-sym-pd-F": R.astype("f")}


CASES = _positive_definite_cases()


def _b(A):
    return np.arange(A.shape[0], dtype=float)


@pytest.mark.parametrize("name", sorted(CASES))
def test_maxiter(name):
    # test_iterative.py::test_maxiter: maxiter=1 stops after one iteration (info 1),
    # the callback having run once
    A = CASES[name]
    b = _b(A)
    residuals = []

    def callback(intermediate_result):
        residuals.append(norm(b - A @ intermediate_result.x))

    res = cg(A, b, x0=0 * b, rtol=1e-12, maxiter=1, callback=callback)
    assert len(residuals) == 1
    assert res.status == 1 and not res.success and res.nit == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_convergence(name):
    # test_iterative.py::test_convergence (b is float64, so the "-F" cases solve in
    # float64 in SciPy and in numopt alike; SciPy's rtol 1e-2 there is kept)
    A = CASES[name]
    rtol = 1e-8 if A.dtype.char in "dD" else 1e-2
    b = _b(A)
    x0 = 0 * b
    res = cg(A, b, x0=x0, rtol=rtol)
    np.testing.assert_array_equal(x0, 0 * b)  # x0 is not overwritten
    assert res.success and res.status == 0
    assert norm(A @ res.x - b) <= norm(b) * rtol


@pytest.mark.parametrize("name", sorted(CASES))
def test_precond_dummy(name):
    # test_iterative.py::test_precond_dummy: an identity preconditioner changes nothing
    A = CASES[name]
    b = _b(A)
    rtol = 1e-8

    def identity(v):
        return v

    precond = LinearOperator(A.shape, identity, rmatvec=identity)
    res = cg(A, b, M=precond, x0=0 * b, rtol=rtol)
    assert res.success
    assert norm(A @ res.x - b) <= norm(b) * rtol
    # SciPy also reads a legacy ``A.psolve`` attribute as the preconditioner; numopt
    # takes the preconditioner from ``M`` only (an identity psolve is the same run)
    op = aslinearoperator(A)
    op.psolve = identity
    res = cg(op, b, x0=0 * b, rtol=rtol)
    assert res.success
    assert norm(A @ res.x - b) <= norm(b) * rtol


@pytest.mark.parametrize("name", ["poisson1d", "poisson2d"])
def test_precond_inverse(name):
    # test_iterative.py::test_precond_inverse: with M = A^{-1} CG is done at once; at
    # most 3 products with A (numopt's: one iteration plus the true-residual check)
    A = CASES[name]
    b = _b(A)
    dense = A.toarray()
    count = [0]

    def matvec(v):
        count[0] += 1
        return A @ v

    op = LinearOperator(A.shape, matvec, rmatvec=lambda v: A.T @ v)
    precond = LinearOperator(A.shape, lambda v: np.linalg.solve(dense, v),
                             rmatvec=lambda v: np.linalg.solve(dense.T, v))
    res = cg(op, b, M=precond, x0=0 * b, rtol=1e-8)
    assert res.success
    assert norm(A @ res.x - b) <= norm(b) * 1e-8
    assert count[0] <= 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_x0_equals_Mb(name):
    # test_iterative.py::test_x0_equals_Mb: SciPy reads x0="Mb" as x0 = M b; numopt
    # takes arrays only (pass M @ b, or b when there is no M)
    A = CASES[name]
    b = _b(A)
    with pytest.raises(TypeError):
        cg(A, b, x0="Mb", rtol=1e-8)
    res = cg(A, b, x0=b.copy(), rtol=1e-8)  # what "Mb" means without M
    assert res.success and norm(A @ res.x - b) <= 1e-8 * norm(b)


def test_complex_cases_are_rejected():
    # the rand-cmplx-sym-pd(-F) cases of IterativeParams: numopt solves real systems
    rng = np.random.RandomState(1234)
    data = rng.rand(9, 9) + 1j * rng.rand(9, 9)
    data = np.dot(data.conj(), data.T)
    for A in (data, data.astype("F")):
        with pytest.raises(TypeError, match="A must hold real numbers"):
            cg(A, np.arange(9, dtype=float))


def test_atol():
    # test_iterative.py::test_atol: every finite (rtol, atol) pair, with badly scaled
    # preconditioners, meets max(atol, rtol ||b||) (SciPy's 1.00025 fudge for s390x is
    # not needed: numopt's success is checked on the true residual in longdouble).
    # SciPy also runs rtol = inf and atol = inf; numopt takes finite tolerances only.
    rng = np.random.default_rng(168441431005389)
    A = rng.uniform(size=[10, 10])
    A = A @ A.T + 10 * np.eye(10)
    b = 1e3 * rng.uniform(size=10)
    b_norm = np.linalg.norm(b)
    tols = np.r_[0, np.logspace(-9, 2, 7)]
    M0 = rng.standard_normal(size=(10, 10))
    M0 = M0 @ M0.T
    for M, rtol, atol in itertools.product([None, 1e-6 * M0, 1e6 * M0], tols, tols):
        if rtol == 0 and atol == 0:
            continue
        res = cg(A, b, M=M, rtol=rtol, atol=atol)
        assert res.success, (rtol, atol)
        assert np.linalg.norm(A @ res.x - b) <= max(atol, rtol * b_norm)
    for kwargs, name in [({"rtol": np.inf}, "rtol"), ({"atol": np.inf}, "atol")]:
        with pytest.raises(ValueError, match=name):
            cg(A, b, **kwargs)


def test_zero_rhs():
    # test_iterative.py::test_zero_rhs: b = 0 returns x = 0 at once, whatever x0
    rng = np.random.default_rng(1684414984100503)
    A = rng.random(size=[10, 10])
    A = A @ A.T + 10 * np.eye(10)
    b = np.zeros(10)
    for tol in np.logspace(-10, 2, 7):
        res = cg(A, b, rtol=tol)
        assert res.success
        np.testing.assert_allclose(res.x, 0.0, atol=1e-15)
        res = cg(A, b, rtol=tol, x0=np.ones(10))
        assert res.success
        np.testing.assert_allclose(res.x, 0.0, atol=tol)
        res = cg(A, b, rtol=tol, atol=0, x0=np.ones(10))
        if res.success:
            np.testing.assert_allclose(res.x, 0.0)
        for atol in (tol, 0.0):
            res = cg(A, b, rtol=tol, atol=atol)
            assert res.success
            np.testing.assert_allclose(res.x, 0.0, atol=1e-300)


def test_x0_working():
    # test_iterative.py::test_x0_working
    rng = np.random.default_rng(1685363802304750)
    A = rng.random(size=[10, 10])
    A = A @ A.T
    b = rng.random(10)
    x0 = rng.random(10)
    res = cg(A, b, atol=0, rtol=1e-6)
    assert res.success and norm(A @ res.x - b) <= 1e-6 * norm(b)
    res = cg(A, b, x0=x0, atol=0, rtol=1e-6)
    assert res.success and norm(A @ res.x - b) <= 1e-5 * norm(b)


def test_x0_solves_problem_exactly():
    # test_iterative.py::test_x0_solves_problem_exactly (gh-19948)
    rhs = np.array([-1.0, -1.0])
    res = cg(np.eye(2), rhs, x0=rhs)
    np.testing.assert_allclose(res.x, rhs)
    assert res.success and res.nit == 0


def test_positional_error():
    # test_iterative.py::test_positional_error: tolerances are keyword-only
    rng = np.random.default_rng(1685363802304750)
    A = rng.random(size=[10, 10])
    A = A @ A.T
    b, x0 = rng.random(10), rng.random(10)
    with pytest.raises(TypeError):
        cg(A, b, x0, 1e-5)


@pytest.mark.parametrize("atol, error", [("legacy", TypeError), (None, TypeError),
                                         (-1, ValueError)])
def test_invalid_atol(atol, error):
    # test_iterative.py::test_invalid_atol: SciPy raises ValueError for all three;
    # numopt raises TypeError for a value that is not a number (the house rule), naming
    # the argument either way
    rng = np.random.default_rng(1685363802304750)
    A = rng.random(size=[10, 10])
    A = A @ A.T
    b, x0 = rng.random(10), rng.random(10)
    with pytest.raises(error, match="atol"):
        cg(A, b, x0, atol=atol)
