"""Demo rows of numopt.zeroth_order for ``python -m numopt``."""

from __future__ import annotations

import time

import numpy as np

from .._backend import to_numpy
from .._demo import DemoRow, register_demo
from .._minimize import minimize


def _logistic(xp):
    """L2 logistic regression on scikit-learn's breast-cancer data (standardized), its
    objective in ``xp`` and scikit-learn's minimizer."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    alpha = 1e-2
    w_ref = LogisticRegression(C=1.0 / (X.shape[0] * alpha), fit_intercept=False,
                               tol=1e-12, max_iter=10_000).fit(X, y).coef_.ravel()
    Xs = xp.asarray(X * (2.0 * y - 1.0)[:, None])

    def fun(w):
        z = Xs @ w
        return float(xp.mean(xp.log1p(xp.exp(-xp.abs(z))) + xp.maximum(-z, 0.0))
                     + 0.5 * alpha * xp.sum(w * w))

    return fun, X.shape[1], w_ref


@register_demo("zeroth_order", "zo-sgd (MeZO), quadratic d=50, condition number 10")
def _demo_zo_sgd(xp):
    rng = np.random.default_rng(0)
    d = 50
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    H = xp.asarray(Q @ np.diag(np.linspace(1.0, 10.0, d)) @ Q.T)
    c_host = rng.standard_normal(d)
    c = xp.asarray(c_host)

    def fun(x):
        r = x - c
        return float(r @ (H @ r)) * 0.5

    start = time.perf_counter()
    res = minimize(fun, xp.zeros(d, dtype=xp.float64), method="zo-sgd",
                   options={"lr": 0.003, "gtol": 1e-6, "measure_every": 200,
                            "maxiter": 50_000})
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(to_numpy(res.x) - c_host)))
    return DemoRow(method="minimize zo-sgd", size=f"d={d}", nit=res.nit, error=error,
                   reference="closed form x*=c (max abs)", success=bool(res.success),
                   seconds=seconds)


@register_demo("zeroth_order", "zo-ranksgd, L2 logistic regression, breast cancer")
def _demo_ranksgd(xp):
    fun, p, w_ref = _logistic(xp)
    start = time.perf_counter()
    res = minimize(fun, xp.zeros(p, dtype=xp.float64), method="zo-ranksgd",
                   options={"gtol": 1e-5, "measure_every": 50, "maxiter": 3000})
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(to_numpy(res.x) - w_ref)))
    return DemoRow(method="minimize zo-ranksgd", size=f"d={p}", nit=res.nit, error=error,
                   reference="scikit-learn LogisticRegression (max abs)",
                   success=bool(res.success), seconds=seconds)
