"""GPU figures for numopt.completion (run on a machine with CuPy and a CUDA device).

Times one half-iteration of exact alternating least squares (every row's k x k normal
equations, built by a RawKernel and solved by batched ``cupy.linalg.solve``) on the GPU
against the Numba CPU kernel on the same data, checks that both give the same rows, and
prints one line per figure:

    python asv_benchmarks/gpu/completion.py [--m 10000 --rank 50 --n-observed 5e6]
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
    parser.add_argument("--m", type=int, default=10000)
    parser.add_argument("--rank", type=int, default=50)
    parser.add_argument("--n-observed", type=float, default=5e6)
    args = parser.parse_args(argv)
    try:
        import cupy
    except ImportError:
        print("completion gpu: CuPy is not installed; nothing to time")
        return 0
    if cupy.cuda.runtime.getDeviceCount() == 0:
        print("completion gpu: no CUDA device; nothing to time")
        return 0
    from numopt.completion import _kernels_cupy, _kernels_numba

    rng = np.random.default_rng(0)
    m, k, nnz = args.m, args.rank, int(args.n_observed)
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
          f"numba cpu {res_c * 1e3:.1f} ms, speedup {res_c / res_t:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
