"""Seeded sweep over quadratic_ot / sparse_ot on small problems with near-zero weights
(issue 16, item 2): counts the successes whose recomputed measure misses tol.

    python asv_benchmarks/ot_rounding_sweep.py 400 0 q   # quadratic_ot, seed 0
    python asv_benchmarks/ot_rounding_sweep.py 400 0 s   # sparse_ot, random k

The measure, recomputed from the returned plan and potentials in float64: marginal error
<= 1e-6, no negative entry, at most k nonzeros per column, and for quadratic_ot the
duality gap (fun minus the dual objective at f, g) <= tol * max(|fun|, max M).
"""

import sys
import warnings

import numpy as np

from numopt.ot import quadratic_ot, sparse_ot


def dual_value(a, b, M, gamma, f, g, k):
    Z = np.maximum(f[:, None] + g[None, :] - M, 0)
    Z = -np.sort(-Z, axis=0)[:k]
    return f @ a + g @ b - 0.5 / gamma * (Z ** 2).sum()


def sweep(count, seed, which):
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    bad = failures = 0
    for t in range(count):
        n, m = rng.integers(2, 6), rng.integers(2, 6)
        a, b = rng.random(n), rng.random(m)
        a[rng.random(n) < 0.3] = 10.0 ** rng.uniform(-12, -6)
        b[rng.random(m) < 0.3] = 10.0 ** rng.uniform(-12, -6)
        a, b = a / a.sum(), b / b.sum()
        M, gamma = rng.random((n, m)), 10 ** rng.uniform(-2, 1)
        k = n if which == "q" else int(rng.integers(1, n + 1))
        res = quadratic_ot(a, b, M, gamma) if which == "q" else sparse_ot(a, b, M, k, gamma=gamma)
        P = res.plan.toarray()
        err = np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()
        fun = (P * M).sum() + 0.5 * gamma * (P * P).sum()
        gap = fun - dual_value(a, b, M, gamma, np.asarray(res.f, float), np.asarray(res.g, float), k)
        tol = 1e-9 if which == "q" else 1e-6
        ok = (err <= 1e-6 and (P >= 0).all() and (np.count_nonzero(P, axis=0) <= k).all()
              and (which != "q" or gap <= tol * max(abs(fun), M.max())))
        if res.success and not ok:
            bad += 1
            print("success missing tol:", t, n, m, k, gamma, err, gap, res.rounding)
        failures += not res.success
    print(f"{which}: {count} problems, {bad} successes missing tol, {failures} failures")


if __name__ == "__main__":
    sweep(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
