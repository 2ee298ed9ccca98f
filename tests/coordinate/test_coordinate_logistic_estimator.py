"""SparseLogisticRegression: C or alpha, class and sample weights, warm starts and the
two multiclass models, against scikit-learn's L1 solvers and the multinomial solver."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.utils.estimator_checks import parametrize_with_checks

from numopt.coordinate import (SparseLogisticRegression, multinomial_logistic_regression,
                               sparse_logistic_regression)


@parametrize_with_checks([SparseLogisticRegression(tol=1e-8),
                          SparseLogisticRegression(C=2.0, multi_class="ovr",
                                                   class_weight="balanced")])
def test_sparse_logistic_passes_sklearn_checks(estimator, check):
    # the multinomial model at the default tol=1e-4 is in tests/test_estimator.py
    check(estimator)


def _binary(n=120, p=25, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:4] = [2.0, -1.5, 1.0, 0.5]
    y = (X @ w + 0.5 + rng.logistic(size=n) > 0).astype(int)
    return X, y, rng


def _multiclass(n=150, p=20, n_classes=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = np.zeros((p, n_classes))
    W[:5] = 2.0 * rng.standard_normal((5, n_classes))
    y = np.argmax(X @ W + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


@pytest.mark.parametrize("solver", ["liblinear", "saga"])
def test_binary_C_matches_sklearn(solver):
    """scikit-learn's ``C sum loss + ||w||_1`` at the same C (liblinear penalises its
    intercept: compared without one; saga with one)."""
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _binary()
    fit_intercept = solver == "saga"
    C = 0.1
    ours = SparseLogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # saga's ConvergenceWarning at max_iter
        ref = LogisticRegression(C=C, l1_ratio=1.0, solver=solver, tol=1e-12,
                                 fit_intercept=fit_intercept, max_iter=50_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)
    assert ours.alpha_ == pytest.approx(1.0 / (C * X.shape[0]))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert ours.coef_.shape == (1, X.shape[1]) and ours.intercept_.shape == (1,)


def test_binary_class_weight_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    X, y, rng = _binary(seed=3)
    sw = rng.uniform(0.5, 2.0, y.shape[0])
    cw = {0: 3.0, 1: 0.5}
    ours = SparseLogisticRegression(C=0.2, class_weight=cw, fit_intercept=False,
                                    tol=1e-10).fit(X, y, sample_weight=sw)
    ref = LogisticRegression(C=0.2, l1_ratio=1.0, solver="liblinear", class_weight=cw,
                             fit_intercept=False, tol=1e-12, max_iter=100_000).fit(
        X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    # "balanced" is class weights n / (n_classes * count)
    counts = np.bincount(y)
    balanced = SparseLogisticRegression(C=0.2, class_weight="balanced", tol=1e-10).fit(X, y)
    explicit = SparseLogisticRegression(
        C=0.2, class_weight={k: y.shape[0] / (2 * counts[k]) for k in (0, 1)},
        tol=1e-10).fit(X, y)
    np.testing.assert_allclose(balanced.coef_, explicit.coef_, atol=1e-8)


def test_alpha_and_C_are_one_penalty():
    X, y, _ = _binary(seed=4)
    a = SparseLogisticRegression(alpha=0.01, tol=1e-10).fit(X, y)
    c = SparseLogisticRegression(C=1.0 / (0.01 * X.shape[0]), tol=1e-10).fit(X, y)
    np.testing.assert_allclose(a.coef_, c.coef_, atol=1e-9)
    with pytest.raises(ValueError, match="exactly one of alpha and C"):
        SparseLogisticRegression(alpha=0.1, C=1.0).fit(X, y)
    with pytest.raises(ValueError, match=r"\bC\b"):
        SparseLogisticRegression(C=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="multi_class"):
        SparseLogisticRegression(multi_class="crammer").fit(X, y)


def test_multinomial_is_the_group_l1_solver():
    X, y = _multiclass()
    labels = np.array(["a", "b", "c", "d"])[y]
    clf = SparseLogisticRegression(alpha=0.02, tol=1e-10).fit(X, labels)
    res = multinomial_logistic_regression(X, y, 0.02, fit_intercept=True, tol=1e-10)
    np.testing.assert_allclose(clf.coef_, res.x.T, atol=1e-8)
    assert clf.coef_.shape == (4, X.shape[1]) and clf.intercept_.shape == (4,)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, softmax(X @ res.x + res.intercept, axis=1),
                               atol=1e-7)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    assert clf.score(X, labels) > 0.7
    # group sparsity: whole columns of coef_ (features) are zero
    assert np.any(np.all(clf.coef_ == 0, axis=0))


def test_ovr_is_one_binary_fit_per_class():
    X, y = _multiclass(seed=2)
    clf = SparseLogisticRegression(alpha=0.02, multi_class="ovr", tol=1e-10).fit(X, y)
    for k in range(4):
        res = sparse_logistic_regression(X, np.where(y == k, 1.0, -1.0), 0.02,
                                         fit_intercept=True, tol=1e-10)
        np.testing.assert_allclose(clf.coef_[k], res.x, atol=1e-8)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.6


def test_warm_start_reuses_the_coefficients():
    X, y = _multiclass(seed=5)
    clf = SparseLogisticRegression(alpha=0.02, tol=1e-8, warm_start=True).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    # started at the solution: one working-set iteration certifies it
    assert clf.n_iter_ <= 1 < first or clf.n_iter_ < first
    cold = SparseLogisticRegression(alpha=0.02, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(clf.coef_, cold.coef_, atol=1e-6)


def test_sparse_input_multiclass():
    X, y = _multiclass(seed=6)
    Xs = sp.csc_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    dense = SparseLogisticRegression(alpha=0.01, tol=1e-10).fit(Xs.toarray(), y)
    sparse = SparseLogisticRegression(alpha=0.01, tol=1e-10).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-7)
