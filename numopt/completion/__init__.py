"""Low-rank matrix completion: robust alternating minimization and baselines.

``complete(M, rank, method="altmin" | "als" | "softimpute")`` and the
:class:`MatrixCompleter` estimator.
"""

from ._api import complete
from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)

__all__ = ["complete", "MatrixCompleter"]

_ESTIMATORS = ("MatrixCompleter",)


def __getattr__(name):
    # the estimators import scikit-learn: loaded on first access, so that the solvers of
    # this package do not pay for it
    if name in _ESTIMATORS:
        from . import _estimators

        return getattr(_estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
