"""Demo rows for ``python -m numopt``: completion of a random incoherent low-rank matrix."""

from __future__ import annotations

import time

from .._demo import DemoRow, register_demo
from ..problems._completion import random_low_rank_completion
from ._api import complete


def _run(xp, method, m, rank, rate, **options):
    prob = random_low_rank_completion(m, rank=rank, rate=rate, seed=0)
    complete(prob.observed, rank, method=method, maxiter=1, seed=0, **options)  # JIT warm-up
    start = time.perf_counter()
    res = complete(prob.observed, rank, method=method, tol=1e-10, seed=0, **options)
    seconds = time.perf_counter() - start
    label = ", ".join([method, *options.values()])   # e.g. "altmin, sketched"
    return DemoRow(method=f"complete({label})", size=f"{m}x{m} k={rank} |Omega|={prob.observed.nnz}",
                   nit=res.nit, error=prob.relative_error(res.U, res.V),
                   reference="ground truth U V^T (relative Frobenius, all entries)",
                   success=res.success, seconds=seconds)


@register_demo("completion", "robust alternating minimization, 1000x1000 rank 5, 5% observed")
def _demo_altmin(xp):
    # the sketched row solve forced: at rank 5 "auto" would solve the rows exactly
    return _run(xp, "altmin", 1000, 5, 0.05, row_solver="sketched")


@register_demo("completion", "exact ALS baseline, same problem")
def _demo_als(xp):
    return _run(xp, "als", 1000, 5, 0.05)
