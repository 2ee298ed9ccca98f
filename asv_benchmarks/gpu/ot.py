"""GPU figures for numopt.ot (run on a machine with CuPy and an NVIDIA GPU).

Per-iteration time of kernel-mode and log-mode Sinkhorn at n = 10^4 (and 2*10^4 when
memory allows), float64 and float32, against the memory-bandwidth bound of kernel mode:
two reads of the n×n matrix per iteration, in bytes, at the device's read bandwidth.
That bandwidth is measured once, independently of the dtype, on a 2 GB buffer: the
best of a read-only kernel (16-byte loads, one tiny write per thread) and a
device-to-device cudaMemcpy (bytes read plus bytes written). Prints one line per figure.

    python asv_benchmarks/gpu/ot.py            # about a minute on an H100
"""

import sys
import time

import numpy as np

try:
    import cupy
except ImportError:  # pragma: no cover
    print("CuPy is not installed: nothing to time")
    sys.exit(0)

import array_api_compat.cupy as cxp

from numopt.ot import sinkhorn
from numopt.ot._kernels_cupy import sinkhorn_kernel_step, sinkhorn_log_step


def median_time(fn, repeat=7, inner=5):
    fn()
    cupy.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        cupy.cuda.get_current_stream().synchronize()
        times.append((time.perf_counter() - start) / inner)
    return float(np.median(times))


_READ_SOURCE = r"""
extern "C" __global__ void read_all(const double2* x, const long long count, double* out) {
    double s = 0;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
        const double2 v = x[i];
        s += v.x + v.y;
    }
    out[(long long)blockIdx.x * blockDim.x + threadIdx.x] = s;  // keeps the loads alive
}
"""


def read_bandwidth(nbytes=2 << 30):
    """Bytes per second the device reads, measured once on an nbytes buffer (any dtype)."""
    nbytes = min(nbytes, int(cupy.cuda.Device().mem_info[0] * 0.4)) // 16 * 16
    buf = cupy.zeros(nbytes // 8, dtype=cupy.float64)
    sms = cupy.cuda.runtime.getDeviceProperties(0)["multiProcessorCount"]
    blocks, threads = 8 * sms, 256
    out = cupy.empty(blocks * threads, dtype=cupy.float64)
    read_all = cupy.RawKernel(_READ_SOURCE, "read_all")
    t_read = median_time(lambda: read_all((blocks,), (threads,),
                                          (buf, cupy.int64(nbytes // 16), out)))
    half = nbytes // 2
    dst = cupy.empty(half // 8, dtype=cupy.float64)
    t_copy = median_time(lambda: dst.data.copy_from_device(buf.data, half))
    del buf, dst
    return max(nbytes / t_read, 2 * half / t_copy), nbytes / t_read, 2 * half / t_copy


def problem(n, dtype):
    rng = np.random.default_rng(0)
    xs, xt = rng.uniform(size=(n, 2)), rng.uniform(size=(n, 2))
    xs, xt = cupy.asarray(xs, dtype=dtype), cupy.asarray(xt, dtype=dtype)
    M = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(axis=-1)
    M /= M.max()
    a = cupy.full((1, n), 1.0 / n, dtype=dtype)
    return a, M


def main():
    free = cupy.cuda.Device().mem_info[0]
    sizes = [10_000] + ([20_000] if free > 6 * 20_000 ** 2 * 8 else [])
    print(f"device: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    bandwidth, by_read, by_copy = read_bandwidth()
    print(f"bandwidth: {bandwidth / 1e9:.0f} GB/s (read kernel {by_read / 1e9:.0f}, "
          f"device copy {by_copy / 1e9:.0f} GB/s, read + written bytes), 2 GB buffer")
    for n in sizes:
        for dtype in (cupy.float64, cupy.float32):
            a, M = problem(n, dtype)
            nbytes = M.nbytes
            reg = 0.05
            K = cupy.exp(-M / reg)
            U = cupy.ones_like(a)
            V = cupy.ones_like(a)
            active = cupy.ones(1, dtype=bool)
            t_kernel = median_time(lambda: sinkhorn_kernel_step(cxp, K, U, V, a, a, active,
                                                                fused=False))
            t_fused = median_time(lambda: sinkhorn_kernel_step(cxp, K, U, V, a, a, active,
                                                               fused=True))
            bound = 2 * nbytes / bandwidth
            print(f"n={n} {np.dtype(dtype).name}: fused kernel passes (opt-in, "
                  f"NUMOPT_OT_CUPY_KERNEL=fused) {t_fused * 1e3:.3f} ms/iter = "
                  f"{t_fused / bound:.2f}x the bound; cuBLAS {t_kernel / bound:.2f}x")
            F = G = cupy.zeros_like(a)
            logA = cupy.log(a)
            for _ in range(20):  # potentials near the solution: the steady-state path
                F, G, _ = sinkhorn_log_step(cxp, M, F, G, logA, logA, reg, active)
            t_log = {variant: median_time(
                lambda: sinkhorn_log_step(cxp, M, F, G, logA, logA, reg, active,
                                          variant=variant), repeat=5, inner=3)
                for variant in ("shifted", "online")}
            name = np.dtype(dtype).name
            print(f"n={n} {name}: kernel "
                  f"{t_kernel * 1e3:.3f} ms/iter = {t_kernel / bound:.2f}x the bound "
                  f"({bound * 1e3:.3f} ms, issue: <= 1.15x); log {t_log['shifted'] * 1e3:.3f} "
                  f"ms/iter = {t_log['shifted'] / t_kernel:.2f}x kernel (issue: <= 1.5x; the "
                  f"earlier online-LSE kernels: {t_log['online'] / t_kernel:.2f}x)")
            del K
    # end to end: the solver (checks every 10 iterations) agrees with the CPU run
    a, M = problem(2000, cupy.float64)
    res = sinkhorn(a[0], a[0], M, 0.01, method="log", tol=1e-9)
    cpu = sinkhorn(cupy.asnumpy(a[0]), cupy.asnumpy(a[0]), cupy.asnumpy(M), 0.01,
                   method="log", tol=1e-9)
    diff = float(np.abs(cupy.asnumpy(res.plan) - cpu.plan).max())
    print(f"n=2000 log end to end: success={res.success} nit={res.nit} "
          f"(cpu {cpu.nit}), max |P_gpu - P_cpu| = {diff:.2e}")


if __name__ == "__main__":
    main()
