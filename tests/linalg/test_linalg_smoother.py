"""The public smoother sor_sweep: against the dense matrix form of SOR, PyAMG's
relaxation.sor, the multicolour ordering, array-API input, the GPU, bad input."""

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from numopt.linalg import sor_sweep
from numopt.problems import poisson_2d


def dense_step(A, b, x, omega, reverse):
    """x + omega (D + omega L)^{-1} (b - A x) (L and U swapped for a backward sweep)."""
    D = np.diag(np.diag(A))
    T = np.triu(A, 1) if reverse else np.tril(A, -1)
    return x + omega * sla.solve_triangular(D + omega * T, b - A @ x, lower=not reverse)


def dense_sweeps(A, b, x, omega, sweep, iterations):
    directions = {"forward": (False,), "backward": (True,), "symmetric": (False, True)}[sweep]
    for _ in range(iterations):
        for reverse in directions:
            x = dense_step(A, b, x, omega, reverse)
    return x


@pytest.fixture(scope="module")
def system():
    rng = np.random.default_rng(11)
    A = poisson_2d(5, 6).toarray() + np.diag(rng.uniform(0.0, 1.0, 30))
    A[2, 17] = A[17, 2] = -0.4  # couplings off the stencil
    return A, rng.standard_normal(30), rng.standard_normal(30)


@pytest.mark.parametrize("sweep", ["forward", "backward", "symmetric"])
@pytest.mark.parametrize("omega", [0.5, 1.0, 1.35, 1.9])
@pytest.mark.parametrize("iterations", [1, 3])
def test_matches_dense_reference(system, sweep, omega, iterations):
    A, b, x0 = system
    expected = dense_sweeps(A, b, x0, omega, sweep, iterations)
    for matrix in (sp.csr_array(A), sp.csc_matrix(A), A):
        x = x0.copy()
        out = sor_sweep(matrix, x, b, omega=omega, sweep=sweep, iterations=iterations)
        assert out is x  # updated in place and returned
        np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sweep", ["forward", "backward", "symmetric"])
def test_multicolor_is_sor_of_the_permuted_matrix(system, sweep):
    A, b, x0 = system
    from numopt.linalg._validation import as_csr_system

    order, _ = as_csr_system(sp.csr_array(A), np, np.float64).coloring()
    P = np.eye(30)[order]
    expected = P.T @ dense_sweeps(P @ A @ P.T, P @ b, P @ x0, 1.3, sweep, 2)
    x = x0.copy()
    sor_sweep(sp.csr_array(A), x, b, omega=1.3, sweep=sweep, iterations=2,
              ordering="multicolor")
    np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-12)


def pyamg_cpp_sweep(A, x, b, omega, reverse):
    """PyAMG's C++ ``sor_gauss_seidel`` (``gauss_seidel`` for omega = 1), from
    pyamg/amg_core/relaxation.h, statement for statement in NumPy scalars of the
    matrix's dtype: each operation rounded once, as in C++ compiled without fused
    multiply-adds. Updates x in place."""
    T = A.data.dtype.type
    omega = T(omega)
    n = A.shape[0]
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        rsum, diag = T(0), T(0)
        for jj in range(A.indptr[i], A.indptr[i + 1]):
            j = A.indices[jj]
            if i == j:
                diag = A.data[jj]
            else:
                rsum += A.data[jj] * x[j]
        if diag != 0:
            if omega == 1:  # PyAMG calls gauss_seidel then
                x[i] = (b[i] - rsum) / diag
            else:
                x[i] = omega * ((b[i] - rsum) / diag) + (T(1) - omega) * x[i]
    return x


def unsorted_csr(A, seed):
    """``A`` as CSR with each row's entries in a random order (no duplicates)."""
    A = sp.csr_array(A)
    rng = np.random.default_rng(seed)
    indices, data = A.indices.copy(), A.data.copy()
    for i in range(A.shape[0]):
        row = slice(A.indptr[i], A.indptr[i + 1])
        perm = rng.permutation(A.indptr[i + 1] - A.indptr[i])
        indices[row], data[row] = indices[row][perm], data[row][perm]
    out = sp.csr_array((data, indices, A.indptr.copy()), shape=A.shape)
    assert not out.has_sorted_indices
    return out


@pytest.fixture(scope="module")
def dense_rows():
    """Rows of ~12 entries, a diagonal of no power of two (negative in one row)."""
    rng = np.random.default_rng(12)
    A = np.where(rng.uniform(size=(20, 20)) < 0.6, rng.standard_normal((20, 20)), 0.0)
    A = A + A.T + np.diag(rng.uniform(5.0, 9.0, 20))
    A[7, 7] = -6.3
    return A, rng.standard_normal(20), rng.standard_normal(20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("omega", [1.0, 0.7, 1.35])
@pytest.mark.parametrize("sweep", ["forward", "backward"])
def test_sweeps_are_pyamgs_cpp_operation_for_operation(dense_rows, dtype, omega, sweep):
    # the docs claim PyAMG's order of operations: the row sum over the stored entries
    # in stored order, omega * ((b - sum) / a_ii) + (1 - omega) x_i, all in the matrix's
    # dtype. Correctly rounded IEEE operations make this exact on any build. (It held
    # only for power-of-two diagonals and sorted indices: the kernel computed
    # omega * (b - sum) / a_ii, sorted the entries, and summed float32 rows in float64.)
    A, b, x0 = (v.astype(dtype) for v in dense_rows)
    A = unsorted_csr(A, seed=3)
    x, expected = x0.copy(), x0.copy()
    for _ in range(3):
        sor_sweep(A, x, b, omega=omega, sweep=sweep)
        pyamg_cpp_sweep(A, expected, b, omega, reverse=sweep == "backward")
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("sweep", ["forward", "backward"])
def test_agrees_with_pyamg(dense_rows, dtype, rtol, sweep):
    # PyAMG itself, to rounding: whether its compiler fused multiply-adds is the build's
    # (the exact order of operations is pinned down by the test above)
    relaxation = pytest.importorskip("pyamg.relaxation.relaxation")
    A, b, x0 = (v.astype(dtype) for v in dense_rows)
    A = unsorted_csr(A, seed=4)
    x, y = x0.copy(), x0.copy()
    sor_sweep(A, x, b, omega=1.35, sweep=sweep, iterations=4)
    relaxation.sor(A.copy(), y, b, 1.35, iterations=4, sweep=sweep)
    np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max())


def test_zero_iterations_and_float32():
    A = poisson_2d(6)
    b = np.ones(36)
    x = np.full(36, 0.5)
    sor_sweep(A, x, b, iterations=0)
    assert np.all(x == 0.5)
    A32 = sp.csr_array(A, dtype=np.float32)
    b32, x32 = b.astype(np.float32), np.zeros(36, np.float32)
    sor_sweep(A32, x32, b32, omega=1.2, sweep="symmetric", iterations=2)
    assert x32.dtype == np.float32
    expected = dense_sweeps(A.toarray(), b, np.zeros(36), 1.2, "symmetric", 2)
    np.testing.assert_allclose(x32, expected, rtol=1e-5)


def test_array_api_strict_reference_path(system):
    xps = pytest.importorskip("array_api_strict")
    A, b, x0 = system
    x = xps.asarray(x0.copy())
    sor_sweep(xps.asarray(A), x, xps.asarray(b), omega=1.4, sweep="symmetric")
    np.testing.assert_allclose(np.asarray(x), dense_sweeps(A, b, x0, 1.4, "symmetric", 1),
                               rtol=1e-12, atol=1e-12)


def test_smoothing_damps_the_oscillatory_error():
    # Gauss-Seidel is a smoother: a few sweeps kill the high-frequency error of Poisson
    # and leave the smooth mode almost untouched (the reason multigrid uses it)
    n = 31
    A = poisson_2d(n)
    grid = np.arange(1, n + 1) / (n + 1)
    smooth = np.outer(np.sin(np.pi * grid), np.sin(np.pi * grid)).ravel()
    rough = np.outer(np.sin(n * np.pi * grid), np.sin(n * np.pi * grid)).ravel()
    b = np.zeros(n * n)
    for mode, bound in ((rough, 0.05), (smooth, 0.9)):
        x = mode.copy()  # the error itself, since the solution of A x = 0 is 0
        sor_sweep(A, x, b, sweep="symmetric", iterations=3)
        ratio = np.linalg.norm(x) / np.linalg.norm(mode)
        assert (ratio < bound) if bound < 0.5 else (ratio > bound), ratio


def test_colouring_is_cached_per_matrix(system, monkeypatch):
    from numopt.linalg import _smoother

    A, b, x0 = system
    matrix = sp.csr_array(A)
    calls = []
    real = _smoother.resolve_ordering
    monkeypatch.setattr(_smoother, "resolve_ordering",
                        lambda *args: calls.append(1) or real(*args))
    x = x0.copy()
    for _ in range(3):
        sor_sweep(matrix, x, b, omega=1.2, ordering="multicolor")
    assert len(calls) == 1
    expected = x0.copy()
    for _ in range(3):  # a fresh matrix object is coloured afresh, same result
        sor_sweep(sp.csr_array(A), expected, b, omega=1.2, ordering="multicolor")
    np.testing.assert_array_equal(x, expected)
    key = id(matrix)
    del matrix
    import gc

    gc.collect()
    assert key not in _smoother._COLORINGS


@pytest.mark.parametrize("kwargs, match", [
    ({"omega": 2.0}, "omega"), ({"omega": 0.0}, "omega"), ({"omega": float("nan")}, "omega"),
    ({"sweep": "sideways"}, "sweep"), ({"iterations": -1}, "iterations"),
    ({"iterations": 1.5}, "iterations"), ({"ordering": "random"}, "ordering"),
])
def test_bad_parameters(kwargs, match):
    A = poisson_2d(4)
    with pytest.raises((ValueError, TypeError), match=match):
        sor_sweep(A, np.zeros(16), np.ones(16), **kwargs)


def test_bad_arrays():
    A = poisson_2d(4)
    b, x = np.ones(16), np.zeros(16)
    with pytest.raises(ValueError, match="x has shape"):
        sor_sweep(A, np.zeros(15), b)
    with pytest.raises(ValueError, match="x must have dtype"):
        sor_sweep(A, np.zeros(16, dtype=np.float32), b)
    with pytest.raises(TypeError, match="x must be an array"):
        sor_sweep(A, [0.0] * 16, b)
    frozen = np.zeros(16)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="x must be writeable"):
        sor_sweep(A, frozen, b)
    with pytest.raises(ValueError, match="x must be finite"):
        sor_sweep(A, np.full(16, np.nan), b)
    with pytest.raises(ValueError, match="b has shape"):
        sor_sweep(A, x, np.ones(15))
    with pytest.raises(ValueError, match="A must be a square"):
        sor_sweep(np.ones((16, 15)), x, b)
    bad = A.toarray()
    bad[3, 3] = 0.0
    with pytest.raises(ValueError, match="A must have a nonzero diagonal"):
        sor_sweep(bad, x, b)
    with pytest.raises(ValueError, match="A must be finite"):
        sor_sweep(np.where(bad == 0, np.inf, bad), x, b)


@pytest.mark.gpu
@pytest.mark.parametrize("sweep", ["forward", "backward", "symmetric"])
def test_gpu_multicolor_matches_cpu(sweep):
    cupy = pytest.importorskip("cupy")
    import cupyx.scipy.sparse as csp

    A = poisson_2d(30) + 0.1 * sp.identity(900, format="csr")
    b = np.random.default_rng(3).standard_normal(900)
    x_cpu = np.zeros(900)
    sor_sweep(sp.csr_array(A), x_cpu, b, omega=1.6, sweep=sweep, iterations=3,
              ordering="multicolor")
    A_gpu = csp.csr_matrix(sp.csr_matrix(A))
    x_gpu = cupy.zeros(900)
    out = sor_sweep(A_gpu, x_gpu, cupy.asarray(b), omega=1.6, sweep=sweep, iterations=3)
    assert out is x_gpu
    np.testing.assert_allclose(cupy.asnumpy(x_gpu), x_cpu, rtol=1e-12, atol=1e-12)
    # the cached colouring is reused on the next call on the same matrix
    sor_sweep(A_gpu, x_gpu, cupy.asarray(b), omega=1.6, sweep=sweep)
    sor_sweep(sp.csr_array(A), x_cpu, b, omega=1.6, sweep=sweep, ordering="multicolor")
    np.testing.assert_allclose(cupy.asnumpy(x_gpu), x_cpu, rtol=1e-12, atol=1e-12)
