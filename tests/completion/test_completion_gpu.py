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


# complete(method="als") end to end on the device, against the NumPy path. Both draw the
# spectral start on the host from the same seed, so the iterates agree up to rounding.

def _completion_problem(n=120, rank=4, rate=0.3):
    from numopt.problems import random_low_rank_completion

    return random_low_rank_completion(n, rank=rank, rate=rate, seed=3)


def _host(a):
    from numopt._backend import to_numpy

    return to_numpy(a).astype(np.float64)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_complete_als_on_cupy_matches_numpy(cp, kind, dtype):
    import cupyx.scipy.sparse as cusparse

    from numopt.completion import complete

    prob = _completion_problem()
    if kind == "dense":
        M_cpu = prob.dense_with_nan().astype(dtype)
        M_gpu = cp.asarray(M_cpu)
    else:
        M_cpu = prob.observed.astype(dtype)
        M_gpu = cusparse.csr_matrix(M_cpu)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    cpu = complete(M_cpu, 4, method="als", tol=tol, seed=0)
    gpu = complete(M_gpu, 4, method="als", tol=tol, seed=0)
    assert isinstance(gpu.U, cp.ndarray) and isinstance(gpu.V, cp.ndarray)
    assert gpu.U.dtype == dtype and gpu.V.dtype == dtype
    assert gpu.success and cpu.success
    close = 1e-3 if dtype == np.float32 else 1e-7
    assert prob.relative_error(gpu.U, gpu.V) < close        # exact recovery on the GPU
    completed_gpu = _host(gpu.U) @ _host(gpu.V).T
    completed_cpu = _host(cpu.U) @ _host(cpu.V).T
    np.testing.assert_allclose(completed_gpu, completed_cpu,
                               atol=close * np.abs(completed_cpu).max())
    assert gpu.rmse == pytest.approx(cpu.rmse, rel=0.5, abs=close)
    assert abs(gpu.nit - cpu.nit) <= 1


def test_complete_als_on_cupy_sample_splits_and_empty_row(cp):
    from numopt.completion import complete
    from numopt.exceptions import OptimizeWarning

    prob = _completion_problem(rate=0.5)
    M = prob.dense_with_nan()
    M[7, :] = np.nan                  # an unobserved row: filled from the column means
    with pytest.warns(OptimizeWarning, match="no observation"):
        cpu = complete(M, 4, method="als", tol=1e-10, seed=1, sample_splits=2, maxiter=40)
    with pytest.warns(OptimizeWarning, match="no observation"):
        gpu = complete(cp.asarray(M), 4, method="als", tol=1e-10, seed=1, sample_splits=2,
                       maxiter=40)
    assert gpu.n_empty_rows == cpu.n_empty_rows == 1
    np.testing.assert_allclose(_host(gpu.U) @ _host(gpu.V).T, _host(cpu.U) @ _host(cpu.V).T,
                               atol=1e-6 * np.abs(prob.dense()).max())


@pytest.mark.parametrize("method", ["altmin", "softimpute"])
def test_complete_cpu_only_methods_reject_cupy(cp, method):
    from numopt.completion import complete

    prob = _completion_problem()
    with pytest.raises(TypeError, match=f"method='{method}' runs on the CPU only"):
        complete(cp.asarray(prob.dense_with_nan()), 4, method=method)


def test_complete_als_on_cupy_bad_input(cp):
    import cupyx.scipy.sparse as cusparse

    from numopt.completion import complete

    prob = _completion_problem()
    bad = prob.observed.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="M must have finite observed values"):
        complete(cusparse.csr_matrix(bad), 4, method="als")
    with pytest.raises(ValueError, match="rank must be at most"):
        complete(cp.asarray(prob.dense_with_nan()), 500, method="als")
