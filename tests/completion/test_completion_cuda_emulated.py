"""The CuPy path of ``complete(method="als")``'s row solves, run on the CPU (no GPU needed).

``numopt.completion._kernels_cupy`` is imported against a stand-in ``cupy`` module: NumPy
for the array functions, and a ``RawKernel`` that compiles the CUDA source with g++
against the header of ``tests/cuda_emulation.py`` and launches it with the grid and block
the module asks for. So the kernel source *and* the host code around it (batching, the
ridge on short rows, the solve of the stacked systems, the residual) run as written,
and are compared with the Numba kernels. Skipped where g++ (C++20) is missing.
"""

import ctypes
import importlib
import sys
import types

import numpy as np
import pytest
from cuda_emulation import compile_driver

from numopt.completion._kernels_numba import exact_rows as numba_exact_rows
from numopt.completion._kernels_numba import observed_residual as numba_residual

# A launcher for each kernel of the module, with the kernel's own signature (the module
# compiles each kernel from a source of its own).
LAUNCHERS = {
    "gram_rows": r"""
extern "C" void launch_gram_rows(unsigned grid, unsigned block, const long long* indptr,
                                 const long long* indices, const T* data, const T* B,
                                 int k, long long row0, T* G, T* rhs) {
    launch({grid, 1, 1}, {block, 1, 1}, [=] {
        gram_rows(indptr, indices, data, B, k, row0, G, rhs); });
}
""",
    "observed_residual": r"""
extern "C" void launch_observed_residual(unsigned grid, unsigned block,
                                         const long long* row_of, const long long* indices,
                                         const T* data, const T* C, const T* B, int k,
                                         long long nnz, T* out) {
    launch({grid, 1, 1}, {block, 1, 1}, [=] {
        observed_residual(row_of, indices, data, C, B, k, nnz, out); });
}
""",
}

_C_SCALARS = {np.int32: ctypes.c_int, np.int64: ctypes.c_longlong}


def _fake_cupy(folder):
    """A ``cupy`` stand-in: NumPy, plus RawKernel on the emulated CUDA header."""
    libraries = {}

    class RawKernel:
        def __init__(self, source, name):
            if (source, name) not in libraries:
                build = folder / str(len(libraries))
                driver = '#include "mock_cuda.h"\n#include "kernel.cu"\n' + LAUNCHERS[name]
                libraries[source, name] = compile_driver(build, driver, {"kernel.cu": source},
                                                         build / "kernel.so")
            self.launcher = getattr(libraries[source, name], "launch_" + name)

        def __call__(self, grid, block, args):
            assert len(grid) == 1 and len(block) == 1   # 1-D launches, as the module makes
            converted = []
            for arg in args:
                if isinstance(arg, np.ndarray):
                    assert arg.flags.c_contiguous
                    converted.append(arg.ctypes.data_as(ctypes.c_void_p))
                else:   # CuPy wants sized scalars: the module must pass them so
                    converted.append(_C_SCALARS[type(arg)](int(arg)))
            self.launcher(ctypes.c_uint(int(grid[0])), ctypes.c_uint(int(block[0])),
                          *converted)

    fake = types.ModuleType("cupy")
    for name in ("ascontiguousarray", "diff", "zeros", "eye", "empty", "empty_like",
                 "trace", "where", "sum", "searchsorted", "arange", "int32", "int64",
                 "float32", "float64"):
        setattr(fake, name, getattr(np, name))
    fake.linalg = np.linalg
    fake.RawKernel = RawKernel
    # array_api_compat asks isinstance(x, cupy.ndarray) of any array while "cupy" is
    # imported: no NumPy array is a CuPy one
    fake.ndarray = type("ndarray", (), {})
    return fake


@pytest.fixture(scope="module")
def cupy_kernels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("completion_cuda")
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = _fake_cupy(folder)
    sys.modules.pop("numopt.completion._kernels_cupy", None)
    try:
        yield importlib.import_module("numopt.completion._kernels_cupy")
    finally:
        sys.modules.pop("numopt.completion._kernels_cupy", None)
        if saved is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved


def _rows_problem(n_rows, n_basis, k, dtype, seed):
    """CSR rows over a basis B: most rows overdetermined, one with fewer observations
    than k, one empty."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(k + 2, 3 * k + 5, n_rows)
    counts[3] = k - 2          # underdetermined: the ridge picks a solution
    counts[5] = 0              # unobserved: solution 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(n_basis, c, replace=False))
                              for c in counts]).astype(np.int64)
    B = rng.standard_normal((n_basis, k)).astype(dtype)
    data = rng.standard_normal(indptr[-1]).astype(dtype)
    return indptr, indices, data, B


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k, max_batch_entries", [(3, 1 << 27), (12, 700)])
def test_emulated_cupy_exact_rows_match_numba(cupy_kernels, dtype, k, max_batch_entries):
    # k = 12: 156 Gram and right-hand-side entries over 128 threads (the strided loop),
    # and batches of 4 rows (max_batch_entries // k^2)
    indptr, indices, data, B = _rows_problem(11, 40, k, dtype, seed=k)
    reg = 1e-3
    C, sq = cupy_kernels.exact_rows(None, indptr, indices, data, B, reg,
                                    max_batch_entries=max_batch_entries)
    C_want, sq_want = numba_exact_rows(None, indptr, indices, data.astype(np.float64),
                                       B.astype(np.float64), reg)
    rtol = 1e-10 if dtype is np.float64 else 2e-3
    determined = np.diff(indptr) >= k
    assert C.dtype == dtype
    np.testing.assert_allclose(C[determined], C_want[determined], rtol=rtol,
                               atol=rtol * np.abs(C_want).max())
    np.testing.assert_array_equal(C[5], 0)      # the empty row
    # the underdetermined row fits its observations, up to the ridge's bias
    lo, hi = indptr[3], indptr[4]
    fit = B[indices[lo:hi]].astype(np.float64) @ C[3].astype(np.float64)
    np.testing.assert_allclose(fit, data[lo:hi], atol=1e-2 if dtype is np.float32 else 2e-3)
    # sq: the summed squared residual of these solutions (the underdetermined row adds ~0)
    np.testing.assert_allclose(sq, sq_want, rtol=1e-8 if dtype is np.float64 else 1e-2,
                               atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_emulated_cupy_observed_residual_matches_numba(cupy_kernels, dtype):
    indptr, indices, data, B = _rows_problem(9, 30, 4, dtype, seed=1)
    C = np.random.default_rng(2).standard_normal((9, 4)).astype(dtype)
    got = cupy_kernels.observed_residual(None, indptr, indices, data, C, B)
    want = numba_residual(None, indptr, indices, data.astype(np.float64),
                          C.astype(np.float64), B.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype is np.float64 else 1e-5,
                               atol=1e-12 if dtype is np.float64 else 1e-5)
