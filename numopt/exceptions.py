"""Warnings and errors numopt emits, each the class of the library its users already
filter: ``OptimizeWarning`` is SciPy's, ``ConvergenceWarning`` and ``NotFittedError`` are
scikit-learn's (``warnings.filterwarnings("ignore", category=sklearn.exceptions.
ConvergenceWarning)`` and ``pytest.warns`` on scikit-learn's class catch numopt's
estimators). The scikit-learn classes load on first access, so that ``import numopt``
does not import scikit-learn."""

from scipy.optimize import OptimizeWarning

__all__ = ["OptimizeWarning", "ConvergenceWarning", "NotFittedError"]

_FROM_SKLEARN = ("ConvergenceWarning", "NotFittedError")


def __getattr__(name):
    if name in _FROM_SKLEARN:
        import sklearn.exceptions

        return getattr(sklearn.exceptions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_FROM_SKLEARN))
