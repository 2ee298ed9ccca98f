"""What every monotone-inclusion solver shares: the settings, the stop on a measure
(the operator residual, or a game's duality gap), and the result fields."""

from __future__ import annotations

import math

from .._result import Status

__all__ = ["InclusionSolver"]


class InclusionSolver:
    """Base of the solvers (the contract of ``numopt._loop``). A state is a dict with at
    least ``z`` (the iterate returned) and ``ncalls`` (component calls the method made),
    and ``Fz`` (``F(z)``) where the method has it. The stopping measure is computed from
    ``z`` when the loop checks, not in ``step``: on a GPU each measure is a device-to-host
    sync, and the loop checks every ``gpu_check_every`` iterations there. Its own full
    evaluations are not counted in ``ncalls``."""

    def __init__(self, xp, op, prox, z0, *, tol, measure, step):
        self.xp, self.op, self.prox, self.z0 = xp, op, prox, z0
        self.tol, self.measure, self.step_size = tol, measure, step
        self.n = op.n_components

    def measure_of(self, state):
        return self.measure(state["z"], state.get("Fz"))

    def check(self, state):
        value = self.measure_of(state)
        if not math.isfinite(value):
            return Status.NONFINITE
        if value <= self.tol:
            return Status.SUCCESS
        return None

    def result(self, state):
        return {"x": state["z"], self.measure.name: self.measure_of(state),
                "stats": {"ncalls": int(state["ncalls"]),
                          "epochs": state["ncalls"] / self.n}}

    def detail(self, state, status):
        if status in (Status.MAXITER, Status.CALLBACK_STOP):
            return (f"({self.measure.name} {self.measure_of(state):.3g} > tol {self.tol:.3g} "
                    f"after {state['ncalls'] / self.n:.4g} epochs)")
        return ""
