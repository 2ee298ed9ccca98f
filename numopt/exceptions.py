"""Warnings numopt emits. ``OptimizeWarning`` is SciPy's own class, so filters written
for SciPy catch numopt's warnings too."""

from scipy.optimize import OptimizeWarning

__all__ = ["OptimizeWarning", "ConvergenceWarning", "NotFittedError"]


class ConvergenceWarning(UserWarning):
    """An estimator's fit stopped before its tolerance was reached (scikit-learn's meaning)."""


class NotFittedError(ValueError, AttributeError):
    """An estimator is used before ``fit`` (scikit-learn's meaning, and its base classes)."""
