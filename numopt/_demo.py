"""The demo registry behind ``python -m numopt``.

Each problem package registers one function per gallery problem::

    @register_demo("ot", "sinkhorn log, 2-D clouds")
    def _demo_sinkhorn(xp): ...   # returns a DemoRow

The function builds a gallery problem in namespace ``xp`` (NumPy, or CuPy with
``--gpu``), solves it, and measures the error against an independent reference.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemoRow", "register_demo", "list_demos"]


@dataclass
class DemoRow:
    """One line of the demo table. ``error`` is measured against ``reference``."""

    method: str
    size: str
    nit: int
    error: float
    reference: str
    success: bool
    seconds: float | None = None  # solve time, if the demo measured it without setup


_DEMOS: list = []


def register_demo(problem_class: str, title: str):
    """Register the decorated ``func(xp) -> DemoRow`` as a demo of ``problem_class``."""

    def decorate(func):
        if not any(d[2] is func for d in _DEMOS):
            _DEMOS.append((problem_class, title, func))
        return func

    return decorate


def list_demos() -> list:
    """``(problem_class, title, func)`` for every registered demo, all packages loaded."""
    from ._registry import load_all

    load_all()
    return list(_DEMOS)


@register_demo("minimize", "Rosenbrock through numopt.minimize")
def _demo_minimize(xp):
    # numopt.minimize hands SciPy's methods to SciPy: the demo shows the front door.
    import time

    import numpy as np

    from ._minimize import minimize
    from .problems import rosenbrock

    problem = rosenbrock(10)
    start = time.perf_counter()
    res = minimize(problem["fun"], problem["x0"], method="BFGS", jac=problem["jac"],
                   options={"gtol": 1e-10})
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(res.x - problem["x_star"])))
    return DemoRow(method="minimize BFGS (SciPy)", size="n=10", nit=res.nit, error=error,
                   reference="closed form x*=1", success=bool(res.success), seconds=seconds)
