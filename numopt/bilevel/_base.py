"""What every bilevel method shares: the state, step sizes, sampling, projection, and
the certified stop.

A method supplies ``start(x, y) -> aux`` and ``update(state) -> (x, y, aux, direction)``
(``direction`` is its raw hypergradient estimate at the iterate it started from). The
stop is decided in ``step`` on the iterate just produced, every ``certify_every``
iterations and whenever the method's own estimate falls below ``tol``: the exact
hypergradient norm (lower level solved to 1e-13, the implicit system by CG, both in
float64 through the uncounted oracles, at ``x`` rounded to the caller's dtype) must meet
``tol``. A stochastic estimate alone never declares success.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

import numpy as np

from .._result import Status
from .._validation import check_seed

__all__ = ["BilevelState", "BilevelSolver", "storm"]

MINIBATCH_STEP_FACTOR = 0.25


@dataclass
class BilevelState:
    x: np.ndarray
    y: np.ndarray
    aux: dict
    t: int = 0
    counts: dict = field(default_factory=dict)   # oracle calls by kind, this run
    direction: np.ndarray | None = None
    certified: float = math.nan      # exact hypergradient (mapping) norm at x, if known
    fun: float = math.nan
    stop: Status | None = None


def storm(new, old, previous, beta):
    """STORM / MSVR-style recursive momentum: ``new + (1 - beta) (previous - old)``,
    the plain estimate ``new`` at the first iteration (``previous is None``)."""
    if previous is None:
        return new
    return new + (1.0 - beta) * (previous - old)


class BilevelSolver:
    """init/step(_many)/check/result/detail for :func:`numopt._loop.run_solver`."""

    method = ""
    single_loop = True

    def __init__(self, problem, x0, y0, *, tol, seed, batch_size, dtype, options):
        self.problem = problem
        self.x0, self.y0 = np.asarray(x0, dtype=float), np.asarray(y0, dtype=float)
        self.tol, self.batch_size, self.dtype = tol, batch_size, dtype
        self.options = options
        self.rng = check_seed(seed)
        self.bounds = options["bounds"]
        self.certify_every = options["certify_every"]
        L, mu = self._lower_constants(problem, self.x0, self.y0)
        self.lower_smoothness, self.lower_strong_convexity = L, mu
        # minibatch curvature exceeds the mean's: a quarter of 1/L_g kept SABA stable
        # down to batches of 64 on a 100-dimensional quadratic where 1/L_g diverged
        self.inner_step = options["inner_step"] or \
            (1.0 if batch_size is None else MINIBATCH_STEP_FACTOR) / L
        value_L = problem.value_smoothness or L
        # a single-loop method tracks y*(x) at the rate mu/L per iteration: x must move
        # no faster (1/L_F diverged on the same quadratic)
        factor = mu / L if self.single_loop else 1.0
        self.outer_step = options["outer_step"] or factor / value_L

    @staticmethod
    def _lower_constants(problem, x, y):
        at = getattr(problem, "lower_smoothness_at", None)
        if at is not None and problem.lower_smoothness is None:
            return at(x)
        return problem.estimate_lower_smoothness(x, y)

    # -- helpers for the methods ---------------------------------------------------------
    def sample(self, n, size=None):
        """A batch of ``size`` (default ``batch_size``) indices of ``n`` samples, drawn
        with replacement; ``None`` (all samples) in the full-batch mode."""
        size = self.batch_size if size is None else size
        if size is None or n == 1:
            return None
        return self.rng.integers(0, n, size)

    def project(self, x):
        if self.bounds is None:
            return x
        return np.clip(x, self.bounds[0], self.bounds[1])

    def as_returned(self, x):
        """``x`` as the caller gets it (rounded to the dtype of ``x0``), in float64."""
        return np.asarray(x, dtype=self.dtype).astype(float)

    # -- the contract --------------------------------------------------------------------
    def init(self):
        before = collections.Counter(self.problem.calls)
        aux = self.start(self.x0.copy(), self.y0.copy())
        return BilevelState(x=self.x0.copy(), y=self.y0.copy(), aux=aux,
                            counts=dict(collections.Counter(self.problem.calls) - before))

    def step(self, state):
        before = dict(self.problem.calls)
        x, y, aux, direction = self.update(state)
        # plain dicts: a Counter copy per iteration cost more than SABA's kernel
        counts = dict(state.counts)
        for kind, total in self.problem.calls.items():
            counts[kind] = counts.get(kind, 0) + total - before.get(kind, 0)
        new = BilevelState(x=x, y=y, aux=aux, t=state.t + 1, counts=counts,
                           direction=direction)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            new.stop = Status.NONFINITE
            return new
        # (an overflow to inf only skips this early check)
        estimate = math.sqrt(float(direction @ direction)) if direction is not None \
            else math.inf
        if new.t % self.certify_every == 0 or estimate <= self.tol:
            new.certified, new.fun = self._certify(x, y)
            if new.certified <= self.tol:
                new.stop = Status.SUCCESS
            elif not math.isfinite(new.certified):
                new.stop = Status.NONFINITE
        return new

    def _certify(self, x, y):
        """``(measure, F(x))`` at the returned ``x``: ``||grad F(x)||``, or with bounds
        the norm of the projected-gradient mapping ``x - P(x - grad F(x))``."""
        x = self.as_returned(x)
        grad, _, fun = self.problem.hypergradient(x, y)
        if self.bounds is not None:
            grad = x - self.project(x - grad)
        return float(np.linalg.norm(grad)), fun

    def step_many(self, state, budget):
        ran = 0
        while ran < budget and state.stop is None:
            state = self.step(state)
            ran += 1
        return state, ran

    def check(self, state):
        return state.stop

    def _measure(self, state):
        if math.isnan(state.certified):
            return self._certify(state.x, state.y)
        return state.certified, state.fun

    def result(self, state):
        measure, fun = self._measure(state)
        direction = state.direction
        fields = {"x": np.asarray(state.x, dtype=self.dtype),
                  "y": np.asarray(state.y, dtype=self.dtype), "fun": fun,
                  "hypergrad_norm": measure,
                  "hypergrad_estimate": None if direction is None else direction.copy(),
                  "method": self.method}
        counts = state.counts
        fields["stats"] = {"n_grad": counts.get("grad", 0), "n_hvp": counts.get("hvp", 0),
                           "n_cross": counts.get("cross", 0),
                           "n_value": counts.get("value", 0),
                           "n_hessian": counts.get("hessian", 0),
                           "n_oracle_calls": int(sum(counts.values()))}
        return fields

    def detail(self, state, status):
        measure = self._measure(state)[0]
        if status == Status.SUCCESS or measure <= self.tol:
            return None
        name = "projected hypergradient norm" if self.bounds is not None else \
            "hypergradient norm"
        return f"The {name} {measure:.3g} > tol={self.tol:.3g} after {state.t} iterations."
