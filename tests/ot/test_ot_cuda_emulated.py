"""The CUDA kernels of numopt.ot (log domain, and fused kernel mode), run on the CPU (no
GPU needed).

The RawKernel source of ``numopt.ot._kernels_cupy`` is compiled with g++ against the
header of ``tests/cuda_emulation.py`` (each block runs as blockDim.x threads,
``__syncthreads`` is a ``std::barrier``), launched with the same grids as the CuPy code,
and compared with the array-API reference step: both the default "shifted" kernels
(with their exact fall-back forced too) and the earlier "online" ones, float64 and
float32. Skipped where g++ (C++20) is missing.
"""

import ctypes

import numpy as np
import pytest
from cuda_emulation import compile_driver, cuda_source

from numopt.ot._sinkhorn import sinkhorn_log_step as reference_step
from numopt.problems._ot import random_ot_problem


DRIVER = r"""
#include "mock_cuda.h"
#include "log_source.cu"
extern "C" void step(int variant, const T* M, const T* F, const T* G, const T* logA,
                     const T* logB, T reg, int n, int m, int B, T* F_new, T* G_new,
                     T* row_err, T lo, T hi) {
    int chunks = std::max(1, std::min(64, n / 64));
    int chunk = (n + chunks - 1) / chunks;
    unsigned threads = 128, col_blocks = (m + threads - 1) / threads;
    std::vector<T> part_s((size_t)B * chunks * m), part_mx((size_t)B * chunks * m);
    T* ps = part_s.data(); T* pm = part_mx.data();
    if (variant == 0) {
        T inv2 = (T)(1.4426950408889634 / reg);
        launch({(unsigned)n, (unsigned)B, 1}, {256, 1, 1}, [=] {
            log_rows_shifted(M, F, G, logA, F_new, row_err, inv2, reg, n, m, lo, hi); });
        launch({col_blocks, (unsigned)chunks, (unsigned)B}, {threads, 1, 1}, [=] {
            log_cols_partial_shifted(M, F_new, G, ps, inv2, n, m, chunk); });
        launch({col_blocks, (unsigned)B, 1}, {threads, 1, 1}, [=] {
            log_cols_merge_shifted(M, F_new, G, ps, logB, G_new, inv2, reg, n, m, chunks, lo, hi); });
    } else {
        T inv = (T)(1 / reg);
        launch({(unsigned)n, (unsigned)B, 1}, {256, 1, 1}, [=] {
            log_rows(M, F, G, logA, F_new, row_err, inv, reg, n, m); });
        launch({col_blocks, (unsigned)chunks, (unsigned)B}, {threads, 1, 1}, [=] {
            log_cols_partial(M, F_new, pm, ps, inv, n, m, chunk); });
        launch({col_blocks, (unsigned)B, 1}, {threads, 1, 1}, [=] {
            log_cols_merge(pm, ps, logB, G_new, reg, m, chunks, B); });
    }
}
"""


KERNEL_DRIVER = r"""
#include "mock_cuda.h"
#include "kernel_source.cu"
// as numopt.ot._kernels_cupy._fused_kernel_step launches them
extern "C" void step(const T* K, const T* U, const T* V, const T* A, const T* Bw, int n,
                     int m, int vec, int chunks, T* U_new, T* V_new, T* err) {
    int chunk = (n + chunks - 1) / chunks;
    chunks = (n + chunk - 1) / chunk;
    unsigned threads = 256, cols = vec ? m / VW : m, col_blocks = (cols + threads - 1) / threads;
    std::vector<T> part((size_t)chunks * m);
    T* pp = part.data();
    *err = 0;
    launch({(unsigned)n, 1, 1}, {256, 1, 1}, [=] { kernel_rows(K, U, V, A, U_new, err, m, vec); });
    launch({col_blocks, (unsigned)chunks, 1}, {threads, 1, 1}, [=] {
        kernel_cols_partial(K, U_new, pp, n, m, chunk, vec); });
    launch({(unsigned)(m + threads - 1) / threads, 1, 1}, {threads, 1, 1}, [=] {
        kernel_cols_merge(pp, Bw, V_new, m, chunks); });
}
"""


def _cuda_source(name):
    return cuda_source("numopt/ot/_kernels_cupy.py", name)


def _log_source():
    return _cuda_source("_LOG_SOURCE")


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda_emulated")
    return {dtype: compile_driver(folder, DRIVER,
                                  {"log_source.cu": f"#define T {ctype}\n" + _log_source()},
                                  folder / f"emu_{ctype}.so")
            for ctype, dtype in (("double", np.float64), ("float", np.float32))}


@pytest.fixture(scope="module")
def emulated_kernel_mode(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda_emulated_kernel")
    libs = {}
    for ctype, vector, lanes, dtype in (("double", "double2", 2, np.float64),
                                        ("float", "float4", 4, np.float32)):
        head = f"#define T {ctype}\n#define TV {vector}\n#define VW {lanes}\n"
        libs[dtype] = compile_driver(
            folder, KERNEL_DRIVER, {"kernel_source.cu": head + _cuda_source("_KERNEL_SOURCE")},
            folder / f"kernel_{ctype}.so")
    return libs


def _run(libs, variant, M, F, G, logA, logB, reg, safe):
    dtype = M.dtype.type
    scalar = ctypes.c_double if dtype is np.float64 else ctypes.c_float
    arrays = [np.ascontiguousarray(x, dtype=dtype) for x in (M, F, G, logA, logB)]
    F_new, G_new, err = (np.empty_like(arrays[i]) for i in (1, 2, 1))
    B, n = arrays[1].shape
    m = M.shape[1]
    ptr = [x.ctypes.data_as(ctypes.c_void_p) for x in arrays + [F_new, G_new, err]]
    libs[dtype].step(ctypes.c_int(variant), *ptr[:5], scalar(reg), ctypes.c_int(n),
                     ctypes.c_int(m), ctypes.c_int(B), *ptr[5:], scalar(safe[0]),
                     scalar(safe[1]))
    return F_new, G_new, err.sum(axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("dtype, reg", [(np.float64, 2e-3), (np.float32, 0.05)])
def test_emulated_cuda_log_step_matches_reference(emulated, dtype, reg):
    # small: 256 CPU threads per emulated block meet at every __syncthreads
    a, b, M = random_ot_problem(24, 40, weights="random", seed=13)
    A = np.stack([a, np.full_like(a, 1 / a.size)])
    A[0, :3] = 0  # zero weights: -inf potentials
    A[0] /= A[0].sum()
    B = np.broadcast_to(b, (2, b.size)).copy()
    logA = np.where(A > 0, np.log(np.where(A > 0, A, 1)), -np.inf)
    logB = np.log(B)
    F, G = np.zeros_like(A), np.zeros_like(B)
    safe = (1e-100, 1e100) if dtype is np.float64 else (1e-20, 1e20)
    forced = (1e300, 1e301) if dtype is np.float64 else (1e30, 1e31)  # always fall back
    for warm in (False, True):
        want = reference_step(np, M, F, G, logA, logB, reg, None)
        cases = ((0, safe), (0, forced), (1, safe)) if warm else ((0, safe),)
        for variant, bounds in cases:
            got = _run(emulated, variant, M.astype(dtype), F, G, logA, logB, reg, bounds)
            for x, y in zip(got[:2], want[:2]):
                x = x.astype(np.float64)
                assert np.array_equal(np.isinf(x), np.isinf(y))
                finite = np.isfinite(y)
                scale = max(1.0, float(np.abs(y[finite]).max()) / reg)
                tol = (1e-12 if dtype is np.float64 else 1e-5) * scale
                np.testing.assert_allclose(x[finite] / reg, y[finite] / reg, rtol=0, atol=tol)
            if warm:
                np.testing.assert_allclose(got[2], want[2],
                                           rtol=1e-8 if dtype is np.float64 else 1e-2,
                                           atol=1e-11 if dtype is np.float64 else 1e-4)
        for _ in range(20):
            F, G, _ = reference_step(np, M, F, G, logA, logB, reg, None)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, m, vec, chunks", [(7, 1032, 1, 3), (9, 1030, 0, 2),
                                               (5, 12, 1, 5), (6, 8, 1, 1)])
def test_emulated_fused_kernel_step_matches_products(emulated_kernel_mode, dtype, n, m, vec,
                                                     chunks):
    """The fused kernel-mode passes (vector loads with the two-in-flight loop and its odd
    tail, scalar loads, one or several row chunks) against u = a / (K v), v = b / (K^T u)."""
    lanes = 4 if dtype is np.float32 else 2
    vec = int(vec and m % lanes == 0)
    rng = np.random.default_rng(n * m)
    K = rng.uniform(0.1, 1.0, size=(n, m)).astype(dtype)
    U = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    V = rng.uniform(0.5, 2.0, size=m).astype(dtype)
    A = np.full(n, 1 / n, dtype=dtype)
    Bw = np.full(m, 1 / m, dtype=dtype)
    U_new, V_new, err = np.empty_like(U), np.empty_like(V), np.zeros(1, dtype=dtype)
    ptr = [x.ctypes.data_as(ctypes.c_void_p) for x in (K, U, V, A, Bw)]
    out = [x.ctypes.data_as(ctypes.c_void_p) for x in (U_new, V_new, err)]
    emulated_kernel_mode[dtype].step(*ptr, ctypes.c_int(n), ctypes.c_int(m), ctypes.c_int(vec),
                                     ctypes.c_int(chunks), *out)
    K64, U64 = K.astype(np.float64), U.astype(np.float64)
    KV = K64 @ V.astype(np.float64)
    U_want = A / KV
    V_want = Bw / (K64.T @ U_want)
    err_want = np.abs(U64 * KV - A).sum()
    rtol = 1e-12 if dtype is np.float64 else 2e-5
    np.testing.assert_allclose(U_new, U_want, rtol=rtol)
    np.testing.assert_allclose(V_new, V_want, rtol=rtol)
    np.testing.assert_allclose(err[0], err_want, rtol=rtol * 10, atol=1e-7)
