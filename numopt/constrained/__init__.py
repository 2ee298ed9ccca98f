"""Equality-constrained optimization: inexact Newton with randomized sketching of the
KKT system and an exact augmented Lagrangian merit.

``minimize_eq(fun, x0, jac=..., constraints=...)`` and
``numopt.minimize(..., method="newton-sketch", constraints=...)``.
"""

from ._api import minimize_eq
from . import _methods  # noqa: F401  (registers the method)
from . import _demo  # noqa: F401  (registers the demo row)

__all__ = ["minimize_eq"]
