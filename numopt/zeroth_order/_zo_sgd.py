"""``numopt.minimize(fun, x0, method="zo-sgd")`` (alias ``"mezo"``): zeroth-order SGD.

Each iteration estimates the gradient from function values only and steps
``x <- x - lr g``:

* ``estimator="gaussian"`` (default) or ``"rademacher"``: the two-point SPSA estimate
  ``g = (1/q) sum_k (f(x + eps z_k) - f(x - eps z_k)) / (2 eps) z_k`` with ``q =
  n_directions`` seeded perturbations ``z_k``, as MeZO (Malladi et al., "Fine-Tuning
  Language Models with Just Forward Passes", NeurIPS 2023, Algorithm 1): each ``z_k``
  is regenerated from its key for the update, never stored
  (``numopt/zeroth_order/_perturbation.py``); ``inplace=True`` moves ``x`` itself to
  ``x +- eps z`` for the evaluations, as MeZO does (no copy of ``x``: ``fun`` must not
  keep or change its argument), instead of SciPy's fresh copy per call.
  ``sparsity = p < 1`` perturbs a random fraction ``p`` of the coordinates per
  direction, scaled by ``1/sqrt(p)`` (still unbiased).
* ``estimator="coordinate"``: ``g = (d/q) sum_{i in S} (f(x + eps e_i) - f(x - eps
  e_i)) / (2 eps) e_i`` over ``q`` coordinates ``S`` drawn without replacement.

Both are unbiased for the gradient on quadratics (central differences are exact there,
and ``E[z z^T] = I``, ``E[(d/q) sum_{i in S} e_i e_i^T] = I``). Both evaluations of a
direction use the same batch (``n_samples``), as MeZO's.
"""

from __future__ import annotations

import math

from .._loop import run_solver
from .._validation import check_choice, check_flag, check_options, check_scalar
from ._common import MeasuredSolver
from ._estimates import add_directions, coordinate_differences, draw_keys, spsa_projections
from ._perturbation import KINDS
from ._validation import check_common, check_problem

DEFAULTS = {"lr": 1e-3, "eps": 1e-3, "n_directions": 1, "estimator": "gaussian",
            "sparsity": 1.0, "inplace": False, "gtol": 1e-5, "maxiter": 10_000,
            "n_samples": None, "batch_size": None, "measure_every": None, "seed": 0,
            "check_every": None}

ESTIMATORS = ("gaussian", "rademacher", "coordinate")


class _ZOSGD(MeasuredSolver):
    def __init__(self, objective, x0, xp, *, lr, eps, n_directions, estimator, sparsity,
                 inplace, gtol, batch_size, measure_every, seed):
        self.objective, self.x0, self.xp = objective, x0, xp
        self.lr, self.eps, self.q = lr, eps, n_directions
        self.estimator, self.sparsity, self.inplace = estimator, sparsity, inplace
        self.gtol, self.batch_size, self.measure_every = gtol, batch_size, measure_every
        self.seed = seed

    def advance(self, st):
        xp, x, rng = self.xp, st["x"], st["rng"]
        batch = self.objective.draw(rng, self.batch_size)

        def value(y):
            return self.objective.value(y, batch, owned=True)

        if self.estimator == "coordinate":
            d = x.shape[0]
            indices = sorted(int(i) for i in rng.choice(d, size=min(self.q, d),
                                                        replace=False))
            diffs = coordinate_differences(xp, value, x, indices, self.eps)
            scale = self.lr * d / len(indices)
            for i, diff in zip(indices, diffs):
                x[i] = x[i] - scale * diff
            projections = diffs
        else:
            kind = KINDS[self.estimator]
            keys = draw_keys(rng, self.q)
            projections = spsa_projections(xp, value, x, keys, self.eps, kind,
                                           self.sparsity, self.inplace)
            add_directions(xp, x, keys, [-self.lr * p / self.q for p in projections],
                           kind, self.sparsity)
        if not all(math.isfinite(p) for p in projections):
            st["nonfinite"] = True


def minimize_zo_sgd(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                    constraints=(), tol=None, callback=None, **options):
    """Zeroth-order SGD from function values only (two-point SPSA / MeZO, or
    coordinate-wise differences).

    Options: ``lr`` (1e-3), ``eps`` (the perturbation size, 1e-3, MeZO's),
    ``n_directions`` (q, directions or coordinates per iteration), ``estimator``
    ("gaussian", "rademacher", "coordinate"), ``sparsity`` (fraction of coordinates a
    direction perturbs), ``inplace`` (MeZO's in-place evaluations), ``gtol`` (success:
    central-difference gradient entries at most ``gtol``; ``tol`` overrides it),
    ``measure_every`` (iterations between two such measurements, each ``2 d + 1``
    evaluations; None: about every ``4 d / (2 q)`` iterations; 0: never), ``maxiter``,
    ``n_samples`` and ``batch_size`` (``fun(x, batch, *args)`` over index batches),
    ``seed``, ``check_every``, ``disp``.
    """
    opts = check_options(options, DEFAULTS, "zo-sgd")
    xp, x0, objective = check_problem(fun, x0, args, opts["n_samples"])
    estimator = check_choice(opts["estimator"], "estimator", ESTIMATORS)
    q = check_scalar(opts["n_directions"], "n_directions", low=1, integer=True,
                     integral_float=True)
    common = check_common(opts, objective, tol, x0.shape[0], 2 * q)
    solver = _ZOSGD(objective, x0, xp,
                    lr=common["lr"], eps=check_scalar(opts["eps"], "eps", low=0,
                                                      low_open=True),
                    n_directions=q, estimator=estimator,
                    sparsity=check_scalar(opts["sparsity"], "sparsity", low=0, high=1,
                                          low_open=True),
                    inplace=check_flag(opts["inplace"], "inplace"), gtol=common["gtol"],
                    batch_size=common["batch_size"], measure_every=common["measure_every"],
                    seed=common["seed"])
    return run_solver(solver, maxiter=common["maxiter"], callback=callback,
                      disp=opts["disp"], check_every=opts["check_every"], xp=xp)
