"""Sinkhorn log / SNS on POT's 1-D example at small reg (issue 16, item 5): success,
iterations, error and the median of REPS wall times per (reg, method).

    REPS=3 python asv_benchmarks/ot_small_reg_figures.py log,sns 1e-2,1e-3,1e-4,1e-5

CASE=b takes POT's test_sinkhorn_stabilization input (30/10 and 40/10) instead of the
example's 20/5 and 60/10. Costs are ot.utils.dist0(100), up to 9801 (not normalized).
"""

import os
import sys
import time

import numpy as np
import ot

from numopt.ot import sinkhorn

n = 100
if os.environ.get("CASE") == "b":
    a, b = ot.datasets.make_1D_gauss(n, m=30, s=10), ot.datasets.make_1D_gauss(n, m=40, s=10)
else:
    a, b = ot.datasets.make_1D_gauss(n, m=20, s=5), ot.datasets.make_1D_gauss(n, m=60, s=10)
M = ot.utils.dist0(n)
methods = sys.argv[1].split(",") if len(sys.argv) > 1 else ["log", "sns"]
regs = [float(r) for r in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1e-2, 1e-3, 1e-4, 1e-5]
reps = int(os.environ.get("REPS", "3"))
sinkhorn(a[:10] / a[:10].sum(), b[:10] / b[:10].sum(), M[:10, :10], 1.0, method="log")  # JIT
for reg in regs:
    for method in methods:
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            res = sinkhorn(a, b, M, reg, method=method)
            times.append(time.perf_counter() - start)
        extra = {k: res.get(k) for k in ("nit_newton", "nit_sinkhorn_fallback", "nit_warmup",
                                          "cg_iterations") if k in res}
        print(f"reg={reg:g} {method}: success={res.success} nit={res.nit} "
              f"err={res.marginal_error:.2e} median={np.median(times):.3f}s {extra} "
              f"{res.message[:120]}")
