"""Exact (unregularized) OT: SciPy's HiGHS LP, or an assignment for uniform square input."""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize as so
import scipy.sparse as sp

from .._units import binary_exponent

__all__ = ["solve_emd", "transport_constraints"]


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


def solve_emd(a, b, M):
    """Return ``(plan, f, g, nit, ok, detail)`` for NumPy float64 input.

    The LP is solved in units where max |M| and the total mass lie in [0.5, 1): the
    optimal plan does not depend on them, and HiGHS's tolerances are absolute (its
    default infinity is 1e20), so costs near 1e300 or masses near 1e-300 would break
    it. The scalings are powers of two, hence exact.
    """
    cost_unit = math.ldexp(1.0, binary_exponent(np.max(np.abs(M))))
    mass_unit = math.ldexp(1.0, binary_exponent(a.sum()))
    plan, f, g, nit, ok, detail = _solve_unit_emd(a / mass_unit, b / mass_unit, M / cost_unit)
    return plan * mass_unit, f * cost_unit, g * cost_unit, nit, ok, detail


def _solve_unit_emd(a, b, M):
    n, m = M.shape
    uniform = n == m and np.ptp(a) == 0 and np.ptp(b) == 0 and np.isclose(a[0], b[0])
    if uniform:
        rows, cols = so.linear_sum_assignment(M)
        plan = np.zeros((n, m))
        plan[rows, cols] = a[0]
        f, g = _assignment_potentials(M, cols)
        return plan, f, g, n, True, ""
    b = b * (a.sum() / b.sum())  # equal masses exactly (they agree within tolerance)
    res = so.linprog(M.ravel(), A_eq=transport_constraints(n, m), b_eq=np.concatenate([a, b]),
                     bounds=(0, None), method="highs")
    if res.status != 0:
        return np.zeros((n, m)), np.zeros(n), np.zeros(m), int(res.nit), False, res.message
    duals = res.eqlin.marginals
    return res.x.reshape(n, m), duals[:n], duals[n:], int(res.nit), True, ""


def _assignment_potentials(M, cols):
    """Dual potentials of an optimal assignment (row i -> cols[i]), scaled for weights 1/n.

    Shortest paths (Bellman-Ford) in the residual graph: g_j <= g_{cols[i]} + M_ij -
    M_{i,cols[i]}; no negative cycle exists because the assignment is optimal.
    Then f_i = M_{i,cols[i]} - g_{cols[i]}, so f_i + g_j <= M_ij with equality on it.
    """
    n = M.shape[0]
    matched = M[np.arange(n), cols]
    g = np.zeros(n)
    for _ in range(n + 1):
        candidate = np.min((g[cols] - matched)[:, None] + M, axis=0)
        new = np.minimum(g, candidate)
        if np.array_equal(new, g):
            break
        g = new
    f = matched - g[cols]
    return f, g
