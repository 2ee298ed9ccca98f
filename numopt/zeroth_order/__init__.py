"""Zeroth-order minimization from function values or rankings only.

``numopt.minimize(fun, x0, method="zo-sgd")`` (alias ``"mezo"``): two-point SPSA
estimates with seeded perturbations regenerated, never stored; ``method="zo-ranksgd"``:
rank-based estimates and a ranked line search. The estimates themselves:
:func:`spsa_gradient`, :func:`coordinate_gradient`, :func:`rank_gradient`, and the
perturbations :func:`perturbation`.
"""

from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)
from ._api import (coordinate_gradient, minimize_ranksgd, minimize_zo_sgd, perturbation,
                   rank_gradient, spsa_gradient)

__all__ = ["perturbation", "spsa_gradient", "coordinate_gradient", "rank_gradient",
           "minimize_zo_sgd", "minimize_ranksgd"]
