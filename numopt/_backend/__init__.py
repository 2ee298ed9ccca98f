"""Array-namespace dispatch and the per-backend kernel registry.

Every public entry point calls :func:`get_namespace` once and writes its algorithm
against the returned array-API namespace. Loops that do not vectorize are *kernels*:
one reference implementation written against ``xp`` plus optional Numba (NumPy input)
and CuPy (CuPy input) versions, looked up by :func:`get_kernel`. Numba and CuPy are
imported only when a kernel of theirs is first used.
"""

from ._namespace import (
    get_namespace,
    is_cupy,
    is_numpy,
    to_numpy,
    float_dtype,
    device_of,
    synchronize,
)
from ._kernels import kernel, get_kernel, kernel_backend, registered_kernels

__all__ = [
    "get_namespace",
    "is_cupy",
    "is_numpy",
    "to_numpy",
    "float_dtype",
    "device_of",
    "synchronize",
    "kernel",
    "get_kernel",
    "kernel_backend",
    "registered_kernels",
]
