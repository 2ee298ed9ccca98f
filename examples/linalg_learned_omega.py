"""Learning the SOR relaxation parameter across a sequence of shifted Poisson systems.

The setting of "Learning to Relax" (Khodak et al., ICLR 2024): A_t = A + c_t I on a
10 x 10 grid, c_t = -0.15 + 0.6 Beta(a, b), SOR to relative residual 1e-8. It compares
Tsallis-INF and unimodal UCB (context-free, on numopt's default grid, geometric in 2 - omega), the two
contextual learners (context c_t, on the paper's grid linspace(1, 1.95, 20)), every
fixed omega of both grids (the best one in hindsight is the comparator) and the
instance-optimal omega, prints the totals and, with --out, plots iterations against
instance index. --learner-seeds runs the learners with several seeds on the same
sequence (the fixed-omega baselines are computed once) and reports the median and
worst ratios.

    python examples/linalg_learned_omega.py                 # 300 instances, seconds
    python examples/linalg_learned_omega.py -n 5000 --variance high --out omega.png \
        --learner-seeds 1,2,3,4,5 --fixed-costs high0.npz
"""

import argparse
import json
import time

import numpy as np

from numopt.linalg import RelaxationLearner, default_omegas, solve_sequence, sor
from numopt.problems import shifted_poisson_sequence

POLICIES = ("tsallis_inf", "unimodal_ucb", "binned_tsallis_inf", "chebyshev_cb")


PAPER_GRID = np.linspace(1.0, 1.95, 20)


def _fixed_costs(systems, grid, tol, cache):
    """Iteration counts of every fixed omega of ``grid`` on every system; with ``cache``
    (.npz), columns already there are loaded and only the missing ones are computed."""
    have = {}
    if cache:
        try:
            with np.load(cache) as saved:
                if saved["costs"].shape[0] == len(systems):
                    have = dict(zip(np.round(saved["omegas"], 12), saved["costs"].T))
        except OSError:
            pass
    for w in grid:
        key = np.round(w, 12)
        if key not in have:
            have[key] = np.array([sor(s.A, s.b, omega=w, tol=tol).nit for s in systems])
    if cache:
        keys = sorted(have)
        np.savez(cache, omegas=np.array(keys), costs=np.array([have[k] for k in keys]).T)
    return np.array([have[np.round(w, 12)] for w in grid]).T


def run(n_instances, variance, seed, tol=1e-8, cache=None, learner_seeds=None):
    systems = shifted_poisson_sequence(n_instances, variance=variance, seed=seed)
    learner_grid = default_omegas("sor")
    grid = np.union1d(PAPER_GRID, learner_grid)  # the comparators: every fixed omega
    start = time.perf_counter()
    fixed = _fixed_costs(systems, grid, tol, cache)
    fixed_seconds = time.perf_counter() - start
    best = int(np.argmin(fixed.sum(axis=0)))
    best_total = int(fixed[:, best].sum())
    summary = {
        "n_instances": n_instances, "variance": variance, "sequence_seed": seed,
        "best_fixed_omega": round(float(grid[best]), 4),
        "best_fixed_total": best_total,
        "best_fixed_on_paper_grid_total": int(fixed[:, np.isin(grid, PAPER_GRID)]
                                              .sum(axis=0).min()),
        "omega_1_total": int(fixed[:, 0].sum()),
        "instance_optimal_total": int(fixed.min(axis=1).sum()),
        "fixed_grid_seconds": round(fixed_seconds, 1),
    }
    learner_seeds = [seed + 1] if learner_seeds is None else list(learner_seeds)
    learned, ratios = {}, {p: [] for p in POLICIES}
    for learner_seed in learner_seeds:
        for policy in POLICIES:
            omegas = learner_grid if policy in ("tsallis_inf", "unimodal_ucb") else PAPER_GRID
            learner = RelaxationLearner("sor", policy=policy, omegas=omegas, tol=tol,
                                        context_range=(-0.15, 0.45), seed=learner_seed)
            nits = solve_sequence(systems, learner).nits
            learned.setdefault(policy, nits)  # the first seed's run is plotted
            ratios[policy].append(nits.sum() / best_total)
    for policy in POLICIES:
        r = np.array(ratios[policy])
        summary[f"{policy}_total"] = int(round(r[0] * best_total))
        summary[f"{policy}_ratio_to_best_fixed"] = round(float(r[0]), 4)
        if len(r) > 1:
            summary[f"{policy}_ratios"] = [round(float(v), 4) for v in r]
            summary[f"{policy}_ratio_median"] = round(float(np.median(r)), 4)
            summary[f"{policy}_ratio_worst"] = round(float(r.max()), 4)
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
    parser.add_argument("--fixed-costs", help="cache (.npz) of the fixed-omega iteration "
                        "counts: the columns it has are loaded, the others computed and saved")
    parser.add_argument("--learner-seeds", help="comma-separated learner seeds "
                        "(default: seed + 1)")
    args = parser.parse_args()
    seeds = (None if args.learner_seeds is None
             else [int(v) for v in args.learner_seeds.split(",")])
    grid, fixed, learned, summary = run(args.n_instances, args.variance, args.seed,
                                         cache=args.fixed_costs, learner_seeds=seeds)
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)
    if args.out:
        plot(grid, fixed, learned, summary, args.out)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
