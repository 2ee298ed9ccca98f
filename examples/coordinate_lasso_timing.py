"""Time numopt's Lasso and sparse logistic regression against skglm, celer, scikit-learn.

Every solver is timed until the *same* certificate is reached: the Lasso duality gap
(scikit-learn's dual point, computed here for every solver) at most
``1e-6 * ||y||^2 / n``; for L1 logistic regression the KKT violation (largest distance of
the gradient to the subdifferential) at most 1e-6. Each solver's own ``tol`` is chosen as
the loosest value of a grid that reaches the target, then the fit is timed (median of
``--repeat`` runs, solvers interleaved, one BLAS thread, JIT warmed up).

Run:  OMP_NUM_THREADS=1 python examples/coordinate_lasso_timing.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

TOLS = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7, 1e-7, 1e-8, 1e-9,
        1e-10)


def lasso_gap(X, y, w, alpha):
    """Duality gap of 1/(2n)||y - Xw||^2 + alpha ||w||_1 (no intercept)."""
    n = y.shape[0]
    R = y - X @ w
    dual_norm = np.max(np.abs(X.T @ R))
    const = min(1.0, n * alpha / dual_norm) if dual_norm > 0 else 1.0
    gap = 0.5 * (R @ R) * (1 + const ** 2) + n * alpha * np.abs(w).sum() - const * (R @ y)
    return gap / n


def logistic_kkt(X, y, w, alpha):
    n = y.shape[0]
    z = X @ w
    g = X.T @ (-y / (1 + np.exp(y * z))) / n
    s = np.where(w != 0, np.abs(g + alpha * np.sign(w)), np.maximum(np.abs(g) - alpha, 0))
    return float(s.max())


def lasso_solvers():
    from numopt.coordinate import Lasso

    solvers = {"numopt": lambda X, y, a, tol: Lasso(a, fit_intercept=False, tol=tol,
                                                    max_iter=1000).fit(X, y).coef_}
    try:
        from skglm import Lasso as SkglmLasso

        solvers["skglm"] = lambda X, y, a, tol: SkglmLasso(
            alpha=a, fit_intercept=False, tol=tol, max_iter=1000).fit(X, y).coef_
    except ImportError:
        pass
    try:
        from celer import Lasso as CelerLasso

        solvers["celer"] = lambda X, y, a, tol: CelerLasso(
            alpha=a, fit_intercept=False, tol=tol, max_iter=1000).fit(X, y).coef_
    except ImportError:
        pass
    try:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Lasso as SkLasso

        def sk(X, y, a, tol):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return SkLasso(alpha=a, fit_intercept=False, tol=tol,
                               max_iter=100_000).fit(X, y).coef_
        solvers["sklearn"] = sk
    except ImportError:
        pass
    return solvers


def logistic_solvers():
    from numopt.coordinate import sparse_logistic_regression

    solvers = {"numopt": lambda X, y, a, tol: sparse_logistic_regression(
        X, y, a, tol=tol, maxiter=1000).x}
    try:
        from skglm import SparseLogisticRegression

        solvers["skglm"] = lambda X, y, a, tol: SparseLogisticRegression(
            alpha=a, fit_intercept=False, tol=tol, max_iter=1000).fit(X, y).coef_.ravel()
    except ImportError:
        pass
    return solvers


def time_to_target(solvers, X, y, alpha, measure, target, repeat):
    chosen = {}
    for name, fit in solvers.items():
        fit(X, y, alpha, TOLS[0])                     # JIT warm-up
        for tol in TOLS:
            reached = measure(X, y, fit(X, y, alpha, tol), alpha)
            if reached <= target:
                chosen[name] = (tol, reached)
                break
        else:
            chosen[name] = (None, reached)
    times = {name: [] for name in solvers}
    for _ in range(repeat):
        for name, fit in solvers.items():
            tol = chosen[name][0]
            if tol is None:
                continue
            t0 = time.perf_counter()
            fit(X, y, alpha, tol)
            times[name].append(time.perf_counter() - t0)
    return {name: (float(np.median(times[name])) if times[name] else float("nan"),
                   chosen[name][0], chosen[name][1]) for name in solvers}


def lasso_cases(quick):
    from numopt.problems import lasso_design

    n, p = (300, 1000) if quick else (1000, 5000)
    for design in ("gaussian", "correlated"):
        X, y, amax = lasso_design(n, p, design=design, seed=0)
        for div in (20, 100):
            yield f"{design} {n}x{p} alpha_max/{div}", X, y, amax / div
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(PolynomialFeatures(4, include_bias=False)
                                       .fit_transform(X))
    X = np.asfortranarray(X)
    y = y - y.mean()
    amax = np.max(np.abs(X.T @ y)) / y.shape[0]
    for div in (20, 100):
        yield f"diabetes poly4 {X.shape[0]}x{X.shape[1]} alpha_max/{div}", X, y, amax / div


def logistic_cases():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(PolynomialFeatures(2, include_bias=False)
                                       .fit_transform(StandardScaler().fit_transform(X)))
    X = np.asfortranarray(X)
    y = 2.0 * y - 1.0
    amax = np.max(np.abs(X.T @ y)) / (2 * y.shape[0])
    for div in (10, 100):
        yield f"breast_cancer poly2 {X.shape[0]}x{X.shape[1]} alpha_max/{div}", X, y, \
            amax / div


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller Lasso designs")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    print("Lasso: time to duality gap <= 1e-6 ||y||^2/n (seconds; ratio = numopt / peer)")
    for title, X, y, alpha in lasso_cases(args.quick):
        target = 1e-6 * (y @ y) / y.shape[0]
        out = time_to_target(lasso_solvers(), X, y, alpha, lasso_gap, target, args.repeat)
        _report(title, out)
    print("L1 logistic: time to KKT violation <= 1e-6")
    for title, X, y, alpha in logistic_cases():
        out = time_to_target(logistic_solvers(), X, y, alpha, logistic_kkt, 1e-6,
                             args.repeat)
        _report(title, out)


def _report(title, out):
    ours = out["numopt"][0]
    parts = []
    for name, (sec, tol, reached) in out.items():
        ratio = "" if name == "numopt" else f" ratio {ours / sec:.2f}"
        parts.append(f"{name} {sec * 1e3:.1f} ms (tol {tol}){ratio}")
    peers = [out[k][0] for k in ("skglm", "celer") if k in out]
    best = min(peers) if peers else float("nan")
    print(f"  {title}: " + "; ".join(parts) + f" | vs best of skglm/celer {ours / best:.2f}")


if __name__ == "__main__":
    main()
