"""The input checks of :mod:`numopt.monotone`, built on :mod:`numopt._validation`."""

from __future__ import annotations

from .._validation import as_array, check_scalar
from ._operators import FiniteSumOperator
from ._prox import as_prox

__all__ = ["validate_problem", "validate_step", "validate_probability"]


def validate_problem(operator, z0, prox, xp):
    """``(z0, prox)`` checked against ``operator``: ``z0`` a finite 1-D float array of
    the operator's dimension (integers become float64), ``prox`` a :class:`Prox`."""
    if not isinstance(operator, FiniteSumOperator):
        raise TypeError("operator must be built by numopt.monotone.matrix_operator, "
                        "bilinear_operator, callable_operator or gradient_operator, got "
                        f"{type(operator).__name__}")
    z0 = as_array(z0, "z0", xp, ndim=1)
    if not xp.isdtype(z0.dtype, "real floating"):
        z0 = xp.astype(z0, xp.float64)
    if z0.shape[0] != operator.dim:
        raise ValueError(f"z0 has shape {tuple(z0.shape)}, expected ({operator.dim},) to "
                         "match the operator")
    return z0, as_prox(prox, operator.dim)


def validate_step(value, name):
    return None if value is None else check_scalar(value, name, low=0.0, low_open=True)


def validate_probability(value, name):
    return None if value is None else check_scalar(value, name, low=0.0, high=1.0,
                                                   low_open=True)
