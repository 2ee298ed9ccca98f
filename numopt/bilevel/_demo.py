"""Demo rows for ``python -m numopt``: a quadratic bilevel problem with a closed-form
value function (benchopt's shape: inner dimension 100, outer 10)."""

from __future__ import annotations

import time

import numpy as np

from .._demo import DemoRow, register_demo
from ._api import minimize_bilevel
from ._problems import quadratic_bilevel


def _run(method, **kwargs):
    problem = quadratic_bilevel(10, 100, n_upper=1024, n_lower=1024, seed=0)
    start = time.perf_counter()
    res = minimize_bilevel(problem, np.zeros(10), method=method, tol=1e-6, maxiter=5000,
                           seed=0, **kwargs)
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(res.x - problem.solution())))
    size = "dim_x=10 dim_y=100 n=1024" + (f" batch={kwargs['batch_size']}"
                                          if "batch_size" in kwargs else "")
    return DemoRow(method=f"minimize_bilevel({method})", size=size, nit=res.nit,
                   error=error, reference="closed-form x* of the quadratic value function",
                   success=bool(res.success), seconds=seconds)


@register_demo("bilevel", "SABA, quadratic bilevel problem, minibatches of 64")
def _demo_saba(xp):
    return _run("saba", batch_size=64)


@register_demo("bilevel", "penalty method (first order, double loop), same problem")
def _demo_penalty(xp):
    return _run("penalty")
