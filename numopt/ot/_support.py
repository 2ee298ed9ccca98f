"""Solving on the support of the weights.

A point of zero weight carries no mass: its row or column of every feasible plan is
zero. The exact and sparse solvers leave it out (a zero supply breaks the network
simplex's strongly feasible tree, the semi-dual divides by the weight, SNS's Newton
system would lose its positive diagonal), solve the smaller problem and put the plan
back in its place; the potentials of the left-out points are then filled in.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["weight_support", "restrict", "embed_plan", "embed_potentials",
           "c_transform_potentials"]


def weight_support(a, b):
    """``(rows, cols)``: the indices of the points of positive weight (NumPy 1-D
    weights), or None where every weight is positive (nothing to leave out)."""
    rows, cols = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    if rows.size == a.shape[0] and cols.size == b.shape[0]:
        return None
    return rows, cols


def restrict(M, support):
    """The rows and columns of ``M`` on the support."""
    rows, cols = support
    return M[np.ix_(rows, cols)]


def embed_plan(plan, support, shape):
    """A plan of the problem on the support, in its place in a plan of ``shape``: dense
    for a dense ``plan``, a ``csr_array`` for a sparse one."""
    rows, cols = support
    if sp.issparse(plan):
        coo = plan.tocoo()
        return sp.csr_array((coo.data, (rows[coo.row], cols[coo.col])), shape=shape)
    full = np.zeros(shape, dtype=plan.dtype)
    full[np.ix_(rows, cols)] = plan
    return full


def embed_potentials(f, g, support, shape, fill):
    """Potentials of the problem on the support, ``fill`` at the left-out points."""
    rows, cols = support
    full_f = np.full(shape[0], fill, dtype=f.dtype)
    full_g = np.full(shape[1], fill, dtype=g.dtype)
    full_f[rows], full_g[cols] = f, g
    return full_f, full_g


def c_transform_potentials(M, support, f_kept, g_kept):
    """Potentials on all rows and columns: the solved ones, and for a point of zero
    weight the largest value keeping ``f_i + g_j <= M_ij`` (its plan row or column is
    zero, so complementary slackness holds, and the dual objective does not change)."""
    rows_kept, cols_kept = support
    n, m = M.shape
    f, g = embed_potentials(f_kept, g_kept, support, (n, m), np.nan)
    cols_zero = np.setdiff1d(np.arange(m), cols_kept)
    if cols_zero.size:
        g[cols_zero] = np.min(M[np.ix_(rows_kept, cols_zero)] - f_kept[:, None], axis=0)
    rows_zero = np.setdiff1d(np.arange(n), rows_kept)
    if rows_zero.size:
        f[rows_zero] = np.min(M[rows_zero] - g[None, :], axis=1)
    return f, g
