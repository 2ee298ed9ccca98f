"""Demo row for ``python -m numopt``: HS 7 (Hock & Schittkowski), closed-form solution."""

from __future__ import annotations

import math
import time

import numpy as np

from .._demo import DemoRow, register_demo
from ._api import minimize_eq


def hs7():
    """``min log(1 + x1^2) - x2  s.t.  (1 + x1^2)^2 + x2^2 = 4``, ``x0 = (2, 2)``;
    ``x* = (0, sqrt 3)``, ``f* = -sqrt 3``."""
    return {
        "fun": lambda x: math.log1p(x[0] ** 2) - x[1],
        "jac": lambda x: np.array([2 * x[0] / (1 + x[0] ** 2), -1.0]),
        "hess": lambda x: np.array([[2 * (1 - x[0] ** 2) / (1 + x[0] ** 2) ** 2, 0.0],
                                    [0.0, 0.0]]),
        "constraints": {"type": "eq",
                        "fun": lambda x: np.array([(1 + x[0] ** 2) ** 2 + x[1] ** 2 - 4]),
                        "jac": lambda x: np.array([[4 * x[0] * (1 + x[0] ** 2),
                                                    2 * x[1]]])},
        "x0": np.array([2.0, 2.0]), "x_star": np.array([0.0, math.sqrt(3.0)]),
    }


@register_demo("constrained", "HS7 by newton-sketch (sketched KKT solves)")
def _demo_hs7(xp):
    p = hs7()
    start = time.perf_counter()
    res = minimize_eq(p["fun"], p["x0"], jac=p["jac"], hess=p["hess"],
                      constraints=p["constraints"], tol=1e-10, seed=0)
    seconds = time.perf_counter() - start
    return DemoRow(method="minimize_eq (newton-sketch)", size="n=2 m=1", nit=res.nit,
                   error=float(np.max(np.abs(res.x - p["x_star"]))),
                   reference="closed form x* = (0, sqrt 3)", success=bool(res.success),
                   seconds=seconds)
