"""A seeded sweep over numopt.linalg.cg: every run that reports success must have a
returned x whose true residual ||b - A x||, recomputed in longdouble (float32 solves:
float64 would do), is below tol * ||b||, and ``residual`` must be that recomputed value.
Prints the counts and any miss; exits 1 on a miss.

    python examples/linalg_cg_success_sweep.py [--seeds 400]
"""

import argparse
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator

from numopt.linalg import cg
from numopt.problems import random_spd_matrix

WIDE = np.longdouble


def random_case(seed, dtype):
    """A random SPD system, right-hand side, tol and input kind (dense, CSR, operator);
    max |b| spread over several binades (the power-of-two rescaling copies nothing in
    [0.5, 1))."""
    rng = np.random.default_rng([seed, np.dtype(dtype).itemsize])
    n = int(rng.integers(10, 60))
    cond = 10 ** rng.uniform(1, 7)
    S = random_spd_matrix(n, cond=cond, seed=seed).astype(dtype)
    b = (rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3)).astype(dtype)
    low, high = (-7, -2) if dtype == np.float32 else (-16, -8)
    tol = float(10 ** rng.uniform(low, high))
    kind = ("dense", "csr", "operator")[int(rng.integers(3))]
    A = {"dense": S, "csr": sp.csr_array(S), "operator": aslinearoperator(S)}[kind]
    return S, A, b, tol, kind


def true_residual(S, b, x):
    return float(np.linalg.norm(b.astype(WIDE) - S.astype(WIDE) @ np.asarray(x).astype(WIDE)))


def check(seed, dtype):
    """``None`` when the run keeps the contract, else a line describing the miss."""
    S, A, b, tol, kind = random_case(seed, dtype)
    res = cg(A, b, tol=tol, maxiter=20 * S.shape[0])
    true = true_residual(S, b, res.x)
    target = tol * float(np.linalg.norm(b.astype(WIDE)))
    if res.success and not true < target:
        return (f"seed {seed} {np.dtype(dtype).name} {kind}: success with true residual "
                f"{true:.6e} >= target {target:.6e}")
    agree = 1e-9 * true
    if dtype == np.float64 and kind == "operator":
        # a float64 LinearOperator's residual is recomputed with its own float64 matvec:
        # within the rounding bound n eps ||A|| ||x|| of that matvec
        agree = S.shape[0] * np.finfo(np.float64).eps * np.linalg.norm(S, 2) * np.linalg.norm(
            res.x)
    if not abs(res.residual - true) <= agree:
        return (f"seed {seed} {np.dtype(dtype).name} {kind}: residual {res.residual:.6e} "
                f"is not the returned x's {true:.6e}")
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400)
    args = parser.parse_args(argv)
    misses, runs = [], 0
    for seed in range(args.seeds):
        for dtype in (np.float32, np.float64):
            runs += 1
            miss = check(seed, dtype)
            if miss:
                misses.append(miss)
    print(f"{runs} runs, {len(misses)} misses")
    for miss in misses:
        print(miss)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
