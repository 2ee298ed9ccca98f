"""``numopt.minimize(fun, x0, method="zo-ranksgd")``: ZO-RankSGD, driven by rankings.

Written from Tang, Rybin & Chang, "Zeroth-Order Optimization Meets Human Feedback:
Provable Learning via Ranking Oracles" (ICLR 2024). Each iteration

1. queries ``m = n_queries`` points ``x + mu xi_i`` (Gaussian ``xi_i``, regenerated
   from their keys) and asks an ``(m, k)``-ranking oracle for the ``k = top_k`` best,
   best first;
2. forms the rank-based estimate over the ranking graph,
   ``g = (1/|E|) sum_{(a better than b) in E} (xi_b - xi_a)``
   (:func:`~numopt.zeroth_order._estimates.rank_weights`);
3. line search: asks the oracle for the best of ``x`` itself and ``x - lr gamma^j g``
   (``j = 0 .. n_steps - 1``, ``gamma = shrink``), in that order, and moves there.

The oracle ranks by ``fun`` values (lower is better; the same batch for every point of
an iteration), or is the user's ``ranking(points) -> indices`` (``points`` stacked as
rows, best first; at least ``top_k`` indices for the queries, one for the line search),
and then ``fun`` is never called.

The paper keeps ``lr`` and ``mu`` fixed (``adapt=False``). With ``adapt=True`` (the
default) both are multiplied by ``shrink`` when the line search keeps ``x``, and
divided by it (up to their initial values) when it takes the longest step, so the
method can converge to a point rather than to a ``mu``-neighbourhood: this is numopt's
addition, not the paper's.
"""

from __future__ import annotations


import numpy as np

from .._loop import run_solver
from .._result import Status
from .._validation import check_flag, check_options, check_scalar
from ._common import MeasuredSolver
from ._estimates import draw_keys, rank_estimate
from ._validation import check_common, check_order, check_problem, check_ranking

DEFAULTS = {"lr": 1.0, "smoothing": 1e-2, "n_queries": 10, "top_k": 5, "n_steps": 5,
            "shrink": 0.5, "adapt": True, "ranking": None, "gtol": 1e-5,
            "maxiter": 10_000, "n_samples": None, "batch_size": None,
            "measure_every": None, "seed": 0, "check_every": None}


class _RankSGD(MeasuredSolver):
    def __init__(self, objective, x0, xp, *, lr, smoothing, n_queries, top_k, n_steps,
                 shrink, adapt, ranking, gtol, batch_size, measure_every, seed):
        self.objective, self.x0, self.xp = objective, x0, xp
        self.lr, self.smoothing, self.m, self.k = lr, smoothing, n_queries, top_k
        self.n_steps, self.shrink, self.adapt, self.ranking = n_steps, shrink, adapt, ranking
        self.gtol, self.batch_size, self.seed = gtol, batch_size, seed
        self.measurable = ranking is None
        self.measure_every = measure_every if self.measurable else 0
        info = np.finfo(np.float32 if x0.dtype == xp.float32 else np.float64)
        self.min_scale = float(info.eps)

    def start(self, st):
        st.update(scale=1.0, nrank=0, stalled=False)

    def _oracle(self, st, batch):
        """``rank(points, k) -> k indices, best first`` for this iteration."""
        def rank(points, k):
            st["nrank"] += 1
            if self.ranking is not None:
                return check_order(self.ranking(self.xp.stack(points)), len(points), k)
            values = np.array([self.objective.value(p, batch, owned=True) for p in points])
            values[~np.isfinite(values)] = np.inf     # a failed point ranks last
            return [int(i) for i in np.argsort(values, kind="stable")[:k]]
        return rank

    def advance(self, st):
        xp, x, rng = self.xp, st["x"], st["rng"]
        rank = self._oracle(st, self.objective.draw(rng, self.batch_size))
        keys = draw_keys(rng, self.m)
        g, _ = rank_estimate(xp, rank, x, keys, self.smoothing * st["scale"], self.k)
        lr = self.lr * st["scale"]
        # x first: a tie with x (a step too small to change f) keeps x
        candidates = [x] + [x - (lr * self.shrink ** j) * g for j in range(self.n_steps)]
        best = rank(candidates, 1)[0]
        st["x"] = candidates[best]
        if self.adapt:
            if best == 0:
                st["scale"] *= self.shrink
            elif best == 1:
                st["scale"] = min(1.0, st["scale"] / self.shrink)
            st["stalled"] = st["scale"] < self.min_scale

    def check(self, st):
        status = super().check(st)
        if status is None and st["stalled"]:
            return Status.STALLED
        return status

    def result(self, st):
        out = super().result(st)
        out["stats"] = {**out["stats"], "nrank": st["nrank"]}
        if not self.measurable:
            del out["fun"]
        return out

    def detail(self, st, status):
        text = super().detail(st, status)
        if status == Status.STALLED:
            text = (f"The line search kept x until the step scale fell below "
                    f"{self.min_scale:.1e}. " + text)
        return text


def minimize_ranksgd(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                     constraints=(), tol=None, callback=None, **options):
    """ZO-RankSGD: rank-based gradient estimates and a ranked line search.

    Options: ``lr`` (the longest line-search step, 1.0), ``smoothing`` (mu, 1e-2),
    ``n_queries`` (m, 10), ``top_k`` (k, 5), ``n_steps`` (line-search points, 5),
    ``shrink`` (their ratio gamma, 0.5), ``adapt`` (scale lr and mu with the line
    search's outcome; False: the paper's fixed values), ``ranking`` (the user's oracle;
    None: rank by ``fun``), ``gtol``, ``measure_every`` (central-difference
    measurements, as ``zo-sgd``; only when ranking by ``fun``), ``maxiter``,
    ``n_samples``, ``batch_size``, ``seed``, ``check_every``, ``disp``.
    """
    opts = check_options(options, DEFAULTS, "zo-ranksgd")
    xp, x0, objective = check_problem(fun, x0, args, opts["n_samples"])
    m = check_scalar(opts["n_queries"], "n_queries", low=2, integer=True,
                     integral_float=True)
    k = check_scalar(opts["top_k"], "top_k", low=1, high=m, integer=True,
                     integral_float=True)
    n_steps = check_scalar(opts["n_steps"], "n_steps", low=1, integer=True,
                           integral_float=True)
    common = check_common(opts, objective, tol, x0.shape[0], m + n_steps + 1)
    solver = _RankSGD(objective, x0, xp, lr=common["lr"],
                      smoothing=check_scalar(opts["smoothing"], "smoothing", low=0,
                                             low_open=True),
                      n_queries=m, top_k=k, n_steps=n_steps,
                      shrink=check_scalar(opts["shrink"], "shrink", low=0, high=1,
                                          low_open=True, high_open=True),
                      adapt=check_flag(opts["adapt"], "adapt"),
                      ranking=check_ranking(opts["ranking"]), gtol=common["gtol"],
                      batch_size=common["batch_size"], measure_every=common["measure_every"],
                      seed=common["seed"])
    return run_solver(solver, maxiter=common["maxiter"], callback=callback,
                      disp=opts["disp"], check_every=opts["check_every"], xp=xp)


__all__ = ["minimize_ranksgd"]
