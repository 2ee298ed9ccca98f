"""Complete a random incoherent low-rank matrix from 5% of its entries.

    python examples/completion_demo.py [--m 1500] [--rank 8] [--rate 0.05] [--out plot.png]

Runs the three methods of numopt.completion on the same observations, prints the
error on all entries against the ground truth and the time, and (with --out) saves the
convergence curves (relative training residual against time).
"""

import argparse
import time

import numpy as np

from numopt.completion import MatrixCompleter, complete
from numopt.problems import random_low_rank_completion


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=1500)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--out", default=None, help="save the convergence plot here")
    args = parser.parse_args(argv)

    prob = random_low_rank_completion(args.m, rank=args.rank, rate=args.rate, seed=0)
    print(f"{args.m}x{args.m}, rank {args.rank}, {prob.observed.nnz} observed entries "
          f"({100 * prob.rate:.1f}%)")
    curves = {}
    # altmin's "auto" row solver is exact below rank 32: the sketched one is run too
    runs = (("altmin", "altmin", 100, {}),
            ("altmin sketched", "altmin", 100, {"row_solver": "sketched"}),
            ("als", "als", 100, {}), ("softimpute", "softimpute", 200, {}))
    for label, method, maxiter, options in runs:
        complete(prob.observed, args.rank, method=method, maxiter=1, **options)  # JIT warm-up
        trace = []
        start = time.perf_counter()
        res = complete(prob.observed, args.rank, method=method, tol=1e-10, maxiter=maxiter,
                       seed=0, callback=lambda intermediate_result: trace.append(
                           (time.perf_counter() - start,
                            intermediate_result.relative_residual)), **options)
        seconds = time.perf_counter() - start
        curves[label] = trace
        print(f"  {label:16s} {seconds:6.2f} s  {res.nit:4d} iterations  error on all "
              f"entries {prob.relative_error(res.U, res.V):.1e}  training RMSE {res.rmse:.1e}")

    # The estimator fills the NaN entries of a dense matrix, like an imputer.
    small = random_low_rank_completion(200, rank=3, rate=0.3, seed=1)
    filled = MatrixCompleter(3, tol=1e-10, random_state=0).fit_transform(small.dense_with_nan())
    print(f"MatrixCompleter on 200x200 with NaN: max error "
          f"{np.abs(filled - small.dense()).max():.1e}")

    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for method, trace in curves.items():
            t, err = zip(*trace)
            ax.semilogy(t, err, label=method)
        ax.set_xlabel("time [s]")
        ax.set_ylabel("relative training residual")
        ax.set_title(f"{args.m}x{args.m}, rank {args.rank}, {100 * prob.rate:.0f}% observed")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
