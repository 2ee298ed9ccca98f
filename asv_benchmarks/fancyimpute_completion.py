"""numopt's matrix completion against fancyimpute's SoftImpute (the issue's peer).

fancyimpute 0.7.0 cannot live in the numopt environment: its package ``__init__`` imports
cvxpy (NuclearNormMinimization) and it needs scikit-learn < 1.6 (``check_array``'s
``force_all_finite``). It runs in a venv of its own; only its ``soft_impute`` module is
imported (this script loads it without the package ``__init__``). Make that venv once:

    python -m venv /work/fi-venv
    /work/fi-venv/bin/pip install numpy scipy "scikit-learn<1.6"
    /work/fi-venv/bin/pip install --no-deps fancyimpute knnimpute

Then, from the numopt environment (the script calls the fancyimpute venv itself; the two
sides read the same problem from one ``.npz`` file and measure the relative Frobenius
error on all entries the same way):

    OMP_NUM_THREADS=1 python asv_benchmarks/fancyimpute_completion.py \\
        --fancyimpute-python /work/fi-venv/bin/python [--m 2000 --rank 10 --rate 0.05]

It prints one line per solver (median time of ``--repeats`` runs, error on all entries)
and the ratios to numopt altmin's time, as shipped (``row_solver="auto"``: exact row solves
below rank 32) and with the sketched row solve forced (the slower of each one's runs
before and after the peer, so that a change in the machine's load does not flatter
numopt; the issue asks for fancyimpute / altmin >= 15).
fancyimpute's SoftImpute is run as shipped (``max_rank=None``: a full SVD per iteration,
the default) and with ``max_rank=rank`` (randomized SVD, its fast mode).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def relative_error_all(filled_or_factors, U_true, V_true, block=1024):
    """||X - U_true V_true^T||_F / ||U_true V_true^T||_F over all entries, where ``X`` is
    a dense matrix or a pair of factors ``(U, V)``."""
    num = den = 0.0
    for start in range(0, U_true.shape[0], block):
        stop = start + block
        truth = U_true[start:stop] @ V_true.T
        if isinstance(filled_or_factors, tuple):
            U, V = filled_or_factors
            est = np.asarray(U[start:stop], dtype=float) @ np.asarray(V, dtype=float).T
        else:
            est = filled_or_factors[start:stop]
        num += float(np.sum((est - truth) ** 2))
        den += float(np.sum(truth ** 2))
    return (num / den) ** 0.5


def _load(path):
    d = np.load(path)
    return d["rows"], d["cols"], d["values"], d["U_true"], d["V_true"]


def _import_soft_impute():
    """fancyimpute.soft_impute without the package ``__init__`` (which imports cvxpy)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("fancyimpute")
    if spec is None:
        raise ImportError("fancyimpute is not installed in this Python")
    package = types.ModuleType("fancyimpute")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["fancyimpute"] = package
    from fancyimpute.soft_impute import SoftImpute

    return SoftImpute


def run_fancyimpute(path, rank, repeats, modes):
    """Runs inside the fancyimpute venv; prints a JSON line per configuration."""
    SoftImpute = _import_soft_impute()
    rows, cols, values, U_true, V_true = _load(path)
    m, n = U_true.shape[0], V_true.shape[0]
    configs = {"default": ("default", {}), "max_rank": (f"max_rank={rank}", {"max_rank": rank})}
    for label, kwargs in (configs[mode] for mode in modes):
        times, err, n_iter = [], None, None
        for r in range(repeats):
            X = np.full((m, n), np.nan)
            X[rows, cols] = values
            solver = SoftImpute(verbose=False, **kwargs)
            start = time.perf_counter()
            filled = solver.fit_transform(X)
            times.append(time.perf_counter() - start)
            err = relative_error_all(filled, U_true, V_true)
        print(json.dumps({"solver": f"fancyimpute SoftImpute ({label})",
                          "seconds": statistics.median(times), "error": err}), flush=True)


NUMOPT_SOLVERS = {
    "altmin": ("altmin", {}),
    # the paper's sketched row solve, which "auto" replaces by the exact one below rank 32
    "altmin sketched": ("altmin", {"row_solver": "sketched"}),
    "als": ("als", {}),
    "softimpute": ("softimpute", {"maxiter": 300}),
}


def run_numopt(path, rank, repeats, labels=tuple(NUMOPT_SOLVERS)):
    import scipy.sparse as sp

    from numopt.completion import complete

    rows, cols, values, U_true, V_true = _load(path)
    M = sp.csr_matrix((values, (rows, cols)), shape=(U_true.shape[0], V_true.shape[0]))
    out = []
    for label in labels:
        method, kwargs = NUMOPT_SOLVERS[label]
        complete(M, rank, method=method, tol=1e-9, seed=0, **{**kwargs, "maxiter": 2})  # JIT
        times, err = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            res = complete(M, rank, method=method, tol=1e-9, seed=0, **kwargs)
            times.append(time.perf_counter() - start)
            err = relative_error_all((res.U, res.V), U_true, V_true)
        out.append({"solver": f"numopt {label}", "seconds": statistics.median(times),
                    "error": err, "nit": res.nit})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=2000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fancyimpute-repeats", type=int, default=1)
    parser.add_argument("--fancyimpute-python", default="/work/fi-venv/bin/python",
                        help="a Python with fancyimpute installed (see the module docstring)")
    parser.add_argument("--modes", default="default,max_rank",
                        help="fancyimpute configurations to time: 'default' (full SVD per "
                             "iteration; ~30 min here on a loaded 2-core machine) and/or "
                             "'max_rank' (randomized SVD of rank k)")
    parser.add_argument("--data", help="(internal) problem file for --fancyimpute-only")
    parser.add_argument("--fancyimpute-only", action="store_true", help="(internal)")
    args = parser.parse_args(argv)
    if args.fancyimpute_only:
        run_fancyimpute(args.data, args.rank, args.fancyimpute_repeats, args.modes.split(","))
        return 0

    from numopt.problems import random_low_rank_completion

    prob = random_low_rank_completion(args.m, rank=args.rank, rate=args.rate, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "problem.npz")
        np.savez(path, rows=prob.rows, cols=prob.cols, values=prob.values,
                 U_true=prob.U_true, V_true=prob.V_true)
        results = run_numopt(path, args.rank, args.repeats)
        peer = subprocess.run(
            [args.fancyimpute_python, os.path.abspath(__file__), "--fancyimpute-only",
             "--data", path, "--rank", str(args.rank), "--modes", args.modes,
             "--fancyimpute-repeats", str(args.fancyimpute_repeats)],
            capture_output=True, text=True)
        # numopt altmin once more after the peer: the machine's load may have changed
        for after in run_numopt(path, args.rank, args.repeats,
                                labels=("altmin", "altmin sketched")):
            after["solver"] += " (again, after the peer)"
            results.append(after)
    if peer.returncode != 0:
        print(f"fancyimpute could not run ({args.fancyimpute_python}):\n{peer.stderr.strip()}")
    results += [json.loads(line) for line in peer.stdout.splitlines() if line.startswith("{")]
    def slower_run(label):
        return max(r["seconds"] for r in results
                   if r["solver"] in (f"numopt {label}", f"numopt {label} (again, after the peer)"))

    base, base_sketched = slower_run("altmin"), slower_run("altmin sketched")
    print(f"{args.m}x{args.m}, rank {args.rank}, {args.rate:.0%} observed "
          f"(|Omega| = {prob.observed.nnz}); error = relative Frobenius error on all entries")
    for r in results:
        print(f"  {r['solver']:52s} {r['seconds']:8.2f} s  error {r['error']:.1e}  "
              f"time / numopt altmin {r['seconds'] / base:7.1f}  "
              f"/ altmin sketched {r['seconds'] / base_sketched:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
