"""numopt.stochastic: one optimizer step (the element-wise update, the gradient given)
at d = 1e6 float32, the fused Numba kernel against a plain NumPy transcription (the
kernels' array-API reference, one pass per operation) and torch CPU (one thread, as
every benchmark here; where torch imports): torch.optim's Adam and Adagrad, and the
in-place torch transcriptions of AdaBelief and diffGrad that torch-optimizer uses.

The issue's targets: numba <= torch CPU and numba <= 0.6 x numpy.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from .common import has_module, smoke_size

METHODS = ["adabelief", "diffgrad", "adahessian", "adagrad"]


def _numba_step(method, x, g, bufs):
    """The package's own update for one step ``t`` (coefficients and fused kernel)."""
    import array_api_compat.numpy as xp

    from numopt._backend import get_kernel
    from numopt.stochastic._adaptive import AdaBeliefRule, DiffGradRule

    solver = SimpleNamespace(xp=xp, lr=1e-3)
    if method == "adabelief":
        rule = AdaBeliefRule(0.9, 0.999, 1e-16, True, True)
    elif method == "diffgrad":
        rule = DiffGradRule(0.9, 0.999, 1e-8)
    elif method == "adahessian":
        def step(t):
            # looked up at each call, as the solver does (the reference under
            # config_context(kernels="reference"))
            get_kernel("stochastic.adahessian_step", xp)(
                xp, x, g, bufs["d"], bufs["m"], bufs["v"], 0.9, 0.999, 1e-4,
                0.15 / (1 - 0.9 ** t), 1 / (1 - 0.999 ** t), 0.5)
        return step
    else:
        def step(t):
            get_kernel("stochastic.adagrad_step", xp)(xp, x, g, bufs["v"], 1e-2, 1e-10)
        return step
    state = {"x": x, "buf": bufs, "t": 0}

    def step(t):
        state["t"] = t
        rule.update(solver, state, g, None)
    return step


def _torch_step(method, x, g, bufs):
    import torch

    p = torch.nn.Parameter(torch.from_numpy(x.copy()))
    p.grad = torch.from_numpy(g.copy())
    if method == "adagrad":
        opt = torch.optim.Adagrad([p], lr=1e-2)
        return lambda t: opt.step()
    if method == "adahessian":   # torch.optim.Adam: the memory-bound yardstick
        opt = torch.optim.Adam([p], lr=1e-3)
        return lambda t: opt.step()
    grad = p.grad
    m = torch.zeros_like(grad)
    v = torch.zeros_like(grad)
    prev = torch.zeros_like(grad)
    b1, b2 = 0.9, 0.999

    @torch.no_grad()
    def adabelief(t):
        # torch-optimizer's AdaBelief step (in-place ops, rectify=False)
        m.mul_(b1).add_(grad, alpha=1 - b1)
        r = grad - m
        v.mul_(b2).addcmul_(r, r, value=1 - b2).add_(1e-16)
        denom = (v.sqrt() / math.sqrt(1 - b2 ** t)).add_(1e-16)
        p.data.addcdiv_(m, denom, value=-1e-3 / (1 - b1 ** t))

    @torch.no_grad()
    def diffgrad(t):
        # torch-optimizer's DiffGrad step
        m.mul_(b1).add_(grad, alpha=1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = v.sqrt().add_(1e-8)
        dfc = torch.abs(prev - grad).neg_().exp_().add_(1).reciprocal_()
        prev.copy_(grad)
        p.data.addcdiv_(m * dfc, denom,
                        value=-1e-3 * math.sqrt(1 - b2 ** t) / (1 - b1 ** t))

    return adabelief if method == "adabelief" else diffgrad


class StochasticStep:
    """One step of each method at d = 1e6 float32 (t = 100, past AdaBelief's
    rectification warm-up)."""

    params = ([smoke_size(1_000_000, 10_000)], METHODS)
    param_names = ["d", "method"]
    timeout = 300
    repeat = (3, 20, 10.0)
    number = 5

    def setup(self, d, method):
        rng = np.random.default_rng(0)
        f32 = np.float32
        self.x = rng.standard_normal(d).astype(f32)
        self.g = rng.standard_normal(d).astype(f32)
        self.bufs = {"m": rng.standard_normal(d).astype(f32),
                     "v": np.abs(rng.standard_normal(d)).astype(f32),
                     "s": np.abs(rng.standard_normal(d)).astype(f32),
                     "g_prev": rng.standard_normal(d).astype(f32),
                     "d": rng.standard_normal(d).astype(f32)}
        self.numba = _numba_step(method, self.x, self.g, self.bufs)
        self.numba(100)                 # compile (or load the cache) outside the timing
        self.numpy_bufs = {k: v.copy() for k, v in self.bufs.items()}
        self.numpy_x = self.x.copy()
        numpy_step = _numba_step(method, self.numpy_x, self.g, self.numpy_bufs)

        def reference(t):
            from numopt._config import config_context

            with config_context(kernels="reference"):
                numpy_step(t)
        self.numpy = reference
        self.numpy(100)
        if has_module("torch"):
            import torch

            torch.set_num_threads(1)
            self.torch = _torch_step(method, self.x, self.g, self.bufs)
            self.torch(100)

    def time_numba(self, d, method):
        self.numba(100)

    def time_numpy(self, d, method):
        self.numpy(100)

    if has_module("torch"):   # torch is optional: without it there is no peer
        def time_torch_cpu(self, d, method):
            self.torch(100)
