"""Assertions that accept arrays from any namespace (compared on the host)."""

from __future__ import annotations

import functools

import numpy as np

from .._backend import to_numpy


def _host(x):
    if hasattr(x, "toarray"):  # sparse matrices of either library
        x = x.toarray()
    if type(x).__module__.startswith("array_api_strict"):
        return np.asarray(x._array)
    return to_numpy(x)


def assert_allclose(actual, desired, rtol=1e-7, atol=0.0, err_msg=""):
    """``numpy.testing.assert_allclose`` for arrays of any namespace or device."""
    np.testing.assert_allclose(_host(actual), _host(desired), rtol=rtol, atol=atol,
                               err_msg=err_msg)


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def array_namespaces():
    """``(name, xp)`` pairs for every namespace this machine can test:
    NumPy always, array-api-strict when installed, CuPy when a GPU is present."""
    import array_api_compat.numpy as np_xp

    found = [("numpy", np_xp)]
    try:
        import array_api_strict

        found.append(("array_api_strict", array_api_strict))
    except ImportError:
        pass
    if gpu_available():
        import array_api_compat.cupy as cp_xp

        found.append(("cupy", cp_xp))
    return found
