"""The true residual ``||b - A x||`` in a precision wider than the solve's, on which
the linear solvers decide success."""

from __future__ import annotations

import numpy as np

from .._backend import is_numpy
from .._validation import _is_sparse
from ._validation import operator_like

__all__ = ["wide_residual_norm"]


def wide_residual_norm(held, xp, dtype):
    """``(norm, wide)``: ``norm(b, x)`` is ``||b - A x||`` computed in the dtype
    ``wide``, wider than the working ``dtype`` where one is at hand, so that success is
    decided on the true residual and not on its rounding (a float32 residual of an
    ill-conditioned system is off by 10% near tol 1e-4). float32 solves recompute in
    float64; float64 matrices on the CPU in NumPy's ``longdouble`` (11 more bits on
    x86-64; where the platform's longdouble is float64 nothing is gained); float64
    LinearOperators and GPU matrices in float64, the widest they take. An operator
    that wraps a matrix (SciPy's ``aslinearoperator`` of an array or sparse matrix)
    counts as that matrix."""
    wrapped = getattr(held, "A", None)
    if (is_numpy(xp) and type(held).__name__ == "MatrixLinearOperator"
            and (_is_sparse(wrapped) or type(wrapped) is np.ndarray)
            and tuple(wrapped.shape) == tuple(held.shape)):
        held = wrapped
    wide = xp.float64
    if dtype == xp.float64 and is_numpy(xp) and not operator_like(held):
        wide = np.longdouble
    if operator_like(held):
        def matvec(v):
            return xp.astype(xp.asarray(held.matvec(v)), wide)
    elif _is_sparse(held):
        held_wide = held.astype(wide)

        def matvec(v):
            return held_wide @ v
    else:
        # a wide copy of a dense matrix by blocks of rows (about 4 MB each)
        n = held.shape[0]
        rows = max(1, (1 << 22) // (16 * n))

        def matvec(v):
            return xp.concat([xp.astype(held[i:min(i + rows, n), :], wide) @ v
                              for i in range(0, n, rows)])

    def norm(b, x):
        return float(xp.linalg.vector_norm(xp.astype(b, wide) - matvec(xp.astype(x, wide))))

    return norm, wide
