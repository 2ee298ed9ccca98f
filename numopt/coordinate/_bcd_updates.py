"""How block coordinate descent moves the chosen block (Nutini et al., 2022).

An update's ``apply(state, block, partition)`` moves ``block`` through the problem
(``problem.move`` keeps the gradient up to date incrementally): a proximal-gradient
step with the block's Lipschitz constant, with its diagonal (Gershgorin) bound or with
a backtracked constant; a Newton step with the block Hessian; or the exact solve by
Gaussian belief propagation on a forest-structured block.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import device_of, is_numpy, to_numpy


def soft_threshold(xp, v, t):
    return xp.sign(v) * xp.maximum(xp.abs(v) - t, 0.0)


def prox(xp, v, t, l1, positive):
    """Prox of ``t * (l1 |.| + indicator(. >= 0 if positive))`` at ``v``."""
    if positive:
        return xp.maximum(v - t * l1, 0.0)
    if isinstance(l1, (int, float)) and not l1:
        return v
    return soft_threshold(xp, v, t * l1)


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


class _Update:
    def __init__(self, problem):
        self.pb, self.xp = problem, problem.xp

    def prox_step(self, st, block, scale):
        """``x_b <- prox(x_b - g_b / scale)`` (``scale`` a number or one per
        coordinate)."""
        xp, pb = self.xp, self.pb
        xb = xp.take(st.x, block)
        gb = xp.take(pb.grad(st), block)
        new = prox(xp, xb - gb / scale, 1.0 / scale, pb.l1, pb.positive)
        pb.move(st, block, new - xb)


class LipschitzStep(_Update):
    def apply(self, st, block, partition):
        self.prox_step(st, block.indices, partition.lipschitz(block))


class DiagonalStep(_Update):
    def apply(self, st, block, partition):
        self.prox_step(st, block.indices, partition.diagonal(block))


class BacktrackingStep(_Update):
    """Lipschitz step with the constant found by doubling from half the last one
    accepted, until the quadratic upper bound holds on the block."""

    def __init__(self, problem, coordinate_lipschitz, factor):
        super().__init__(problem)
        self.L, self.factor = coordinate_lipschitz, factor

    def apply(self, st, block, partition):
        xp, pb = self.xp, self.pb
        block = block.indices
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


class NewtonStep(_Update):
    """Newton step with the block Hessian, solved densely or, on a forest block, by
    message passing; damped by Armijo backtracking unless the problem is quadratic.
    With an L1 term: the paper's two-step update (:meth:`prox_newton`)."""

    def __init__(self, problem, forest):
        super().__init__(problem)
        self.forest = forest

    def apply(self, st, block, partition):
        xp, pb = self.xp, self.pb
        if pb.l1 or pb.positive:
            self.prox_newton(st, block, partition)
            return
        block = block.indices
        gb = xp.take(pb.grad(st), block)
        H = pb.block_hessian(st, block)
        if self.forest:
            d = xp.asarray(solve_forest(to_numpy(H), -to_numpy(gb)), dtype=pb.dtype)
        else:
            d = solve_small(xp, H, -gb)
        if not getattr(pb, "quadratic", False):
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

    def prox_newton(self, st, block, partition):
        """A proximal-gradient step on the block (which identifies the active set),
        then a Newton step on the block's non-zero coordinates with their signs held
        fixed, kept only if it lowers the objective."""
        xp, pb = self.xp, self.pb
        block = block.indices
        self.prox_step(st, block, pb.block_lipschitz(block))
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


_UPDATES = {
    "lipschitz": lambda problem, L, factor: LipschitzStep(problem),
    "diagonal": lambda problem, L, factor: DiagonalStep(problem),
    "backtracking": BacktrackingStep,
    "newton": lambda problem, L, factor: NewtonStep(problem, forest=False),
    "message_passing": lambda problem, L, factor: NewtonStep(problem, forest=True),
}

UPDATES = tuple(_UPDATES)


def make_update(kind, problem, coordinate_lipschitz, backtrack_factor):
    return _UPDATES[kind](problem, coordinate_lipschitz, backtrack_factor)
