"""Learning the SOR relaxation parameter across a sequence of shifted Poisson systems.

The setting of "Learning to Relax" (Khodak et al., ICLR 2024): A_t = A + c_t I on a
10 x 10 grid, c_t = -0.15 + 0.6 Beta(a, b), SOR to relative residual 1e-8. It compares
Tsallis-INF (context-free), the two contextual learners (context c_t), every fixed
omega of the grid (the best one in hindsight) and the instance-optimal omega, prints
the totals and, with --out, plots iterations against instance index.

    python examples/linalg_learned_omega.py                 # 300 instances, seconds
    python examples/linalg_learned_omega.py -n 5000 --variance high --out omega.png
"""

import argparse
import json
import time

import numpy as np

from numopt.linalg import RelaxationLearner, solve_sequence, sor
from numopt.problems import shifted_poisson_sequence

POLICIES = ("tsallis_inf", "binned_tsallis_inf", "chebyshev_cb")


def run(n_instances, variance, seed, tol=1e-8, cache=None):
    systems = shifted_poisson_sequence(n_instances, variance=variance, seed=seed)
    grid = np.linspace(1.0, 1.95, 20)
    start = time.perf_counter()
    try:
        fixed = np.load(cache) if cache else None
    except OSError:
        fixed = None
    if fixed is None or fixed.shape != (n_instances, grid.size):
        fixed = np.array([[sor(s.A, s.b, omega=w, tol=tol).nit for w in grid]
                          for s in systems])
        if cache:
            np.save(cache, fixed)
    fixed_seconds = time.perf_counter() - start
    learned = {}
    for policy in POLICIES:
        learner = RelaxationLearner("sor", policy=policy, omegas=grid, tol=tol,
                                    context_range=(-0.15, 0.45), seed=seed + 1)
        learned[policy] = solve_sequence(systems, learner).nits
    best = int(np.argmin(fixed.sum(axis=0)))
    summary = {
        "n_instances": n_instances, "variance": variance,
        "best_fixed_omega": float(grid[best]),
        "best_fixed_total": int(fixed[:, best].sum()),
        "omega_1_total": int(fixed[:, 0].sum()),
        "instance_optimal_total": int(fixed.min(axis=1).sum()),
        "fixed_grid_seconds": round(fixed_seconds, 1),
    }
    for policy, nits in learned.items():
        summary[f"{policy}_total"] = int(nits.sum())
        summary[f"{policy}_ratio_to_best_fixed"] = round(nits.sum() / fixed[:, best].sum(), 4)
    return grid, fixed, learned, summary


def plot(grid, fixed, learned, summary, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = max(1, len(fixed) // 50)

    def smooth(v):
        return np.convolve(v, np.ones(window) / window, mode="valid")

    best = int(np.argmin(fixed.sum(axis=0)))
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(smooth(fixed[:, 0]), "--", label="fixed $\\omega$ = 1 (Gauss-Seidel)")
    ax.plot(smooth(fixed[:, best]), "--", label=f"best fixed $\\omega$ = {grid[best]:.2f}")
    for policy, nits in learned.items():
        ax.plot(smooth(nits), label=f"learned: {policy}")
    ax.plot(smooth(fixed.min(axis=1)), ":", color="k", label="instance-optimal $\\omega$")
    ax.set_yscale("log")
    ax.set_xlabel("instance index")
    ax.set_ylabel(f"SOR iterations (moving average over {window})")
    ax.set_title(f"shifted Poisson 10x10, {summary['variance']}-variance shifts")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-instances", type=int, default=300)
    parser.add_argument("--variance", choices=("high", "low"), default="high")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="save the plot to this path")
    parser.add_argument("--json", help="save the totals to this path")
    parser.add_argument("--fixed-costs", help="cache (.npy) of the fixed-omega iteration "
                        "counts: loaded if it matches, else computed and saved")
    args = parser.parse_args()
    grid, fixed, learned, summary = run(args.n_instances, args.variance, args.seed,
                                         cache=args.fixed_costs)
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)
    if args.out:
        plot(grid, fixed, learned, summary, args.out)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
