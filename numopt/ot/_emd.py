"""Exact (unregularized) OT: the network simplex, and the transport LP's constraints
(HiGHS on that LP is the tests' oracle and ``sparse_ot``'s fall-back rounding)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .._result import Status
from .._units import binary_exponent
from ._support import c_transform_potentials, restrict, weight_support

__all__ = ["solve_emd", "emd_measures", "transport_constraints", "default_tol"]

# Pivot only on reduced costs below -PIVOT_RTOL times the artificial cost (the size of
# the potentials, so of their rounding); at the optimum the cost is then within that
# threshold times the mass. The artificial cost starts at ART_START times the cost range.
PIVOT_RTOL = 16 * np.finfo(np.float64).eps
ART_START = 2.0


def default_tol(dtype) -> float:
    """Relative tolerance of the success test: 1e-9, or the rounding of the returned
    dtype (float32 plans and potentials carry 6e-8 relative rounding)."""
    return max(1e-9, 64.0 * float(np.finfo(dtype).eps))


def transport_constraints(n, m, rows=None, cols=None):
    """Sparse equality constraints (row sums, then column sums) of a transport LP.

    ``rows``/``cols`` restrict the variables to a support (entry k is (rows[k], cols[k]));
    by default all n*m entries, in C order.
    """
    if rows is None:
        rows, cols = np.divmod(np.arange(n * m), m)
    k = np.arange(rows.size)
    return sp.csr_array((np.ones(2 * rows.size), (np.concatenate([rows, n + cols]),
                                                   np.concatenate([k, k]))),
                        shape=(n + m, rows.size))


def solve_emd(a, b, M, *, maxiter):
    """Network simplex on NumPy float64 input (masses equal, weights >= 0).

    Returns ``(plan, f, g, nit, status, detail)``: ``plan`` a ``csr_array`` with at most
    n + m - 1 nonzeros, potentials with ``f_i + g_j <= M_ij`` (equality on the plan's
    support) including rows and columns of zero weight, the pivot count, and
    ``Status.SUCCESS`` (an optimal basis), ``MAXITER`` or ``STALLED`` with a reason.
    """
    from ._network_simplex import MAXITER, OPTIMAL, network_simplex

    n, m = M.shape
    # solve on the support: a zero weight would be a zero supply, whose artificial arc
    # starts at zero flow pointing the wrong way for a strongly feasible tree
    support = weight_support(a, b)
    rows_kept, cols_kept = support or (np.arange(n), np.arange(m))
    Ms = M if support is None else restrict(M, support)
    low = float(Ms.min())
    # shifted to M >= 0: the optimal plan is the same, and the artificial cost needs a
    # bound on alternating paths, at most min(n, m) forward arcs of cost <= max M.
    # Costs and masses are then taken in units (powers of two, so exact) where both lie
    # in [0.5, 1): the artificial cost and the potentials cannot overflow for costs near
    # 1e308, and masses near 1e-300 keep their digits.
    shifted = np.subtract(Ms, low, order="C")
    spread = float(shifted.max())
    cost_unit = math.ldexp(1.0, binary_exponent(spread)) if spread > 0 else 1.0
    mass_unit = math.ldexp(1.0, binary_exponent(a.sum()))
    shifted /= cost_unit
    unit = spread / cost_unit if spread > 0 else 1.0
    ns, ms = shifted.shape
    art_max = (min(ns, ms) + 1) * unit
    block = max(10, int(np.ceil(np.sqrt(ns * ms))))
    rows, cols, values, pi, artificial, nit, code = network_simplex(
        shifted, np.ascontiguousarray(a[rows_kept] / mass_unit),
        np.ascontiguousarray(b[cols_kept] / mass_unit), min(ART_START, min(ns, ms) + 1) * unit,
        art_max, PIVOT_RTOL, 1e-14, block, maxiter)
    values *= mass_unit
    pi *= cost_unit
    artificial *= mass_unit
    keep = values > 0
    plan = sp.csr_array((values[keep], (rows_kept[rows[keep]], cols_kept[cols[keep]])),
                        shape=(n, m))
    f_kept = low - pi[:ns]
    g_kept = pi[ns:]
    # the potentials carry the artificial cost as an offset (about min(n, m) * spread);
    # one constant moved between f and g evens their sizes (max f = max g)
    shift = 0.5 * (f_kept.max() - g_kept.max())
    f_kept -= shift
    g_kept += shift
    f, g = ((f_kept, g_kept) if support is None
            else c_transform_potentials(M, support, f_kept, g_kept))
    if code == OPTIMAL:
        status, detail = Status.SUCCESS, ""
    elif code == MAXITER:
        status, detail = Status.MAXITER, (f"The network simplex made maxiter = {maxiter} "
                                          f"pivots before reaching an optimal basis.")
    else:
        status, detail = Status.STALLED, "The network simplex found an unbounded cycle."
    if status == Status.SUCCESS and artificial > 0 and artificial > 1e-12 * a.sum():
        status, detail = Status.STALLED, (f"A flow of {artificial:.3g} is left on an "
                                          f"artificial arc: the masses do not balance.")
    return plan, f, g, int(nit), status, detail


def emd_measures(plan, f, g, a, b, M):
    """The certificate of a returned solution, recomputed in float64 from the returned
    arrays: L1 marginal error, largest dual violation max(f_i + g_j - M_ij, 0), duality
    gap |<a,f> + <b,g> - <P,M>|, and the cost <P,M>."""
    from ._network_simplex import max_dual_violation

    plan = sp.coo_array(plan)
    values = plan.data.astype(np.float64)
    cost = float(values @ M[plan.row, plan.col])
    rows = np.bincount(plan.row, weights=values, minlength=M.shape[0])
    cols = np.bincount(plan.col, weights=values, minlength=M.shape[1])
    error = float(np.abs(rows - a).sum() + np.abs(cols - b).sum())
    f64 = np.ascontiguousarray(f, dtype=np.float64)
    g64 = np.ascontiguousarray(g, dtype=np.float64)
    violation = max(float(max_dual_violation(M, f64, g64)), 0.0)
    gap = abs(float(a @ f64 + b @ g64) - cost)
    return {"marginal_error": error, "dual_violation": violation, "duality_gap": gap,
            "cost": cost}


def monotone_plan(x_a, x_b, a, b):
    """The monotone (north-west corner on sorted points) plan between 1-D measures, by
    sorting and merging the cumulative weights: O((n + m) log(n + m)).

    Returns ``(rows, cols, values)``: at most n + m - 1 entries, one per interval between
    consecutive distinct cumulative weights; points of zero weight get none. ``b`` must
    already have the mass of ``a``.
    """
    order_a = np.argsort(x_a, kind="stable")
    order_b = np.argsort(x_b, kind="stable")
    cum_a = np.cumsum(a[order_a])
    cum_b = np.cumsum(b[order_b])
    total = cum_a[-1]
    # both quantile functions end at a's mass (b's cumulative sum may round differently)
    inner = np.concatenate([cum_a[:-1], cum_b[:-1]])
    breaks = np.unique(inner[(inner > 0) & (inner < total)])
    breaks = np.append(breaks, total)
    values = np.diff(breaks, prepend=0.0)
    # interval (breaks[k-1], breaks[k]] lies in the quantile range of the first point
    # whose cumulative weight reaches breaks[k]
    i = np.minimum(np.searchsorted(cum_a, breaks, side="left"), cum_a.size - 1)
    j = np.minimum(np.searchsorted(cum_b, breaks, side="left"), cum_b.size - 1)
    return order_a[i], order_b[j], values


def ground_cost_1d(x, y, metric, p):
    """The 1-D ground cost d(x, y) of ``emd_1d``'s metrics (each convex in x - y)."""
    d = np.abs(x - y)
    if metric == "sqeuclidean":
        return d * d
    if metric == "minkowski":
        return d ** p
    return d
