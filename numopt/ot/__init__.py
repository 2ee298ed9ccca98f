"""Optimal transport: Sinkhorn (kernel and log domain, epsilon scaling, batched),
Sinkhorn-Newton-Sparse, sparsity-constrained and quadratically regularized OT, and an
exact LP reference (``emd``)."""

from ._api import emd, quadratic_ot, sinkhorn, sparse_ot
from ._estimators import EntropicOT, SparseOT
from . import _demo, _methods  # noqa: F401  (register the demos and methods)

__all__ = ["sinkhorn", "emd", "sparse_ot", "quadratic_ot", "EntropicOT", "SparseOT"]
