"""M-FAC and the zeroth-order methods on an L2 logistic regression (scikit-learn's
breast-cancer data, standardized), against scikit-learn's minimizer.

    python examples/zeroth_order_logistic.py [--maxiter 3000] [--out plot.png]

Each method runs on the finite sum with index batches of 64 (``fun(w, batch)``), and on
the full objective for ZO-RankSGD (whose line search compares values). Prints the
objective gap to scikit-learn's optimum, the oracle counts and the time; with --out,
saves the gap against the number of sample evaluations.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import numopt


def problem(alpha=1e-2):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    s = 2.0 * y - 1.0
    n = X.shape[0]

    def fun(w, batch=None):
        rows = slice(None) if batch is None else batch
        return float(np.mean(np.logaddexp(0.0, -s[rows] * (X[rows] @ w)))
                     + 0.5 * alpha * w @ w)

    def jac(w, batch=None):
        rows = slice(None) if batch is None else batch
        z = s[rows] * (X[rows] @ w)
        return -(X[rows].T @ (s[rows] / (1.0 + np.exp(z)))) / z.shape[0] + alpha * w

    w_ref = LogisticRegression(C=1.0 / (n * alpha), fit_intercept=False, tol=1e-12,
                               max_iter=10_000).fit(X, y).coef_.ravel()
    return fun, jac, n, X.shape[1], fun(w_ref)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maxiter", type=int, default=3000)
    parser.add_argument("--out", default=None, help="save the convergence plot here")
    args = parser.parse_args(argv)
    fun, jac, n, p, f_ref = problem()
    batches = {"n_samples": n, "batch_size": 64, "seed": 0, "maxiter": args.maxiter}
    runs = {
        "mfac (m=32)": dict(method="mfac", jac=jac,
                            options={**batches, "lr": 0.05, "damping": 0.1, "ngrads": 32}),
        "zo-sgd (MeZO)": dict(method="zo-sgd",
                              options={**batches, "lr": 0.02, "measure_every": 0}),
        "zo-sgd, sparsity 0.25": dict(method="zo-sgd",
                                      options={**batches, "lr": 0.02, "sparsity": 0.25,
                                               "measure_every": 0}),
        "zo-ranksgd (full sum)": dict(method="zo-ranksgd",
                                      options={"n_samples": n, "measure_every": 0,
                                               "maxiter": args.maxiter // 10}),
    }
    curves = {}
    print(f"{'method':24} {'gap':>10} {'nfev':>7} {'njev':>6} {'samples':>9} {'s':>6}")
    for name, run in runs.items():
        trace = []

        def record(intermediate_result):
            trace.append((intermediate_result.nsamples, fun(intermediate_result.x) - f_ref))

        start = time.perf_counter()
        res = numopt.minimize(fun, np.zeros(p), callback=record, **run)
        seconds = time.perf_counter() - start
        curves[name] = np.array(trace)
        print(f"{name:24} {fun(res.x) - f_ref:10.2e} {res.nfev:7d} {res.get('njev', 0):6d} "
              f"{res.nsamples:9d} {seconds:6.2f}")
    if args.out:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, curve in curves.items():
            ax.loglog(curve[:, 0], np.maximum(curve[:, 1], 1e-16), label=name)
        ax.set_xlabel("sample evaluations")
        ax.set_ylabel("objective gap to scikit-learn")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out)


if __name__ == "__main__":
    main()
