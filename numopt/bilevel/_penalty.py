"""First-order penalty methods: only gradients of ``f`` and ``g``.

With ``y* = argmin_y g(x, y)`` and ``z = argmin_y sigma f(x, y) + g(x, y)``, the penalty
function ``psi_sigma(x) = [min_y (sigma f + g) - min_y g] / sigma`` has the gradient
(Danskin) ``df/dx(x, z) + (dg/dx(x, z) - dg/dx(x, y*)) / sigma``, which tends to the
hypergradient as ``sigma -> 0`` with an ``O(sigma)`` bias.

* ``"f2sa"`` (Kwon, Kwon, Wright, Nowak, ICML 2023): single loop, a few gradient steps on
  ``y`` and ``z`` per step on ``x``, ``1/sigma`` growing linearly up to
  ``1/penalty``.
* ``"penalty"`` (Kwon, Kwon, Wright, Nowak, ICLR 2024, deterministic double loop): at
  fixed ``sigma`` both inner problems are solved to a gradient norm of
  ``inner_tol * sigma`` (warm-started), then one projected step on ``x``.
* ``"penalty_stochastic"`` (same paper, single-loop stochastic version): one step on
  each of ``y``, ``z``, ``x`` along momentum-assisted (STORM) estimates of their three
  gradients, the same minibatch evaluated at the new and the previous point.
"""

from __future__ import annotations


import numpy as np

from ._base import BilevelSolver, storm

__all__ = ["F2SASolver", "PenaltySolver", "StochasticPenaltySolver", "penalty_parameter"]


# F2SA's 1/sigma grows linearly (Kwon et al. 2023, lambda_k = lambda_0 + delta k); by
# default it reaches its final value in this many iterations
PENALTY_RAMP = 100


def penalty_parameter(options, tol):
    """The final ``sigma``: the ``penalty`` option, else ``tol`` (the bias is
    ``O(sigma)``) kept within ``[1e-8, 1e-2]``."""
    if options["penalty"] is not None:
        return options["penalty"]
    return min(1e-2, max(1e-8, tol))


class _PenaltyBase(BilevelSolver):
    def start(self, x, y):
        z0 = self.options["z0"]
        return {"z": y.copy() if z0 is None else z0.copy()}

    def z_step(self, sigma):
        # sigma f + g: smoothness L_g + sigma L_f, with L_f taken of the order of L_g
        return self.inner_step / (1.0 + sigma)

    def penalty_direction(self, x, y, z, sigma, upper=None, lower=None):
        p = self.problem
        fx = p.grad_f(x, z, upper)[0]
        gx_z = p.grad_g(x, z, lower)[0]
        gx_y = p.grad_g(x, y, lower)[0]
        return fx + (gx_z - gx_y) / sigma


class F2SASolver(_PenaltyBase):
    method = "f2sa"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sigma_final = penalty_parameter(self.options, self.tol)

    def sigma(self, t):
        start = self.options["penalty_start"]
        growth = self.options["penalty_growth"]
        if growth is None:   # reach the final penalty in PENALTY_RAMP iterations
            growth = max(0.0, 1.0 / self.sigma_final - 1.0 / start) / PENALTY_RAMP
        return max(self.sigma_final, 1.0 / (1.0 / start + growth * t))

    def update(self, state):
        p = self.problem
        x, y, z = state.x, state.y, state.aux["z"]
        sigma = self.sigma(state.t)
        rho, rho_z = self.inner_step, self.z_step(sigma)
        for _ in range(self.options["inner_steps"]):
            y = y - rho * p.grad_g(x, y, self.sample(p.n_lower))[1]
            z = z - rho_z * (sigma * p.grad_f(x, z, self.sample(p.n_upper))[1]
                             + p.grad_g(x, z, self.sample(p.n_lower))[1])
        lower = self.sample(p.n_lower)
        direction = self.penalty_direction(x, y, z, sigma, self.sample(p.n_upper), lower)
        return self.project(x - self.outer_step * direction), y, {"z": z}, direction


class PenaltySolver(_PenaltyBase):
    method = "penalty"
    single_loop = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sigma = penalty_parameter(self.options, self.tol)

    def _descend(self, grad, w, step):
        """Gradient steps on a strongly convex inner problem until ``||grad|| <= target``."""
        target = self.options["inner_tol"] * self.sigma
        for _ in range(self.options["inner_maxiter"]):
            gw = grad(w)
            if float(np.linalg.norm(gw)) <= target:
                break
            w = w - step * gw
        return w

    def update(self, state):
        p, sigma = self.problem, self.sigma
        x = state.x
        y = self._descend(lambda w: p.grad_g(x, w)[1], state.y, self.inner_step)
        z = self._descend(lambda w: sigma * p.grad_f(x, w)[1] + p.grad_g(x, w)[1],
                          state.aux["z"], self.z_step(sigma))
        direction = self.penalty_direction(x, y, z, sigma)
        return self.project(x - self.outer_step * direction), y, {"z": z}, direction


class StochasticPenaltySolver(_PenaltyBase):
    method = "penalty_stochastic"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sigma = penalty_parameter(self.options, self.tol)

    def _gradients(self, x, y, z, upper, lower):
        """``(d_y, d_z, d_x)``: the three gradients on one pair of minibatches."""
        p, sigma = self.problem, self.sigma
        gx_y, gy_y = p.grad_g(x, y, lower)
        gx_z, gy_z = p.grad_g(x, z, lower)
        fx_z, fy_z = p.grad_f(x, z, upper)
        return gy_y, sigma * fy_z + gy_z, fx_z + (gx_z - gx_y) / sigma

    def start(self, x, y):
        aux = super().start(x, y)
        aux.update(previous=None, momentum=None)
        return aux

    def update(self, state):
        p, beta = self.problem, self.options["momentum"]
        x, y, z = state.x, state.y, state.aux["z"]
        upper, lower = self.sample(p.n_upper), self.sample(p.n_lower)
        new = self._gradients(x, y, z, upper, lower)
        previous, momentum = state.aux["previous"], state.aux["momentum"]
        if previous is None or beta == 1.0:
            estimates = new
        else:
            old = self._gradients(*previous, upper, lower)
            estimates = tuple(storm(n, o, m, beta) for n, o, m in zip(new, old, momentum))
        d_y, d_z, d_x = estimates
        aux = {"z": z - self.z_step(self.sigma) * d_z, "previous": (x, y, z),
               "momentum": estimates}
        return (self.project(x - self.outer_step * d_x), y - self.inner_step * d_y, aux,
                new[2])


