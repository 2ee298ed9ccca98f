"""``numopt.minimize(fun, x0, method="mfac", jac=...)``: SGD preconditioned by M-FAC.

The optimizer of Frantar, Kurtic & Alistarh (NeurIPS 2021), as their reference code
runs it: the window of the last ``ngrads`` gradients starts as zeros; each step puts
the new gradient ``g`` (plus ``weight_decay * x``) into the window, replacing the
oldest, preconditions it by the inverse damped empirical Fisher of the window,
``d = (damping I + G^T G / m)^-1 g`` (:class:`~numopt.linalg.MFACInverseHessian`),
optionally averages ``d`` with momentum (``v <- mu v + (1 - mu) d``), and steps
``x <- x - lr d``.

Success is measured on the full objective: the largest entry of its gradient (of
``F(x) + weight_decay / 2 ||x||^2``) at most ``gtol``. Deterministic problems measure
it at every iterate for free (the next step needs that gradient); stochastic ones
(``n_samples``) spend one full gradient every ``measure_every`` iterations (one epoch
by default), and can succeed only at those iterates.

Near a minimizer the window's gradients become small against ``sqrt(m * damping)``
and the preconditioner tends to ``I / damping``: the method becomes gradient descent
with step ``lr / damping``, which converges for ``lr / damping < 2 / L``.
"""

from __future__ import annotations

import math

from .._backend import float_dtype, get_namespace
from .._loop import run_solver
from .._result import Status
from .._validation import as_array, check_options, check_scalar, check_seed
from ..stochastic._objective import StochasticObjective, check_batch_size
from ._mfac import MFACInverseHessian

DEFAULTS = {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0, "ngrads": 1024,
            "damping": 1e-5, "gtol": 1e-5, "maxiter": 10_000, "n_samples": None,
            "batch_size": None, "measure_every": None, "seed": 0, "check_every": None}


class _MFAC:
    """``run_solver`` object. The state is a dict: ``x``, the window ``hinv``, the
    momentum buffer ``velocity``, ``t`` (steps taken), ``rng`` (the batches'
    generator), and the last full measurement ``f``, ``g`` (gradient of the
    regularized objective), ``optimality`` (``max |g|``) taken at step ``measured_at``."""

    def __init__(self, objective, x0, xp, *, lr, momentum, weight_decay, ngrads, damping,
                 gtol, batch_size, measure_every, seed):
        self.objective, self.x0, self.xp = objective, x0, xp
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.ngrads, self.damping, self.gtol = ngrads, damping, gtol
        self.batch_size, self.measure_every = batch_size, measure_every
        check_seed(seed)
        self.seed = seed

    def _regularized(self, x, f, g):
        if self.weight_decay == 0.0:
            return f, g
        xp = self.xp
        return (f + 0.5 * self.weight_decay * float(xp.sum(x * x)),
                g + self.weight_decay * x)

    def _measure(self, st):
        try:
            f, g = self.objective.value_and_grad(st["x"], self.objective.full_batch())
        except (ValueError, IndexError) as exc:
            if "x0" in str(exc):
                raise
            # a shape mismatch between x0 and the user's data: say what fixed the shape
            raise ValueError(f"fun/jac could not be evaluated at an x of the shape of x0 "
                             f"{tuple(st['x'].shape)}: {exc}") from exc
        f, g = self._regularized(st["x"], f, g)
        st.update(f=f, g=g, optimality=float(self.xp.max(self.xp.abs(g))),
                  measured_at=st["t"])

    def init(self):
        xp = self.xp
        x = xp.asarray(self.x0, copy=True)
        hinv = MFACInverseHessian.zeros(self.ngrads, x.shape[0], self.damping,
                                        dtype=x.dtype, like=x)
        st = {"x": x, "hinv": hinv,
              "velocity": None, "t": 0, "rng": check_seed(self.seed)}
        self._measure(st)
        return st

    def step(self, st):
        xp, objective, x = self.xp, self.objective, st["x"]
        if objective.stochastic:
            g = objective.grad(x, objective.draw(st["rng"], self.batch_size))
            if self.weight_decay:
                g = g + self.weight_decay * x
        else:
            g = st["g"]   # the full gradient at x, measured after the last step
        direction = st["hinv"].update_matvec(g)
        if self.momentum > 0.0:
            velocity = st["velocity"]
            velocity = (1.0 - self.momentum) * direction if velocity is None else \
                self.momentum * velocity + (1.0 - self.momentum) * direction
            st["velocity"] = direction = velocity
        st["x"] = x - self.lr * direction
        st["t"] += 1
        if not objective.stochastic or st["t"] % self.measure_every == 0:
            self._measure(st)
        return st

    def _fresh(self, st):
        return st["measured_at"] == st["t"]

    def check(self, st):
        if not (math.isfinite(st["f"]) and math.isfinite(st["optimality"])):
            return Status.NONFINITE
        if self._fresh(st) and st["optimality"] <= self.gtol:
            return Status.SUCCESS
        return None

    def result(self, st):
        return {"x": st["x"], "fun": st["f"], "jac": st["g"],
                "optimality": st["optimality"], "measured_at": st["measured_at"],
                "stats": self.objective.stats()}

    def detail(self, st, status):
        if self._fresh(st) and st["optimality"] <= self.gtol:
            return ""
        where = "" if self._fresh(st) else \
            f" (measured at iteration {st['measured_at']}, the last full gradient)"
        return (f"The largest gradient entry {st['optimality']:.3e} is above gtol "
                f"{self.gtol:.3e}{where}.")


def minimize_mfac(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                  constraints=(), tol=None, callback=None, **options):
    """SGD preconditioned by M-FAC's inverse empirical Fisher of the last gradients.

    Options: ``lr`` (1e-3), ``momentum`` (0: none; else ``v <- mu v + (1 - mu) d``),
    ``weight_decay`` (adds ``weight_decay / 2 ||x||^2`` to the objective),
    ``ngrads`` (the window size m, 1024 as the reference code), ``damping``
    (lambda, 1e-5), ``gtol`` (stop when the full gradient's largest entry is at most
    ``gtol``; ``tol`` overrides it), ``maxiter``, ``n_samples`` (a finite sum of that
    many samples: ``fun(x, batch, *args)`` and ``jac(x, batch, *args)`` take an index
    batch and return the mean over it), ``batch_size`` (None: all samples),
    ``measure_every`` (stochastic problems: full gradients every so many iterations;
    None: one epoch), ``seed`` (the batches), ``check_every``, ``disp``.
    ``jac`` is a callable or ``True`` (``fun`` returns the value and the gradient).
    """
    opts = check_options(options, DEFAULTS, "mfac")
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    if not (jac is True or callable(jac)):
        raise TypeError(f"method 'mfac' needs the gradient: jac must be a callable or "
                        f"True, got {jac!r}")
    xp = get_namespace(x0)
    x0 = as_array(x0, "x0", xp, ndim=1)
    x0 = xp.astype(x0, float_dtype(xp, x0), copy=False)   # init copies it
    lr = check_scalar(opts["lr"], "lr", low=0, low_open=True)
    momentum = check_scalar(opts["momentum"], "momentum", low=0, high=1, high_open=True)
    weight_decay = check_scalar(opts["weight_decay"], "weight_decay", low=0)
    ngrads = check_scalar(opts["ngrads"], "ngrads", low=1, integer=True,
                          integral_float=True)
    damping = check_scalar(opts["damping"], "damping", low=0, low_open=True)
    gtol = check_scalar(tol if tol is not None else opts["gtol"], "gtol", low=0)
    maxiter = check_scalar(opts["maxiter"], "maxiter", low=0, integer=True,
                           integral_float=True)
    objective = StochasticObjective(fun, x0, args, jac, None, xp,
                                    n_samples=opts["n_samples"])
    batch_size = check_batch_size(opts["batch_size"], "batch_size", objective.n_samples)
    measure_every = opts["measure_every"]
    if measure_every is None:
        measure_every = 1 if not objective.stochastic else \
            -(-objective.n_samples // batch_size)
    measure_every = check_scalar(measure_every, "measure_every", low=1, integer=True,
                                 integral_float=True)
    solver = _MFAC(objective, x0, xp, lr=lr, momentum=momentum, weight_decay=weight_decay,
                   ngrads=ngrads, damping=damping, gtol=gtol, batch_size=batch_size,
                   measure_every=measure_every, seed=opts["seed"])
    return run_solver(solver, maxiter=maxiter, callback=callback, disp=opts["disp"],
                      check_every=opts["check_every"], xp=xp)
