"""BSVRB (Hu, Qiu, Guo, Zhang, Yang, "Blockwise Stochastic Variance-Reduced Methods with
Parallel Speedup for Multi-Block Bilevel Optimization", ICML 2023).

For ``F(x) = (1/m) sum_i f_i(x, y_i*(x))``, each iteration samples ``I`` of the ``m``
blocks (``blocks_per_iter``) and ``B`` samples in each (``batch_size``):

* MSVR estimates (for a sampled block ``i``, the same samples at the new and the
  previous iterate): ``u_i <- (1 - a) u_i + a h_i(new) + c (h_i(new) - h_i(old))`` with
  ``c = (m - I) / (I (1 - a)) + (1 - a)``; unsampled blocks keep theirs. They track
  each block's lower gradient ``dg_i/dy`` and, with ``hessian="matrix"``, its Hessian
  (kept at eigenvalues >= the block's strong convexity); with ``hessian="hvp"`` a
  vector ``s_i ~ H_i^{-1} df_i/dy`` is tracked by SGD steps on the implicit system.
* ``y_i <- y_i - tau u_i`` for the sampled blocks.
* Upper: STORM on ``G = (1/I) sum_i [df_i/dx - d^2 g_i/dx dy H_i^{-1} df_i/dy]``,
  ``v <- G(new) + (1 - beta) (v - G(old))``; ``x <- x - eta v``.

More blocks and samples per iteration lower the variance of every estimate: the
iterations to a given accuracy fall as ``I`` and ``B`` grow (the parallel speedup).
"""

from __future__ import annotations

import numpy as np

from ._base import BilevelSolver, storm

__all__ = ["BSVRBSolver"]


def _psd_floor(H, floor):
    """``H`` symmetrized with its eigenvalues raised to ``floor`` (a non-finite ``H`` is
    returned as it is: the step reports it)."""
    if not np.all(np.isfinite(H)):
        return H
    w, Q = np.linalg.eigh((H + H.T) / 2)
    return (Q * np.maximum(w, floor)) @ Q.T


class BSVRBSolver(BilevelSolver):
    method = "bsvrb"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        m = self.problem.n_blocks
        n_sampled = self.options["blocks_per_iter"] or m
        if n_sampled > m:
            raise ValueError(f"blocks_per_iter must be at most the number of blocks ({m}), "
                             f"got {n_sampled}")
        self.n_sampled = n_sampled
        a = self.options["msvr_weight"]
        self.msvr_c = (m - n_sampled) / (n_sampled * (1 - a)) + (1 - a) if a < 1 else 0.0
        self.floors = [b.lower_strong_convexity or self.lower_strong_convexity
                       for b in self.problem.blocks]

    def _msvr(self, current, new, old):
        a = self.options["msvr_weight"]
        if current is None:
            return new
        return (1 - a) * current + a * new + self.msvr_c * (new - old)

    def start(self, x, y):
        m = self.problem.n_blocks
        return {"u": [None] * m, "H": [None] * m, "s": [None] * m, "v": None,
                "previous": None}

    def _block_terms(self, i, x, yi, lower, upper):
        """``(dg_i/dy, d^2 g_i/dy dy or None, df_i/dx, df_i/dy)`` at ``(x, y_i)``."""
        block = self.problem.blocks[i]
        gy = block.grad_g(x, yi, lower)[1]
        fx, fy = block.grad_f(x, yi, upper)
        if self.options["hessian"] == "matrix":
            return gy, block.hessian_g(x, yi, lower), fx, fy
        return gy, None, fx, fy

    def update(self, state):
        p, o = self.problem, self.options
        x, y, aux = state.x, state.y, state.aux
        slices = p.block_slices
        chosen = np.sort(self.rng.choice(p.n_blocks, self.n_sampled, replace=False)) \
            if self.n_sampled < p.n_blocks else np.arange(p.n_blocks)
        u, Hs, ss = list(aux["u"]), list(aux["H"]), list(aux["s"])
        previous = aux["previous"]
        x_old, y_old = previous if previous is not None else (x, y)
        y_new = y.copy()
        g_new, g_old = np.zeros(p.dim_x), np.zeros(p.dim_x)
        for i in chosen:
            block, sl = p.blocks[i], slices[i]
            lower, upper = self.sample(block.n_lower), self.sample(block.n_upper)
            gy, Hn, fx, fy = self._block_terms(i, x, y[sl], lower, upper)
            if previous is not None:
                gy_o, Ho, fx_o, fy_o = self._block_terms(i, x_old, y_old[sl], lower, upper)
            else:
                gy_o, Ho, fx_o, fy_o = gy, Hn, fx, fy
            u[i] = self._msvr(u[i], gy, gy_o)
            if o["hessian"] == "matrix":
                Hs[i] = _psd_floor(self._msvr(Hs[i], Hn, Ho), self.floors[i])
                w_new, w_old = (np.linalg.solve(Hs[i], f) for f in (fy, fy_o))
            else:
                s = np.zeros_like(fy) if ss[i] is None else ss[i]
                w_new = w_old = s
                ss[i] = s - self.inner_step * (block.hvp_g(x, y[sl], s, lower) - fy)
            g_new += fx - block.cross_g(x, y[sl], w_new, lower)
            if previous is not None:   # STORM's correction: the same samples, old point
                g_old += fx_o - block.cross_g(x_old, y_old[sl], w_old, lower)
            y_new[sl] = y[sl] - self.inner_step * u[i]
        g_new /= len(chosen)
        g_old /= len(chosen)
        v = storm(g_new, g_old, aux["v"], o["momentum"])
        aux = {"u": u, "H": Hs, "s": ss, "v": v, "previous": (x, y)}
        return self.project(x - self.outer_step * v), y_new, aux, g_new
