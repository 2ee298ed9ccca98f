"""Large-scale matrix completion: sketched alternating minimization vs exact ALS.

The issue's big case (20000 x 20000, rank 100, about 2e7 observations) is too heavy for
asv's quick mode on a 2-core machine; run it once by hand:

    OMP_NUM_THREADS=1 python asv_benchmarks/scaling_completion.py --m 20000 --rank 100 \\
        --n-observed 2e7 --time-limit 900

Each method runs with a callback that records (time, relative training residual) per
iteration and stops at the time limit; the script prints the time each method needed to
reach a common error level (the largest final error of the two: "equal error"), the
ratio, the full-matrix error estimated on a random sample of entries, and the peak
memory (resource.getrusage).

``--small`` runs the issue's 2000 x 2000 figure against the NumPy exact-ALS reference;
``--sweep`` shows how the time per iteration grows with |Omega| and k;
``--iteration-ratio M K NOBS [ITERATIONS REPEATS]`` times one iteration of each method,
interleaved in one process.

``--crossover [M]`` times one iteration of altmin with each ``row_solver`` ("sketched",
"exact") at ranks 8 to 64 with 10 k observations per row: where the sketch starts to pay
(``numopt.completion._altmin.SKETCH_MIN_RANK``, the rank from which ``"auto"`` sketches).

``--interleaved M K NOBS`` is the load-robust end-to-end comparison (the one quoted for the
issue's 20000 x 20000 figure):

    OMP_NUM_THREADS=1 python asv_benchmarks/scaling_completion.py --interleaved 20000 100 2e7

Both solvers run in one process on the same observations, one outer iteration of each in
turn (the spectral starts too), so that a change in the machine's load hits both alike.
Each iteration is timed on its own; the printout gives, for every error level, the time
each method needed to reach it, both in relative training residual and in full-matrix
error (estimated on 2e5 random entries, outside the timing), and their ratio. The peak
memory of each method (tracemalloc, above the shared observations) is measured by a
separate spectral start plus two iterations per method.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np

from numopt.completion import complete
from numopt.problems import random_low_rank_completion


def sampled_error(prob, U, V, n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, U.shape[0], n)
    c = rng.integers(0, V.shape[0], n)
    truth = np.einsum("ij,ij->i", prob.U_true[r], prob.V_true[c])
    pred = np.einsum("ij,ij->i", U[r].astype(float), V[c].astype(float))
    return float(np.linalg.norm(pred - truth) / np.linalg.norm(truth))


def run(prob, rank, method, time_limit, tol, **options):
    trace = []
    start = time.perf_counter()

    def callback(intermediate_result):
        trace.append((time.perf_counter() - start, intermediate_result.relative_residual))
        if trace[-1][0] > time_limit:
            raise StopIteration

    res = complete(prob.observed, rank, method=method, tol=tol, seed=0, callback=callback,
                   maxiter=200, **options)
    total = time.perf_counter() - start
    return res, trace, total


def time_to_reach(trace, level):
    for t, err in trace:
        if err <= level:
            return t
    return float("nan")


def small_case(repeats=3):
    """The issue's first figure: 2000 x 2000, rank 10, 5% observed; numopt altmin (and
    als, softimpute) against the plain NumPy exact-ALS reference of the asv module,
    interleaved in one process, median of ``repeats``."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from benchmarks.completion import TOL, numpy_exact_als  # the asv module's reference

    prob = random_low_rank_completion(2000, rank=10, rate=0.05, seed=0)
    runs = {
        "altmin": lambda: complete(prob.observed, 10, method="altmin", tol=TOL, seed=0),
        "altmin_sketched": lambda: complete(prob.observed, 10, method="altmin", tol=TOL,
                                            seed=0, row_solver="sketched"),
        "als": lambda: complete(prob.observed, 10, method="als", tol=TOL, seed=0),
        "softimpute": lambda: complete(prob.observed, 10, method="softimpute", tol=TOL,
                                       maxiter=300, seed=0),
        "numpy_als": lambda: numpy_exact_als(prob.observed, 10),
    }
    for fn in runs.values():
        fn()   # warm-up (JIT)
    times = {name: [] for name in runs}
    out = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - start)
    ref = statistics.median(times["numpy_als"])
    for name in runs:
        t = statistics.median(times[name])
        err = prob.relative_error(out[name]["U"], out[name]["V"])
        print(f"2000x2000 k=10 5%: {name:15s} {t:6.2f} s  error {err:.1e}  "
              f"time / numpy_als {t / ref:.2f}")


def sweep(repeats=3):
    """Time of 5 iterations against |Omega| (rank 20) and against k (|Omega| = 8e5),
    2000 x 2000, with the fitted log-log slopes."""
    cases = [("n_observed", n, 20) for n in (200_000, 400_000, 800_000)]
    cases += [("rank", 800_000, k) for k in (10, 20, 40, 80)]
    for method in ("altmin", "als"):
        opts = {"row_solver": "sketched"} if method == "altmin" else {}
        rows = {"n_observed": [], "rank": []}
        for axis, n_obs, k in cases:
            prob = random_low_rank_completion(2000, rank=k, n_observed=n_obs, seed=0)
            complete(prob.observed, k, method=method, maxiter=0, seed=0, **opts)
            t_init = min(_timed(lambda: complete(prob.observed, k, method=method, maxiter=0,
                                                 seed=0, **opts)) for _ in range(repeats))
            t = min(_timed(lambda: complete(prob.observed, k, method=method, tol=0.0,
                                            maxiter=5, seed=0, **opts))
                    for _ in range(repeats))
            rows[axis].append((n_obs if axis == "n_observed" else k, (t - t_init) / 5))
            print(f"{method:7s} |Omega|={prob.observed.nnz:7d} k={k:3d}: "
                  f"{(t - t_init) / 5 * 1e3:7.1f} ms per iteration", flush=True)
        for axis, pts in rows.items():
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            slope = np.polyfit(x, y, 1)[0]
            print(f"{method:7s} time per iteration ~ {axis}^{slope:.2f}")


def iteration_ratio(m, rank, n_observed, iterations=3, repeats=3):
    """Per-iteration time of altmin and als on the same input, interleaved in one process
    (min over ``repeats``; the spectral start, common to both, is timed apart)."""
    prob = random_low_rank_completion(m, rank=rank, n_observed=int(n_observed), seed=0)
    print(f"{m}x{m} rank {rank} |Omega|={prob.observed.nnz} "
          f"({prob.observed.nnz / m:.0f} observations per row)", flush=True)
    per_it = {"altmin": [], "als": []}
    errors = {}
    for _ in range(repeats):
        for method in per_it:
            seconds, res = _per_iteration(
                lambda maxiter: complete(prob.observed, rank, method=method, tol=0.0,
                                         maxiter=maxiter, seed=0), 0, iterations)
            per_it[method].append(seconds)
            errors[method] = res.relative_residual
    a, b = min(per_it["altmin"]), min(per_it["als"])
    print(f"per iteration: altmin {a:.2f} s, als {b:.2f} s, ratio {a / b:.2f}; relative "
          f"training residual after {iterations} iterations: altmin {errors['altmin']:.1e}, "
          f"als {errors['als']:.1e}")


def crossover(m=2000, ranks=(8, 12, 16, 20, 24, 28, 32, 48, 64), repeats=5):
    """Per-iteration time of the sketched and the exact row solves in the same altmin
    driver, alternated (median of ``repeats`` paired runs of 2 and 8 iterations)."""
    for k in ranks:
        prob = random_low_rank_completion(m, rank=k, rate=min(0.5, 10 * k / m), seed=0)
        per_it = {"sketched": [], "exact": []}
        steps = 0.0
        for solver in per_it:
            complete(prob.observed, k, row_solver=solver, maxiter=1, seed=0)   # JIT
        for _ in range(repeats):
            for solver in per_it:
                seconds, res = _per_iteration(
                    lambda maxiter: complete(prob.observed, k, row_solver=solver, tol=0.0,
                                             maxiter=maxiter, seed=0), 2, 8)
                per_it[solver].append(seconds)
                if solver == "sketched":
                    steps = res.n_inner / (8 * sum(prob.observed.shape))
        ratios = sorted(a / b for a, b in zip(per_it["sketched"], per_it["exact"]))
        print(f"k={k:3d} {prob.observed.nnz / m:5.0f} observations per row: sketched "
              f"{statistics.median(per_it['sketched']) * 1e3:7.1f} ms, exact "
              f"{statistics.median(per_it['exact']) * 1e3:7.1f} ms per iteration; sketched / "
              f"exact median {statistics.median(ratios):.2f} (runs {', '.join(f'{r:.2f}' for r in ratios)});"
              f" {steps:.1f} CG steps per row", flush=True)


def interleaved(m, rank, n_observed, tol=1e-9, maxiter=60,
                levels=(1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)):
    import tracemalloc

    import array_api_compat.numpy as np_xp

    from numopt.completion._altmin import AlternatingSolver
    from numopt.completion._api import DEFAULTS
    from numopt.completion._validation import observations_from

    print(f"load average at start {os.getloadavg()}", flush=True)
    prob = random_low_rank_completion(m, rank=rank, n_observed=int(n_observed), seed=0)
    start = time.perf_counter()
    obs = observations_from(prob.observed, np_xp)
    t_obs = time.perf_counter() - start      # common to both methods, added to both
    print(f"{m}x{m} rank {rank} |Omega|={obs.n_observed} ({obs.n_observed / m:.0f} per row);"
          f" observation structures {t_obs:.1f} s", flush=True)
    complete(random_low_rank_completion(50, rank=2, rate=0.5).observed, 2, maxiter=1)  # JIT
    complete(random_low_rank_completion(50, rank=2, rate=0.5).observed, 2, method="als",
             maxiter=1)

    def make(method):
        return AlternatingSolver(np_xp, obs, rank, exact=(method == "als"), tol=tol, seed=0,
                                 options=dict(DEFAULTS[method]))

    for method in ("altmin", "als"):   # working memory of each, one after the other
        tracemalloc.start()
        solver = make(method)
        state = solver.init()
        for _ in range(2):
            state = solver.step(state)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del solver, state
        print(f"{method:7s} peak traced memory above the observations (setup, spectral start,"
              f" 2 iterations): {peak / 2**20:.0f} MiB", flush=True)

    solvers, states, clock, traces, done = {}, {}, {}, {}, {}
    for method in ("altmin", "als"):
        begin = time.perf_counter()
        solver = make(method)          # the setup (sketch draws) is part of the time
        states[method] = solver.init()
        solvers[method] = solver
        clock[method] = t_obs + time.perf_counter() - begin
        traces[method] = []
        done[method] = False
    print(f"spectral start (with setup): altmin {clock['altmin']:.1f} s, "
          f"als {clock['als']:.1f} s", flush=True)
    for it in range(1, maxiter + 1):
        for method, solver in solvers.items():
            if done[method]:
                continue
            begin = time.perf_counter()
            states[method] = solver.step(states[method])
            status = solver.check(states[method])
            clock[method] += time.perf_counter() - begin
            st = states[method]
            err = sampled_error(prob, st.U, st.V)
            traces[method].append((clock[method], st.rel, err))
            print(f"  it {it:2d} {method:7s} {clock[method]:8.1f} s  training residual "
                  f"{st.rel:.2e}  full-matrix error {err:.2e}"
                  + (f"  inner steps/row {st.n_inner / it / (2 * m):.2f}"
                     if method == "altmin" else ""), flush=True)
            done[method] = status is not None
        if all(done.values()):
            break
    for column, what in ((1, "relative training residual"), (2, "full-matrix error")):
        for level in levels:
            reach = {}
            for method, trace in traces.items():
                hit = [(t, i + 1) for i, (t, *errs) in enumerate(trace)
                       if errs[column - 1] <= level]
                reach[method] = hit[0] if hit else (float("nan"), 0)
            (ta, ia), (tb, ib) = reach["altmin"], reach["als"]
            print(f"{what} {level:.0e}: altmin {ta:7.1f} s ({ia:2d} it), exact ALS "
                  f"{tb:7.1f} s ({ib:2d} it), ratio {ta / tb:.2f}")
    per_it = {method: (trace[-1][0] - trace[0][0]) / max(len(trace) - 1, 1)
              for method, trace in traces.items()}
    print(f"mean time per iteration (after the first): altmin {per_it['altmin']:.1f} s, "
          f"als {per_it['als']:.1f} s, ratio {per_it['altmin'] / per_it['als']:.2f}")
    print(f"peak resident memory of the process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB; "
          f"load average at end {os.getloadavg()}")


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _per_iteration(solve, few, many):
    """``(time of solve(many) - time of solve(few)) / (many - few)``, the setup and the
    spectral start cancelling, and the result of ``solve(many)``; ``solve`` takes
    ``maxiter``."""
    t_few = _timed(lambda: solve(few))
    start = time.perf_counter()
    res = solve(many)
    return (time.perf_counter() - start - t_few) / (many - few), res


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if "--small" in argv:
        return small_case()
    if "--sweep" in argv:
        return sweep()
    if "--crossover" in argv:
        rest = argv[argv.index("--crossover") + 1:]
        return crossover(int(rest[0])) if rest and rest[0].isdigit() else crossover()
    if "--interleaved" in argv:
        m, rank, n_obs = argv[argv.index("--interleaved") + 1:][:3]
        return interleaved(int(m), int(rank), float(n_obs))
    if "--iteration-ratio" in argv:
        values = [float(v) for v in argv[argv.index("--iteration-ratio") + 1:][:5]]
        m, rank, n_obs = values[:3]
        iterations, repeats = (int(v) for v in (values[3:] + [3, 3][len(values) - 3:])[:2])
        return iteration_ratio(int(m), int(rank), n_obs, iterations, repeats)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=4000)
    parser.add_argument("--rank", type=int, default=50)
    parser.add_argument("--n-observed", type=float, default=2e6)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--tol", type=float, default=1e-9)
    parser.add_argument("--sketch-factor", type=float, default=None)
    parser.add_argument("--inner-tol", type=float, default=None)
    args = parser.parse_args(argv)
    t = time.perf_counter()
    prob = random_low_rank_completion(args.m, rank=args.rank, n_observed=int(args.n_observed), seed=0)
    print(f"problem {args.m}x{args.m} rank {args.rank} |Omega|={prob.observed.nnz} "
          f"built in {time.perf_counter() - t:.1f} s", flush=True)
    complete(random_low_rank_completion(50, rank=2, rate=0.5).observed, 2, maxiter=1)  # JIT
    complete(random_low_rank_completion(50, rank=2, rate=0.5).observed, 2, method="als", maxiter=1)
    altmin_opts = {}
    if args.sketch_factor is not None:
        altmin_opts["sketch_factor"] = args.sketch_factor
    if args.inner_tol is not None:
        altmin_opts["inner_tol"] = args.inner_tol
    runs = {}
    for method, opts in (("altmin", altmin_opts), ("als", {})):
        res, trace, total = run(prob, args.rank, method, args.time_limit, args.tol, **opts)
        runs[method] = (res, trace)
        print(f"{method:7s} nit={res.nit:3d} total={total:7.1f} s  final training residual "
              f"{trace[-1][1]:.2e}  sampled full-matrix error {sampled_error(prob, res.U, res.V):.2e}"
              f"  per-iteration {total / max(res.nit, 1):.2f} s", flush=True)
    level = max(runs["altmin"][1][-1][1], runs["als"][1][-1][1])
    level = max(level, args.tol)
    t_alt = time_to_reach(runs["altmin"][1], level)
    t_als = time_to_reach(runs["als"][1], level)
    print(f"time to relative training residual {level:.1e}: altmin {t_alt:.1f} s, "
          f"exact ALS {t_als:.1f} s, ratio {t_alt / t_als:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB "
          f"(observations: {prob.observed.nnz * 28 / 2**20:.0f} MiB as COO+CSR+CSC)")


if __name__ == "__main__":
    main()
