"""A seeded sweep over numopt.linalg.cg: every run that reports success must have a
returned x whose true residual ||b - A x||, recomputed in longdouble (float32 solves:
float64 would do), is below tol * ||b||, and ``residual`` must be that recomputed value.
A float64 LinearOperator given as a function is judged on its own float64 matvec (as
documented): there both hold up to that matvec's rounding, n eps ||A|| ||x||.
Prints the counts and any miss; exits 1 on a miss.

    python examples/linalg_cg_success_sweep.py [--seeds 400]
"""

import argparse
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from numopt.linalg import cg
from numopt.problems import random_spd_matrix

WIDE = np.longdouble


def random_case(seed, dtype):
    """A random SPD system, right-hand side, tol and input kind (dense, CSR,
    ``aslinearoperator`` of the matrix, a LinearOperator given as a function);
    max |b| spread over several binades (the power-of-two rescaling copies nothing in
    [0.5, 1))."""
    rng = np.random.default_rng([seed, np.dtype(dtype).itemsize])
    n = int(rng.integers(10, 60))
    cond = 10 ** rng.uniform(1, 7)
    S = random_spd_matrix(n, cond=cond, seed=seed).astype(dtype)
    b = (rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3)).astype(dtype)
    low, high = (-7, -2) if dtype == np.float32 else (-16, -8)
    tol = float(10 ** rng.uniform(low, high))
    kind = ("dense", "csr", "operator", "function")[int(rng.integers(4))]
    A = {"dense": S, "csr": sp.csr_array(S), "operator": aslinearoperator(S),
         "function": LinearOperator(S.shape, matvec=lambda v: S @ v, dtype=S.dtype)}[kind]
    return S, A, b, tol, kind


def true_residual(S, b, x):
    return float(np.linalg.norm(b.astype(WIDE) - S.astype(WIDE) @ np.asarray(x).astype(WIDE)))


def check(seed, dtype):
    """``None`` when the run keeps the contract, else a line describing the miss."""
    S, A, b, tol, kind = random_case(seed, dtype)
    res = cg(A, b, tol=tol, maxiter=20 * S.shape[0])
    true = true_residual(S, b, res.x)
    target = tol * float(np.linalg.norm(b.astype(WIDE)))
    slack = 0.0
    if dtype == np.float64 and kind == "function":
        slack = (S.shape[0] * np.finfo(np.float64).eps * np.linalg.norm(S, 2)
                 * np.linalg.norm(res.x))
    if res.success and not true < target + slack:
        return (f"seed {seed} {np.dtype(dtype).name} {kind}: success with true residual "
                f"{true:.6e} >= target {target:.6e}")
    if not abs(res.residual - true) <= 1e-9 * true + slack:
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
