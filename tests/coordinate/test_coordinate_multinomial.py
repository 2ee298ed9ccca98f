"""Multinomial logistic regression with a group L1 penalty (block CD over feature rows)
against an independent proximal-gradient transcription, the KKT conditions recomputed
here, and closed forms (the smallest penalty with the zero model)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax

from numopt import config_context
from numopt.coordinate import multinomial_logistic_regression


def _data(n=120, p=30, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = np.zeros((p, n_classes))
    W[:4] = 2.0 * rng.standard_normal((4, n_classes))
    y = np.argmax(X @ W + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


def _objective(X, Y, W, b, alpha, s=None):
    Z = X @ W + b
    losses = logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)
    s = np.ones(X.shape[0]) if s is None else s
    return np.sum(s * losses) / np.sum(s) + alpha * np.linalg.norm(W, axis=1).sum()


def _kkt(X, Y, W, b, alpha, fit_intercept):
    """The largest distance of a row gradient to alpha * d||W_j|| (mean scaling)."""
    n = X.shape[0]
    G = X.T @ (softmax(X @ W + b, axis=1) - Y) / n
    norms = np.linalg.norm(W, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    dist = np.where(norms > 0, np.linalg.norm(G + alpha * W / safe[:, None], axis=1),
                    np.maximum(np.linalg.norm(G, axis=1) - alpha, 0.0))
    worst = dist.max()
    if fit_intercept:
        worst = max(worst, np.abs((softmax(X @ W + b, axis=1) - Y).sum(axis=0)).max() / n)
    return worst


def _fista(X, Y, alpha, fit_intercept, n_iter=20_000):
    """Accelerated proximal gradient on the whole matrix (step 1/L, L = ||X||_2^2/(2n)
    with a column of ones for the intercept): an oracle that shares no code with
    numopt."""
    n, p = X.shape
    A = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    L = np.linalg.norm(A, 2) ** 2 / (2 * n)
    V = np.zeros((A.shape[1], Y.shape[1]))
    prev, t = V.copy(), 1.0
    for _ in range(n_iter):
        G = A.T @ (softmax(A @ V, axis=1) - Y) / n
        U = V - G / L
        rows = U[:p]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        U[:p] = rows * np.maximum(1 - alpha / L / np.maximum(norms, 1e-300), 0.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        V = U + (t - 1) / t_next * (U - prev)
        prev, t = U, t_next
    return prev[:p], (prev[p] if fit_intercept else np.zeros(Y.shape[1]))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_multinomial_matches_proximal_gradient(fit_intercept):
    X, y = _data()
    Y = np.eye(4)[y]
    alpha = 0.03
    res = multinomial_logistic_regression(X, y, alpha, fit_intercept=fit_intercept,
                                          tol=1e-10)
    assert res.success
    assert res.x.shape == (30, 4) and res.intercept.shape == (4,)
    np.testing.assert_array_equal(res.classes, np.arange(4))
    W_ref, b_ref = _fista(X, Y, alpha, fit_intercept)
    ours = _objective(X, Y, res.x, res.intercept, alpha)
    assert ours == pytest.approx(res.fun, rel=1e-10)
    assert ours <= _objective(X, Y, W_ref, b_ref, alpha) + 1e-10
    # the solution is unique up to a shift of every class's intercept (and scores)
    np.testing.assert_allclose(res.x, W_ref, atol=1e-5)
    assert _kkt(X, Y, res.x, res.intercept, alpha, fit_intercept) <= 1e-10
    # group sparsity: a feature is dropped for every class at once
    zero = np.all(res.x == 0, axis=1)
    assert zero.any() and not zero.all()
    assert res.n_active == int((~zero).sum())


def test_multinomial_zero_model_above_alpha_max():
    X, y = _data(seed=1)
    n = X.shape[0]
    Y = np.eye(4)[y]
    # at W = 0 the intercepts give the class frequencies: the row gradients are
    # X^T (freq - Y) / n, and no feature enters above their largest norm
    alpha_max = np.linalg.norm(X.T @ (Y.mean(axis=0) - Y), axis=1).max() / n
    above = multinomial_logistic_regression(X, y, 1.01 * alpha_max, fit_intercept=True,
                                            tol=1e-10)
    assert above.success and np.all(above.x == 0)
    np.testing.assert_allclose(softmax(above.intercept), Y.mean(axis=0), rtol=1e-8)
    below = multinomial_logistic_regression(X, y, 0.95 * alpha_max, fit_intercept=True,
                                            tol=1e-10)
    assert below.success and below.n_active >= 1


def test_multinomial_kernel_agrees_with_reference_and_sparse():
    X, y = _data(n=80, p=20, n_classes=3, seed=2)
    res = multinomial_logistic_regression(X, y, 0.02, fit_intercept=True, tol=1e-10)
    with config_context(kernels="reference"):
        ref = multinomial_logistic_regression(X, y, 0.02, fit_intercept=True, tol=1e-10)
    assert res.success and ref.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)
    Xs = sp.csc_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    dense = multinomial_logistic_regression(Xs.toarray(), y, 0.02, tol=1e-10)
    sparse = multinomial_logistic_regression(Xs, y, 0.02, tol=1e-10)
    assert sparse.success
    np.testing.assert_allclose(sparse.x, dense.x, atol=1e-7)


def test_multinomial_sample_weight_is_repetition():
    X, y = _data(n=60, p=15, n_classes=3, seed=3)
    counts = np.random.default_rng(0).integers(0, 3, size=60)
    weighted = multinomial_logistic_regression(X, y, 0.02, fit_intercept=True,
                                               sample_weight=counts, tol=1e-11)
    repeated = multinomial_logistic_regression(np.repeat(X, counts, axis=0),
                                               np.repeat(y, counts), 0.02,
                                               fit_intercept=True, tol=1e-11)
    assert weighted.success and repeated.success
    np.testing.assert_allclose(weighted.x, repeated.x, atol=1e-7)


def test_multinomial_float32_and_bad_input():
    X, y = _data(n=60, p=10, n_classes=3, seed=4)
    res = multinomial_logistic_regression(X.astype(np.float32), y.astype(np.float32), 0.02,
                                          tol=1e-4)
    assert res.success and res.x.dtype == np.float32
    # integer labels do not decide the precision; the classes are the labels given
    labels = multinomial_logistic_regression(X.astype(np.float32), 10 * y + 7, 0.02,
                                             tol=1e-4)
    assert labels.x.dtype == np.float32 and labels.intercept.dtype == np.float32
    np.testing.assert_array_equal(labels.classes, [7, 17, 27])
    np.testing.assert_allclose(labels.x, res.x, atol=1e-6)
    with pytest.raises(ValueError, match="two classes"):
        multinomial_logistic_regression(X, np.zeros(60), 0.02)
    with pytest.raises(ValueError, match="coef0"):
        multinomial_logistic_regression(X, y, 0.02, coef0=np.zeros(10))
    with pytest.raises(ValueError, match="alpha"):
        multinomial_logistic_regression(X, y, -1.0)


def test_multinomial_callback_stop_ends_the_centred_fit():
    """Dense data with an intercept is solved on centred columns, then on X: a
    StopIteration from the callback ends the fit, it does not start the second solve."""
    X, y = _data(n=60, p=10, n_classes=3, seed=5)
    X = X + 5.0
    calls = []

    def stop(intermediate_result):
        calls.append(intermediate_result.nit)
        raise StopIteration

    res = multinomial_logistic_regression(X, y, 0.01, fit_intercept=True, tol=1e-10,
                                          callback=stop)
    assert res.status == 99 and not res.success
    assert res.nit == 1 and len(calls) == 1
    # the intercept is the data's: the model predicts with X as given
    full = multinomial_logistic_regression(X, y, 0.01, fit_intercept=True, tol=1e-10)
    Z_res, Z_full = X @ res.x + res.intercept, X @ full.x + full.intercept
    assert np.abs(softmax(Z_res, axis=1) - softmax(Z_full, axis=1)).max() < 0.5
