"""Names a package exports but loads only on first access (scikit-learn estimators, so
that a package's solvers do not pay for importing scikit-learn)."""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_exports"]


def lazy_exports(package, names, module):
    """``(__getattr__, __dir__)`` for ``package`` whose ``names`` live in its submodule
    ``module`` (``"_estimators"``) and import it on first access."""
    names = tuple(names)

    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
