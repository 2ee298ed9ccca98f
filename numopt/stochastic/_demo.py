"""Demo row of numopt.stochastic for ``python -m numopt``: logistic regression on
scikit-learn's breast-cancer data, against scikit-learn's own fit."""

from __future__ import annotations

import time

import numpy as np

from .._backend import to_numpy
from .._demo import DemoRow, register_demo


def logistic_problem(xp, dtype=None, alpha=1e-2):
    """Standardized breast-cancer data as an L2-regularized logistic finite sum
    ``f_i(w) = log(1 + exp(-y_i x_i . w)) + alpha |w|^2 / 2`` (intercept as a last
    column of ones): ``(fun, jac, hessp, n_samples, dim, w_ref)``, ``w_ref`` from
    scikit-learn's ``LogisticRegression`` (lbfgs, tight tolerance) on the same loss."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n = X.shape[0]
    # scikit-learn minimizes C sum_i loss_i + |w|^2 / 2 with the intercept unpenalized;
    # the intercept is a column of ones here, so it is penalized as sklearn's is not:
    # give sklearn that column too and no intercept of its own
    Xa = np.hstack([X, np.ones((n, 1))])
    ref = LogisticRegression(C=1.0 / (alpha * n), fit_intercept=False, tol=1e-12,
                             max_iter=10_000).fit(Xa, y)
    w_ref = ref.coef_.ravel()
    dtype = xp.float64 if dtype is None else dtype
    Xd = xp.asarray(Xa, dtype=dtype)
    s = xp.asarray(2.0 * y - 1.0, dtype=dtype)

    def margins(w, batch):
        return xp.take(s, batch) * (xp.take(Xd, batch, axis=0) @ w)

    def fun(w, batch):
        z = margins(w, batch)
        loss = xp.mean(xp.logaddexp(xp.zeros_like(z), -z))
        return float(loss) + 0.5 * alpha * float(xp.sum(w * w))

    def jac(w, batch):
        z = margins(w, batch)
        coef = -xp.take(s, batch) / (1.0 + xp.exp(z))
        return xp.take(Xd, batch, axis=0).T @ coef / batch.shape[0] + alpha * w

    def hessp(w, v, batch):
        z = margins(w, batch)
        p = 1.0 / (1.0 + xp.exp(-z))
        Xb = xp.take(Xd, batch, axis=0)
        return Xb.T @ (p * (1.0 - p) * (Xb @ v)) / batch.shape[0] + alpha * v

    return fun, jac, hessp, n, Xa.shape[1], w_ref


@register_demo("stochastic", "AdAdaGrad (norm test), logistic regression, breast cancer")
def _demo_adadagrad(xp):
    # the constant-step methods stall at their noise floor with a fixed batch; the
    # adaptive batch size of AdAdaGrad is what takes a stochastic run to the tolerance
    from .._minimize import minimize

    fun, jac, hessp, n, dim, w_ref = logistic_problem(xp)
    options = {"n_samples": n, "batch_size": 8, "lr": 0.5, "seed": 0, "maxiter": 20_000,
               "variance_groups": 8}
    start = time.perf_counter()
    res = minimize(fun, xp.zeros(dim), method="adadagrad", jac=jac, tol=1e-4,
                   options=options)
    seconds = time.perf_counter() - start
    err = float(np.linalg.norm(to_numpy(res.x) - w_ref) / np.linalg.norm(w_ref))
    return DemoRow(method="minimize(method='adadagrad')",
                   size=f"{n}x{dim}, final batch {res.batch_size}", nit=int(res.nit),
                   error=err, reference="scikit-learn LogisticRegression (lbfgs)",
                   success=bool(res.success), seconds=seconds)
