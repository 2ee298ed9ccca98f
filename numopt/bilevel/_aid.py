"""Approximate implicit differentiation (AID): warm-started inner gradient (or, with
``inner_solver="newton"``, Newton) steps, then the
implicit system solved by a pluggable solver (:mod:`._implicit`), then one step on
``x`` along ``df/dx - d^2 g/dx dy v`` (Pedregosa 2016; Ghadimi and Wang 2018;
Ji, Yang, Liang 2021, stocBiO, with minibatches)."""

from __future__ import annotations

import scipy.linalg

from ._base import BilevelSolver
from ._implicit import solve_implicit

__all__ = ["ImplicitSolver"]


class ImplicitSolver(BilevelSolver):
    method = "implicit"
    single_loop = False

    def start(self, x, y):
        v0 = self.options["v0"]
        return {"v": None if v0 is None else v0.copy()}

    def update(self, state):
        p, o = self.problem, self.options
        x, y = state.x, state.y
        for _ in range(o["inner_steps"]):
            batch = self.sample(p.n_lower)
            grad = p.grad_g(x, y, batch)[1]
            if o["inner_solver"] == "newton":   # warm-started Newton: small dim_y
                y = y - scipy.linalg.cho_solve(
                    scipy.linalg.cho_factor(p.hessian_g(x, y, batch)), grad)
            else:
                y = y - self.inner_step * grad
        fx, fy = p.grad_f(x, y, self.sample(p.n_upper))
        v = solve_implicit(o["implicit_solver"],
                           lambda u, batch: p.hvp_g(x, y, u, batch), fy, state.aux["v"],
                           maxiter=o["implicit_maxiter"], tol=o["implicit_tol"],
                           step=self.inner_step, sample=lambda: self.sample(p.n_lower),
                           hessian=lambda: p.hessian_g(x, y, self.sample(p.n_lower)))
        direction = fx - p.cross_g(x, y, v, self.sample(p.n_lower))
        return self.project(x - self.outer_step * direction), y, {"v": v}, direction
