"""Plot a transport plan and the marginal error against time for numopt.ot's methods.

    python examples/ot_plot.py --out ot.png

Runs in a few seconds (n = 300 points per cloud, reg = 1e-3 where the kernel form
cannot run). The left panel draws the sparse-OT plan (k = 2) as segments between the
clouds; the right panel the L1 marginal error of each method against wall time.
"""

import argparse
import time

import numpy as np

from numopt.ot import sinkhorn, sparse_ot
from numopt.problems._ot import random_ot_problem, random_point_clouds


def error_trace(method, a, b, M, reg, **kwargs):
    """(seconds, marginal error) after each convergence check, through the callback."""
    trace = []
    start = time.perf_counter()

    def record(intermediate_result):
        error = intermediate_result.marginal_error
        trace.append((time.perf_counter() - start, float(np.max(error))))

    res = sinkhorn(a, b, M, reg, method=method, tol=1e-9, callback=record, **kwargs)
    trace.append((time.perf_counter() - start, float(res.marginal_error)))
    return np.array(trace), res


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None, help="save the figure to this path")
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()

    n = args.n
    a, b, M = random_ot_problem(n)
    Xs, Xt = random_point_clouds(n)
    # warm the JIT so the traces time the iterations, not compilation
    for method in ("log", "sns"):
        sinkhorn(a, b, M, 1e-3, method=method, maxiter=3)
    runs = {
        "kernel, reg=1e-2": error_trace("kernel", a, b, M, 1e-2),
        "log, reg=1e-3": error_trace("log", a, b, M, 1e-3),
        "sns, reg=1e-3": error_trace("sns", a, b, M, 1e-3),
    }
    sparse = sparse_ot(a, b, M, 2)
    for name, (trace, res) in runs.items():
        print(f"{name:18s} nit={res.nit:5d} time={trace[-1, 0]:.3f} s "
              f"marginal error={res.marginal_error:.1e} success={res.success}")
    print(f"sparse_ot k=2       nnz={sparse.plan.nnz} marginal error="
          f"{sparse.marginal_error:.1e} success={sparse.success}")

    if args.out is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
    plan = sparse.plan.tocoo()
    for i, j, w in zip(plan.row, plan.col, plan.data):
        left.plot([Xs[i, 0], Xt[j, 0]], [Xs[i, 1], Xt[j, 1]], color="0.5",
                  alpha=min(1.0, w * n), linewidth=0.8)
    left.scatter(*Xs.T, s=8, label="source")
    left.scatter(*Xt.T, s=8, label="target")
    left.set_title(f"sparse_ot plan, k = 2 ({plan.nnz} nonzeros)")
    left.legend(loc="upper right")
    for name, (trace, _) in runs.items():
        right.semilogy(trace[:, 0], np.maximum(trace[:, 1], 1e-16), label=name)
    right.axhline(1e-9, color="k", linestyle=":", linewidth=0.8)
    right.set_xlabel("time [s]")
    right.set_ylabel("L1 marginal error")
    right.set_title(f"Sinkhorn variants, n = {n}")
    right.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
