"""The CuPy simplex projection of ``numopt.monotone._kernels_cupy``, run on the CPU.

The module is imported against a stand-in ``cupy`` (NumPy's sort, cumsum, arange, argmax
and maximum, which CuPy mirrors), so its device code runs as written and is compared
with the array-API reference. The deterministic methods themselves run on CuPy through
the array API, which the generic table checks with array_api_strict.
"""

import importlib
import sys
import types

import numpy as np

from numopt.monotone._prox import project_simplex as reference


def _import_with_numpy_as_cupy():
    stub = types.ModuleType("cupy")
    for name in ("sort", "cumsum", "arange", "argmax", "maximum"):
        setattr(stub, name, getattr(np, name))
    saved = {k: sys.modules.get(k) for k in ("cupy", "numopt.monotone._kernels_cupy")}
    sys.modules["cupy"] = stub
    sys.modules.pop("numopt.monotone._kernels_cupy", None)
    try:
        return importlib.import_module("numopt.monotone._kernels_cupy")
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def test_cupy_simplex_projection_matches_reference():
    module = _import_with_numpy_as_cupy()
    rng = np.random.default_rng(0)
    for d in (1, 2, 5, 300):
        for scale in (1e-3, 1.0, 50.0):
            for dtype in (np.float64, np.float32):
                v = (scale * rng.standard_normal(d)).astype(dtype)
                got = module.project_simplex(np, v, 1.5)
                want = reference(np, v, 1.5)
                assert got.dtype == dtype
                tol = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(got, want, atol=tol * max(1.0, scale))
