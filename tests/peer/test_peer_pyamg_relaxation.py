"""PyAMG's relaxation tests, translated for numopt.linalg's sor_sweep, sor and SSOR.

Source: pyamg/relaxation/tests/test_relaxation.py (PyAMG 5.x), the gauss_seidel and sor
cases: TestCommonRelaxation (precision, strided x, mixed precision, vector sizes,
non-square matrix), TestRelaxation.test_gauss_seidel_gold, test_gauss_seidel_csr and
test_sor, TestComplexRelaxation (complex input). Cases that do not apply: jacobi (numopt
has no Jacobi smoother), BSR / block / indexed / normal-equation / Schwarz relaxation
(numopt relaxes point-wise on CSR; a BSR matrix is converted to CSR, so its sweep is
point Gauss-Seidel, not PyAMG's block one). Where numopt differs on purpose (1-D x and
b only, strided x accepted, A and b cast to the working dtype, complex input rejected,
omega applied in symmetric sweeps) the case asserts numopt's documented behaviour
(docs/linalg.rst, "SciPy's and PyAMG's tests").
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_almost_equal
from scipy.linalg import solve

from numopt.linalg import sor, sor_sweep
from numopt.problems import poisson_1d, poisson_2d

# test_relaxation.py::TestCommonRelaxation.setUp: gauss_seidel and sor(omega=0.5)
SMOOTHERS = {"gauss_seidel": {"omega": 1.0}, "sor": {"omega": 0.5}}


def _tridiag(n):
    """test_relaxation.py's diags_array([2, -1, -1], offsets=[0, -1, 1]) in CSR."""
    return sp.csr_array(poisson_1d(n))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", sorted(SMOOTHERS))
def test_single_and_double_precision(method, dtype):
    # TestCommonRelaxation.test_single_precision / test_double_precision: runs, and
    # keeps the dtype (numopt checks the relaxed x against the dense form too)
    A = _tridiag(4).astype(dtype)
    b = np.arange(4, dtype=dtype)
    x = 0 * b
    out = sor_sweep(A, x, b, **SMOOTHERS[method])
    assert out is x and x.dtype == np.dtype(dtype)
    D, L = np.diag(A.diagonal()), sp.tril(A, -1).toarray()
    omega = SMOOTHERS[method]["omega"]
    expected = omega * solve(D + omega * L, b.astype(float))  # one sweep from x = 0
    assert_allclose(x, expected, rtol=1e-6 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("method", sorted(SMOOTHERS))
def test_strided_x(method):
    # TestCommonRelaxation.test_strided_x: PyAMG's C++ needs a contiguous x and raises
    # ValueError; numopt's Numba sweep relaxes a strided x in place, as a contiguous one
    A = _tridiag(4)
    b = np.arange(4, dtype="float64")
    strided = np.zeros(8)[::2]
    sor_sweep(A, strided, b, **SMOOTHERS[method])
    contiguous = np.zeros(4)
    sor_sweep(A, contiguous, b, **SMOOTHERS[method])
    np.testing.assert_array_equal(strided, contiguous)


@pytest.mark.parametrize("method", sorted(SMOOTHERS))
def test_mixed_precision(method):
    # TestCommonRelaxation.test_mixed_precision: PyAMG wants A, x and b of one dtype
    # (TypeError otherwise). numopt computes in float32 when A and b are float32, else
    # in float64, and x (updated in place) must have that dtype: a mismatch is a
    # ValueError naming x; a float64 x with float64 A or b runs in float64.
    A32, A64 = _tridiag(4).astype("float32"), _tridiag(4)
    b32, b64 = np.arange(4, dtype="float32"), np.arange(4, dtype="float64")
    x32, x64 = 0 * b32, 0 * b64
    for A, x, b in [(A32, x32, b64), (A32, x64, b32), (A64, x32, b32), (A64, x32, b64)]:
        with pytest.raises(ValueError, match="x must have dtype"):
            sor_sweep(A, x.copy(), b, **SMOOTHERS[method])
    expected = x64.copy()
    sor_sweep(A64, expected, b64, **SMOOTHERS[method])
    for A, b in [(A32, b64), (A64, b32)]:  # the float32 values are exact in float64
        x = x64.copy()
        sor_sweep(A, x, b, **SMOOTHERS[method])
        np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("method", sorted(SMOOTHERS))
def test_vector_sizes(method):
    # TestCommonRelaxation.test_vector_sizes
    A = _tridiag(4)
    b4, b5 = np.arange(4, dtype="float64"), np.arange(5, dtype="float64")
    for x, b in [(0 * b4, b5), (0 * b5, b4), (0 * b5, b5)]:
        with pytest.raises(ValueError, match="shape"):
            sor_sweep(A, x, b, **SMOOTHERS[method])


@pytest.mark.parametrize("method", sorted(SMOOTHERS))
def test_non_square_matrix(method):
    # TestCommonRelaxation.test_non_square_matrix
    A = _tridiag(4)[:3]
    with pytest.raises(ValueError, match="A must be a square"):
        sor_sweep(A, np.ones(4), np.arange(3, dtype="float64"), **SMOOTHERS[method])


def _gold(A, x, b, iterations, sweep):
    """test_relaxation.py::test_gauss_seidel_gold's reference implementation."""
    A = A.toarray()
    L, D, U = np.tril(A, k=-1), np.diag(np.diag(A)), np.triu(A, k=1)
    for _ in range(iterations):
        if sweep == "forward":
            x = solve(L + D, b - U.dot(x))
        elif sweep == "backward":
            x = solve(U + D, b - L.dot(x))
        else:
            x = solve(L + D, b - U.dot(x))
            x = solve(U + D, b - L.dot(x))
    return x


def _gold_cases():
    np.random.seed(0)
    cases = [sp.csr_array(poisson_1d(4)), sp.csr_array(poisson_2d(4))]
    temp = np.random.rand(4, 4)
    cases.append(sp.csr_array(temp.T.dot(temp)))
    return cases


def test_gauss_seidel_gold():
    # test_relaxation.py::TestRelaxation.test_gauss_seidel_gold, with PyAMG's seeding
    # (np.random.seed(0) before the cases and the vectors). PyAMG's x and b are (n, 1);
    # numopt's are 1-D (a column is rejected, naming x)
    cases = _gold_cases()
    for A in cases:
        b = np.random.rand(A.shape[0], 1)[:, 0]
        x = np.random.rand(A.shape[0], 1)[:, 0]
        for sweep in ("forward", "backward", "symmetric"):
            x_copy = x.copy()
            sor_sweep(A, x, b, iterations=1, sweep=sweep)
            assert_almost_equal(x, _gold(A, x_copy, b, iterations=1, sweep=sweep))
        with pytest.raises(ValueError, match="x has shape"):
            sor_sweep(A, x[:, None].copy(), b)


def test_ssor_solver_iteration_is_the_gold_symmetric_sweep():
    # the symmetric case of test_gauss_seidel_gold through numopt's SSOR solver:
    # one iteration of sor(symmetric=True, omega=1) from x0 is one symmetric sweep
    rng = np.random.default_rng(0)
    for A in _gold_cases():
        b, x0 = rng.random(A.shape[0]), rng.random(A.shape[0])
        res = sor(A, b, x0, omega=1.0, symmetric=True, maxiter=1, tol=0.0)
        assert res.nit == 1
        assert_almost_equal(res.x, _gold(A, x0, b, iterations=1, sweep="symmetric"))


def test_gauss_seidel_csr():
    # test_relaxation.py::TestRelaxation.test_gauss_seidel_csr
    def gs(N, x, b, **kwargs):
        x = np.asarray(x, dtype=float)
        sor_sweep(_tridiag(N), x, np.asarray(b, dtype=float), **kwargs)
        return x

    assert_almost_equal(gs(1, np.arange(1), np.zeros(1)), [0])
    assert_almost_equal(gs(3, np.arange(3), np.zeros(3)), [1.0 / 2.0, 5.0 / 4.0, 5.0 / 8.0])
    assert_almost_equal(gs(1, np.arange(1), np.zeros(1), sweep="backward"), [0])
    assert_almost_equal(gs(3, np.arange(3), np.zeros(3), sweep="backward"),
                        [1.0 / 8.0, 1.0 / 4.0, 1.0 / 2.0])
    assert_almost_equal(gs(1, np.arange(1), [10]), [5])
    assert_almost_equal(gs(3, np.arange(3), [10, 20, 30]),
                        [11.0 / 2.0, 55.0 / 4, 175.0 / 8.0])
    # forward and backward passes give the same result from x = 1, b = 0
    A = _tridiag(100)
    x = gs(100, np.ones(100), np.zeros(100), iterations=200, sweep="forward")
    resid1 = np.linalg.norm(A @ x, 2)
    x = gs(100, np.ones(100), np.zeros(100), iterations=200, sweep="backward")
    resid2 = np.linalg.norm(A @ x, 2)
    assert resid1 < 0.01 and resid2 < 0.01
    assert_almost_equal(resid1, resid2)


# https://en.wikipedia.org/wiki/Successive_over-relaxation#Example, as in test_sor:
# a nonsymmetric matrix with a negative diagonal entry
WIKI_A = np.array([[4, -1, -6, 0], [-5, -4, 10, 8], [0, 9, 4, -2], [1, 0, -7, 5.0]])
WIKI_B = np.array([2, 21, -12, -6.0])


@pytest.mark.parametrize("iterations, expected", [
    (1, [0.25, -2.78125, 1.6289062, 0.5152344]),
    (2, [1.2490234, -2.2448974, 1.9687712, 0.9108547]),
    (3, [2.070478, -1.6696789, 1.5904881, 0.76172125]),
    (38, [3.0, -2.0, 2.0, 1.0]),
])
def test_sor(iterations, expected):
    # test_relaxation.py::TestRelaxation.test_sor
    x = np.zeros(4)
    sor_sweep(WIKI_A, x, WIKI_B, omega=0.5, iterations=iterations)
    assert_allclose(x, expected, rtol=1e-6)


def test_sor_solver_on_the_wikipedia_example():
    # the same system through numopt's SOR solver: a negative diagonal is accepted
    res = sor(WIKI_A, WIKI_B, omega=0.5, tol=1e-10)
    assert res.success
    assert_allclose(res.x, [3.0, -2.0, 2.0, 1.0], rtol=1e-8)
    assert res.nit > 38  # tol 1e-10 lies past test_sor's 38 sweeps (rtol 1e-6)


def test_complex_relaxation_is_rejected():
    # TestComplexRelaxation: numopt's smoothers and solvers take real matrices only
    A = sp.csr_array(_tridiag(3) * (1.0 + 1.0j))
    b = np.arange(3, dtype=complex)
    with pytest.raises(TypeError, match="A must hold real numbers"):
        sor_sweep(A, np.zeros(3), b.real)
    with pytest.raises(TypeError, match="A must hold real numbers"):
        sor(A, b.real)
