"""The ``numopt.minimize`` entry points of the zeroth-order methods."""

from ._ranksgd import minimize_ranksgd
from ._zo_sgd import minimize_zo_sgd

__all__ = ["minimize_zo_sgd", "minimize_ranksgd"]
