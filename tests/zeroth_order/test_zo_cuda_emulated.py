"""The CuPy perturbation kernel, run on the CPU (no GPU needed).

``numopt.zeroth_order._kernels_cupy`` is imported against a stand-in ``cupy`` module
whose ``ElementwiseKernel`` compiles the kernel's preamble and operation with g++ into a
loop over the elements (``i`` the index, ``x`` the element, as CuPy binds them), so the
C code of the hash, the Box-Muller transform and the sparsity test runs as written and
is compared with the Numba kernel. Skipped where g++ is missing.
"""

import ctypes
import importlib
import sys
import types

import numpy as np
import pytest
from cuda_emulation import compile_driver

from numopt.zeroth_order._kernels_numba import add_perturbation as numba_add

_CTYPES = {np.dtype(np.float64): "double", np.dtype(np.float32): "float"}


def _fake_cupy(folder):
    built = {}

    class ElementwiseKernel:
        def __init__(self, in_params, out_params, operation, name, preamble=""):
            assert in_params == "uint64 key, float64 scale, int32 kind, float64 sparsity"
            assert out_params == "T x"
            self.operation, self.preamble, self.name = operation, preamble, name

        def _library(self, dtype):
            ctype = _CTYPES[np.dtype(dtype)]
            if ctype not in built:
                driver = (
                    "#include <cmath>\nusing std::sqrt; using std::log; using std::cos;\n"
                    "#define __device__\n" + f"typedef {ctype} T;\n" + self.preamble +
                    "\nextern \"C\" void run(unsigned long long key, double scale, int kind,"
                    " double sparsity, T* xs, long long n) {\n"
                    "  for (long long i = 0; i < n; ++i) {\n    T& x = xs[i];\n" +
                    self.operation + "\n  }\n}\n")
                build = folder / ctype
                lib = compile_driver(build, driver, {}, build / "kernel.so")
                lib.run.argtypes = [ctypes.c_ulonglong, ctypes.c_double, ctypes.c_int,
                                    ctypes.c_double, ctypes.c_void_p, ctypes.c_longlong]
                built[ctype] = lib
            return built[ctype]

        def __call__(self, key, scale, kind, sparsity, x):
            assert x.flags.c_contiguous
            self._library(x.dtype).run(int(key), float(scale), int(kind), float(sparsity),
                                       x.ctypes.data, x.shape[0])
            return x

    fake = types.ModuleType("cupy")
    fake.ElementwiseKernel = ElementwiseKernel
    fake.uint64, fake.int32 = np.uint64, np.int32
    return fake


@pytest.fixture(scope="module")
def cupy_kernels(tmp_path_factory):
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = _fake_cupy(tmp_path_factory.mktemp("zo_cupy"))
    sys.modules.pop("numopt.zeroth_order._kernels_cupy", None)
    try:
        yield importlib.import_module("numopt.zeroth_order._kernels_cupy")
    finally:
        sys.modules.pop("numopt.zeroth_order._kernels_cupy", None)
        if saved is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, sparsity", [(0, 1.0), (1, 1.0), (0, 0.3), (1, 0.5)])
def test_cupy_kernel_source_matches_numba(cupy_kernels, dtype, kind, sparsity):
    x = np.random.default_rng(2).standard_normal(50_000).astype(dtype)
    gpu, cpu = x.copy(), x.copy()
    key = 2 ** 64 - 12345
    cupy_kernels.add_perturbation(None, gpu, key, 0.75, kind, sparsity)
    numba_add(np, cpu, key, 0.75, kind, sparsity)
    terms = np.abs(x.astype(np.float64)) + np.abs(cpu.astype(np.float64) - x)
    assert np.all(np.abs(gpu.astype(np.float64) - cpu) <= 4 * np.finfo(dtype).eps * terms)
    assert np.array_equal(gpu != x, cpu != x)
