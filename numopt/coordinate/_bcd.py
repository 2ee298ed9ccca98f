"""Block coordinate descent: partitions, selection rules, updates (Nutini et al., 2022).

Each iteration picks one block of coordinates and moves it; the problem object keeps
the gradient up to date incrementally, so an iteration costs what the block touches
plus ``O(n)`` for the selection rule, never a full gradient evaluation.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import device_of, get_kernel, is_numpy, kernel, to_numpy
from .._result import Status
from .._validation import check_seed
from ._glm_objects import min_norm_subgradient
from ._problems import GLMProblem, QuadraticProblem, SoftmaxProblem

FIXED_PARTITIONS = ("order", "sorted", "averaged")
PARTITIONS = FIXED_PARTITIONS + ("variable", "forest")
RULES = ("cyclic", "random", "lipschitz", "gs", "gsl", "gsd", "gsq")
GREEDY_RULES = ("gs", "gsl", "gsd", "gsq")
UPDATES = ("lipschitz", "diagonal", "backtracking", "newton", "message_passing")


# ----------------------------------------------------------------------------- helpers
@kernel("coordinate.greedy_scores", cupy="numopt.coordinate._kernels_cupy:greedy_scores")
def greedy_scores(xp, x, g, L, l1, positive, scaled):
    """Greedy score per coordinate: ``s^2`` (GS) or ``s^2 / L`` (GSL) with ``s`` the
    minimum-norm subgradient (reference version)."""
    s = min_norm_subgradient(xp, x, g, l1, positive)
    return s * s / L if scaled else s * s


def soft_threshold(xp, v, t):
    return xp.sign(v) * xp.maximum(xp.abs(v) - t, 0.0)


def prox(xp, v, t, l1, positive):
    """Prox of ``t * (l1 |.| + indicator(. >= 0 if positive))`` at ``v``."""
    if positive:
        return xp.maximum(v - t * l1, 0.0)
    if not l1:
        return v
    return soft_threshold(xp, v, t * l1)


def prox_progress(xp, x, g, L, l1, positive):
    """``-min_d g d + L/2 d^2 + l1 (|x + d| - |x|)`` per coordinate (the GS-q score)."""
    new = prox(xp, x - g / L, 1.0 / L, l1, positive)
    d = new - x
    pen = l1 * (xp.abs(new) - xp.abs(x)) if l1 else 0.0
    return -(g * d + 0.5 * L * d * d + pen)


def solve_small(xp, H, rhs):
    """Solve a block's ``H d = rhs`` (``|b| x |b|``). On a GPU a dense solver call costs
    hundreds of microseconds for such a matrix; copying it to the host costs a few, so
    non-NumPy arrays are solved there and the answer copied back."""
    if is_numpy(xp):
        try:
            return xp.linalg.solve(H, rhs)
        except np.linalg.LinAlgError:  # singular (semi-definite) block: min-norm step
            return np.linalg.lstsq(H, rhs, rcond=None)[0].astype(rhs.dtype, copy=False)
    H, rhs_host = to_numpy(H), to_numpy(rhs)
    try:
        d = np.linalg.solve(H, rhs_host)
    except np.linalg.LinAlgError:
        d = np.linalg.lstsq(H, rhs_host, rcond=None)[0]
    return xp.asarray(d, dtype=rhs.dtype, device=device_of(rhs))


def _chunks(order, size):
    return [order[i:i + size] for i in range(0, order.shape[0], size)]


def fixed_partition(kind, lipschitz, block_size):
    """Blocks as a list of int arrays: in index order, sorted by Lipschitz constant, or
    'averaged' (sorted coordinates dealt round-robin, so every block's mean constant is
    close to the global mean)."""
    L = to_numpy(lipschitz)
    n = L.shape[0]
    if kind == "order":
        return _chunks(np.arange(n), block_size)
    order = np.argsort(L, kind="stable")
    if kind == "sorted":
        return _chunks(order, block_size)
    n_blocks = -(-n // block_size)
    return [np.sort(order[b::n_blocks]) for b in range(n_blocks)]


def forest_block(scores, graph, block_size, candidates=None):
    """Greedy forest-structured block: take coordinates by decreasing score and keep one
    only if the subgraph of ``graph`` induced by the block stays acyclic."""
    order = np.argsort(-scores, kind="stable")
    if candidates is not None:
        order = order[:candidates]
    parent = {}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    chosen = []
    if isinstance(graph, tuple):           # (indptr list, indices list), prepared once
        indptr, indices = graph
    else:
        indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
    positive = (scores[order] > 0).tolist()
    for i, pos in zip(order.tolist(), positive):
        if not pos and chosen:
            break
        roots = []
        ok = True
        for j in indices[indptr[i]:indptr[i + 1]]:
            if j != i and j in parent:
                r = find(j)
                if r in roots:
                    ok = False
                    break
                roots.append(r)
        if not ok:
            continue
        parent[i] = i
        for r in roots:
            parent[r] = i
        chosen.append(i)
        if len(chosen) == block_size:
            break
    return np.sort(np.asarray(chosen, dtype=np.int64))


def solve_forest(H, rhs):
    """Solve ``H d = rhs`` for a symmetric positive-definite ``H`` whose sparsity graph
    is a forest: Gaussian belief propagation, which is exact on trees (leaf-to-root
    elimination, root-to-leaf substitution) and costs ``O(size of the block)``."""
    H = np.asarray(H, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    m = H.shape[0]
    off = H != 0
    np.fill_diagonal(off, False)
    rows, cols = np.nonzero(off)                 # row-major: grouped by row
    ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))]).tolist()
    cols = cols.tolist()
    nbrs = [cols[ptr[i]:ptr[i + 1]] for i in range(m)]
    J = np.diag(H).copy()          # precision messages accumulated at each node
    h = rhs.copy()                 # potential messages
    parent = np.full(m, -1)
    seen = np.zeros(m, dtype=bool)
    out = np.zeros(m)
    for root in range(m):
        if seen[root]:
            continue
        order = [root]
        seen[root] = True
        k = 0
        while k < len(order):
            i = order[k]
            k += 1
            for j in nbrs[i]:
                if not seen[j]:
                    seen[j] = True
                    parent[j] = i
                    order.append(j)
                elif j != parent[i] and parent[j] != i:
                    raise ValueError("the block is not forest-structured (its graph has "
                                     "a cycle); use update='newton'")
        for i in reversed(order[1:]):          # messages leaf -> root
            p = parent[i]
            J[p] -= H[p, i] ** 2 / J[i]
            h[p] -= H[p, i] * h[i] / J[i]
        for i in order:                         # root -> leaves
            p = parent[i]
            base = h[i] if p < 0 else h[i] - H[i, p] * out[p]
            out[i] = base / J[i]
    return out


@kernel("coordinate.sparse_bcd_batch",
        numba="numopt.coordinate._kernels_numba:sparse_bcd_batch")
def sparse_bcd_batch(xp, problem, x, z, grad, L, block_size, scaled, n_iter, tol):
    """Up to ``n_iter`` greedy (GS or GSL) BCD iterations with variable blocks and the
    block Lipschitz step on a sparse GLM (or sparse softmax regression), in place on
    ``x``, ``z = A x`` and ``grad`` (reference version). Before each iteration the
    optimality measure (largest minimum-norm subgradient) is compared with ``tol``.
    Returns ``(iterations run, measure)``, the measure being -1 when all ``n_iter``
    iterations ran."""
    k = min(block_size, problem.n)
    state = _BatchState(x, grad, z)
    for it in range(n_iter):
        s = min_norm_subgradient(xp, x, grad, problem.l1, problem.positive)
        worst = float(xp.max(xp.abs(s)))
        if not worst > tol:
            return it, worst
        scores = s * s / L if scaled else s * s
        block = positive_scores(scores, np.argsort(-scores, kind="stable")[:k])
        lam = problem.block_lipschitz(block)
        xb = x[block]
        new = prox(xp, xb - grad[block] / lam, 1.0 / lam, problem.l1, problem.positive)
        problem.move(state, block, new - xb)
    return n_iter, -1.0


@kernel("coordinate.forest_bcd_batch",
        numba="numopt.coordinate._kernels_numba:forest_bcd_batch")
def forest_bcd_batch(xp, problem, x, aux, grad, L, block_size, scaled, n_iter, tol):
    """Up to ``n_iter`` iterations of greedy (GS or GSL) forest-structured blocks with
    the exact message-passing update on a sparse quadratic problem, in place on ``x``
    and ``grad`` (reference version; ``aux`` is unused). Returns ``(iterations run,
    measure)`` as :func:`sparse_bcd_batch`."""
    graph = problem.hessian_graph()
    graph = (graph.indptr.tolist(), graph.indices.tolist())
    state = _BatchState(x, grad, aux)
    for it in range(n_iter):
        worst = float(xp.max(xp.abs(grad)))
        if not worst > tol:
            return it, worst
        scores = grad * grad / L if scaled else grad * grad
        block = forest_block(scores, graph, block_size, candidates=8 * block_size)
        H = problem.block_hessian(state, block)
        problem.move(state, block, solve_forest(H, -grad[block]))
    return n_iter, -1.0


def positive_scores(scores, top, xp=np):
    """The block ``top`` without its zero-score coordinates (sorted), which would not
    move but would raise the block's Lipschitz constant; at least one is kept."""
    keep = xp.take(scores, top) > 0
    if bool(xp.any(keep)):
        top = top[keep]
    else:
        top = top[:1]
    return xp.sort(top)


# sparse softmax regression: the same iterations (its problem methods do the work in
# the reference version), with a compiled Numba batch
softmax_bcd_batch = kernel(
    "coordinate.softmax_bcd_batch",
    numba="numopt.coordinate._kernels_numba:softmax_bcd_batch")(sparse_bcd_batch)


class _BatchState:
    def __init__(self, x, grad, aux):
        self.x, self.grad, self.aux = x, grad, aux


def batch_path(problem, partition, rule, update):
    """Which compiled batch kernel :func:`numopt.coordinate.bcd` runs this configuration
    with, or None: sparse GLMs and sparse softmax regression with greedy variable
    blocks and Lipschitz steps, and sparse quadratics (label propagation) with greedy
    forest blocks and message passing."""
    if not (is_numpy(problem.xp) and rule in ("gs", "gsl")
            and getattr(problem, "sparse", False)):
        return None
    if partition == "variable" and update == "lipschitz":
        if isinstance(problem, GLMProblem):
            return "coordinate.sparse_bcd_batch"
        if isinstance(problem, SoftmaxProblem):
            return "coordinate.softmax_bcd_batch"
    if isinstance(problem, QuadraticProblem) and partition == "forest" \
            and update == "message_passing" and not (problem.l1 or problem.positive):
        return "coordinate.forest_bcd_batch"
    return None


# ------------------------------------------------------------------------------ solver
class BCDSolver:
    """``run_solver`` object for :func:`numopt.coordinate.bcd`: one iteration per step.

    The state is the problem's (``x``, its gradient, the problem's auxiliary vector)
    with the run's counters: ``nit`` (the cyclic rule's position), ``nfev`` (line-search
    evaluations), ``L_scale`` (the last backtracked constant) and ``rng`` (the random
    rules' generator, seeded afresh by ``init``)."""

    def __init__(self, problem, x0, *, partition, rule, update, block_size, tol, seed,
                 backtrack_factor=2.0):
        self.pb, self.xp = problem, problem.xp
        self.partition, self.rule, self.update = partition, rule, update
        self.block_size, self.tol = block_size, tol
        check_seed(seed)   # a bad seed fails here, not at the first random choice
        self.seed = seed
        self.x0 = x0
        self.factor = backtrack_factor
        xp = self.xp
        L = problem.lipschitz
        self.L = xp.where(L > 0, L, xp.ones_like(L))
        if partition in FIXED_PARTITIONS:
            self.blocks = [xp.asarray(b, dtype=xp.int64)
                           for b in fixed_partition(partition, L, block_size)]
            self._prepare_fixed()
        else:
            self.blocks = None
        if partition == "forest":
            graph = problem.hessian_graph()
            self.graph = (graph.indptr.tolist(), graph.indices.tolist())
        self.scores_kernel = get_kernel("coordinate.greedy_scores", self.xp)

    def _prepare_fixed(self):
        xp, pb = self.xp, self.pb
        n, bs = pb.n, self.block_size
        nb = len(self.blocks)
        idx = np.full((nb, bs), n, dtype=np.int64)
        for k, b in enumerate(self.blocks):
            idx[k, :b.shape[0]] = to_numpy(b)
        self.block_index = xp.asarray(idx)
        self.block_L = xp.asarray([pb.block_lipschitz(b) for b in self.blocks],
                                  dtype=pb.dtype)
        if self.rule == "gsq" or self.update == "diagonal" or self.rule == "gsd":
            bounds = [pb.block_bound(b) for b in self.blocks]
            self.block_diag = [xp.sum(xp.abs(B), axis=1) for B in bounds]
            if self.rule == "gsd":
                d = xp.ones(n + 1, dtype=pb.dtype)
                for b, dd in zip(self.blocks, self.block_diag):
                    d[b] = dd
                self.gershgorin = d
            if self.rule == "gsq":
                inv = np.zeros((nb, bs, bs))
                for k, B in enumerate(bounds):
                    m = B.shape[0]
                    inv[k, :m, :m] = np.linalg.pinv(to_numpy(B))
                self.block_inv = xp.asarray(inv, dtype=pb.dtype)

    # ---------------------------------------------------------------- state & checks
    def init(self):
        xp, pb = self.xp, self.pb
        x = xp.asarray(self.x0, copy=True)
        st = pb.init(x)
        st.nit, st.nfev, st.L_scale = 0, 0, None
        st.rng = check_seed(self.seed)
        self._check_bounded(st)
        return st

    def _check_bounded(self, st):
        """A coordinate without curvature (zero diagonal of a PSD ``Q``: its column is
        zero, so its gradient never changes) whose minimum-norm subgradient is not zero
        makes the objective linear and unbounded below along it: no minimiser, and a
        step ``g / 0``."""
        xp, pb = self.xp, self.pb
        s = min_norm_subgradient(xp, st.x, pb.grad(st), pb.l1, pb.positive)
        flat = (pb.lipschitz == 0) & (s != 0)
        if bool(xp.any(flat)):
            i = int(xp.argmax(xp.astype(flat, xp.int32)))
            raise ValueError(f"problem is unbounded below: coordinate {i} has zero "
                             f"curvature (a zero diagonal entry or zero column) but the "
                             f"non-zero gradient {float(s[i]):.3e}")

    def optimality(self, st):
        xp, pb = self.xp, self.pb
        s = min_norm_subgradient(xp, st.x, pb.grad(st), pb.l1, pb.positive)
        return float(xp.max(xp.abs(s)))

    def check(self, st):
        m = self.optimality(st)
        if not math.isfinite(m):
            return Status.NONFINITE
        return Status.SUCCESS if m <= self.tol else None

    def result(self, st):
        return {"x": st.x, "fun": self.pb.objective(st), "optimality": self.optimality(st),
                "stats": {"nfev": st.nfev}}

    def detail(self, st, status):
        m = self.optimality(st)
        if m <= self.tol:
            return ""
        return f"The optimality measure {m:.3e} is above the tolerance {self.tol:.3e}."

    # ---------------------------------------------------------------------- selection
    def _coordinate_scores(self, st):
        """Per-coordinate greedy scores; block scores are their sums (GS, GSL, GSD)."""
        xp, pb = self.xp, self.pb
        g = pb.grad(st)
        if self.rule in ("gs", "gsl") or (self.rule == "gsq" and not (pb.l1 or pb.positive)
                                          and self.blocks is None):
            return self.scores_kernel(xp, st.x, g, self.L, pb.l1, pb.positive,
                                      self.rule != "gs")
        if pb.l1 or pb.positive:
            if self.rule == "gsq" and self.blocks is None:
                return prox_progress(xp, st.x, g, self.L, pb.l1, pb.positive)
            g = min_norm_subgradient(xp, st.x, g, pb.l1, pb.positive)
        if self.rule == "gsd":
            if self.blocks is not None:
                return g * g / self.gershgorin[:pb.n]
            return g * g / (self.block_size * self.L)
        return g * g / self.L   # gsl (and gsq on variable blocks: its diagonal bound)

    def select(self, st):
        xp, pb = self.xp, self.pb
        t = st.nit
        if self.blocks is not None:
            nb = len(self.blocks)
            if self.rule == "cyclic":
                return t % nb
            if self.rule == "random":
                return int(st.rng.integers(nb))
            if self.rule == "lipschitz":
                p = to_numpy(self.block_L)
                return int(st.rng.choice(nb, p=p / p.sum()))
            if self.rule == "gsq":
                g = pb.grad(st)
                if pb.l1 or pb.positive:
                    g = min_norm_subgradient(xp, st.x, g, pb.l1, pb.positive)
                G = xp.take(xp.concat([g, xp.zeros(1, dtype=g.dtype)]),
                            xp.reshape(self.block_index, (-1,)))
                G = xp.reshape(G, self.block_index.shape)
                scores = xp.sum(G * xp.squeeze(self.block_inv @ G[:, :, None], axis=2),
                                axis=1)
            elif self.rule == "gsl":
                scores = self._gsl_block_scores(st)
            else:
                s = self._coordinate_scores(st)
                s = xp.concat([s, xp.zeros(1, dtype=s.dtype)])
                scores = xp.sum(xp.reshape(xp.take(s, xp.reshape(self.block_index, (-1,))),
                                           self.block_index.shape), axis=1)
            return int(xp.argmax(scores))
        scores = self._coordinate_scores(st)
        if self.partition == "forest":
            # scanning 8x the block size of best candidates is plenty on sparse graphs
            return forest_block(to_numpy(scores), self.graph, self.block_size,
                                candidates=8 * self.block_size)
        k = min(self.block_size, pb.n)
        if is_numpy(xp) and k < pb.n:
            top = np.argpartition(-scores, k - 1)[:k]    # O(n), not a full sort
        else:
            top = xp.argsort(-scores, stable=False)[:k]
        return positive_scores(scores, top, xp)

    def _gsl_block_scores(self, st):
        """GSL on fixed blocks: ``||g_b||^2 / L_b`` with the block's own constant."""
        xp, pb = self.xp, self.pb
        g = pb.grad(st)
        if pb.l1 or pb.positive:
            g = min_norm_subgradient(xp, st.x, g, pb.l1, pb.positive)
        s = xp.concat([g * g, xp.zeros(1, dtype=g.dtype)])
        sums = xp.sum(xp.reshape(xp.take(s, xp.reshape(self.block_index, (-1,))),
                                 self.block_index.shape), axis=1)
        return sums / self.block_L

    # ------------------------------------------------------------------------ updates
    def step(self, st):
        xp, pb = self.xp, self.pb
        choice = self.select(st)
        if isinstance(choice, int):
            block = self.blocks[choice]
            L_b = float(self.block_L[choice])
            diag = self.block_diag[choice] if self.update == "diagonal" else None
        else:
            block = xp.asarray(choice, dtype=xp.int64)
            if block.shape[0] == 0:
                st.nit += 1
                return st
            L_b = None
            diag = None
            if self.update == "diagonal":
                diag = self.block_size * xp.take(self.L, block)
        update = self.update
        if update == "message_passing":
            self._newton(st, block, forest=True)
        elif update == "newton":
            self._newton(st, block, forest=False)
        elif update == "backtracking":
            self._backtracking(st, block)
        else:
            if diag is not None:
                scale = diag
            else:
                scale = L_b if L_b is not None else pb.block_lipschitz(block)
            self._prox_step(st, block, scale)
        st.nit += 1
        return st

    def _prox_step(self, st, block, scale):
        xp, pb = self.xp, self.pb
        xb = xp.take(st.x, block)
        gb = xp.take(pb.grad(st), block)
        new = prox(xp, xb - gb / scale, 1.0 / scale, pb.l1, pb.positive)
        pb.move(st, block, new - xb)

    def _backtracking(self, st, block):
        """Lipschitz step with the constant found by doubling from half the last one
        accepted, until the quadratic upper bound holds on the block."""
        xp, pb = self.xp, self.pb
        xb = xp.take(st.x, block)
        gb = xp.take(pb.grad(st), block)
        L = st.L_scale if st.L_scale is not None else float(xp.min(xp.take(self.L, block)))
        L = max(L / self.factor, 1e-12)
        for _ in range(60):
            new = prox(xp, xb - gb / L, 1.0 / L, pb.l1, pb.positive)
            d = new - xb
            change = pb.value_change(st, block, d)
            st.nfev += 1
            bound = float(xp.sum(gb * d)) + 0.5 * L * float(xp.sum(d * d))
            if change <= bound + 1e-12 * abs(bound):
                break
            L *= self.factor
        st.L_scale = L
        pb.move(st, block, d)

    def _newton(self, st, block, forest):
        xp, pb = self.xp, self.pb
        if pb.l1 or pb.positive:
            self._prox_newton(st, block)
            return
        gb = xp.take(pb.grad(st), block)
        H = pb.block_hessian(st, block)
        if forest:
            d = xp.asarray(solve_forest(to_numpy(H), -to_numpy(gb)), dtype=pb.dtype)
        else:
            d = solve_small(xp, H, -gb)
        if not isinstance(pb, QuadraticProblem):
            # damped Newton: Armijo backtracking on the step length
            slope = float(xp.sum(gb * d))
            t = 1.0
            for _ in range(40):
                st.nfev += 1
                if pb.value_change(st, block, t * d) <= 1e-4 * t * slope:
                    break
                t *= 0.5
            else:
                return   # no decrease found (rounding level): leave the block as it is
            d = t * d
        pb.move(st, block, d)

    def _prox_newton(self, st, block):
        """The paper's two-step update for L1: a proximal-gradient step on the block
        (which identifies the active set), then a Newton step on the block's non-zero
        coordinates with their signs held fixed, kept only if it lowers the objective."""
        xp, pb = self.xp, self.pb
        self._prox_step(st, block, pb.block_lipschitz(block))
        xb = xp.take(st.x, block)
        active = xp.take(block, xp.nonzero(xb != 0)[0])
        if active.shape[0] == 0:
            return
        xa = xp.take(st.x, active)
        sign = xp.sign(xa)
        ga = xp.take(pb.grad(st), active) + pb.l1 * sign
        H = pb.block_hessian(st, active)
        try:
            d = solve_small(xp, H, -ga)
        except Exception:  # singular block Hessian: keep the proximal step
            return
        # longest step keeping the signs (the active set) unchanged
        t = 1.0
        crossing = (xa + d) * sign < 0
        if bool(xp.any(crossing)):
            ratios = xp.where(crossing, -xa / xp.where(d == 0, 1.0, d), math.inf)
            t = min(1.0, float(xp.min(ratios)))
        for _ in range(30):
            step = t * d
            if pb.positive:
                step = xp.maximum(xa + step, 0.0) - xa
            change = pb.value_change(st, active, step) + pb.l1 * float(
                xp.sum(xp.abs(xa + step) - xp.abs(xa)))
            st.nfev += 1
            if change < 0:
                pb.move(st, active, step)
                return
            t *= 0.5



class CompiledBCDSolver(BCDSolver):
    """The configurations of :func:`batch_path`: ``step_many`` runs the iterations the
    loop asks for in one compiled call, which stops by itself at the first iterate
    meeting ``tol`` (so the result is the per-call split's, whatever the budgets)."""

    def __init__(self, problem, x0, *, partition, rule, update, block_size, tol, seed,
                 backtrack_factor=2.0):
        super().__init__(problem, x0, partition=partition, rule=rule, update=update,
                         block_size=block_size, tol=tol, seed=seed,
                         backtrack_factor=backtrack_factor)
        self.batch_kernel = get_kernel(batch_path(problem, partition, rule, update), self.xp)

    def step_many(self, st, budget):
        # the loop checks before every call, so the kernel's own test (the same
        # measure against the same tol) lets at least one iteration run
        ran, _ = self.batch_kernel(self.xp, self.pb, st.x, st.aux, st.grad, self.L,
                                   self.block_size, self.rule == "gsl", budget, self.tol)
        st.nit += ran
        return st, ran
