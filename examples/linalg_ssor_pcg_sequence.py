"""SSOR-preconditioned CG over a sequence of shifted 2-D Poisson systems, with the
relaxation parameter learned by a bandit (--policy, default unimodal UCB) on numopt's default grid
(2 - omega = 2^-2 ... 2^-7), against every fixed omega of a finer reference grid (the
learner's grid and 2 - omega log-spaced in [0.01, 0.5]: the best of them is the
comparator), omega = 1 (symmetric Gauss-Seidel) and AMG-preconditioned CG (PyAMG, if
installed). --learner-seeds runs the learner with several seeds on the same sequence.

    python examples/linalg_ssor_pcg_sequence.py --grid 128 -n 20        # a minute
    python examples/linalg_ssor_pcg_sequence.py --grid 512 -n 100 --baseline-every 10 \
        --learner-seeds 1,2,3 --policy unimodal_ucb
"""

import argparse
import json
import time

import numpy as np

from numopt.linalg import RelaxationLearner, cg, default_omegas, solve_sequence
from numopt.linalg import ssor_preconditioner
from numopt.problems import shifted_poisson_sequence


def _pcg_total(systems, omega, tol):
    nits, seconds = [], 0.0
    for s in systems:
        start = time.perf_counter()
        res = cg(s.A, s.b, M=ssor_preconditioner(s.A, omega), tol=tol)
        seconds += time.perf_counter() - start
        nits.append(res.nit)
    return np.array(nits), seconds


def _amg_total(systems, tol):
    try:
        import pyamg
    except ImportError:
        return None
    nits, seconds = 0, 0.0
    for s in systems:
        start = time.perf_counter()
        ml = pyamg.smoothed_aggregation_solver(s.A)
        res = cg(s.A, s.b, M=ml.aspreconditioner(cycle="V"), tol=tol)
        seconds += time.perf_counter() - start
        nits += res.nit
    return nits, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=128)
    parser.add_argument("-n", "--n-instances", type=int, default=20)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="unimodal_ucb",
                        choices=["unimodal_ucb", "ucb", "tsallis_inf"])
    parser.add_argument("--learner-seeds", help="comma-separated learner seeds "
                        "(default: seed + 1)")
    parser.add_argument("--baseline-every", type=int, default=1,
                        help="run the baselines (fixed omegas, omega = 1, AMG) on every k-th "
                             "instance only and scale their totals by k (the instances "
                             "are i.i.d.); the learner always runs on all of them")
    parser.add_argument("--json")
    args = parser.parse_args()
    # shifts c_t = 1e-3 Beta(2, 6): the smallest eigenvalue of the grid Laplacian moves
    # by up to ~10x, so the best omega moves with it
    systems = shifted_poisson_sequence(args.n_instances, grid=args.grid, variance="low",
                                       low=0.0, width=1e-3, seed=args.seed)
    learner_grid = default_omegas("ssor_pcg")
    reference = np.union1d(learner_grid, 2.0 - np.geomspace(0.5, 0.01, 10))
    seeds = ([args.seed + 1] if args.learner_seeds is None
             else [int(v) for v in args.learner_seeds.split(",")])
    learned = []
    for seed in seeds:
        learner = RelaxationLearner("ssor_pcg", policy=args.policy, omegas=learner_grid,
                                    tol=args.tol, seed=seed)
        out = solve_sequence(systems, learner)
        learned.append(out)
        print(f"learner seed {seed}: {out.nit} iterations, {out.seconds:.1f} s, omegas "
              f"{np.round(out.omegas, 4).tolist()}", flush=True)
    sub = systems[::args.baseline_every]
    scale = len(systems) / len(sub)
    fixed = {}
    for omega in reference:
        nits, seconds = _pcg_total(sub, omega, args.tol)
        fixed[float(omega)] = (nits.sum() * scale, seconds * scale)
        print(f"omega={omega:.4f}: {fixed[float(omega)][0]:.0f} iterations, "
              f"{fixed[float(omega)][1]:.1f} s", flush=True)
    best = min(fixed, key=lambda w: fixed[w][0])
    best_on_grid = min((float(w) for w in learner_grid), key=lambda w: fixed[w][0])
    nits1, seconds1 = _pcg_total(sub, 1.0, args.tol)
    omega_1_total = nits1.sum() * scale
    totals = np.array([out.nit for out in learned])
    ratios = totals / fixed[best][0]
    summary = {
        "grid": args.grid, "n_instances": len(systems), "tol": args.tol,
        "learner_grid": [round(float(w), 6) for w in learner_grid],
        "policy": args.policy, "learner_seeds": seeds, "learned_totals": totals.tolist(),
        "learned_seconds": [round(out.seconds, 2) for out in learned],
        "best_fixed_omega": round(best, 6), "best_fixed_total": int(round(fixed[best][0])),
        "best_fixed_seconds": round(fixed[best][1], 2),
        "best_fixed_on_learner_grid": round(best_on_grid, 6),
        "best_fixed_on_learner_grid_total": int(round(fixed[best_on_grid][0])),
        "omega_1_total": int(round(omega_1_total)),
        "omega_1_seconds": round(seconds1 * scale, 2),
        "baseline_instances": len(sub),
        "learned_over_best_fixed": [round(float(r), 4) for r in ratios],
        "learned_over_best_fixed_median": round(float(np.median(ratios)), 4),
        "learned_over_best_fixed_worst": round(float(ratios.max()), 4),
        "omega_1_over_learned": [round(float(omega_1_total / t), 3) for t in totals],
    }
    amg = _amg_total(sub, args.tol)
    if amg is not None:
        summary.update(amg_pcg_total=int(amg[0] * scale),
                       amg_pcg_seconds=round(amg[1] * scale, 2))
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
