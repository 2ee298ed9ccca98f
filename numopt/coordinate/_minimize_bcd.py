"""``numopt.minimize(fun, x0, method="bcd", jac=...)``: block coordinate descent for a
generic smooth function given by its value and gradient.

Nothing is known about the structure of ``fun``, so every iteration evaluates the full
gradient; the block is chosen by the Gauss-Southwell-Lipschitz rule on per-coordinate
Lipschitz estimates, and the block step ``-g_b / L_b`` is backtracked (``L_b`` doubled)
until the quadratic upper bound holds, then ``L_b`` is halved for the next visit.

The first estimate comes from the gradient change over one small probe step (one extra
evaluation), so the method does not depend on the units of ``f``: with a fixed start
of 1, ``1e100 f`` ran out of doublings on the first step. Norms and scores are formed
so that gradients near 1e200 do not overflow when squared.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import float_dtype, get_namespace
from .._loop import run_solver
from .._objective import scalar_function
from .._result import Status
from .._validation import as_array, check_choice, check_options, check_scalar, check_seed

DEFAULTS = {"block_size": 0, "rule": "gsl", "maxiter": 10_000, "gtol": 1e-6,
            "lipschitz0": "auto", "seed": 0, "check_every": None}


class _GenericBCD:
    """``run_solver`` object. The state is a dict: ``x``, ``f``, ``g``, the coordinate
    estimates ``L``, ``nit`` (the cyclic rule's position), ``rng`` (the random rule's
    generator, seeded afresh by ``init``) and ``stalled`` (a block step found no
    decrease: later steps leave the state as it is, for ``check`` to report)."""

    def __init__(self, fun_and_grad, x0, xp, dtype, *, block_size, rule, gtol, L0, seed,
                 counts):
        self.fg, self.x0, self.xp, self.dtype = fun_and_grad, x0, xp, dtype
        self.block_size, self.rule, self.gtol = block_size, rule, gtol
        self.L0 = L0
        check_seed(seed)   # a bad seed fails here, not at the first random choice
        self.seed = seed
        self.counts = counts  # the objective's evaluation counters (nfev, ngev)
        info = np.finfo(np.float32 if dtype == xp.float32 else np.float64)
        self.eps, self.tiny = float(info.eps), float(info.tiny)

    def _eval(self, x):
        f, g = self.fg(x)
        if getattr(f, "ndim", 0) != 0:
            raise ValueError(f"fun must return a scalar, got an array of shape "
                             f"{tuple(f.shape)}")
        return float(f), self.xp.astype(self.xp.asarray(g), self.dtype)

    def init(self):
        xp = self.xp
        x = xp.asarray(self.x0, copy=True)
        f, g = self._eval(x)
        if g.shape != x.shape:
            raise ValueError(f"jac returned shape {tuple(g.shape)}, expected the shape of "
                             f"x0 {tuple(x.shape)}")
        L0 = self._probe_lipschitz(x, g) if self.L0 == "auto" else self.L0
        L = xp.full(x.shape, L0, dtype=self.dtype)
        return {"x": x, "f": f, "g": g, "L": L, "nit": 0, "stalled": False,
                "rng": check_seed(self.seed)}

    def _probe_lipschitz(self, x, g):
        """``||g(x - t g) - g(x)|| / ||t g||`` for a step ``t g`` of relative size
        sqrt(eps); 1 where that says nothing (zero or non-finite gradient or change)."""
        xp = self.xp
        gmax = float(xp.max(xp.abs(g)))
        if not (0.0 < gmax < math.inf):
            return 1.0
        t = math.sqrt(self.eps) * max(1.0, float(xp.max(xp.abs(x)))) / gmax
        _, g_probe = self._eval(x - t * g)
        change = float(xp.max(xp.abs(g_probe - g)))
        L = change / (t * gmax)
        return L if 0.0 < L < math.inf else 1.0

    def _block(self, st):
        xp = self.xp
        n = st["x"].shape[0]
        k = min(self.block_size, n)
        if self.rule == "cyclic":
            start = (st["nit"] * k) % n
            return xp.asarray(np.arange(start, start + k) % n)
        if self.rule == "random":
            return xp.asarray(st["rng"].choice(n, k, replace=False))
        g, L = st["g"], st["L"]
        # |g| and |g| / sqrt(L) order the coordinates as g^2 and g^2 / L do, without
        # squaring gradients that may be near 1e200
        score = xp.abs(g) if self.rule == "gs" else xp.abs(g) / xp.sqrt(L)
        return xp.argsort(-score, stable=False)[:k]

    def step(self, st):
        if st["stalled"]:   # the same failed search again: wait for the check
            return st
        xp = self.xp
        block = self._block(st)
        x, g = st["x"], st["g"]
        gb = xp.take(g, block)
        Lb = float(xp.max(xp.take(st["L"], block)))
        # ||g_b|| up to the factor unit, which keeps its square in range
        unit = float(xp.max(xp.abs(gb))) or 1.0
        gnorm2 = float(xp.sum((gb / unit) ** 2))
        for _ in range(60):
            with np.errstate(over="ignore"):  # an overflowing trial fails the test below
                d = gb / Lb
                trial = xp.asarray(x, copy=True)
                trial[block] = xp.take(x, block) - d
            f_new, g_new = self._eval(trial)
            # the bound f_new <= f - ||g_b||^2 / (2 L_b), with ||g_b||^2 / L_b = d . g_b
            if math.isfinite(f_new) and f_new <= st["f"] - 0.5 * float(xp.sum(d * gb)):
                break
            # near the optimum the decrease drowns in rounding of f: then test the
            # Lipschitz estimate on the gradient change instead
            slack = 8 * self.eps * abs(st["f"])
            if math.isfinite(f_new) and f_new <= st["f"] + slack:
                # ||g_new_b - g_b|| <= L_b ||d|| with ||d|| = ||g_b|| / L_b
                change = (xp.take(g_new, block) - gb) / unit
                if float(xp.sum(change * change)) <= gnorm2:
                    break
            Lb *= 2.0
        else:
            st["stalled"] = True
            return st
        L = st["L"]
        L[block] = max(Lb * 0.5, self.tiny)
        st.update(x=trial, f=f_new, g=g_new, L=L)
        st["nit"] += 1
        return st

    def check(self, st):
        gmax = float(self.xp.max(self.xp.abs(st["g"])))
        if not math.isfinite(gmax) or not math.isfinite(st["f"]):
            return Status.NONFINITE
        if gmax <= self.gtol:
            return Status.SUCCESS
        return Status.LINE_SEARCH_FAILED if st["stalled"] else None

    def result(self, st):
        gmax = float(self.xp.max(self.xp.abs(st["g"])))
        return {"x": st["x"], "fun": st["f"], "jac": st["g"], "optimality": gmax,
                "stats": {"nfev": self.counts.nfev, "njev": self.counts.ngev}}

    def detail(self, st, status):
        gmax = float(self.xp.max(self.xp.abs(st["g"])))
        if gmax <= self.gtol:
            return ""
        return f"The largest gradient entry {gmax:.3e} is above gtol {self.gtol:.3e}."


def minimize_bcd(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                 constraints=(), tol=None, callback=None, **options):
    """Block coordinate descent with greedy (GSL) blocks and backtracked block steps.

    Options: ``block_size`` (0: ``max(1, n // 10)``), ``rule`` ("gsl", "gs", "cyclic",
    "random"), ``maxiter``, ``gtol`` (stop when ``max |grad| <= gtol``; ``tol``
    overrides it), ``lipschitz0`` (initial per-coordinate Lipschitz estimate; "auto",
    the default, measures it over one small probe step), ``seed``, ``check_every``
    (iterations between two checks and callbacks; None: 1 on the CPU,
    ``gpu_check_every`` of :func:`numopt.set_config` on a GPU), ``disp``.
    ``jac`` is SciPy's (a callable, ``True``, or finite differences: ``"2-point"``,
    ``"3-point"``, ``"cs"``, ``None``).
    """
    opts = check_options(options, DEFAULTS, "bcd")
    if bounds is not None or constraints:
        raise ValueError("method 'bcd' handles neither bounds nor constraints")
    if not callable(fun):
        raise TypeError("fun must be callable")
    xp = get_namespace(x0)
    x0 = as_array(x0, "x0", xp, ndim=1)
    dtype = float_dtype(xp, x0)
    x0 = xp.astype(x0, dtype)
    rule = check_choice(opts["rule"], "rule", ("gsl", "gs", "cyclic", "random"))
    n = x0.shape[0]
    block_size = check_scalar(opts["block_size"], "block_size", low=0, integer=True)
    block_size = block_size or max(1, n // 10)
    maxiter = check_scalar(opts["maxiter"], "maxiter", low=0, integer=True,
                           integral_float=True)
    gtol = check_scalar(tol if tol is not None else opts["gtol"], "gtol", low=0,
                        low_open=True)
    L0 = opts["lipschitz0"]
    if not (isinstance(L0, str) and L0 == "auto"):
        L0 = check_scalar(L0, "lipschitz0", low=0, low_open=True)

    def evaluated(evaluate, x):
        try:
            return evaluate()
        except (ValueError, IndexError) as exc:
            raise ValueError(f"fun/jac could not be evaluated at an x of the shape of x0 "
                             f"{tuple(x.shape)}: {exc}") from exc

    # (SciPy's ScalarFunction evaluates fun and jac at x0 on construction)
    objective = evaluated(lambda: scalar_function(fun, x0, args, jac, xp), x0)

    def checked(x):
        return evaluated(lambda: objective.fun_and_grad(x), x)

    solver = _GenericBCD(checked, x0, xp, dtype, block_size=block_size, rule=rule,
                         gtol=gtol, L0=L0, seed=opts["seed"], counts=objective)
    return run_solver(solver, maxiter=maxiter, callback=callback, disp=opts["disp"],
                      check_every=opts["check_every"], xp=xp)
