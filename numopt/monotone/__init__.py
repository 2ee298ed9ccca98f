"""Monotone inclusions ``0 in F(z) + G(z)`` with a finite-sum ``F``: Halpern and
variance-reduced Halpern iterations (Cai, Alacaoglu & Diakonikolas, ICLR 2024), with
extragradient-type baselines and the operator residual as the stopping rule.

``solve_inclusion(operator, z0, prox=..., method=...)`` and ``solve_matrix_game(A)``.
"""

from ._api import duality_gap, solve_inclusion, solve_matrix_game
from ._operators import (bilinear_operator, callable_operator, gradient_operator,
                         matrix_operator)
from ._prox import ball, box, product, simplex
from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)

__all__ = ["solve_inclusion", "solve_matrix_game", "duality_gap", "matrix_operator",
           "bilinear_operator", "callable_operator", "gradient_operator", "simplex", "box",
           "ball", "product"]
