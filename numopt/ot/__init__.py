"""Optimal transport: Sinkhorn (kernel and log domain, epsilon scaling, batched),
Sinkhorn-Newton-Sparse, sparsity-constrained and quadratically regularized OT, exact OT
by the network simplex (``emd``) and on the line (``emd_1d``, ``wasserstein_1d``)."""

from ._api import emd, emd_1d, quadratic_ot, sinkhorn, sparse_ot, wasserstein_1d
from . import _demo, _methods  # noqa: F401  (register the demos and methods)

__all__ = ["sinkhorn", "emd", "emd_1d", "wasserstein_1d", "sparse_ot", "quadratic_ot",
           "EntropicOT", "SparseOT"]

_ESTIMATORS = ("EntropicOT", "SparseOT")


def __getattr__(name):
    # the estimators import scikit-learn: loaded on first access, so that the solvers of
    # this package do not pay for it
    if name in _ESTIMATORS:
        from . import _estimators

        return getattr(_estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
