"""Optimal transport: Sinkhorn (kernel and log domain, epsilon scaling, batched),
Sinkhorn-Newton-Sparse, sparsity-constrained and quadratically regularized OT, exact OT
by the network simplex (``emd``) and on the line (``emd_1d``, ``wasserstein_1d``)."""

from ._api import emd, emd_1d, quadratic_ot, sinkhorn, sparse_ot, wasserstein_1d
from ._estimators import EntropicOT, SparseOT
from . import _demo, _methods  # noqa: F401  (register the demos and methods)

__all__ = ["sinkhorn", "emd", "emd_1d", "wasserstein_1d", "sparse_ot", "quadratic_ot", "EntropicOT", "SparseOT"]
