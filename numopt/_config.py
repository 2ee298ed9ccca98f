"""Global configuration: which kernel family runs (see ``numopt._backend``)."""

from __future__ import annotations

import contextlib
import os

__all__ = ["get_config", "set_config", "config_context"]

_KERNEL_CHOICES = ("auto", "reference")
_config = {"kernels": os.environ.get("NUMOPT_KERNELS", "auto")}
if _config["kernels"] not in _KERNEL_CHOICES:
    raise ValueError(
        f"NUMOPT_KERNELS must be one of {_KERNEL_CHOICES}, got {_config['kernels']!r}"
    )


def get_config() -> dict:
    """Return a copy of the current configuration."""
    return dict(_config)


def set_config(*, kernels: str | None = None) -> None:
    """Set global options.

    Parameters
    ----------
    kernels : {"auto", "reference"}, optional
        ``"auto"`` (default) runs the Numba kernel for NumPy input and the CuPy kernel
        for CuPy input; ``"reference"`` forces the portable array-API implementation
        everywhere, which the tests use to check every kernel against it. The
        environment variable ``NUMOPT_KERNELS`` sets the initial value.
    """
    if kernels is not None:
        if kernels not in _KERNEL_CHOICES:
            raise ValueError(f"kernels must be one of {_KERNEL_CHOICES}, got {kernels!r}")
        _config["kernels"] = kernels


@contextlib.contextmanager
def config_context(**options):
    """Temporarily change the configuration: ``with config_context(kernels="reference"):``."""
    saved = get_config()
    set_config(**options)
    try:
        yield
    finally:
        _config.clear()
        _config.update(saved)
