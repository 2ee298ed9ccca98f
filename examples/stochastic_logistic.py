"""Compare the stochastic methods of numopt.minimize on a logistic regression.

    python examples/stochastic_logistic.py [--epochs 30] [--batch 32] [--out plot.png]

L2-regularized logistic regression on scikit-learn's breast-cancer data (569 samples,
30 features plus an intercept column), with index-batch objectives. Every method runs
from w = 0 with the same seed and the same budget of epochs; the script prints the final
loss gap to scikit-learn's LogisticRegression (lbfgs, tight tolerance) on the same loss,
the relative error of the weights, the samples touched and the time, and (with --out)
saves the loss gap per epoch.
"""

import argparse
import time

import numpy as np

import array_api_compat.numpy as xp

import numopt
from numopt.problems import logistic_finite_sum

# per-method learning rates, tuned once on this problem (a coarse grid of 0.003-1)
METHODS = {
    "adabelief": {"lr": 0.01},
    "adabelief (rectify=False)": {"lr": 0.01, "rectify": False},
    "diffgrad": {"lr": 0.01},
    "adahessian": {"lr": 0.03},
    "adadagrad": {"lr": 0.5, "variance_groups": 8},
    "adadagradnorm": {"lr": 1.0, "variance_groups": 8},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", default=None, help="save the convergence plot here")
    args = parser.parse_args(argv)

    fun, jac, hessp, n, dim, w_ref = logistic_finite_sum(xp)
    full = np.arange(n)
    f_ref = fun(w_ref, full)
    steps = args.epochs * -(-n // args.batch)
    print(f"breast cancer: {n} samples, {dim} weights; batch {args.batch}, {steps} steps "
          f"({args.epochs} epochs at the first batch size); F* = {f_ref:.6f}")
    print(f"{'method':>26} {'F - F*':>10} {'|w - w*|/|w*|':>14} {'samples':>9} "
          f"{'steps':>6} {'seconds':>8}  success")
    curves = {}
    for label, options in METHODS.items():
        method = label.split()[0]
        gaps = []

        def record(intermediate_result):
            gaps.append(intermediate_result.fun - f_ref)

        # a one-step run first: Numba's compilation (or cache load) stays out of the time
        numopt.minimize(fun, np.zeros(dim), method=method, jac=jac,
                        hessp=hessp if method == "adahessian" else None,
                        options={"n_samples": n, "maxiter": 1, **options})
        start = time.perf_counter()
        res = numopt.minimize(fun, np.zeros(dim), method=method, jac=jac,
                              hessp=hessp if method == "adahessian" else None, tol=1e-4,
                              callback=record,
                              options={"n_samples": n, "batch_size": args.batch,
                                       "seed": 0, "maxiter": steps, **options})
        seconds = time.perf_counter() - start
        curves[label] = gaps
        err = np.linalg.norm(res.x - w_ref) / np.linalg.norm(w_ref)
        print(f"{label:>26} {fun(res.x, full) - f_ref:10.2e} {err:14.2e} "
              f"{res.nsamples:9d} {res.nit:6d} {seconds:8.2f}  {res.success}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for label, gaps in curves.items():
            ax.semilogy(np.maximum(gaps, 1e-16), label=label)
        ax.set_xlabel("check (one epoch at the first batch size)")
        ax.set_ylabel("F(w) - F*")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
