"""Demo rows for ``python -m numopt``: OT on random 2-D point clouds."""

from __future__ import annotations

import time

import numpy as np

from .._backend import synchronize, to_numpy
from .._demo import DemoRow, register_demo


@register_demo("ot", "sinkhorn log, reg 1e-3, 2-D clouds: marginals and duality gap")
def _demo_sinkhorn(xp):
    from ..problems._ot import random_ot_problem
    from ._api import emd, sinkhorn

    n = 300
    a, b, M = random_ot_problem(n, xp=xp)
    sinkhorn(a, b, M, 1e-3, method="log", maxiter=2)  # JIT warm-up
    start = time.perf_counter()
    res = sinkhorn(a, b, M, 1e-3, method="log", tol=1e-8)
    synchronize(xp)
    seconds = time.perf_counter() - start
    # error: L1 marginal error of the plan recomputed here from the returned potentials
    f, g, Mh = (np.asarray(to_numpy(x)) for x in (res.f, res.g, M))
    plan = np.exp((f[:, None] + g[None, :] - Mh) / 1e-3)
    ah, bh = np.asarray(to_numpy(a)), np.asarray(to_numpy(b))
    error = np.abs(plan.sum(1) - ah).sum() + np.abs(plan.sum(0) - bh).sum()
    exact = emd(ah, bh, Mh)
    assert res.cost >= exact.cost - 1e-12  # no plan beats the exact optimum
    return DemoRow(method="sinkhorn(log)", size=f"{n}x{n}", nit=res.nit, error=float(error),
                   reference="marginals of exp((f+g-M)/reg)", success=res.success,
                   seconds=seconds)


@register_demo("ot", "sinkhorn-newton-sparse vs log sinkhorn, reg 1e-3")
def _demo_sns(xp):
    from ..problems._ot import random_ot_problem
    from ._api import sinkhorn

    n = 300
    a, b, M = (np.asarray(to_numpy(x)) for x in random_ot_problem(n, xp=xp))
    sinkhorn(a, b, M, 1e-3, method="sns", maxiter=3)
    start = time.perf_counter()
    res = sinkhorn(a, b, M, 1e-3, method="sns", tol=1e-9)
    seconds = time.perf_counter() - start
    ref = sinkhorn(a, b, M, 1e-3, method="log", tol=1e-10)
    return DemoRow(method="sinkhorn(sns)", size=f"{n}x{n}", nit=res.nit,
                   error=float(np.abs(res.plan - ref.plan).sum()), reference="log sinkhorn",
                   success=res.success, seconds=seconds)
