"""Many problems at once: the serial loop, numopt.parallel.map_problems on joblib (loky
processes), the batched Sinkhorn path (sinkhorn_many), POT's ot.batch.solve_batch, and
the per-task overhead of map_problems on joblib and on a Dask LocalCluster.

Too heavy for asv's quick mode on a shared 2-core machine; run it by hand from the
repository root (it prints the command, the machine's load and medians of --repeats):

    PYTHONPATH=. python asv_benchmarks/parallel_timings.py

``--ot`` / ``--overhead`` / ``--ceiling`` / ``--als`` run one part (``--als`` is not
part of the default run: ``--als-size 20000 --als-rank 20 --als-rate 0.01`` is the
issue's case). ``--ceiling`` measures what two
processes gain on this machine at all (two copies of the serial loop at once, no pool):
on a shared machine it bounds every parallel figure. Every figure is a median over ``--repeats``
timed runs after one untimed warm-up run (worker start-up, Numba cache loads).

The OT case: 64 entropic problems of 200 x 200 sharing one cost matrix (squared
Euclidean between uniform point clouds, scaled to max 1), random weights, reg = 1e-2,
tol = 1e-9 (L1 marginal error over the mass). POT's solve_batch stops on the L2 norm of
the row-marginal error, checked every 10 iterations; it runs with tol = 1e-9 on that
norm, and the script prints the L1 error each method reached, so accuracies can be
compared.

The overhead case: problems of about 50 ms each (kernel Sinkhorn on a larger cost, a
fixed iteration count), run serially and through map_problems. Each task reports the
seconds it spent solving; overhead = workers * T(map) / sum(time solving) - 1, the share
of the workers' time spent on anything else (dispatch, pickling, idle waits). Being a
ratio of times measured under the same load, it stays meaningful on a busy machine,
where the speed-up over the serial loop does not. It mixes what each task costs with
what a call costs once (waking the workers, joblib's set-up, and its clean-up of the
memory-mapped arrays of the closure: it waits for the workers to release them, 0.1 s a
try), so the "split" line separates them: the slope between a map of 40 and of 120
problems is the per-task overhead, the rest the cost per call. Empty tasks give the
dispatch cost per task directly.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from numopt.ot import sinkhorn  # noqa: E402
from numopt.parallel import map_problems, sinkhorn_many  # noqa: E402
from numopt.problems import random_ot_problem  # noqa: E402


def median_time(fn, repeats):
    fn()  # warm-up: worker start-up, JIT cache loads
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def show(label, t, times, extra=""):
    runs = ", ".join(f"{x:.3f}" for x in times)
    print(f"  {label:<44s} {t:8.3f} s  (runs {runs}){extra}", flush=True)


def l1_error(plan, a, b):
    return float(np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum())


def load():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def ot_case(repeats, count=64, n=200, reg=1e-2, tol=1e-9):
    _, _, M = random_ot_problem(n, seed=0)
    rng = np.random.default_rng(1)
    A = rng.uniform(0.5, 1.5, (count, n))
    A /= A.sum(1, keepdims=True)
    Bw = rng.uniform(0.5, 1.5, (count, n))
    Bw /= Bw.sum(1, keepdims=True)
    problems = [(A[i], Bw[i]) for i in range(count)]

    def solve(problem):
        return sinkhorn(problem[0], problem[1], M, reg, tol=tol)

    print(f"\n{count} entropic OT problems of {n} x {n}, reg {reg}, tol {tol} "
          f"(load: {load()})")
    t_serial, runs, serial = median_time(lambda: [solve(p) for p in problems], repeats)
    show("serial loop of numopt.ot.sinkhorn", t_serial, runs,
         f"  mean nit {np.mean([r.nit for r in serial]):.0f}, "
         f"max L1 err {max(r.marginal_error for r in serial):.1e}")
    t_map, runs, par = median_time(lambda: map_problems(solve, problems, n_jobs=2), repeats)
    same = all(np.array_equal(x.plan, y.plan) for x, y in zip(par, serial))
    show("map_problems(n_jobs=2)", t_map, runs,
         f"  speed-up {t_serial / t_map:.2f}x, plans equal to serial: {same}")
    for n_jobs in (1, 2):
        t_b, runs, batched = median_time(
            lambda: sinkhorn_many(A, Bw, M, reg, tol=tol, n_jobs=n_jobs), repeats)
        worst = max(l1_error(r.plan, A[i], Bw[i]) for i, r in enumerate(batched))
        show(f"sinkhorn_many(n_jobs={n_jobs}) (batched)", t_b, runs,
             f"  speed-up {t_serial / t_b:.2f}x, max L1 err {worst:.1e}")
    try:
        import ot
    except ImportError:
        print("  POT not installed")
        return
    if not hasattr(ot, "batch"):
        print(f"  POT {ot.__version__} has no ot.batch")
        return
    Ms = np.broadcast_to(M, (count, n, n))

    def pot():
        return ot.batch.solve_batch(Ms, reg, a=A, b=Bw, max_iter=100000, tol=tol,
                                    method="sinkhorn", grad="detach")
    t_pot, runs, res = median_time(pot, repeats)
    plans = np.asarray(res.plan)
    worst = max(l1_error(plans[i], A[i], Bw[i]) for i in range(count))
    show(f"POT {ot.__version__} ot.batch.solve_batch", t_pot, runs,
         f"  speed-up {t_serial / t_pot:.2f}x, max L1 err {worst:.1e}")


def overhead_case(repeats, count=40, n=600, iterations=None):
    _, _, M = random_ot_problem(n, seed=0)
    a = b = np.full(n, 1.0 / n)

    # a fixed iteration count: every problem costs the same, about 50 ms; the task
    # reports the seconds it spent solving, so that the overhead reads the same on a
    # loaded machine: overhead = workers * T(map) / sum(time solving) - 1, the share of
    # the workers' time spent on anything but solving
    def solve(iters):
        start = time.perf_counter()
        sinkhorn(a, b, M, 0.05, method="kernel", tol=1e-300, maxiter=iters)
        return time.perf_counter() - start

    if iterations is None:
        solve(10)
        iterations = max(1, int(100 * 0.05 / solve(100)))
    problems = [iterations] * count
    print(f"\nper-task overhead: {count} problems of about 50 ms ({n} x {n} kernel "
          f"Sinkhorn, {iterations} iterations) (load: {load()})")

    def report(label, workers, run):
        # the overhead of each run from that run's own solving time (a median time
        # paired with another run's solving time gave negative overheads under load)
        run()
        runs, overheads, busy = [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            solving = run()
            runs.append(time.perf_counter() - start)
            busy.append(sum(solving))
            overheads.append(workers * runs[-1] / busy[-1] - 1)
        t = statistics.median(runs)
        show(label, t, runs, f"  {1e3 * statistics.median(busy) / count:.1f} ms solving "
             f"per problem, overhead {statistics.median(overheads):+.1%} (runs "
             + ", ".join(f"{o:+.1%}" for o in overheads) + ")")
        return t

    def per_task(label, workers, run, small=count, large=3 * count):
        # the slope between a map of `small` and of `large` problems: what each further
        # task costs beyond its solving, apart from what a call costs once (worker
        # wake-up, joblib's set-up and its clean-up of memory-mapped arguments)
        run(iterations, small)
        slopes, fixed = [], []
        for _ in range(repeats):
            timed = []
            for k in (small, large):
                start = time.perf_counter()
                busy = sum(run(iterations, k))
                timed.append((time.perf_counter() - start, busy))
            (t1, b1), (t2, b2) = timed
            slopes.append(workers * (t2 - t1) / (b2 - b1) - 1)
            fixed.append(t1 - (1 + slopes[-1]) * b1 / workers)
        print(f"  {label:<44s} per task {statistics.median(slopes):+.1%} of the solving "
              "time (runs " + ", ".join(f"{o:+.1%}" for o in slopes) + "), once per "
              f"call {1e3 * statistics.median(fixed):.0f} ms", flush=True)

    t_serial = report("serial loop", 1, lambda: [solve(p) for p in problems])
    t_map = report("map_problems(n_jobs=2), joblib/loky", 2,
                   lambda: map_problems(solve, problems, n_jobs=2))
    print(f"  {'':44s} speed-up over the serial loop {t_serial / t_map:.2f}x")
    per_task(f"  split: {count} vs {3 * count} problems", 2,
             lambda iters, k: map_problems(solve, [iters] * k, n_jobs=2))
    empty = list(range(1000))
    t_e, runs, _ = median_time(lambda: map_problems(int, empty, n_jobs=2), repeats)
    show("1000 empty tasks, map_problems(n_jobs=2)", t_e, runs,
         f"  {1e3 * t_e / len(empty):.3f} ms per task")
    try:
        from dask.distributed import Client, LocalCluster

        import numopt.distributed
    except ImportError:
        print("  dask.distributed not installed")
        return
    import joblib

    for workers in (2, 1):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            report(f"numopt.distributed.map_problems, {workers} worker(s)", workers,
                   lambda: numopt.distributed.map_problems(client, solve, problems))
            per_task(f"  split: {count} vs {3 * count} problems", workers,
                     lambda iters, k: numopt.distributed.map_problems(client, solve,
                                                                      [iters] * k))
            with joblib.parallel_config(backend="dask"):
                report(f"map_problems in parallel_config('dask'), {workers}", workers,
                       lambda: map_problems(solve, problems))
                per_task(f"  split: {count} vs {3 * count} problems", workers,
                         lambda iters, k: map_problems(solve, [iters] * k))
            small = list(range(200))
            t_e, runs, _ = median_time(
                lambda: numopt.distributed.map_problems(client, int, small), repeats)
            show(f"200 empty tasks, numopt.distributed, {workers}", t_e, runs,
                 f"  {1e3 * t_e / len(small):.2f} ms per task")


def als_case(size, rank, rate, repeats, iterations=6):
    """Block ALS on a LocalCluster of 1 and 2 worker processes against the
    single-machine ALS, same data and seed, interleaved (local, cluster, local, ...) so
    that the machine's changing load hits both alike: seconds per iteration (median of
    the intervals between callbacks; median over ``repeats`` pairs), the set-up (placing
    the blocks, spectral start) and the numbers the block-ALS model ships per
    iteration."""
    import warnings

    from numopt.completion import complete
    from numopt.completion._block_als import shipped_numbers
    from numopt.exceptions import OptimizeWarning
    from numopt.problems import random_low_rank_completion

    prob = random_low_rank_completion(size, rank=rank, rate=rate, seed=0)
    M = prob.observed
    print(f"\nALS, {size} x {size}, rank {rank}, {M.nnz} observations "
          f"({M.nnz / size ** 2:.1%}), {iterations} iterations, medians of {repeats} "
          f"interleaved pairs (load: {load()})")

    def run(**kwargs):
        stamps = [time.perf_counter()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            res = complete(M, rank, method="als", tol=0.0, maxiter=iterations, seed=0,
                           callback=lambda intermediate_result: stamps.append(
                               time.perf_counter()), **kwargs)
        per_iter = float(np.median(np.diff(stamps[1:])))
        return res, per_iter, stamps[1] - stamps[0] - per_iter

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("  dask.distributed not installed")
        return
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            run(client=client)     # warm-up: Numba cache loads in the workers
            local, block = [], []
            for _ in range(repeats):
                local.append(run())
                block.append(run(client=client))
            ref = local[0][0]
            diff = max(max(float(np.abs(r.U - ref.U).max()),
                           float(np.abs(r.V - ref.V).max() / np.abs(ref.V).max()))
                       for r, _, _ in block)
            t_local = statistics.median(t for _, t, _ in local)
            t_block = statistics.median(t for _, t, _ in block)
            print(f"  {workers} worker(s): single machine "
                  f"{t_local:.3f} s/iteration (runs "
                  + ", ".join(f"{t:.2f}" for _, t, _ in local) + "), block ALS "
                  f"{t_block:.3f} s/iteration (runs "
                  + ", ".join(f"{t:.2f}" for _, t, _ in block) + f"): "
                  f"{t_local / t_block:.2f}x the local speed; set-up "
                  f"{statistics.median(s for _, _, s in local):.1f} s local, "
                  f"{statistics.median(s for _, _, s in block):.1f} s block ALS; "
                  f"max |diff| of the factors {diff:.1e}", flush=True)
            shipped = shipped_numbers(M.shape, rank, workers) * 8
            print(f"  {'':12s}shipped per iteration (model (W+1)(m+n)k x 8 bytes): "
                  f"{shipped / 1e6:.1f} MB; observations ({M.nnz * 2 * 16 / 1e6:.0f} MB, "
                  "both sides) placed once", flush=True)


def ceiling(repeats, count=40, n=600, iterations=74):
    """What 2 processes can gain on this machine, with no pool at all: the serial loop
    of the overhead case in one process, then in two processes at once (each the whole
    loop). ceiling = 2 * T(one) / T(two at once)."""
    cmd = [sys.executable, __file__, "--loop", str(count), str(n), str(iterations)]

    def together(k):
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(k)]
        return max(float(p.communicate()[0].split()[-1]) for p in procs)

    print(f"\nceiling: {count} problems as in the overhead case, one process vs two "
          f"processes at once, no pool (load: {load()})")
    one = statistics.median(together(1) for _ in range(repeats))
    two = statistics.median(together(2) for _ in range(repeats))
    print(f"  one process {one:.3f} s, two at once {two:.3f} s each: 2 processes do "
          f"{2 * one / two:.2f}x the work of one in the same time", flush=True)


def loop(count, n, iterations):
    _, _, M = random_ot_problem(n, seed=0)
    a = np.full(n, 1.0 / n)
    sinkhorn(a, a, M, 0.05, method="kernel", tol=1e-300, maxiter=2)
    start = time.perf_counter()
    for _ in range(count):
        sinkhorn(a, a, M, 0.05, method="kernel", tol=1e-300, maxiter=iterations)
    print(time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ot", action="store_true")
    parser.add_argument("--overhead", action="store_true")
    parser.add_argument("--ceiling", action="store_true")
    parser.add_argument("--als", action="store_true")
    parser.add_argument("--als-size", type=int, default=4000)
    parser.add_argument("--als-rank", type=int, default=10)
    parser.add_argument("--als-rate", type=float, default=0.02)
    parser.add_argument("--loop", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:
        return loop(*args.loop)
    both = not (args.ot or args.overhead or args.ceiling or args.als)
    print("$ " + shlex.join([os.path.basename(sys.executable)] + sys.argv))
    print(f"cores: {os.cpu_count()}")
    if args.ot or both:
        ot_case(args.repeats)
    if args.ceiling or both:
        ceiling(args.repeats)
    if args.overhead or both:
        overhead_case(args.repeats)
    if args.als:
        als_case(args.als_size, args.als_rank, args.als_rate, args.repeats)


if __name__ == "__main__":
    main()
