"""Residual against component calls for numopt.monotone's methods on the two problems of
Cai, Alacaoglu & Diakonikolas (ICLR 2024), with the authors' step sizes.

    PYTHONPATH=. python examples/monotone_residual_curves.py --epochs 300 --out curves.png

Left: the Policeman-Burglar game (``n = 500``, the authors' instance: ``seed=1``, their
``w * C``) with its two simplices; right: the Ouyang-Xu min-max quadratic (``n = 200``, unconstrained).
Each curve is the operator residual (``numopt.monotone.solve_inclusion``'s stopping
measure) at every check, against epochs (component calls / n). Prints the residual
each method reaches at the budget.
"""

import argparse
import pathlib
import sys

import numpy as np

import numopt.monotone as mono

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "asv_benchmarks"))
from benchmarks.monotone import game_problem, quadratic_problem  # noqa: E402

METHODS = ("extragradient", "eag", "halpern", "vr-eg", "vr-halpern", "inexact-halpern")
LABELS = {"extragradient": "EG", "eag": "EAG", "halpern": "Halpern", "vr-eg": "VR-EG",
          "vr-halpern": "Algorithm 1", "inexact-halpern": "Algorithm 2"}


def curve(problem, method, epochs):
    trace = []

    def record(intermediate_result):
        trace.append((intermediate_result.epochs, intermediate_result.residual))
        if intermediate_result.epochs >= epochs:
            raise StopIteration

    mono.solve_inclusion(problem["op"], problem["z0"], prox=problem["prox"], method=method,
                         tol=0.0, maxiter=10**7, seed=0, callback=record,
                         **problem["steps"][method])
    return np.array(trace)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=300)
    parser.add_argument("--n-game", type=int, default=500)
    parser.add_argument("--n-quadratic", type=int, default=200)
    parser.add_argument("--out", default=None, help="save the figure to this path")
    args = parser.parse_args()
    problems = {"Policeman-Burglar": game_problem(args.n_game),
                "Ouyang-Xu quadratic": quadratic_problem(args.n_quadratic)}
    curves = {}
    for title, problem in problems.items():
        for method in METHODS:
            trace = curve(problem, method, args.epochs)
            curves[title, method] = trace
            print(f"{title:20s} {LABELS[method]:12s} residual {trace[-1, 1]:.3e} after "
                  f"{trace[-1, 0]:.0f} epochs", flush=True)
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, title in zip(axes, problems):
            for method in METHODS:
                trace = curves[title, method]
                ax.semilogy(trace[:, 0], trace[:, 1], label=LABELS[method])
            ax.set_title(title)
            ax.set_xlabel("epochs (component calls / n)")
            ax.set_ylabel("operator residual")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
