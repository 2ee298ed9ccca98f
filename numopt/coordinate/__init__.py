"""Block coordinate descent (Nutini, Laradji & Schmidt, JMLR 2022) and sparse linear models.

``bcd`` runs the general framework (partition x selection rule x update) on the problem
objects below; ``lasso`` and ``sparse_logistic_regression`` are the fast working-set
solvers behind the scikit-learn-style estimators.
"""

from .._lazy import lazy_exports
from . import _demo, _methods  # noqa: F401  (registers the demos and methods)
from ._api import (bcd, elastic_net, enet_path, lasso, lasso_path,
                   multinomial_logistic_regression, sparse_logistic_regression)
from ._problems import (BinaryLogistic, GLMProblem, L1LeastSquares, L1Logistic,
                        LabelPropagationProblem, LeastSquares, QuadraticProblem, SoftmaxLogistic,
                        SoftmaxProblem)

__all__ = ["bcd", "lasso", "elastic_net", "lasso_path", "enet_path",
           "sparse_logistic_regression", "multinomial_logistic_regression", "LeastSquares", "BinaryLogistic",
           "SoftmaxLogistic", "LabelPropagationProblem", "L1LeastSquares", "L1Logistic",
           "QuadraticProblem", "GLMProblem", "SoftmaxProblem", "Lasso", "ElasticNet",
           "LassoCV", "ElasticNetCV",
           "SparseLogisticRegression", "LabelPropagation"]

_ESTIMATORS = ("Lasso", "ElasticNet", "LassoCV", "ElasticNetCV", "SparseLogisticRegression",
               "LabelPropagation")

# the estimators import scikit-learn: loaded on first access
__getattr__, __dir__ = lazy_exports(__name__, _ESTIMATORS, "_estimators")
