"""Unit-free fits and input checks found by an adversarial audit of numopt.coordinate."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from numopt.coordinate import (L1LeastSquares, LabelPropagation, LabelPropagationProblem,
                               LeastSquares, QuadraticProblem, SoftmaxLogistic, bcd, lasso,
                               sparse_logistic_regression)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 10))
W_TRUE = np.array([1.0, -2.0, 3.0] + [0.0] * 7)
Y = X @ W_TRUE + 0.01 * RNG.standard_normal(30)
LABELS = np.where(X @ W_TRUE + 0.5 * RNG.standard_normal(30) > 0, 1.0, -1.0)
ALPHA = 0.1 * np.max(np.abs(X.T @ Y)) / 30
REF = lasso(X, Y, ALPHA, tol=1e-10)


@pytest.mark.parametrize("s", [1e160, 1e-160, 2.0 ** 600, 2.0 ** -600])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [False, True])
def test_lasso_with_scaled_X(s, sparse, intercept):
    # X -> s X, alpha -> s alpha: coef -> coef / s; the squared column norms used to
    # overflow (ValueError) or underflow
    ref = lasso(X, Y, ALPHA, tol=1e-10, fit_intercept=intercept)
    Xs = sp.csc_matrix(X * s) if sparse else X * s
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lasso(Xs, Y, ALPHA * s, tol=1e-10, fit_intercept=intercept)
    assert res.success, res.message
    np.testing.assert_allclose(res.x * s, ref.x, rtol=1e-9, atol=1e-12)
    assert res.intercept == pytest.approx(ref.intercept, rel=1e-9, abs=1e-12)
    assert res.fun == pytest.approx(ref.fun, rel=1e-9)


@pytest.mark.parametrize("s", [1e160, 1e-120])
def test_lasso_with_scaled_y(s):
    # y -> s y, alpha -> s alpha: coef -> s coef; ||y||^2 used to overflow (NaN gap)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lasso(X, Y * s, ALPHA * s, tol=1e-10, fit_intercept=True)
    ref = lasso(X, Y, ALPHA, tol=1e-10, fit_intercept=True)
    assert res.success, res.message
    np.testing.assert_allclose(res.x / s, ref.x, rtol=1e-9, atol=1e-12)
    assert res.intercept / s == pytest.approx(ref.intercept, rel=1e-9, abs=1e-12)
    # (the objective and the gap, ~1e320 here, lie beyond float64 and read inf)
    assert res.kkt_violation / s == pytest.approx(ref.kkt_violation, rel=1e-3, abs=1e-12)


def test_lasso_message_is_in_the_callers_units():
    res = lasso(X, Y * 1e160, ALPHA * 1e160, maxiter=0)
    assert not res.success
    assert f"{res.dual_gap:.3e}" in res.message


def test_logistic_with_scaled_X():
    # the KKT tolerance is in gradient units, so it scales with X like alpha
    ref = sparse_logistic_regression(X, LABELS, 0.01, tol=1e-8)
    s = 1e160
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = sparse_logistic_regression(X * s, LABELS, 0.01 * s, tol=1e-8 * s)
    assert res.success, res.message
    np.testing.assert_allclose(res.x * s, ref.x, rtol=1e-7, atol=1e-10)
    assert res.kkt_violation <= 1e-8 * s


def test_bcd_zero_curvature_is_reported():
    # f = -sum(x): unbounded below; the Lipschitz step divided by zero
    with pytest.raises(ValueError, match="unbounded below: coordinate 0"):
        bcd(QuadraticProblem(np.zeros((3, 3)), np.ones(3)), partition="order", rule="cyclic")


def test_bcd_newton_on_a_singular_block():
    # Q = [[1, 1], [1, 1]] is semi-definite with c in its range: minimisers exist
    problem = QuadraticProblem(np.ones((2, 2)), np.ones(2))
    res = bcd(problem, partition="order", rule="cyclic", update="newton", block_size=2)
    assert res.success, res.message
    assert res.x.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("call, error, name", [
    (lambda: lasso(X, Y, ALPHA, positive="no"), TypeError, "positive"),
    (lambda: lasso(X, Y, ALPHA, fit_intercept="no"), TypeError, "fit_intercept"),
    (lambda: L1LeastSquares(X, Y, 1.0, positive="no"), TypeError, "positive"),
    (lambda: LeastSquares(X, Y, gram="yes"), ValueError, "gram"),
    (lambda: SoftmaxLogistic(X, np.arange(30) % 3, n_classes=3.5), TypeError, "n_classes"),
    (lambda: QuadraticProblem(np.eye(2), np.ones(2), const="a"), TypeError, "const"),
    (lambda: LabelPropagationProblem(sp.eye(3, format="csr"), np.zeros(3),
                                     np.array([True, False, False]), prior="a"),
     TypeError, "prior"),
    (lambda: LabelPropagationProblem(sp.csr_matrix(np.ones((3, 3))), np.full(3, 1e200),
                                     np.array([True, False, False])), ValueError, "labels"),
    (lambda: bcd(LeastSquares(X, Y), partition="order", rule="random", seed="x"),
     TypeError, "seed"),
])
def test_options_are_checked_and_named(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("s", [2.0**530, 2.0**-565])
def test_label_propagation_with_scaled_X(s):
    # squared distances overflowed at |X| ~ 1e160 and underflowed to 0 at 1e-170 (every
    # weight exp(0) = 1, a silently wrong graph); a power-of-two scale is exact, so the
    # fit must not change
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 4.0]
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    partial = np.where(rng.random(60) < 0.8, -1, y)
    partial[[0, 30]] = [0, 1]
    base = LabelPropagation().fit(X, partial)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = LabelPropagation().fit(X * s, partial)
        np.testing.assert_allclose(scaled.label_distributions_, base.label_distributions_,
                                   rtol=0, atol=1e-12)
        np.testing.assert_array_equal(scaled.predict(X * s), base.predict(X))
    assert (base.transduction_ == y).mean() > 0.95


def _lasso_gap(X, y, w, alpha):
    """The Lasso duality gap at scikit-learn's dual point, from scratch in float64."""
    n = X.shape[0]
    R = y - X @ w
    primal = 0.5 * R @ R / n + alpha * np.abs(w).sum()
    theta = R / max(n * alpha, np.max(np.abs(X.T @ R)))
    return primal - 0.5 / n * (y @ y - np.sum((y - n * alpha * theta) ** 2))


def test_float32_lasso_gap_is_not_a_rounding_artefact():
    # primal and dual were summed in float32 from the residual the inner solver updates:
    # at tol 1e-12 the gap read 0.0 and the fit claimed success with a true gap of 3.8e-5
    from numopt.problems import lasso_design

    X, y, *_ = lasso_design(200, 500, seed=0)
    alpha = 0.05 * np.max(np.abs(X.T @ y)) / 200
    target = 1e-12 * (y @ y) / 200
    res = lasso(X.astype(np.float32), y.astype(np.float32), alpha, tol=1e-12)
    true_gap = _lasso_gap(X, y, res.x.astype(float), alpha)
    assert not res.success and res.status == 1
    assert res.dual_gap > 1e4 * target and true_gap > 1e4 * target  # both at the floor
    easy = lasso(X.astype(np.float32), y.astype(np.float32), alpha, tol=1e-5)
    assert easy.success and _lasso_gap(X, y, easy.x.astype(float), alpha) < 1e-5 * (y @ y) / 200


def test_unsorted_sparse_design_is_not_reordered_in_place():
    # check_design used to sort the caller's CSC indices (and sum its duplicates) in
    # place: csc_matrix(X) shares X's arrays
    import scipy.sparse as sp

    from numopt.coordinate import Lasso

    rng = np.random.default_rng(0)
    dense = rng.standard_normal((30, 8)) * (rng.random((30, 8)) < 0.5)
    y = rng.standard_normal(30)
    canonical = sp.csc_matrix(dense)
    # the same matrix with each column's entries reversed and one entry split in two
    indptr, indices, data = [0], [], []
    for j in range(8):
        lo, hi = canonical.indptr[j], canonical.indptr[j + 1]
        rows, vals = canonical.indices[lo:hi][::-1], canonical.data[lo:hi][::-1]
        if len(rows):
            rows = np.r_[rows, rows[0]]
            vals = np.r_[vals[0] / 2, vals[1:], vals[0] / 2]
        indices.extend(rows)
        data.extend(vals)
        indptr.append(len(indices))
    X = sp.csc_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(30, 8))
    assert not X.has_canonical_format
    before = (X.indices.copy(), X.data.copy(), X.indptr.copy())
    coef = Lasso(alpha=0.05, tol=1e-10).fit(X, y).coef_
    np.testing.assert_array_equal(X.indices, before[0])
    np.testing.assert_array_equal(X.data, before[1])
    np.testing.assert_array_equal(X.indptr, before[2])
    np.testing.assert_allclose(coef, Lasso(alpha=0.05, tol=1e-10).fit(dense, y).coef_,
                               rtol=1e-7, atol=1e-9)
