"""Bilevel optimization: implicit differentiation, SOBA, SABA, F2SA, penalty methods,
BO-REP and blockwise variance-reduced multi-block methods (BSVRB).

``minimize_bilevel(problem, x0, method=...)``, the problem classes and ready problems,
and the :class:`TunedLogisticRegression` estimator.
"""

from .._lazy import lazy_exports
from ._api import minimize_bilevel
from ._problem import BilevelProblem, MultiBlockBilevel
from ._problems import (HyperCleaning, LogisticTuning, QuadraticBilevel, TemperatureBlock,
                        multi_block_temperatures, quadratic_bilevel)
from . import _methods  # noqa: F401  (registers the methods)
from . import _demo  # noqa: F401  (registers the demo rows)

__all__ = ["minimize_bilevel", "BilevelProblem", "MultiBlockBilevel", "QuadraticBilevel",
           "LogisticTuning", "HyperCleaning", "TemperatureBlock", "quadratic_bilevel",
           "multi_block_temperatures", "TunedLogisticRegression"]

_ESTIMATORS = ("TunedLogisticRegression",)

# the estimator imports scikit-learn: loaded on first access
__getattr__, __dir__ = lazy_exports(__name__, _ESTIMATORS, "_estimators")
