"""Optimal transport: Sinkhorn (kernel and log domain, epsilon scaling, batched),
Sinkhorn-Newton-Sparse, sparsity-constrained and quadratically regularized OT, exact OT
by the network simplex (``emd``) and on the line (``emd_1d``, ``wasserstein_1d``)."""

from .._lazy import lazy_exports
from ._api import emd, emd_1d, quadratic_ot, sinkhorn, sparse_ot, wasserstein_1d
from . import _demo, _methods  # noqa: F401  (register the demos and methods)

__all__ = ["sinkhorn", "emd", "emd_1d", "wasserstein_1d", "sparse_ot", "quadratic_ot",
           "EntropicOT", "SparseOT"]

_ESTIMATORS = ("EntropicOT", "SparseOT")

# the estimators import scikit-learn: loaded on first access
__getattr__, __dir__ = lazy_exports(__name__, _ESTIMATORS, "_estimators")
