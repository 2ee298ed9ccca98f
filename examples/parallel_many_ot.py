"""10,000 small entropic OT problems: Wasserstein distances between random 1-D histograms
on a 32-point grid (one cost matrix for all), with progress; then one matrix completion
across the workers of a ``LocalCluster``.

1. ``numopt.parallel.sinkhorn_many``: batched Sinkhorn calls on 2 joblib workers.
2. ``numopt.parallel.map_problems``: one call per problem (the generic path), on the
   first 1,000 problems, checked against the batched results.
3. When dask.distributed is installed: the same batches on a ``LocalCluster`` (2 worker
   processes), once through ``joblib.parallel_config(backend="dask")`` and once with
   ``numopt.distributed.map_problems`` (the cost matrix scattered once to each worker).
4. On the same cluster, one completion by block ALS
   (``complete(M, k, method="als", client=client)``: the observations in row and column
   blocks on the workers), checked against the single-machine ALS.

Every path must give the same costs (to 1e-12: the same problems, solved to tol 1e-9),
and every result must be a success; the block ALS must give the single-machine factors
to 1e-10. Run from the repository root:

    python examples/parallel_many_ot.py [--count 10000] [--no-dask]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from numopt.ot import sinkhorn
from numopt.parallel import map_problems, sinkhorn_many

REG = 1e-2


def histograms(count, n, seed=0):
    """Smooth random histograms: mixtures of two bumps on [0, 1]."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, n)
    centers = rng.uniform(0.1, 0.9, (count, 2, 1))
    widths = rng.uniform(0.03, 0.2, (count, 2, 1))
    h = np.exp(-0.5 * ((x - centers) / widths) ** 2).sum(axis=1) + 1e-3
    return h / h.sum(axis=1, keepdims=True)


def solve_pair(pair, M):
    """One problem (the generic path): a module-level function pickles by reference."""
    return sinkhorn(pair[0], pair[1], M, REG)


def summary(label, results, seconds, reference=None):
    costs = np.array([r.cost for r in results])
    ok = all(r.success for r in results)
    line = (f"{label:<48s} {len(results):6d} problems in {seconds:6.2f} s, all success: {ok}, "
            f"mean cost {costs.mean():.6f}")
    if reference is not None:
        line += f", max |diff| to batched {np.abs(costs - reference[:len(costs)]).max():.1e}"
    print(line, flush=True)
    if not ok:
        raise SystemExit(f"{label}: a problem did not converge")
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()

    x = np.linspace(0, 1, args.n)
    M = (x[:, None] - x[None, :]) ** 2
    A = histograms(args.count, args.n, seed=0)
    B = histograms(args.count, args.n, seed=1)

    start = time.perf_counter()
    batched = sinkhorn_many(A, B, M, REG, n_jobs=2, progress=True)
    costs = summary("sinkhorn_many, 2 joblib workers", batched, time.perf_counter() - start)

    subset = list(zip(A[:1000], B[:1000]))
    start = time.perf_counter()
    one_by_one = map_problems(lambda pair: solve_pair(pair, M), subset, n_jobs=2,
                              progress=True)
    summary("map_problems, one call per problem, 2 workers", one_by_one,
            time.perf_counter() - start, costs)

    if args.no_dask:
        return
    try:
        import joblib
        from dask.distributed import Client, LocalCluster

        import numopt.distributed
    except ImportError:
        print("dask.distributed is not installed: pip install \"numopt[distributed]\"")
        return

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            on_dask = sinkhorn_many(A, B, M, REG, progress=True)
        summary("sinkhorn_many in parallel_config('dask')", on_dask,
                time.perf_counter() - start, costs)

        # futures: M goes to each worker once; each task solves a batch of 500
        batches = [(A[i:i + 500], B[i:i + 500]) for i in range(0, args.count, 500)]

        def solve_batch(batch, M):
            return sinkhorn_many(batch[0], batch[1], M, REG, batch_size=len(batch[0]))

        start = time.perf_counter()
        parts = numopt.distributed.map_problems(client, solve_batch, batches, shared=M,
                                                progress=True, retries=1)
        summary("numopt.distributed.map_problems, batches of 500",
                [r for part in parts for r in part], time.perf_counter() - start, costs)

        complete_on_cluster(client)


def complete_on_cluster(client, size=2000, rank=5, rate=0.05):
    """One completion by block ALS on the cluster, against the single-machine ALS."""
    from numopt.completion import complete
    from numopt.problems import random_low_rank_completion

    prob = random_low_rank_completion(size, rank=rank, rate=rate, seed=0)
    start = time.perf_counter()
    local = complete(prob.observed, rank, method="als", tol=1e-10, seed=0)
    local_time = time.perf_counter() - start
    start = time.perf_counter()
    res = complete(prob.observed, rank, method="als", tol=1e-10, seed=0, client=client)
    seconds = time.perf_counter() - start
    diff = max(np.abs(res.U - local.U).max(), np.abs(res.V - local.V).max())
    print(f"{'block ALS on the LocalCluster':<48s} {size} x {size}, rank {rank}: "
          f"{res.nit} iterations in {seconds:.2f} s (one process: {local_time:.2f} s), "
          f"success: {res.success}, error {prob.relative_error(res.U, res.V):.1e}, "
          f"max |diff| to one process {diff:.1e}", flush=True)
    if not res.success or diff > 1e-10:
        raise SystemExit("block ALS: not the single-machine result")


if __name__ == "__main__":
    main()
