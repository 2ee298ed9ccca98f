"""Low-rank matrix completion: robust alternating minimization and baselines.

``complete(M, rank, method="altmin" | "als" | "softimpute")`` and the
:class:`MatrixCompleter` estimator.
"""

from .._lazy import lazy_exports
from ._api import complete
from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)

__all__ = ["complete", "MatrixCompleter"]

_ESTIMATORS = ("MatrixCompleter",)

# the estimators import scikit-learn: loaded on first access
__getattr__, __dir__ = lazy_exports(__name__, _ESTIMATORS, "_estimators")
