"""GPU figures for numopt.completion (run on a machine with CuPy and a CUDA device).

1. The kernels: one half-iteration of exact alternating least squares (every row's
   k x k normal equations, built by a RawKernel and solved by batched
   ``cupy.linalg.solve``) on the GPU against the Numba CPU kernel on the same data
   (``--kernel-m/--kernel-rank/--kernel-n-observed``, default 10000, 50, 5e6).
2. End to end: ``complete(M, k, method="als")`` with ``M`` a ``cupyx.scipy.sparse`` matrix
   (U, V stay on the device) against the same call with the ``scipy.sparse`` matrix on
   the CPU, at the issue's size 20000 x 20000, rank 100, 2e7 observations by default
   (``--m/--rank/--n-observed``). The GPU run goes to ``tol=1e-6`` (median of 3); the
   CPU run is timed for the spectral start and one iteration only (a full CPU run takes
   ~10 minutes), so the CPU end-to-end time printed is ``start + nit * iteration``.

Prints one line per figure, about 2-3 minutes on an H100 (most of it the CPU iteration
and building the problem on the host):

    python asv_benchmarks/gpu/completion.py [--m 20000 --rank 100 --n-observed 2e7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _median_time(fn, repeats, sync=lambda: None):
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernel-m", type=int, default=10000)
    parser.add_argument("--kernel-rank", type=int, default=50)
    parser.add_argument("--kernel-n-observed", type=float, default=5e6)
    parser.add_argument("--m", type=int, default=20000)
    parser.add_argument("--rank", type=int, default=100)
    parser.add_argument("--n-observed", type=float, default=2e7)
    parser.add_argument("--skip-kernels", action="store_true")
    args = parser.parse_args(argv)
    try:
        import cupy
    except ImportError:
        print("completion gpu: CuPy is not installed; nothing to time")
        return 0
    if cupy.cuda.runtime.getDeviceCount() == 0:
        print("completion gpu: no CUDA device; nothing to time")
        return 0
    if not args.skip_kernels:
        kernel_figures(cupy, args.kernel_m, args.kernel_rank, int(args.kernel_n_observed))
    end_to_end(cupy, args.m, args.rank, int(args.n_observed))
    return 0


def kernel_figures(cupy, m, k, nnz):
    from numopt.completion import _kernels_cupy, _kernels_numba

    rng = np.random.default_rng(0)
    per_row = nnz // m
    # Random row patterns (duplicates within a row are harmless for timing).
    indptr = (np.arange(m + 1, dtype=np.int64) * per_row)
    indices = rng.integers(0, m, m * per_row, dtype=np.int64)
    B = np.linalg.qr(rng.standard_normal((m, k)))[0]
    data = rng.standard_normal(indices.shape[0])
    gpu_args = [cupy.asarray(a) for a in (indptr, indices, data, B)]
    sync = cupy.cuda.get_current_stream().synchronize

    for dtype in (np.float64, np.float32):
        host = (indptr, indices, data.astype(dtype), B.astype(dtype))
        dev = (gpu_args[0], gpu_args[1], gpu_args[2].astype(dtype), gpu_args[3].astype(dtype))
        C_cpu, _ = _kernels_numba.exact_rows(np, *host, 0.0)          # JIT warm-up
        C_gpu, _ = _kernels_cupy.exact_rows(cupy, *dev, 0.0)          # compile
        diff = float(np.max(np.abs(C_gpu.get() - C_cpu)) / np.max(np.abs(C_cpu)))
        t_cpu = _median_time(lambda: _kernels_numba.exact_rows(np, *host, 0.0), 3)
        t_gpu = _median_time(lambda: _kernels_cupy.exact_rows(cupy, *dev, 0.0), 5, sync)
        print(f"completion exact row update {m} rows x {per_row} obs, k={k}, "
              f"{np.dtype(dtype).name}: gpu {t_gpu * 1e3:.1f} ms, numba cpu "
              f"{t_cpu * 1e3:.1f} ms, speedup {t_cpu / t_gpu:.1f}x, max rel diff {diff:.1e}",
              flush=True)

    # End to end on the GPU: residual kernel (used for the training RMSE).
    res_t = _median_time(lambda: _kernels_cupy.observed_residual(
        cupy, gpu_args[0], gpu_args[1], gpu_args[2], C_gpu.astype(cupy.float64), gpu_args[3]),
        5, sync)
    res_c = _median_time(lambda: _kernels_numba.observed_residual(
        np, indptr, indices, data, C_cpu.astype(np.float64), B), 3)
    print(f"completion observed residual |Omega|={indices.shape[0]}: gpu {res_t * 1e3:.2f} ms, "
          f"numba cpu {res_c * 1e3:.1f} ms, speedup {res_c / res_t:.1f}x", flush=True)


def end_to_end(cupy, m, k, nnz, tol=1e-6):
    import cupyx.scipy.sparse as cusparse

    from numopt.completion import complete
    from numopt.problems import random_low_rank_completion

    sync = cupy.cuda.get_current_stream().synchronize
    start = time.perf_counter()
    prob = random_low_rank_completion(m, rank=k, n_observed=nnz, seed=0)
    print(f"completion end to end: {m}x{m}, rank {k}, |Omega|={prob.observed.nnz} "
          f"(built on the host in {time.perf_counter() - start:.0f} s)", flush=True)
    small = random_low_rank_completion(60, rank=3, rate=0.4, seed=1).observed
    complete(small, 3, method="als", maxiter=2)                           # Numba JIT
    complete(cusparse.csr_matrix(small), 3, method="als", maxiter=2)      # kernel compile

    def timed(fn, sync_fn=lambda: None):
        sync_fn()
        begin = time.perf_counter()
        out = fn()
        sync_fn()
        return time.perf_counter() - begin, out

    for dtype in (np.float64, np.float32):
        host = prob.observed.astype(dtype)
        dev = cusparse.csr_matrix(host)
        t_start_gpu = _median_time(
            lambda: complete(dev, k, method="als", maxiter=0, seed=0), 3, sync)
        t_one_gpu = _median_time(
            lambda: complete(dev, k, method="als", maxiter=1, tol=0.0, seed=0), 3, sync)
        runs = [timed(lambda: complete(dev, k, method="als", tol=tol, seed=0), sync)
                for _ in range(3)]
        t_gpu = statistics.median(t for t, _ in runs)
        res = runs[-1][1]
        assert isinstance(res.U, cupy.ndarray)
        err = prob.relative_error(res.U, res.V)
        gpu_iter = t_one_gpu - t_start_gpu
        print(f"complete(als) gpu {np.dtype(dtype).name}: {t_gpu:.2f} s end to end to "
              f"tol={tol:g} ({res.nit} iterations, full-matrix error {err:.1e}, "
              f"{res.message}); spectral start {t_start_gpu:.2f} s, one iteration "
              f"{gpu_iter:.3f} s", flush=True)
        if dtype == np.float32:
            break
        t_start_cpu, _ = timed(lambda: complete(host, k, method="als", maxiter=0, seed=0))
        t_one_cpu, _ = timed(lambda: complete(host, k, method="als", maxiter=1, tol=0.0,
                                              seed=0))
        cpu_iter = t_one_cpu - t_start_cpu
        cpu_total = t_start_cpu + res.nit * cpu_iter
        print(f"complete(als) cpu (Numba, scipy.sparse) float64: spectral start "
              f"{t_start_cpu:.1f} s, one iteration {cpu_iter:.1f} s, so {cpu_total:.0f} s "
              f"for the GPU run's {res.nit} iterations; gpu/cpu time ratio end to end "
              f"{t_gpu / cpu_total:.4f} (speedup {cpu_total / t_gpu:.0f}x), per iteration "
              f"speedup {cpu_iter / gpu_iter:.0f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
