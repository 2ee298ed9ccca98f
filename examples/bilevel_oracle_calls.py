"""Hypergradient norm against oracle calls for the methods of numopt.bilevel.

    python examples/bilevel_oracle_calls.py [--batch-size 64] [--out plot.png]

Runs the methods on benchopt's quadratic shape (inner
dimension 100, outer 10, 1024 samples a level), records after each iteration the
oracle calls spent so far (one call is one batch: a minibatch for SABA and SOBA, all
samples for the full-batch methods) and the exact hypergradient norm at the iterate (the
closed form of the quadratic's value function), prints the calls each method needed to
reach a squared norm of 1e-6, and (with --out) plots the curves.
"""

import argparse
import warnings

import numpy as np

from numopt.bilevel import minimize_bilevel, quadratic_bilevel

RUNS = (
    ("SABA (minibatches)", "saba", {"inner_step": 0.25, "outer_step": 0.2}, True),
    ("SOBA (minibatches)", "soba", {"inner_step": 0.25, "outer_step": 0.2}, True),
    ("SOBA (full batch)", "soba", {}, False),
    ("implicit + CG", "implicit", {}, False),
    ("penalty (double loop)", "penalty", {}, False),
    ("F2SA", "f2sa", {}, False),
    ("BO-REP", "borep", {"outer_step_decay": 0.97}, False),
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--maxiter", type=int, default=600)
    parser.add_argument("--out", default=None, help="save the plot here")
    args = parser.parse_args(argv)

    problem = quadratic_bilevel(10, 100, n_upper=1024, n_lower=1024, seed=0)
    curves = {}
    print(f"{'method':24s} {'calls to |grad F|^2 <= 1e-6':>28s} {'final |grad F|^2':>18s}")
    for label, method, options, stochastic in RUNS:
        trace = []

        def record(intermediate_result):
            norm = np.linalg.norm(problem.value_gradient(intermediate_result.x))
            trace.append((intermediate_result.n_oracle_calls, norm ** 2))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            minimize_bilevel(problem, np.zeros(10), method=method, tol=1e-3,
                             maxiter=args.maxiter, seed=0, callback=record,
                             batch_size=args.batch_size if stochastic else None, **options)
        curves[label] = trace
        reached = next((calls for calls, sq in trace if sq <= 1e-6), None)
        print(f"{label:24s} {str(reached) if reached else 'not reached':>28s} "
              f"{trace[-1][1]:18.2e}")

    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, trace in curves.items():
            calls, sq = zip(*trace)
            ax.loglog(calls, sq, label=label)
        ax.axhline(1e-6, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(f"oracle calls (gradients, HVPs, cross products; one call = one batch: "
                      f"{args.batch_size} samples for the minibatch runs, 1024 for the others)",
                      fontsize=8)
        ax.set_ylabel("squared hypergradient norm")
        ax.set_title("quadratic bilevel problem, dim_y=100, dim_x=10")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
