"""AdAdaGrad and AdAdaGradNorm (Lau, Liu & Kolar, 2024): AdaGrad (coordinate-wise, or
AdaGrad-Norm's scalar step) whose batch size grows when an adaptive sampling test fails.

Each step draws ``b`` samples, split at random into ``K`` groups (``variance_groups``;
``None``: one sample per group, the per-sample statistics of the papers), and asks for
each group's mean gradient ``g_k`` (``n_k`` samples). The batch gradient is
``g = sum n_k g_k / b``, and with ``S(u) = sum_k n_k u_k / (K - 1)`` (an unbiased
estimate of the per-sample variance):

* norm test (Byrd, Chin, Nocedal & Wu, 2012): ``S(||g_k - g||^2) / b <= eta^2 ||g||^2``;
* augmented inner-product test (Bollapragada, Byrd & Nocedal, 2018): the inner-product
  test ``S((g_k . g - ||g||^2)^2) / b <= theta^2 ||g||^4`` and the orthogonality test
  ``S(||g_k - (g_k . g / ||g||^2) g||^2) / b <= nu^2 ||g||^2``.

When the test fails the next batch size is the smallest ``b'`` that would pass it with
the same statistics (``ceil(S / (eta^2 ||g||^2))``, the larger of the two for the
augmented test), never smaller than ``b`` and at most ``max_batch_size``. The AdaGrad
step is taken with ``g`` either way.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import get_kernel
from .._validation import check_seed
from ._adaptive import AdaptiveSolver

__all__ = ["AdAdaGradSolver", "batch_test"]


def batch_test(xp, grads, sizes, test, eta, theta, nu):
    """``(g, wanted)``: the batch gradient from the group gradients ``grads`` (``sizes``
    samples each) and the batch size the test asks for (``0`` when it passes)."""
    b = sum(sizes)
    g = sum(n * gk for n, gk in zip(sizes, grads)) / b
    K = len(grads)
    if K < 2:
        return g, 0
    g64 = xp.astype(g, xp.float64)
    norm2 = float(xp.sum(g64 * g64))
    if test == "norm":
        var = sum(n * float(xp.sum((xp.astype(gk, xp.float64) - g64) ** 2))
                  for n, gk in zip(sizes, grads)) / (K - 1)
        if norm2 == 0.0:
            return g, (0 if var == 0.0 else math.inf)
        need = var / (eta ** 2 * norm2)
        return g, (0 if need <= b else math.ceil(need))
    ip_var = orth_var = 0.0
    for n, gk in zip(sizes, grads):
        gk64 = xp.astype(gk, xp.float64)
        dot = float(xp.sum(gk64 * g64))
        ip_var += n * (dot - norm2) ** 2
        if norm2 > 0.0:
            orth_var += n * float(xp.sum((gk64 - (dot / norm2) * g64) ** 2))
    ip_var /= K - 1
    orth_var /= K - 1
    if norm2 == 0.0:
        return g, (0 if ip_var == 0.0 else math.inf)
    need = max(ip_var / (theta ** 2 * norm2 ** 2), orth_var / (nu ** 2 * norm2))
    return g, (0 if need <= b else math.ceil(need))


class AdAdaGradSolver(AdaptiveSolver):
    """:class:`AdaptiveSolver` with AdaGrad's step and the adaptive batch size in the
    state (``b``); ``norm=True`` is AdaGrad-Norm (one accumulator ``acc`` of ``||g||^2``,
    ``x -= lr g / (sqrt(acc) + eps)``), else coordinate-wise AdaGrad."""

    def __init__(self, objective, x0, xp, dtype, *, lr, batch_size, seed, gtol, norm,
                 eps, initial_accumulator, test, eta, theta, nu, max_batch_size,
                 variance_groups):
        super().__init__(objective, x0, xp, dtype, None, lr=lr, batch_size=batch_size,
                         seed=seed, gtol=gtol)
        self.norm, self.eps, self.acc0 = norm, eps, initial_accumulator
        self.test, self.eta, self.theta, self.nu = test, eta, theta, nu
        self.max_batch_size, self.variance_groups = max_batch_size, variance_groups

    def init(self):
        xp = self.xp
        x = xp.asarray(self.x0, copy=True)
        f, g = self._measure(x)
        acc = self.acc0 if self.norm else xp.full(x.shape, self.acc0, dtype=self.dtype)
        return {"x": x, "f": f, "g": g, "fresh": True, "t": 0,
                "rng": check_seed(self.seed), "acc": acc, "b": self.batch_size}

    def _batch_gradient(self, st):
        obj, xp = self.objective, self.xp
        if not obj.stochastic:
            return st["g"] if st["fresh"] else obj.grad(st["x"], None)
        b = st["b"]
        K = b if self.variance_groups is None else min(self.variance_groups, b)
        order = st["rng"].permutation(obj.n_samples)[:b]
        groups = [xp.asarray(np.sort(part).astype(np.int64))
                  for part in np.array_split(order, K)]
        grads = [obj.grad(st["x"], batch) for batch in groups]
        g, wanted = batch_test(xp, grads, [int(gr.shape[0]) for gr in groups], self.test,
                               self.eta, self.theta, self.nu)
        if wanted:
            st["b"] = int(min(self.max_batch_size, max(b, wanted)))
        return g

    def step_many(self, st, budget):
        xp = self.xp
        for _ in range(budget):
            st["t"] += 1
            g = self._batch_gradient(st)
            if self.norm:
                st["acc"] = st["acc"] + float(xp.sum(xp.astype(g, xp.float64) ** 2))
                st["x"] -= (self.lr / (math.sqrt(st["acc"]) + self.eps)) * g
            else:
                get_kernel("stochastic.adagrad_step", xp)(xp, st["x"], g, st["acc"],
                                                          self.lr, self.eps)
            st["fresh"] = False
        st["f"], st["g"] = self._measure(st["x"])
        st["fresh"] = True
        return st, budget

    def result(self, st):
        fields = super().result(st)
        if self.objective.stochastic:
            fields["batch_size"] = int(st["b"])
        return fields
