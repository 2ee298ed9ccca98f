"""Finite sums for the stochastic methods (``numopt.stochastic``): batch callables
``fun(x, batch)``, ``jac(x, batch)``, ``hessp(x, v, batch)`` that return the mean over an
index batch, written against an array namespace ``xp``."""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

__all__ = ["FiniteSum", "logistic_finite_sum", "interpolating_least_squares"]


class FiniteSum(NamedTuple):
    """``F(x) = (1/N) sum_i f_i(x)`` by its batch callables, with ``x_ref`` its
    minimizer (from an independent solver or by construction)."""

    fun: Callable
    jac: Callable
    hessp: Callable
    n_samples: int
    dim: int
    x_ref: np.ndarray


def interpolating_least_squares(xp, dtype=None, n_samples=60, dim=8, seed=0):
    """``f_i(x) = (a_i . x - b_i)^2 / 2`` with ``b = A x*``: every ``f_i`` is minimal at
    ``x*`` (interpolation), so constant-step stochastic methods converge to it."""
    dtype = xp.float64 if dtype is None else dtype
    rng = np.random.default_rng(seed)
    A_np = rng.standard_normal((n_samples, dim))
    x_star = rng.standard_normal(dim)
    A = xp.asarray(A_np, dtype=dtype)
    b = xp.asarray(A_np @ x_star, dtype=dtype)

    def residual(x, batch):
        return xp.take(A, batch, axis=0) @ x - xp.take(b, batch)

    def fun(x, batch):
        r = residual(x, batch)
        return float(0.5 * xp.sum(r * r)) / batch.shape[0]

    def jac(x, batch):
        return xp.take(A, batch, axis=0).T @ residual(x, batch) / batch.shape[0]

    def hessp(x, v, batch):
        Ab = xp.take(A, batch, axis=0)
        return Ab.T @ (Ab @ v) / batch.shape[0]

    return FiniteSum(fun, jac, hessp, n_samples, dim, x_star)


def logistic_finite_sum(xp, dtype=None, alpha=1e-2):
    """L2-regularized logistic regression on scikit-learn's standardized breast-cancer
    data, ``f_i(w) = log(1 + exp(-y_i x_i . w)) + alpha |w|^2 / 2`` (an intercept column
    of ones, penalized like the rest). ``x_ref`` is scikit-learn's
    ``LogisticRegression`` (lbfgs, tol 1e-12) on the same loss."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n = X.shape[0]
    Xa = np.hstack([X, np.ones((n, 1))])
    # scikit-learn minimizes C sum_i loss_i + |w|^2 / 2: C = 1 / (alpha n) is our mean
    # loss plus alpha |w|^2 / 2, times 1 / (alpha n)
    ref = LogisticRegression(C=1.0 / (alpha * n), fit_intercept=False, tol=1e-12,
                             max_iter=10_000).fit(Xa, y)
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

    return FiniteSum(fun, jac, hessp, n, Xa.shape[1], ref.coef_.ravel())
