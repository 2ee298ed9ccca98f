"""GPU figures for numopt.monotone (run on a machine with CuPy and a CUDA device).

The Policeman-Burglar game (``numopt.problems.policeman_burglar_matrix``, default n = 2000
and 10000) solved to a duality gap of 1e-4 by ``solve_matrix_game`` with ``A`` a CuPy
array (method ``eag`` and ``extragradient``, the deterministic methods the device path
runs), against HiGHS (``scipy.optimize.linprog``, the row player's LP) on the host CPU,
with a time limit. Prints one line per figure:

    python asv_benchmarks/gpu/monotone.py [--sizes 2000,10000] [--highs-limit 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def highs_value(A, time_limit):
    from scipy.optimize import linprog

    m, n = A.shape
    # max v s.t. (x^T A)_j >= v for every column j, x in the simplex
    res = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * m + [(None, None)], method="highs",
                  options={"time_limit": float(time_limit)})
    return res


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--highs-limit", type=float, default=300.0)
    parser.add_argument("--maxiter", type=int, default=50000)
    args = parser.parse_args(argv)
    try:
        import cupy
    except ImportError:
        print("monotone gpu: CuPy is not installed; nothing to time")
        return 0
    if cupy.cuda.runtime.getDeviceCount() == 0:
        print("monotone gpu: no CUDA device; nothing to time")
        return 0
    from numopt.monotone import solve_matrix_game
    from numopt.problems import policeman_burglar_matrix

    sync = cupy.cuda.get_current_stream().synchronize
    for n in (int(s) for s in args.sizes.split(",")):
        A = policeman_burglar_matrix(n, seed=1)
        A_gpu = cupy.asarray(A)
        for method in ("eag", "extragradient"):
            solve_matrix_game(A_gpu, method=method, tol=args.tol, maxiter=3)  # warm-up
            sync()
            start = time.perf_counter()
            res = solve_matrix_game(A_gpu, method=method, tol=args.tol, maxiter=args.maxiter)
            sync()
            seconds = time.perf_counter() - start
            print(f"n={n}: {method} on the GPU {seconds:.2f} s, {res.nit} iterations, "
                  f"gap {float(res.duality_gap):.1e}, value {float(res.value):.6f}, "
                  f"success {res.success}", flush=True)
        start = time.perf_counter()
        lp = highs_value(A, args.highs_limit)
        seconds = time.perf_counter() - start
        value = -lp.fun if lp.status == 0 else float("nan")
        print(f"n={n}: HiGHS linprog on the CPU {seconds:.2f} s, status {lp.status} "
              f"({lp.message}), value {value:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
