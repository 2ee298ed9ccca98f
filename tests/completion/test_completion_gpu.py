"""CuPy kernels against the Numba ones (run on a machine with a GPU)."""

import numpy as np
import pytest

from numopt.testing import gpu_available

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cp():
    if not gpu_available():
        pytest.skip("CuPy or a CUDA device is missing")
    import cupy

    return cupy


def _problem(dtype, k=6, n_rows=50, n=300, seed=0):
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.standard_normal((n, k)))[0].astype(dtype)
    counts = rng.integers(k, 60, n_rows)
    counts[2] = 0          # unobserved row
    counts[5] = k - 2      # underdetermined row
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([rng.choice(n, c, replace=False) for c in counts]).astype(np.int64)
    data = rng.standard_normal(indices.shape[0]).astype(dtype)
    return indptr, indices, data, B


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_rows_cupy_matches_numba(cp, dtype):
    from numopt.completion import _kernels_cupy, _kernels_numba

    indptr, indices, data, B = _problem(dtype)
    C_cpu, sq_cpu = _kernels_numba.exact_rows(np, indptr, indices, data, B, 0.0)
    C_gpu, sq_gpu = _kernels_cupy.exact_rows(cp, cp.asarray(indptr), cp.asarray(indices),
                                             cp.asarray(data), cp.asarray(B), 0.0)
    assert isinstance(C_gpu, cp.ndarray) and C_gpu.dtype == dtype
    tol = 2e-3 if dtype == np.float32 else 1e-9
    good = np.diff(indptr) >= B.shape[1]   # determined rows have a unique solution
    np.testing.assert_allclose(C_gpu.get()[good], C_cpu[good], rtol=tol, atol=tol)
    assert np.all(np.isfinite(C_gpu.get()))
    np.testing.assert_array_equal(C_gpu.get()[2], 0.0)
    assert sq_gpu == pytest.approx(sq_cpu, rel=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_observed_residual_cupy_matches_numba(cp, dtype):
    from numopt.completion import _kernels_cupy, _kernels_numba

    indptr, indices, data, B = _problem(dtype)
    C = np.random.default_rng(1).standard_normal((indptr.shape[0] - 1, B.shape[1])).astype(dtype)
    cpu = _kernels_numba.observed_residual(np, indptr, indices, data, C, B)
    gpu = _kernels_cupy.observed_residual(cp, cp.asarray(indptr), cp.asarray(indices),
                                          cp.asarray(data), cp.asarray(C), cp.asarray(B))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gpu.get(), cpu, rtol=tol, atol=tol)


def test_exact_rows_cupy_batches_agree(cp):
    from numopt.completion import _kernels_cupy

    indptr, indices, data, B = _problem(np.float64)
    args = (cp, cp.asarray(indptr), cp.asarray(indices), cp.asarray(data), cp.asarray(B), 0.1)
    whole, _ = _kernels_cupy.exact_rows(*args)
    pieces, _ = _kernels_cupy.exact_rows(*args, max_batch_entries=7 * B.shape[1] ** 2)
    np.testing.assert_allclose(pieces.get(), whole.get(), rtol=1e-12, atol=1e-12)
