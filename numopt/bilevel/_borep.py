"""BO-REP (Hao, Gong, Liu, "Bilevel Optimization under Unbounded Smoothness", ICLR 2024).

* Upper level: normalized momentum, ``m <- beta m + (1 - beta) D_x``,
  ``x <- x - eta m / ||m||`` (robust to a hypergradient whose Lipschitz constant grows
  with its norm, as in recurrent networks).
* Lower level: *initialization refinement* (``refine_steps`` gradient steps on
  ``g(x0, .)`` before the first iteration) and *periodic updates* (every ``period``
  iterations, ``period_steps`` stochastic gradient steps at the current ``x``); between
  them ``y`` is frozen.
* Implicit system: ``z <- Proj_{||z|| <= z_radius}(z - nu (d^2 g/dy dy z - df/dy))``, one
  SGD-like step per iteration; ``D_x = df/dx - d^2 g/dx dy z``.

``eta`` is ``outer_step`` times ``outer_step_decay ** t`` (1: the paper's constant step,
which reaches a neighbourhood of size O(eta); below 1 it converges).
"""

from __future__ import annotations

import numpy as np

from ._base import BilevelSolver

__all__ = ["BOREPSolver"]


class BOREPSolver(BilevelSolver):
    method = "borep"

    def _lower_steps(self, x, y, n):
        p = self.problem
        for _ in range(n):
            y = y - self.inner_step * p.grad_g(x, y, self.sample(p.n_lower))[1]
        return y

    def start(self, x, y):
        v0 = self.options["v0"]
        return {"z": np.zeros_like(y) if v0 is None else v0.copy(), "m": None,
                "refined": False}

    def update(self, state):
        p, o = self.problem, self.options
        x, y, aux = state.x, state.y, state.aux
        if not aux["refined"]:
            y = self._lower_steps(x, y, o["refine_steps"])
        elif state.t % o["period"] == 0:
            y = self._lower_steps(x, y, o["period_steps"])
        z = aux["z"]
        lower, upper = self.sample(p.n_lower), self.sample(p.n_upper)
        fx, fy = p.grad_f(x, y, upper)
        direction = fx - p.cross_g(x, y, z, lower)
        z = z - (o["z_step"] or self.inner_step) * (p.hvp_g(x, y, z, lower) - fy)
        norm = float(np.linalg.norm(z))
        if norm > o["z_radius"]:
            z = z * (o["z_radius"] / norm)
        beta = o["momentum"]
        m = direction if aux["m"] is None else beta * aux["m"] + (1 - beta) * direction
        m_norm = float(np.linalg.norm(m))
        eta = self.outer_step * o["outer_step_decay"] ** state.t
        x_new = x if m_norm == 0.0 else self.project(x - eta * m / m_norm)
        return x_new, y, {"z": z, "m": m, "refined": True}, direction
