"""Low-rank matrix completion: robust alternating minimization and baselines.

``complete(M, rank, method="altmin" | "als" | "softimpute")`` and the
:class:`MatrixCompleter` estimator.
"""

from ._api import complete
from ._estimators import MatrixCompleter
from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)

__all__ = ["complete", "MatrixCompleter"]
