"""Configuration: which kernel family runs (see ``numopt._backend``).

The configuration is per thread, as scikit-learn's is: each thread starts from the
process defaults (set by the environment variable ``NUMOPT_KERNELS``) and
:func:`set_config` or :func:`config_context` in one thread never changes what another
thread sees, so two threads may hold overlapping contexts and each gets its own
settings back.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["get_config", "set_config", "config_context"]

_KERNEL_CHOICES = ("auto", "reference")


def _defaults_from_environment() -> dict:
    kernels = os.environ.get("NUMOPT_KERNELS", "auto")
    if kernels not in _KERNEL_CHOICES:
        raise ValueError(f"NUMOPT_KERNELS must be one of {_KERNEL_CHOICES}, got {kernels!r}")
    return {"kernels": kernels, "gpu_check_every": 10}


# the starting configuration of every thread; never mutated after import
_DEFAULTS = _defaults_from_environment()
_thread_local = threading.local()


def _thread_config() -> dict:
    config = getattr(_thread_local, "config", None)
    if config is None:
        config = _thread_local.config = dict(_DEFAULTS)
    return config


def get_config() -> dict:
    """Return a copy of the calling thread's configuration."""
    return dict(_thread_config())


def set_config(*, kernels: str | None = None, gpu_check_every: int | None = None) -> None:
    """Set options for the calling thread (other threads keep their own).

    Parameters
    ----------
    kernels : {"auto", "reference"}, optional
        ``"auto"`` (default) runs the Numba kernel for NumPy input and the CuPy kernel
        for CuPy input; ``"reference"`` forces the portable array-API implementation,
        which the tests use to check every kernel against it. The environment variable
        ``NUMOPT_KERNELS`` sets the starting value of every thread.
    gpu_check_every : int, optional
        How many iterations an iterative solver runs on a GPU between two convergence
        checks (each is a device-to-host sync), where the call does not say
        (``check_every=None``); 10 by default. On the CPU the default is 1.
    """
    if kernels is not None:
        if kernels not in _KERNEL_CHOICES:
            raise ValueError(f"kernels must be one of {_KERNEL_CHOICES}, got {kernels!r}")
        _thread_config()["kernels"] = kernels
    if gpu_check_every is not None:
        if (isinstance(gpu_check_every, bool) or not isinstance(gpu_check_every, int)
                or gpu_check_every < 1):
            raise ValueError(f"gpu_check_every must be a positive integer, got "
                             f"{gpu_check_every!r}")
        _thread_config()["gpu_check_every"] = gpu_check_every


@contextlib.contextmanager
def config_context(**options):
    """Change the calling thread's configuration inside a ``with`` block:
    ``with config_context(kernels="reference"):``. On exit the thread's own previous
    settings come back, whatever other threads did meanwhile."""
    saved = get_config()
    set_config(**options)
    try:
        yield
    finally:
        config = _thread_config()
        config.clear()
        config.update(saved)
