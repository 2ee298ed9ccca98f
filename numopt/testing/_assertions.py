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


def assert_same_stop(nit, expected_nit, residuals, threshold, *, margin=1e-6):
    """Assert that a run stopped at ``expected_nit``, the iteration a reference run (the
    peer's, or another implementation's) stopped at, wherever rounding cannot decide it.

    ``residuals[k]`` is the reference's residual after iteration ``k + 1`` and
    ``threshold`` the bound its stopping rule tests. Two implementations that round
    differently (BLAS against a Numba loop, one build against another) agree on the
    stopping iteration when every residual up to the stop lies more than ``margin``
    (relative) away from the threshold; where one lies within it, rounding may move the
    stop by one iteration, which is then accepted.
    """
    near = [abs(r - threshold) <= margin * threshold for r in residuals[:expected_nit]]
    if any(near):
        assert abs(nit - expected_nit) <= 1, (nit, expected_nit)
    else:
        assert nit == expected_nit, (nit, expected_nit)
