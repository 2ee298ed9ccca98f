"""Sparsity-constrained and quadratically regularized OT (Liu, Puigcerver, Blondel,
"Sparsity-constrained optimal transport", ICLR 2023).

Primal: min <T, M> + (gamma/2) ||T||_F^2 over transport plans whose columns have at
most k nonzeros. Its smoothed semi-dual (over the row potential alpha) and dual (over
alpha, beta) are maximized with L-BFGS; for each column the inner problem is the top-k
sparse simplex projection (semi-dual) or the top-k positive part (dual). The plan read
off the potentials has k-sparse columns; a rounding step then makes it exactly
feasible *on its own support*, so the sparsity pattern is kept: alternate row/column
rescaling of its nonzeros (Sinkhorn on the support), or, where that does not converge,
a correcting flow on the support (SciPy's max-flow, a few milliseconds), or, where the
flow cannot carry the correction, the smallest L1 change that fixes both marginals (a
small LP over the support); where
no feasible plan lives on the support, the same LP on the support widened by the entries
nearest to entering it, and last the cheapest plan on the top-(k+2) candidates of
each column, accepted if it still has at most k nonzeros per column. The returned
plan's ``duality_gap`` (fun minus the dual objective at the returned potentials) bounds
its distance to the optimum; for k >= n (quadratic OT, convex) success requires it to
meet tol.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize as so
import scipy.sparse as sp

from .._backend import get_kernel, kernel
from .._result import OptimizeResult, Status
from .._units import binary_exponent
from ._emd import transport_constraints
from ._marginals import equal_mass
from ._support import c_transform_potentials, embed_plan, restrict, weight_support

__all__ = ["solve_sparse_ot", "sparse_simplex_projection"]


def _top_k(Z, k):
    """Indices and values of the k largest entries of each ROW of Z, sorted descending.

    The solvers work on the transposed cost (one contiguous row per target point), so
    this partial sort runs along contiguous memory.
    """
    n = Z.shape[1]
    if k < n:
        idx = np.argpartition(-Z, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(Z, idx, axis=1)
    else:
        idx = np.broadcast_to(np.arange(n)[None, :], Z.shape)
        vals = Z
    order = np.argsort(-vals, axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(vals, order, axis=1)


def sparse_simplex_projection(Z, k):
    """Euclidean projection of each ROW of Z onto the simplex with at most k nonzeros.

    Returns ``(idx, Y, theta)``: the kept indices (m, k), their values (m, k) and each
    row's threshold, with ``Y = max(Z[idx] - theta, 0)``.
    """
    idx, vals = _top_k(Z, k)
    csum = np.cumsum(vals, axis=1) - 1.0
    r = np.arange(1, vals.shape[1] + 1)[None, :]
    support = vals - csum / r > 0
    rho = support.shape[1] - np.argmax(support[:, ::-1], axis=1)  # last True, 1-based
    theta = np.take_along_axis(csum, (rho - 1)[:, None], axis=1)[:, 0] / rho
    return idx, np.maximum(vals - theta[:, None], 0.0), theta


@kernel("ot.sparse_top_k", numba="numopt.ot._kernels_numba:sparse_top_k")
def sparse_top_k(xp, MT, alpha, beta, scale, k, simplex):
    """For each row j of Z = (alpha + beta_j - MT[j]) * scale_j: the indices and values of
    its k largest entries (descending) and, if ``simplex``, the threshold theta_j of their
    projection onto the simplex. Reference version (NumPy, vectorized)."""
    Z = (alpha[None, :] + beta[:, None] - MT) * scale[:, None]
    if simplex:
        idx, _, theta = sparse_simplex_projection(Z, k)
        return idx, np.take_along_axis(Z, idx, axis=1), theta
    idx, vals = _top_k(Z, k)
    return idx, vals, np.zeros(Z.shape[0])


@kernel("ot.semi_dual_value", numba="numopt.ot._kernels_numba:semi_dual_value")
def semi_dual_value(xp, MT, alpha, b, gamma, k):
    """sum_j b_j max_{y in k-sparse simplex} <y, x_j> - gamma b_j/2 |y|^2 with
    x_j = alpha - M[:, j], and the row sums of the plan (columns b_j y_j)."""
    idx, Z, theta = sparse_top_k(xp, MT, alpha, np.zeros(MT.shape[0]), 1.0 / (gamma * b), k,
                                 True)
    Y = np.maximum(Z - theta[:, None], 0.0)
    X = Z * (gamma * b)[:, None]
    inner = (X * Y).sum(axis=1) - 0.5 * gamma * b * (Y * Y).sum(axis=1)
    rows = np.bincount(idx.ravel(), weights=(Y * b[:, None]).ravel(), minlength=MT.shape[1])
    return float(b @ inner), rows


class _SemiDual:
    """-(semi-dual) and its gradient in alpha (L-BFGS minimizes)."""

    def __init__(self, a, b, M, k, gamma):
        self.a, self.b, self.k, self.gamma = a, b, k, gamma
        self.MT = np.ascontiguousarray(M.T)
        self.n = M.shape[0]
        self.zeros = np.zeros(M.shape[1])
        self.scale = 1.0 / (gamma * b)
        self.top_k = get_kernel("ot.sparse_top_k", np)
        self.value = get_kernel("ot.semi_dual_value", np)

    def size(self):
        return self.n

    def columns(self, x):
        # row j of the transposed problem: (alpha - M[:, j]) / (gamma b_j)
        idx, Z, theta = self.top_k(np, self.MT, x, self.zeros, self.scale, self.k, True)
        Y = np.maximum(Z - theta[:, None], 0.0)
        values = Y * self.b[:, None]  # column j of the plan holds b_j * y_j
        return idx, values, Z, theta

    def __call__(self, x):
        inner, rows = self.value(np, self.MT, x, self.b, self.gamma, self.k)
        return -(x @ self.a - inner), -(self.a - rows)

    def potentials(self, x):
        _, _, _, theta = self.columns(x)
        return x, -self.gamma * self.b * theta


class _Dual:
    """-(dual) and its gradient in (alpha, beta)."""

    def __init__(self, a, b, M, k, gamma):
        self.a, self.b, self.k, self.gamma = a, b, k, gamma
        self.MT = np.ascontiguousarray(M.T)
        self.n, self.m = M.shape
        self.ones = np.ones(self.m)
        self.top_k = get_kernel("ot.sparse_top_k", np)

    def size(self):
        return self.n + self.m

    def columns(self, x):
        alpha, beta = x[:self.n], x[self.n:]
        idx, vals, _ = self.top_k(np, self.MT, alpha, beta, self.ones, self.k, False)
        return idx, np.maximum(vals, 0.0) / self.gamma, None, None

    def __call__(self, x):
        idx, values, _, _ = self.columns(x)
        alpha, beta = x[:self.n], x[self.n:]
        obj = alpha @ self.a + beta @ self.b - 0.5 * self.gamma * (values * values).sum()
        rows = np.bincount(idx.ravel(), weights=values.ravel(), minlength=self.n)
        cols = values.sum(axis=1)
        return -obj, -np.concatenate([self.a - rows, self.b - cols])

    def potentials(self, x):
        return x[:self.n], x[self.n:]


def _scale_on_support(T, a, b, tol, maxiter=200):
    """Alternate row and column rescaling of T's nonzeros (Sinkhorn on its support).

    Keeps the support exactly; converges when a plan with T's support exists, which is
    the usual case near the optimum. Returns the scaled plan or None if not within tol.
    """
    T = T.tocoo()
    n, m = T.shape
    rows, cols, data = T.row, T.col, T.data.copy()
    row_has = np.bincount(rows, minlength=n) > 0
    col_has = np.bincount(cols, minlength=m) > 0
    if not (row_has[a > 0].all() and col_has[b > 0].all()):
        return None
    first = None
    for it in range(maxiter):
        r = np.bincount(rows, weights=data, minlength=n)
        data *= (a / np.where(r > 0, r, 1.0))[rows]
        c = np.bincount(cols, weights=data, minlength=m)
        data *= (b / np.where(c > 0, c, 1.0))[cols]
        r = np.bincount(rows, weights=data, minlength=n)
        err = np.abs(r - a).sum()
        if err <= tol:
            return sp.csr_array((data, (rows, cols)), shape=(n, m))
        first = err if first is None else first
        if it == 20 and err > 1e-2 * first:  # too slow: the support is barely feasible
            return None
    return None


def _repair_by_flow(T, a, b, rounds=3):
    """Fix T's marginals by a flow on its own support (scipy's max-flow, no LP).

    Rows and columns short of mass are fed from a source, those with too much drain to
    a sink; a unit of flow on row i -> column j raises T_ij (any amount), on column j ->
    row i lowers it (at most T_ij), so the support is kept and T stays >= 0. The flow
    is in integers (scipy's max-flow, int32): units of 2**-28 of the mass to move, so a
    round leaves an error of about (n + m) units, and the next round fixes that; every
    capacity is at most 2**29, since an edge and its reverse add up in the residual
    graph (2**31 - 1 there overflows and the flow stalls). Returns the
    repaired plan, or None where the support cannot carry the correction (the L1-closest
    LP then decides).
    """
    from scipy.sparse.csgraph import maximum_flow

    T = T.tocoo()
    n, m = T.shape
    rows, cols, data = T.row.astype(np.int64), T.col.astype(np.int64), T.data.copy()
    source, sink = n + m, n + m + 1
    big = 2 ** 29
    target = 1e-13 * float(a.sum())
    for _ in range(rounds):
        residual = np.concatenate([a - np.bincount(rows, data, n),
                                   b - np.bincount(cols, data, m)])
        # > 0: a row short of mass (raise its entries) or, sign flipped, a column with
        # too much (lower its entries): both are fed from the source; the others drain
        residual[n:] = -residual[n:]
        need = np.abs(residual)
        if need.sum() <= 2 * target:
            break
        unit = 0.5 * need.sum() / 2.0 ** 28
        amount = np.minimum(np.rint(need / unit), big).astype(np.int64)
        feed = residual > 0
        nodes = np.arange(n + m)
        heads = np.concatenate([rows, cols + n, np.full(feed.sum(), source), nodes[~feed]])
        tails = np.concatenate([cols + n, rows, nodes[feed], np.full((~feed).sum(), sink)])
        caps = np.concatenate([np.full(rows.size, big),
                               np.minimum(np.floor(data / unit), big).astype(np.int64),
                               amount[feed], amount[~feed]])
        keep = caps > 0
        graph = sp.csr_matrix((caps[keep].astype(np.int32), (heads[keep], tails[keep])),
                              shape=(n + m + 2, n + m + 2))
        graph.sum_duplicates()
        flow = maximum_flow(graph, source, sink, method="dinic").flow.tocsr()
        net = np.asarray(flow[rows, cols + n]).ravel()  # row -> column flow, signed
        data = np.maximum(data + net * unit, 0.0)
    err = (np.abs(np.bincount(rows, data, n) - a).sum()
           + np.abs(np.bincount(cols, data, m) - b).sum())
    if not err <= 1e-9 * float(a.sum()):
        return None
    out = sp.csr_array((data, (rows, cols)), shape=(n, m))
    out.eliminate_zeros()
    return out


def _round_on_support(T, a, b):
    """The plan closest to T in L1 with T's marginals fixed to (a, b) and support kept.

    LP over the support: T' = T + p - q with p >= 0, 0 <= q <= T. Returns the rounded
    plan, or None where no feasible plan lives on that support.
    """
    if T.nnz == 0:
        return None
    # Scale so that plan entries are O(1): HiGHS's feasibility tolerances are absolute.
    scale = 1.0 / float(T.data.mean())
    T = (T * scale).tocoo()
    a, b = a * scale, b * scale
    n, m = T.shape
    s = T.nnz
    A = transport_constraints(n, m, T.row, T.col)
    residual = np.concatenate([a - T.sum(axis=1), b - T.sum(axis=0)])
    res = so.linprog(np.ones(2 * s), A_eq=sp.hstack([A, -A], format="csr"), b_eq=residual,
                     bounds=np.concatenate([np.column_stack([np.zeros(s), np.full(s, np.inf)]),
                                            np.column_stack([np.zeros(s), T.data])]),
                     method="highs", options={"primal_feasibility_tolerance": 1e-10})
    if res.status != 0:
        return None
    data = (T.data + res.x[:s] - res.x[s:]) / scale
    out = sp.csr_array((np.maximum(data, 0.0), (T.row, T.col)), shape=(n, m))
    out.eliminate_zeros()
    return out


def _round_on_candidates(T, a, b, M, f, g, k, gamma, error_before, extra):
    """The L1-closest rounding of T on its support widened by the entries nearest to
    entering it: in each column the next ``extra`` of its top-k candidates (by
    ``f_i + g_j - M_ij``), and for a row left without any entry (a weight below the
    L-BFGS tolerance, say) its best candidate. An entry outside the support costs its
    reduced cost ``M_ij - f_i - g_j`` more per unit: the plan's distance to the dual
    bound is ``gamma/2 ||T' - T||^2`` plus exactly that sum, so the LP trades the two.
    Marginals are then made exact by the flow. Returns None where no feasible plan
    lives on the widened support.
    """
    n, m = M.shape
    scores = f[:, None] + g[None, :] - M
    order, _ = _top_k(np.ascontiguousarray(scores.T), k)  # (m, k): rows by column, best first
    nnz = np.diff(T.tocsc().indptr)
    take = np.minimum(nnz + extra, k)
    keep = np.arange(k)[None, :] < take[:, None]
    allowed = np.zeros((n, m), dtype=bool)
    allowed[order.ravel(), np.repeat(np.arange(m), k)] = True   # within a column's top k
    chosen = np.zeros((n, m), dtype=bool)
    chosen[order[keep], np.broadcast_to(np.arange(m)[:, None], order.shape)[keep]] = True
    T = T.tocoo()
    chosen[T.row, T.col] = True
    lonely = np.flatnonzero(~chosen.any(axis=1) & allowed.any(axis=1))
    best = np.argmax(np.where(allowed[lonely], scores[lonely], -np.inf), axis=1)
    chosen[lonely, best] = True
    rows, cols = np.nonzero(chosen)
    current = np.zeros((n, m))
    current[T.row, T.col] = T.data
    start = current[rows, cols]
    # Scale so that plan entries are O(1): HiGHS's feasibility tolerances are absolute.
    scale = 1.0 / float(T.data.mean()) if T.nnz else 1.0 / float(a.mean())
    s = rows.size
    reduced = np.where(start > 0, 0.0, np.maximum(-scores[rows, cols], 0.0))
    weight = gamma * max(error_before, 1e-16)
    A = transport_constraints(n, m, rows, cols)
    residual = scale * np.concatenate([a - np.bincount(rows, start, n),
                                       b - np.bincount(cols, start, m)])
    # in units of weight: HiGHS treats costs below its dual tolerance (1e-7) as zero,
    # and then any feasible vertex, however far from T, was "optimal"
    res = so.linprog(np.concatenate([1.0 + np.minimum(reduced / weight, 1e9), np.ones(s)]),
                     A_eq=sp.hstack([A, -A], format="csr"), b_eq=residual,
                     bounds=np.concatenate([np.column_stack([np.zeros(s), np.full(s, np.inf)]),
                                            np.column_stack([np.zeros(s), scale * start])]),
                     method="highs", options={"primal_feasibility_tolerance": 1e-10})
    if res.status != 0:
        return None
    data = np.maximum(start + (res.x[:s] - res.x[s:]) / scale, 0.0)
    # explicit zeros stay: the flow may raise them to fix what HiGHS's tolerance left
    return _repair_by_flow(sp.csr_array((data, (rows, cols)), shape=(n, m)), a, b)


def _round(T, a, b, M, f, g, k, gamma, error_before):
    """A feasible plan near T and how it was found, or ``(None, "failed")``.

    T's own support first (its distance to the dual bound is then only
    ``gamma/2 ||T' - T||^2``); then that support widened by the entries nearest to
    entering it; last, where no feasible plan lives there, the cheapest plan on the
    top-(k+2) candidates of each column, kept only if it has at most k nonzeros per
    column. The caller certifies whichever comes back with the duality gap.
    """
    n = M.shape[0]
    rounded = _scale_on_support(T, a, b, tol=1e-10 * float(a.sum()))
    if rounded is not None:
        return rounded, "rescaled on its support"
    rounded = _repair_by_flow(T, a, b)
    if rounded is not None:
        return rounded, "repaired by a flow on its support"
    rounded = _round_on_support(T, a, b)
    if rounded is not None:
        return rounded, "rounded on its support (L1-closest)"
    for extra in (1, n):
        rounded = _round_on_candidates(T, a, b, M, f, g, k, gamma, error_before, extra)
        if rounded is not None:
            return rounded, "rounded on its support widened by the nearest candidates"
    scores = f[None, :] + g[:, None] - M.T
    for kk in sorted({min(n, k + 2), min(n, 2 * k + 5)}):
        rounded = _cheapest_on_candidates(M, a, b, _top_k(scores, kk)[0])
        if rounded is not None:
            break
    if rounded is not None and np.diff(rounded.tocsc().indptr).max() <= k:
        return rounded, "replaced by the cheapest plan on the top-(k+2) candidates"
    return None, "failed"


def _certify(plan, how, a, b, M, f, g, gamma, tol):
    """Better potentials, and where they read off a better plan that plan, for a rounded
    plan of the quadratic problem (no sparsity constraint) that the L-BFGS potentials
    leave more than ``tol`` above the dual bound. Returns ``(plan, how, f, g, bound)``.

    L-BFGS stops on a relative decrease of the dual, which a point of weight 1e-9
    barely moves: its potential can stay far from optimal and the bound with it (a plan
    2e-8 above it at tol = 1e-9). Block ascent on the dual (f given g, then g given f)
    fixes such potentials; so do the optimality conditions on the plan's support,
    ``f_i + g_j = M_ij + gamma T_ij``, where the plan is optimal.
    """
    n = M.shape[0]
    fun = float((plan.multiply(M)).sum()) + 0.5 * gamma * float((plan.multiply(plan)).sum())
    target = fun - tol
    f, g, bound = max([_best_dual(a, b, M, f, g, n, gamma, target=target),
                       _best_dual(a, b, M, *_potentials_of(plan, M, gamma), n, gamma,
                                  target=target)], key=lambda t: t[2])
    if bound >= target:
        return plan, how, f, g, bound
    f, g, bound = _best_dual(a, b, M, f, g, n, gamma, rounds=20, target=target)
    T = sp.csr_array(np.maximum(f[:, None] + g[None, :] - M, 0.0) / gamma)
    again, how_again = _round(T, a, b, M, f, g, n, gamma, _marginal_error(T, a, b))
    if again is not None and (float((again.multiply(M)).sum())
                              + 0.5 * gamma * float((again.multiply(again)).sum()) < fun):
        plan, how = again, how_again + " (from the improved potentials)"
    return plan, how, f, g, bound


def _best_dual(a, b, M, f, g, k, gamma, rounds=3, target=np.inf):
    """``(f, g)`` or better potentials, and their dual value: rounds of block ascent
    until the value reaches ``target``. Without the sparsity constraint (k >= n) the
    dual is separable in f given g and in g given f, each block's maximizer a simplex
    projection. The value never falls: the best pair seen is kept."""
    best = (f, g, dual_value(a, b, M, f, g, k, gamma))
    if k < M.shape[0]:
        return best
    project = get_kernel("ot.sparse_top_k", np)
    MT = np.ascontiguousarray(M.T)
    for _ in range(rounds):
        _, _, theta = project(np, M, g, np.zeros(M.shape[0]), 1.0 / (gamma * a), M.shape[1],
                              True)
        f = -gamma * a * theta
        _, _, theta = project(np, MT, f, np.zeros(M.shape[1]), 1.0 / (gamma * b), k, True)
        g = -gamma * b * theta
        value = dual_value(a, b, M, f, g, k, gamma)
        if not value > best[2]:
            break
        best = (f, g, value)
        if value >= target:
            break
    return best


def _potentials_of(plan, M, gamma):
    """Potentials that meet the optimality conditions on the plan's support,
    ``f_i + g_j = M_ij + gamma T_ij`` (least squares where they conflict)."""
    import scipy.sparse.linalg as spla

    T = plan.tocoo()
    n, m = M.shape
    s = T.nnz
    A = sp.csr_array((np.ones(2 * s), (np.tile(np.arange(s), 2),
                                       np.concatenate([T.row, n + T.col]))), shape=(s, n + m))
    x = spla.lsqr(A, M[T.row, T.col] + gamma * T.data, atol=1e-15, btol=1e-15,
                  iter_lim=10 * (n + m))[0]
    return x[:n], x[n:]


def dual_value(a, b, M, f, g, k, gamma):
    """The dual objective at (f, g), a lower bound on the optimum (weak duality, k < n
    included): ``<f, a> + <g, b> - 1/(2 gamma) sum_j (top k of [f + g_j - M_:j]_+)^2``."""
    Z = np.maximum(f[:, None] + g[None, :] - M, 0.0)
    if k < M.shape[0]:
        Z = np.partition(Z, M.shape[0] - k, axis=0)[M.shape[0] - k:]
    return float(f @ a + g @ b - 0.5 / gamma * np.einsum("ij,ij->", Z, Z))


def gap_tolerance(tol, fun, a, M):
    """tol in units of the objective: of |fun|, or of the mass times the largest cost
    where the two terms of fun cancel."""
    return tol * max(abs(fun), float(a.sum()) * float(np.max(np.abs(M))))


def _cheapest_on_candidates(M, a, b, candidates_idx):
    """Unregularized OT restricted to a candidate support (an LP vertex: few nonzeros)."""
    n, m = M.shape
    rows = candidates_idx.ravel()
    cols = np.broadcast_to(np.arange(m)[:, None], candidates_idx.shape).ravel()
    res = so.linprog(M[rows, cols], A_eq=transport_constraints(n, m, rows, cols),
                     b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs-ds")
    if res.status != 0:
        return None
    # HiGHS's vertex can hold entries of -1e-9 (within its feasibility tolerance): a plan
    # with negative entries was reported as a success. Clipped, then the flow restores
    # the marginals on the vertex's support (the clipped entries stay in it as explicit
    # zeros, which the flow may raise again).
    keep = res.x != 0
    out = sp.csr_array((np.maximum(res.x[keep], 0.0), (rows[keep], cols[keep])), shape=(n, m))
    repaired = _repair_by_flow(out, a, b)
    if repaired is not None:
        return repaired
    out.eliminate_zeros()
    return out


def solve_sparse_ot(a, b, M, k, gamma, formulation, tol, ftol, maxiter, callback):
    """NumPy float64 in; a result dict (plan as a scipy.sparse CSR array).

    Solved in units where the mass lies in [1, 2) and max |M| below 2: with ``a = s a'``,
    ``M = c M'`` and ``P = s P'``, the objective is
    ``s c (<P', M'> + gamma s / c / 2 ||P'||^2)``, so ``P'`` solves the problem with
    ``gamma' = gamma s / c``, and the potentials are ``c`` times its own. L-BFGS and the
    rounding then see O(1) numbers whatever the units (masses near 1e300 overflowed the
    semi-dual). The scalings are powers of two, hence exact; for unit mass and costs
    below 2 they are 1. (Costs are never scaled up: what matters then is gamma / max M,
    which no change of units alters.)
    """
    # (binary_exponent - 1: unit mass keeps s = 1)
    s = math.ldexp(1.0, binary_exponent(a.sum()) - 1)
    c = max(1.0, math.ldexp(1.0, binary_exponent(np.max(np.abs(M))) - 1))
    if s == 1.0 and c == 1.0:
        return _solve_with_zero_weights(a, b, M, k, gamma, formulation, tol, ftol, maxiter,
                                        callback)
    inner = None
    if callback is not None:
        def inner(intermediate):
            return callback(OptimizeResult(x=intermediate.x * c, fun=intermediate.fun * s * c))
    res = _solve_with_zero_weights(a / s, b / s, M / c, k, gamma * s / c, formulation, tol,
                                   ftol, maxiter, inner)
    res.x = res.plan = res.plan * s
    res.f, res.g = res.f * c, res.g * c
    res.cost = float(res.plan.multiply(M).sum())
    res.fun = res.cost + 0.5 * gamma * float(res.plan.multiply(res.plan).sum())
    res.marginal_error *= s
    res.marginal_error_before_rounding *= s
    res.duality_gap *= s * c
    return res


def _solve_with_zero_weights(a, b, M, k, gamma, formulation, tol, ftol, maxiter, callback):
    """Points of zero weight carry no mass (the semi-dual would divide by their weight):
    the problem is solved on the support of ``a`` and ``b`` and the plan gets empty rows
    and columns there. Their potentials are c-transforms, ``f_i = min_j (M_ij - g_j)``,
    the largest that keep ``max(f_i + g_j - M_ij, 0) = 0``: a dual certificate of the
    empty line.
    """
    support = weight_support(a, b)
    if support is None:
        return _solve_on_support(a, b, M, k, gamma, formulation, tol, ftol, maxiter,
                                 callback)
    rows, cols = support
    res = _solve_on_support(a[rows], b[cols], restrict(M, support), min(k, rows.size),
                            gamma, formulation, tol, ftol, maxiter, callback)
    res.x = res.plan = embed_plan(res.plan, support, M.shape)
    res.f, res.g = c_transform_potentials(M, support, res.f, res.g)
    return res


def _solve_on_support(a, b, M, k, gamma, formulation, tol, ftol, maxiter, callback):
    n, m = M.shape
    b = equal_mass(np, a, b)
    if k == 1 and n == m and np.ptp(a) == 0 and np.ptp(b) == 0:
        return _assignment_result(a, b, M, gamma)
    problem = (_SemiDual if formulation == "semi_dual" else _Dual)(a, b, M, k, gamma)
    stopped = []

    def on_iteration(intermediate_result):
        if callback is not None:
            try:
                callback(OptimizeResult(x=intermediate_result.x, fun=-intermediate_result.fun))
            except StopIteration:
                stopped.append(True)
                raise

    x0 = np.zeros(problem.size())
    if maxiter == 0:
        # SciPy's L-BFGS-B runs one iteration even at maxiter=0: keep the starting point
        res = OptimizeResult(x=x0, nit=0, nfev=0, status=1,
                             message="maxiter=0, the starting point (zero potentials)")
    else:
        res = so.minimize(problem, x0, jac=True, method="L-BFGS-B", callback=on_iteration,
                          options={"maxiter": maxiter, "gtol": tol, "ftol": ftol,
                                   "maxcor": 20})
    idx, values, _, _ = problem.columns(res.x)
    cols = np.broadcast_to(np.arange(m)[:, None], idx.shape)
    T = sp.csr_array((values.ravel(), (idx.ravel(), cols.ravel())), shape=(n, m))
    T.eliminate_zeros()
    error_before = _marginal_error(T, a, b)
    f, g = problem.potentials(res.x)
    rounded, how = _round(T, a, b, M, f, g, k, gamma, error_before)
    constrained = k < n
    if rounded is None:
        infeasible = ("No feasible plan " + ("with at most k nonzeros per column "
                                             if constrained else "")
                      + f"was found near the L-BFGS solution (its marginal error is "
                      f"{error_before:.3g}).")
    if stopped:
        status, detail = Status.CALLBACK_STOP, ""
    elif res.status == 1:   # the budget ran out, whatever the rounding then managed
        status, detail = Status.MAXITER, f"L-BFGS: {res.message}."
        if rounded is None:
            detail += " " + infeasible
    elif rounded is None:
        status, detail = Status.STALLED, infeasible
    elif res.status != 0 and "ABNORMAL" not in str(res.message):
        status, detail = Status.STALLED, f"L-BFGS: {res.message}"
    else:
        status, detail = Status.SUCCESS, ""
    plan = rounded if rounded is not None else T
    err = _marginal_error(plan, a, b)
    cost = float((plan.multiply(M)).sum())
    fun = cost + 0.5 * gamma * float((plan.multiply(plan)).sum())
    bound = dual_value(a, b, M, f, g, k, gamma)
    if not constrained and rounded is not None and not fun - bound <= gap_tolerance(
            tol, fun, a, M):
        plan, how, f, g, bound = _certify(plan, how, a, b, M, f, g, gamma,
                                          gap_tolerance(tol, fun, a, M))
        cost = float((plan.multiply(M)).sum())
        fun = cost + 0.5 * gamma * float((plan.multiply(plan)).sum())
        err = _marginal_error(plan, a, b)
    gap = fun - bound
    if status is Status.SUCCESS:
        if not err <= 1e-6 * max(1.0, float(a.sum())):
            status, detail = Status.STALLED, f"The rounded plan's marginal error is {err:.3g}."
        elif not constrained and not gap <= gap_tolerance(tol, fun, a, M):
            # (for k < n the problem is not convex: its dual bound need not be tight,
            # so the gap is reported, not required)
            status = Status.STALLED
            detail = (f"The rounded plan ({how}) is {gap:.3g} above the dual bound > "
                      f"tol = {tol:.3g} times {gap_tolerance(1.0, fun, a, M):.3g}: "
                      "its optimality is not certified.")
    fields = {"x": plan, "plan": plan, "cost": cost, "fun": fun, "duality_gap": gap,
              "f": f, "g": g, "nit": int(res.nit), "nfev": int(res.nfev),
              "marginal_error": err, "marginal_error_before_rounding": error_before,
              "rounding": how if rounded is not None else "failed",
              "max_nnz_per_column": int(np.diff(plan.tocsc().indptr).max()) if plan.nnz else 0}
    return OptimizeResult.from_status(status, detail, **fields)


def _marginal_error(T, a, b):
    return float(np.abs(T.sum(axis=1) - a).sum() + np.abs(T.sum(axis=0) - b).sum())


def _assignment_result(a, b, M, gamma):
    """k = 1 with uniform square weights: one nonzero per column and per row, i.e. an
    assignment; the regularizer is then constant, so exact OT solves the problem."""
    from ._emd import solve_emd

    plan, f, g, nit, _, _ = solve_emd(a, b, M, maxiter=np.iinfo(np.int64).max)
    cost = float(plan.multiply(M).sum())
    fun = cost + 0.5 * gamma * float(plan.multiply(plan).sum())
    # Raising f by c adds c * mass - m c^2 / (2 gamma) to the dual (the assigned
    # entries become positive): at c = gamma * mass / m it meets fun, a certificate
    f = f + gamma * float(a.sum()) / M.shape[1]
    return OptimizeResult.from_status(
        Status.SUCCESS, "", x=plan, plan=plan, cost=cost, fun=fun,
        duality_gap=fun - dual_value(a, b, M, f, g, 1, gamma), f=f, g=g, nit=nit, nfev=0,
        marginal_error=_marginal_error(plan, a, b), marginal_error_before_rounding=0.0,
        rounding="exact assignment", max_nnz_per_column=1)
