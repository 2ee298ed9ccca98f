"""Adaptive first-order methods on the loop contract: the shared solver and the update
rules of AdaBelief, diffGrad and AdaHessian.

Every step draws a batch (``batch_size`` of the ``n_samples`` indices, from the solver's
own seeded generator), asks for its gradient and applies the method's element-wise
update (one fused kernel, ``numopt.stochastic._updates``). At each check (every
``check_every`` steps: one epoch by default for a stochastic objective) the *full*
gradient and value are evaluated at the iterate: success is ``max |grad F(x)| <= gtol``
on the returned ``x``. For a deterministic objective that full gradient is also the next
step's gradient, so checking costs nothing extra.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import get_kernel
from .._result import Status
from .._validation import check_seed
from . import _updates  # noqa: F401  (registers the kernels)

__all__ = ["AdaptiveSolver", "AdaBeliefRule", "DiffGradRule", "AdaHessianRule",
           "rademacher", "spatial_average"]


class AdaptiveSolver:
    """``run_solver`` object for a rule (``AdaBeliefRule``, ...): the state is a dict
    with ``x``, ``f`` and ``g`` (full value and gradient at ``x``, from the last check),
    ``fresh`` (``g`` is the gradient at the current ``x``), ``t`` (steps taken),
    ``rng`` and the rule's buffers ``buf``."""

    def __init__(self, objective, x0, xp, dtype, rule, *, lr, batch_size, seed, gtol):
        self.objective, self.x0, self.xp, self.dtype = objective, x0, xp, dtype
        self.rule, self.lr, self.batch_size, self.gtol = rule, lr, batch_size, gtol
        check_seed(seed)   # a bad seed fails here, not at the first draw
        self.seed = seed

    def _measure(self, x):
        """The full value and gradient at ``x`` (the success measure)."""
        obj = self.objective
        try:
            return obj.value_and_grad(x, obj.full_batch())
        except (ValueError, IndexError) as exc:
            if "x0" in str(exc):
                raise
            raise ValueError(f"fun/jac could not be evaluated at an x of the shape of x0 "
                             f"{tuple(x.shape)}: {exc}") from exc

    def init(self):
        x = self.xp.asarray(self.x0, copy=True)
        f, g = self._measure(x)
        return {"x": x, "f": f, "g": g, "fresh": True, "t": 0,
                "rng": check_seed(self.seed), "buf": self.rule.buffers(self.xp, x)}

    def step_many(self, st, budget):
        obj = self.objective
        for _ in range(budget):
            st["t"] += 1
            batch = obj.draw(st["rng"], self.batch_size)
            if st["fresh"] and batch is obj.full_batch():
                g = st["g"]
            else:
                g = obj.grad(st["x"], batch)
            self.rule.update(self, st, g, batch)
            st["fresh"] = False
        st["f"], st["g"] = self._measure(st["x"])
        st["fresh"] = True
        return st, budget

    def _gmax(self, st):
        return float(self.xp.max(self.xp.abs(st["g"])))

    def check(self, st):
        gmax = self._gmax(st)
        if not (math.isfinite(gmax) and math.isfinite(st["f"])):
            return Status.NONFINITE
        return Status.SUCCESS if gmax <= self.gtol else None

    def result(self, st):
        return {"x": st["x"], "fun": st["f"], "jac": st["g"], "optimality": self._gmax(st),
                "stats": self.objective.stats()}

    def detail(self, st, status):
        gmax = self._gmax(st)
        if gmax <= self.gtol:
            return ""
        return (f"The largest entry of the full gradient {gmax:.3e} is above gtol "
                f"{self.gtol:.3e}.")


def _bias_corrections(beta1, beta2, t):
    return 1.0 - beta1 ** t, 1.0 - beta2 ** t


class AdaBeliefRule:
    """AdaBelief (Zhuang et al., NeurIPS 2020), as the official ``adabelief-pytorch``
    0.2 computes it: ``s <- b2 s + (1 - b2) (g - m)^2 + eps`` (eps added to ``s`` at
    every step). ``rectify=False`` (torch-optimizer, optax): ``x -= lr m_hat /
    (sqrt(s / bc2) + eps)``. ``rectify=True`` (the official default): RAdam's
    rectification; with ``rho_t >= 5`` ``x -= lr r_t sqrt(bc2) / bc1 m / (sqrt(s) + eps)``
    and before that SGD with momentum ``x -= lr m / bc1`` (``degenerated_to_sgd``) or no
    step."""

    def __init__(self, beta1, beta2, eps, rectify, degenerated_to_sgd):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.rectify, self.degenerated_to_sgd = rectify, degenerated_to_sgd

    def buffers(self, xp, x):
        return {"m": xp.zeros_like(x), "s": xp.zeros_like(x)}

    def coefficients(self, lr, t):
        """``(step, scale, adaptive)`` of step ``t`` (1-based)."""
        b1, b2 = self.beta1, self.beta2
        bc1, bc2 = _bias_corrections(b1, b2, t)
        if not self.rectify:
            return lr / bc1, 1.0 / math.sqrt(bc2), True
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho = rho_inf - 2.0 * t * b2 ** t / bc2
        if rho >= 5.0:
            r = math.sqrt(bc2 * (rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho
                          * rho_inf / (rho_inf - 2.0))
            return lr * r / bc1, 1.0, True
        return (lr / bc1 if self.degenerated_to_sgd else 0.0), 1.0, False

    def update(self, solver, st, g, batch):
        xp = solver.xp
        step, scale, adaptive = self.coefficients(solver.lr, st["t"])
        buf = st["buf"]
        get_kernel("stochastic.adabelief_step", xp)(
            xp, st["x"], g, buf["m"], buf["s"], self.beta1, self.beta2, self.eps, step,
            scale, adaptive)


class DiffGradRule:
    """diffGrad (Dubey et al., IEEE TNNLS 2020), as the authors' code computes it: Adam's
    moments, the friction ``xi = 1 / (1 + exp(-|g_prev - g|))`` (``g_prev = 0`` at the
    first step) and ``x -= lr sqrt(bc2) / bc1 xi m / (sqrt(v) + eps)``."""

    def __init__(self, beta1, beta2, eps):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def buffers(self, xp, x):
        return {"m": xp.zeros_like(x), "v": xp.zeros_like(x), "g_prev": xp.zeros_like(x)}

    def update(self, solver, st, g, batch):
        xp = solver.xp
        bc1, bc2 = _bias_corrections(self.beta1, self.beta2, st["t"])
        buf = st["buf"]
        get_kernel("stochastic.diffgrad_step", xp)(
            xp, st["x"], g, buf["g_prev"], buf["m"], buf["v"], self.beta1, self.beta2,
            self.eps, solver.lr * math.sqrt(bc2) / bc1)


def rademacher(rng, xp, n, dtype):
    """``n`` independent signs +-1 with probability 1/2 (drawn on the host by ``rng``)."""
    return xp.asarray(rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0,
                      dtype=dtype)


def spatial_average(xp, d, block):
    """Each entry replaced by the mean of its block of ``block`` consecutive entries (the
    last block may be shorter): AdaHessian's spatial averaging of a flat parameter."""
    n = d.shape[0]
    if block <= 1:
        return d
    full = (n // block) * block
    parts = []
    if full:
        means = xp.mean(xp.reshape(d[:full], (n // block, block)), axis=1)
        parts.append(xp.reshape(xp.broadcast_to(means[:, None], (n // block, block)),
                                (full,)))
    if full < n:
        tail = d[full:]
        parts.append(xp.broadcast_to(xp.mean(tail)[None], tail.shape))
    return parts[0] if len(parts) == 1 else xp.concat(parts)


class AdaHessianRule:
    """AdaHessian (Yao et al., AAAI 2021), written from the paper: the Hessian diagonal
    by Hutchinson's estimator ``D = z * (H z)`` (Rademacher ``z``, ``n_hutchinson``
    draws averaged, the Hessian of the step's batch), spatially averaged over blocks of
    ``block_size`` entries; ``m`` the momentum of ``g``, ``v`` the moving average of
    ``D^2``; ``x -= lr m / bc1 / ((v / bc2)^(k/2) + eps)`` with ``k = hessian_power``."""

    def __init__(self, beta1, beta2, eps, hessian_power, block_size, n_hutchinson):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.hessian_power, self.block_size = hessian_power, block_size
        self.n_hutchinson = n_hutchinson

    def buffers(self, xp, x):
        return {"m": xp.zeros_like(x), "v": xp.zeros_like(x)}

    def diagonal(self, solver, st, batch):
        xp, x = solver.xp, st["x"]
        d = None
        for _ in range(self.n_hutchinson):
            z = rademacher(st["rng"], xp, x.shape[0], x.dtype)
            dz = z * solver.objective.hvp(x, z, batch)
            d = dz if d is None else d + dz
        if self.n_hutchinson > 1:
            d = d / self.n_hutchinson
        return spatial_average(xp, d, self.block_size)

    def update(self, solver, st, g, batch):
        xp = solver.xp
        d = self.diagonal(solver, st, batch)
        bc1, bc2 = _bias_corrections(self.beta1, self.beta2, st["t"])
        buf = st["buf"]
        get_kernel("stochastic.adahessian_step", xp)(
            xp, st["x"], g, d, buf["m"], buf["v"], self.beta1, self.beta2, self.eps,
            solver.lr / bc1, 1.0 / bc2, 0.5 * self.hessian_power)
