"""Seeded sweep: does every ``success=True`` of ``complete`` meet ``tol`` on the returned fit?

For every method, size, rank, sampling rate and dtype it runs ``complete`` and recomputes,
in float64 from the returned ``U``, ``V`` and independently of numopt's code, the measure
that success is decided on:

* ``altmin``, ``als``: the relative residual on the observed entries,
  ``||P_Omega(U V^T - M)||_F / ||P_Omega(M)||_F``;
* ``softimpute``: the fixed-point residual ``||S(Z) - Z||_F / ||P_Omega(M)||_F`` of
  ``Z = U V^T``, where ``S`` is one exact SoftImpute step at the returned ``shrinkage``
  (dense ``numpy.linalg.svd`` of the filled matrix, top ``rank`` singular values shrunk).
  A result without a ``fixed_point_residual`` field (before the fix) is judged on the
  relative residual it reported instead.

A success whose recomputed measure exceeds ``tol`` (times ``1 + slack``: 1e-6, and 1e-2
for float32 fits, whose float64 recomputation here orders its sums differently) is a
false success. Each case runs at a tight tol and at the default ``tol=1e-8`` (which
float32 cannot reach). Run::

    python asv_benchmarks/completion_success_sweep.py [--seeds 2] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np

from numopt.completion import complete
from numopt.problems import random_low_rank_completion

SIZES = ((40, 30), (100, 80), (200, 150), (500, 10))
RANKS = (2, 5, 10)
RATES = (0.2, 0.5, 0.75)
# (dtype, tol): a tight and the default tol in float64; a reachable tol and the default
# (below float32's rounding floor, about 3e-7) in float32
SETTINGS = ((np.float64, 1e-10), (np.float64, 1e-8), (np.float32, 1e-5), (np.float32, 1e-8))


def observed_residual(M, U, V):
    M = M.tocoo()
    fit = np.einsum("ij,ij->i", U[M.row], V[M.col])
    return np.linalg.norm(fit - M.data) / np.linalg.norm(M.data)


def softimpute_fixed_point_residual(M, U, V, shrinkage, rank):
    """``||S(Z) - Z|| / ||P_Omega(M)||`` with dense float64 linear algebra."""
    Z = U @ V.T
    X = Z.copy()
    M = M.tocoo()
    X[M.row, M.col] = M.data
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    s = np.maximum(s[:rank] - shrinkage, 0.0)
    step = (u[:, :rank] * s) @ vt[:rank]
    return np.linalg.norm(step - Z) / np.linalg.norm(M.data)


def measure(res, M, method, rank):
    U, V = (np.asarray(a, dtype=np.float64) for a in (res.U, res.V))
    M = M.astype(np.float64)
    if method == "softimpute" and "fixed_point_residual" in res:
        return softimpute_fixed_point_residual(M, U, V, res.shrinkage, rank)
    return observed_residual(M, U, V)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    args = parser.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    counts = {"runs": 0, "success": 0, "false_success": 0}
    per_method = {}
    start = time.perf_counter()
    for (m, n), rank, rate, (dtype, tol), seed, method in itertools.product(
            sizes, RANKS, RATES, SETTINGS, range(args.seeds),
            ("altmin", "als", "softimpute")):
        if rank > min(m, n):
            continue
        prob = random_low_rank_completion(m, n, rank=rank, rate=rate, seed=seed)
        M = prob.observed.astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = complete(M, rank, method=method, tol=tol, seed=seed)
        got = measure(res, M, method, rank)
        slack = 1e-2 if dtype == np.float32 else 1e-6
        false = bool(res.success) and got > tol * (1 + slack)
        counts["runs"] += 1
        counts["success"] += bool(res.success)
        counts["false_success"] += false
        row = per_method.setdefault(method, [0, 0, 0])
        row[0] += 1
        row[1] += bool(res.success)
        row[2] += false
        if false:
            print(f"FALSE SUCCESS {method} {m}x{n} k={rank} rate={rate} "
                  f"{np.dtype(dtype).name} seed={seed}: measure {got:.3g} > tol {tol:.0e} "
                  f"(reported relative_residual {res.relative_residual:.3g}, nit {res.nit})")
    print(f"{counts['runs']} runs, {counts['success']} successes, "
          f"{counts['false_success']} false successes "
          f"({time.perf_counter() - start:.0f} s)")
    for method, (runs, ok, false) in per_method.items():
        print(f"  {method:10s} runs {runs:3d}  success {ok:3d}  false success {false:3d}")


if __name__ == "__main__":
    main()
