"""What the zeroth-order solvers share: the success measure and the loop contract's
``check``, ``result`` and ``detail``.

Success is measured on the full objective: the largest entry of its central-difference
gradient at ``x`` (:func:`~._estimates.central_difference_gradient`, ``2 d``
evaluations) at most ``gtol``. It is taken inside ``step`` every ``measure_every``
iterations (0: never), so results do not depend on how often the loop checks, and the
run can succeed only at a measured iterate: the one it returns.
"""

from __future__ import annotations

import math

from .._result import Status
from .._validation import check_seed
from ._estimates import central_difference_gradient

__all__ = ["MeasuredSolver"]


class MeasuredSolver:
    """Base of the zeroth-order ``run_solver`` objects. Subclasses set ``self.objective``,
    ``self.x0``, ``self.xp``, ``self.gtol``, ``self.measure_every``, ``self.seed`` and
    ``self.measurable`` (False when only a ranking oracle is known), and define
    ``advance(st)`` (one iteration on the state dict).

    The state: ``x``, ``t`` (iterations taken), ``rng``, ``f`` (the full objective at
    the last measurement, or at ``x0``), ``optimality`` (``max |g|`` there; inf before
    the first), ``measured_at`` (its iteration; None before the first) and
    ``nonfinite`` (an evaluation returned NaN or inf)."""

    measurable = True

    def _full_value(self, y):
        return self.objective.value(y, self.objective.full_batch(), owned=True)

    def init(self):
        xp = self.xp
        x = xp.asarray(self.x0, copy=True)
        f = self.objective.value(x, self.objective.full_batch()) if self.measurable else None
        st = {"x": x, "t": 0, "rng": check_seed(self.seed), "f": f,
              "optimality": math.inf, "measured_at": None,
              "nonfinite": f is not None and not math.isfinite(f)}
        self.start(st)
        return st

    def start(self, st):
        """Subclass hook: more of the initial state."""

    def step(self, st):
        self.advance(st)
        st["t"] += 1
        if self.measurable and self.measure_every and st["t"] % self.measure_every == 0:
            self.measure(st)
        return st

    def measure(self, st):
        xp = self.xp
        g = central_difference_gradient(xp, self._full_value, st["x"])
        st["optimality"] = float(xp.max(xp.abs(g)))
        st["f"] = self.objective.value(st["x"], self.objective.full_batch())
        st["measured_at"] = st["t"]
        if not (math.isfinite(st["optimality"]) and math.isfinite(st["f"])):
            st["nonfinite"] = True

    def _converged(self, st):
        return st["measured_at"] == st["t"] and st["optimality"] <= self.gtol

    def check(self, st):
        if st["nonfinite"]:
            return Status.NONFINITE
        if self._converged(st):
            return Status.SUCCESS
        return None

    def result(self, st):
        return {"x": st["x"], "fun": st["f"], "optimality": st["optimality"],
                "measured_at": st["measured_at"], "stats": self.objective.stats()}

    def detail(self, st, status):
        if self._converged(st):
            return ""
        if st["nonfinite"]:
            return "fun returned NaN or inf."
        if not self.measurable:
            return ("Only a ranking oracle was given: without function values nothing "
                    "certifies a minimizer.")
        if st["measured_at"] is None:
            return ("The gradient was never measured (measure_every = "
                    f"{self.measure_every}, {st['t']} iterations).")
        where = "" if st["measured_at"] == st["t"] else \
            f" (measured at iteration {st['measured_at']})"
        return (f"The largest central-difference gradient entry {st['optimality']:.3e} "
                f"is above gtol {self.gtol:.3e}{where}.")
