"""SSOR-preconditioned CG over a sequence of shifted 2-D Poisson systems, with the
relaxation parameter learned by Tsallis-INF, against every fixed omega of the grid,
omega = 1 (symmetric Gauss-Seidel) and AMG-preconditioned CG (PyAMG, if installed).

    python examples/linalg_ssor_pcg_sequence.py --grid 128 -n 20        # a minute
    python examples/linalg_ssor_pcg_sequence.py --grid 512 -n 100 --baseline-every 5
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
    grid = default_omegas("ssor_pcg")
    learner = RelaxationLearner("ssor_pcg", omegas=grid, tol=args.tol, seed=args.seed + 1)
    learned = solve_sequence(systems, learner)
    print(f"learned: {learned.nit} iterations, {learned.seconds:.1f} s, omegas "
          f"{np.round(learned.omegas, 3).tolist()}", flush=True)
    sub = systems[::args.baseline_every]
    scale = len(systems) / len(sub)
    fixed = {}
    for omega in grid:
        nits, seconds = _pcg_total(sub, omega, args.tol)
        nits, seconds = nits * scale, seconds * scale
        fixed[float(omega)] = (nits, seconds)
        print(f"omega={omega:.4f}: {nits.sum()} iterations, {seconds:.1f} s", flush=True)
    best = min(fixed, key=lambda w: fixed[w][0].sum())
    nits1, seconds1 = _pcg_total(sub, 1.0, args.tol)
    summary = {
        "grid": args.grid, "n_instances": len(systems), "tol": args.tol,
        "learned_total": int(learned.nit), "learned_seconds": round(learned.seconds, 2),
        "best_fixed_omega": best, "best_fixed_total": int(fixed[best][0].sum()),
        "best_fixed_seconds": round(fixed[best][1], 2),
        "omega_1_total": int(round(nits1.sum() * scale)),
        "omega_1_seconds": round(seconds1 * scale, 2),
        "baseline_instances": len(sub),
        "learned_over_best_fixed": round(learned.nit / fixed[best][0].sum(), 4),
        "omega_1_over_learned": round(nits1.sum() * scale / learned.nit, 3),
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
