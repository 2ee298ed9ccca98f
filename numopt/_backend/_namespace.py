"""Find the array namespace of a call's inputs, without moving data between devices."""

from __future__ import annotations

import sys

import array_api_compat
import array_api_compat.numpy as _np_xp
import numpy as np

__all__ = ["get_namespace", "is_numpy", "is_cupy", "to_numpy", "float_dtype", "device_of"]


def _is_scipy_sparse(x) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def _is_cupy_sparse(x) -> bool:
    sparse = sys.modules.get("cupyx.scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def _is_linear_operator(x) -> bool:
    linalg = sys.modules.get("scipy.sparse.linalg")
    return linalg is not None and isinstance(x, linalg.LinearOperator)


def _is_dask_array(x) -> bool:
    # by module name: dask is optional and must not be imported to find out
    return type(x).__module__.startswith("dask.array")


def _reject_dask_array(x):
    raise TypeError(
        f"numopt's solvers do not take dask arrays (got one of shape {tuple(x.shape)}, "
        f"dtype {x.dtype}): an iterative solver tests convergence every few iterations, "
        "and each test would compute the whole task graph again. Call .compute() to "
        "solve one problem that fits in memory, or solve many independent problems in "
        "parallel with numopt.parallel.map_problems (joblib; a Dask cluster through "
        "joblib.parallel_config(backend='dask')) or numopt.distributed.map_problems")


def get_namespace(*arrays, **named_arrays):
    """Return the array-API namespace shared by ``arrays`` and ``named_arrays``.

    Arrays passed by keyword (``get_namespace(A=A, b=b, x0=x0)``) are named in the
    error message when one of them is not an array.

    ``None`` and Python scalars are ignored (they go with any namespace); lists,
    tuples and NumPy scalars count as NumPy input; SciPy sparse
    matrices and linear operators count as NumPy, cupyx sparse matrices as CuPy.
    With no array at all, the namespace is NumPy.

    Raises
    ------
    TypeError
        If the inputs come from different array libraries (for example NumPy and CuPy):
        numopt never copies data between devices behind the caller's back. Also for
        a ``dask.array`` input, which points to ``numopt.parallel.map_problems``.
    """
    namespaces = {}
    for name, x in [(None, x) for x in arrays] + list(named_arrays.items()):
        if x is None or isinstance(x, (int, float, complex, bool)):
            continue  # optional arguments and Python scalars go with any namespace
        if _is_dask_array(x):
            _reject_dask_array(x)
        if isinstance(x, (np.ndarray, np.generic, list, tuple)):
            namespaces.setdefault("numpy", _np_xp)
        elif _is_scipy_sparse(x) or _is_linear_operator(x):
            namespaces.setdefault("numpy", _np_xp)
        elif _is_cupy_sparse(x):
            import array_api_compat.cupy as cupy_xp

            namespaces.setdefault("cupy", cupy_xp)
        else:
            try:
                xp = array_api_compat.array_namespace(x)
            except TypeError as exc:
                where = "" if name is None else f"{name}: "
                raise TypeError(
                    f"{where}unsupported input of type {type(x).__name__}: expected an array "
                    "(NumPy, CuPy or another array-API library), a list or a sparse matrix"
                ) from exc
            # key by library ("array_api_compat.cupy" and cupyx sparse are both "cupy")
            namespaces.setdefault(xp.__name__.split(".")[-1], xp)
    if not namespaces:
        return _np_xp
    if len(namespaces) > 1:
        names = sorted(namespaces)
        raise TypeError(
            f"inputs come from different array libraries ({', '.join(names)}); "
            "convert them to one library (and device) before calling numopt"
        )
    return next(iter(namespaces.values()))


def is_numpy(xp) -> bool:
    """True if ``xp`` is NumPy (plain or array-api-compat's wrapper)."""
    return array_api_compat.is_numpy_namespace(xp)


def is_cupy(xp) -> bool:
    """True if ``xp`` is CuPy (plain or array-api-compat's wrapper)."""
    return array_api_compat.is_cupy_namespace(xp)


def to_numpy(x):
    """Copy an array to host memory as a NumPy array (explicit: used for reporting only)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def device_of(x):
    """The device an array lives on (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def float_dtype(xp, *arrays):
    """The floating dtype a solver should compute in: float32 stays float32, any
    other real input (integers, bools, float64) computes in float64."""
    dtypes = [x.dtype for x in arrays if hasattr(x, "dtype")]
    if dtypes and all(d == xp.float32 for d in dtypes):
        return xp.float32
    return xp.float64


def synchronize(xp) -> None:
    """Wait for queued device work (a no-op on the CPU); used around timings."""
    if is_cupy(xp):
        import cupy

        cupy.cuda.get_current_stream().synchronize()
