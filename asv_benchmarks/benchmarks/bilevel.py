"""Bilevel optimization (numopt.bilevel): the three figures of issue 19.

* ``BenchoptQuadratic``: benchopt's quadratic benchmark shape (inner dimension 100, outer
  10, 1024 samples per level): wall time of each method until the certified squared
  hypergradient norm is at most 1e-6 (``tol=1e-3`` on the norm), the iterations and the
  oracle calls per iteration. benchopt's SABA took 0.067 s there with 3 inner and 2
  outer oracle calls an iteration. Steps: SABA's from a small grid (inner 0.25, outer
  0.2, batches of 64 and 256 of the 1024 samples) and benchopt's own for SABA on its
  quadratic (inner and outer 0.1, batches of 64); the stop is checked every 10
  iterations and whenever the SAGA estimate falls below tol; the full-batch methods at
  their defaults.
* ``Ijcnn1Tuning``: per-feature L2 tuning of logistic regression on synthetic data of
  ijcnn1's shapes (49,990 training and 91,701 validation samples, 22 features, features
  on scales e^-1..e^1, half of them irrelevant) against ``LogisticRegressionCV`` (its
  defaults: 10 Cs, 5 folds) on the same training set: time, validation loss and the
  loss on 20,000 fresh samples. numopt runs :class:`TunedLogisticRegression`'s tuning
  stage (exact start, one Newton step and a direct implicit solve an iteration, 10
  iterations).
* ``BSVRBSpeedup``: BSVRB on 8 quadratic blocks, against the blocks sampled per
  iteration I and the samples per block B: the median over five seeds of the
  iterations until the exact hypergradient norm first reaches 0.2 (from 4.3), with one
  outer step for all (I, B) and with the step scaled as I sqrt(B).
"""

import math

import numpy as np

from numopt.bilevel import LogisticTuning, MultiBlockBilevel, minimize_bilevel, quadratic_bilevel

from .common import PeerBenchmark, smoke_params

QUAD_TOL = 1e-3   # on the norm: squared hypergradient norm 1e-6
QUAD_METHODS = {
    "saba_batch64": {"method": "saba", "batch_size": 64, "inner_step": 0.25,
                     "outer_step": 0.2, "certify_every": 10},
    "saba_batch256": {"method": "saba", "batch_size": 256, "inner_step": 0.25,
                      "outer_step": 0.2, "certify_every": 10},
    # benchopt's own SABA steps on its quadratic (config/quadratics_021424_best_params.yml
    # of benchopt/benchmark_bilevel: step_size=0.1, outer_ratio=1.0, batch_size=64)
    "saba_batch64_benchopt_steps": {"method": "saba", "batch_size": 64, "inner_step": 0.1,
                                    "outer_step": 0.1, "certify_every": 10},
    "soba_full_batch": {"method": "soba"},
    "implicit": {},
    "penalty": {},
    "f2sa": {},
}


def _quadratic(name):
    options = dict(QUAD_METHODS[name])
    method = options.pop("method", name)

    def solve(d):
        problem = d["problem"]
        problem.reset_calls()
        res = minimize_bilevel(problem, np.zeros(10), method=method, tol=QUAD_TOL,
                               maxiter=5000, seed=0, **options)
        return {"res": res}

    return solve


class BenchoptQuadratic(PeerBenchmark):
    params = smoke_params(list(QUAD_METHODS))
    param_names = ["method"]

    def setup(self, method):
        self.inputs = {"problem": quadratic_bilevel(10, 100, n_upper=1024, n_lower=1024,
                                                    seed=0)}
        self.solve = _quadratic(method)
        self.result = self.solve(self.inputs)["res"]

    def time_to_squared_hypergrad_1e6(self, method):
        self.solve(self.inputs)

    def track_iterations(self, method):
        return self.result.nit

    def track_squared_hypergrad_norm(self, method):
        return self.result.hypergrad_norm ** 2

    def track_oracle_calls_per_iteration(self, method):
        return self.result.n_oracle_calls / max(1, self.result.nit)


def ijcnn1_shaped(seed=0, n_train=49990, n_val=91701, n_test=20000, d=22):
    """Training, validation and test sets of ijcnn1's shapes, binary labels."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(-1, 1, d))
    w = rng.standard_normal(d) * (rng.random(d) < 0.5) * 2

    def draw(n):
        X = rng.standard_normal((n, d)) * scales
        logits = (X / scales) @ w - 2.2
        return X, (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)

    return draw(n_train), draw(n_val), draw(n_test)


def _log_loss(labels, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def numopt_tuning(d):
    """TunedLogisticRegression's tuning stage on the fixed training/validation split."""
    (Xt, yt), (Xv, yv) = d["train"], d["val"]
    problem = LogisticTuning(Xt, yt, Xv, yv)
    x0 = np.full(Xt.shape[1], -math.log(Xt.shape[0]))
    lo, hi = x0[0] - 12.0, x0[0] + 5.0
    y0 = problem.lower_solution(x0)
    grad = problem.hypergradient(x0, y0)[0]
    res = minimize_bilevel(problem, x0, y0, method="implicit", tol=1e-6, maxiter=10,
                           bounds=(lo, hi), outer_step=1.0 / np.linalg.norm(grad),
                           inner_solver="newton", inner_steps=1, implicit_solver="direct")
    W = problem.lower_solution(res.x, res.y)
    Xs = d["test"][0]
    p = 1 / (1 + np.exp(-(Xs @ W[:-1] + W[-1])))
    return {"val": problem.validation_loss(W), "test": _log_loss(d["test"][1], p)}


def sklearn_cv(d):
    from sklearn.linear_model import LogisticRegressionCV

    (Xt, yt), (Xv, yv), (Xs, ys) = d["train"], d["val"], d["test"]
    # log-loss scoring: the figure compares log losses (the default scores accuracy)
    model = LogisticRegressionCV(scoring="neg_log_loss").fit(Xt, yt)
    return {"val": _log_loss(yv, model.predict_proba(Xv)[:, 1]),
            "test": _log_loss(ys, model.predict_proba(Xs)[:, 1])}


class Ijcnn1Tuning(PeerBenchmark):
    timeout = 900
    repeat = (1, 3, 120.0)
    solvers = {"numopt": numopt_tuning, "logistic_regression_cv": sklearn_cv}

    def make_input(self):
        train, val, test = ijcnn1_shaped()
        return {"train": train, "val": val, "test": test}

    def time_numopt(self):
        self.run("numopt")

    def time_logistic_regression_cv(self):
        self.run("logistic_regression_cv")

    def track_validation_loss_numopt(self):
        return self.results["numopt"]["val"]

    def track_validation_loss_logistic_regression_cv(self):
        return self.results["logistic_regression_cv"]["val"]

    def track_test_loss_numopt(self):
        return self.results["numopt"]["test"]

    def track_test_loss_logistic_regression_cv(self):
        return self.results["logistic_regression_cv"]["test"]


def speedup_problem():
    """8 quadratic blocks (upper dimension 5, lower 10, 200 samples a level each), the
    start ``x0 = 2`` at hypergradient norm 4.3."""
    return MultiBlockBilevel([quadratic_bilevel(5, 10, n_upper=200, n_lower=200, seed=s)
                              for s in range(8)]), np.full(5, 2.0)


def bsvrb_iterations_to_eps(problem, x0, blocks, batch, steps, seeds=range(5)):
    """Iterations until the exact hypergradient norm is first at most SPEEDUP_EPS (checked
    every iteration; ``inf`` if not within SPEEDUP_MAXITER), one per seed."""
    scale = blocks * math.sqrt(batch / SPEEDUP_BATCHES[0]) if steps == "scaled" else 1.0
    counts = []
    for seed in seeds:
        res = minimize_bilevel(problem, x0, method="bsvrb", batch_size=batch,
                               blocks_per_iter=blocks, seed=seed, tol=SPEEDUP_EPS,
                               maxiter=SPEEDUP_MAXITER, certify_every=1,
                               outer_step=SPEEDUP_STEP * scale)
        counts.append(res.nit if res.success else math.inf)
    return counts


SPEEDUP_EPS, SPEEDUP_MAXITER, SPEEDUP_STEP = 0.2, 800, 0.01
SPEEDUP_BATCHES = [4, 16]


class BSVRBSpeedup:
    """BSVRB's parallel speedup: iterations to a hypergradient norm of 0.2 (from 4.3)
    against the blocks sampled per iteration I and the samples per block B, median of
    five seeds. ``steps="fixed"``: outer step 0.01 for every (I, B) (the largest that
    kept I = 1 stable: the MSVR correction weight (m - I) / (I (1 - alpha)) is 14.5
    there); ``"scaled"``: 0.01 I sqrt(B / 4), the step of the complexity bound
    O(m eps^-3 / (I sqrt(B))) (Hu et al. 2023). MSVR weight and STORM momentum 0.5."""

    params = smoke_params([1, 2, 4, 8], SPEEDUP_BATCHES, ["scaled", "fixed"])
    param_names = ["blocks_per_iter", "batch_size", "steps"]
    timeout = 600

    def setup(self, blocks, batch, steps):
        self.problem, self.x0 = speedup_problem()

    def track_median_iterations_to_eps(self, blocks, batch, steps):
        return float(np.median(bsvrb_iterations_to_eps(self.problem, self.x0, blocks, batch,
                                                       steps)))
