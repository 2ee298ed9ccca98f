"""The kernel registry.

A kernel is declared by decorating its array-API reference implementation::

    @kernel("ot.sinkhorn_half_step",
            numba="numopt.ot._kernels_numba:sinkhorn_half_step",
            cupy="numopt.ot._kernels_cupy:sinkhorn_half_step")
    def sinkhorn_half_step(xp, K, v, out): ...

The Numba and CuPy versions are named by ``"module:attribute"`` strings, so declaring
a kernel imports neither library; the module loads on the first :func:`get_kernel`
call that needs it. Every version takes the same arguments (``xp`` first).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .._config import get_config
from ._namespace import is_cupy, is_numpy

__all__ = ["kernel", "get_kernel", "kernel_backend", "registered_kernels"]


@dataclass
class _KernelEntry:
    name: str
    reference: object
    paths: dict
    loaded: dict = field(default_factory=dict)

    def load(self, backend: str):
        if backend not in self.loaded:
            module_name, _, attr = self.paths[backend].partition(":")
            self.loaded[backend] = getattr(importlib.import_module(module_name), attr)
        return self.loaded[backend]


_REGISTRY: dict[str, _KernelEntry] = {}


def kernel(name: str, *, numba: str | None = None, cupy: str | None = None):
    """Register the decorated function as the reference version of kernel ``name``."""

    def decorate(reference):
        paths = {k: v for k, v in (("numba", numba), ("cupy", cupy)) if v is not None}
        if name in _REGISTRY and _REGISTRY[name].reference is not reference:
            raise ValueError(f"kernel {name!r} is already registered")
        _REGISTRY[name] = _KernelEntry(name, reference, paths)
        return reference

    return decorate


def kernel_backend(name: str, xp) -> str:
    """Which version of kernel ``name`` runs for namespace ``xp``:
    ``"numba"``, ``"cupy"`` or ``"reference"``."""
    entry = _REGISTRY[name]
    if get_config()["kernels"] == "reference":
        return "reference"
    if is_numpy(xp) and "numba" in entry.paths:
        return "numba"
    if is_cupy(xp) and "cupy" in entry.paths:
        return "cupy"
    return "reference"


def get_kernel(name: str, xp):
    """Return the callable that implements kernel ``name`` for namespace ``xp``."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r}; known: {sorted(_REGISTRY)}") from None
    backend = kernel_backend(name, xp)
    return entry.reference if backend == "reference" else entry.load(backend)


def registered_kernels() -> dict:
    """Kernel names mapped to the backends each one has (for docs and tests)."""
    return {name: ["reference", *entry.paths] for name, entry in sorted(_REGISTRY.items())}
