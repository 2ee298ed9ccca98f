"""Issue 24: the GLM engine on Datafit and Penalty objects -- elastic net, sample weights,
non-negative and weighted L1, Huber, regularisation paths and cross-validation -- against
scikit-learn (coefficients at the same objective) and invariants."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sk
from sklearn.utils.estimator_checks import parametrize_with_checks

from numopt import config_context
from numopt._loop import run_solver
from numopt.coordinate import (ElasticNet, ElasticNetCV, Lasso, LassoCV, elastic_net,
                               enet_path, lasso, lasso_path)
from numopt.coordinate._glm_l1 import SparseGLMProblem, WorkingSetCD
from numopt.coordinate._glm_objects import L1, Huber, Quadratic, WeightedL1


def _data(n=60, p=120, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :4] @ np.array([1.0, -2.0, 3.0, 0.5]) + 0.3 * rng.standard_normal(n) + shift
    return X, y, rng


def _enet_objective(X, y, w, b, alpha, l1_ratio, sw=None):
    n = y.shape[0]
    sw = np.ones(n) if sw is None else sw * n / sw.sum()
    r = y - X @ w - b
    return (0.5 * np.sum(sw * r * r) / n + alpha * l1_ratio * np.abs(w).sum()
            + 0.5 * alpha * (1 - l1_ratio) * w @ w)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_elastic_net_matches_sklearn(fit_intercept, positive, weighted):
    X, y, rng = _data(shift=2.0)
    sw = rng.uniform(0.2, 3.0, y.shape[0]) if weighted else None
    alpha, ratio = 0.08, 0.6
    res = elastic_net(X, y, alpha, ratio, fit_intercept=fit_intercept, positive=positive,
                      sample_weight=sw, tol=1e-12)
    ref = sk.ElasticNet(alpha=alpha, l1_ratio=ratio, fit_intercept=fit_intercept,
                        positive=positive, tol=1e-14, max_iter=100_000).fit(
        X, y, sample_weight=sw)
    assert res.success
    ours = _enet_objective(X, y, res.x, res.intercept, alpha, ratio, sw)
    theirs = _enet_objective(X, y, ref.coef_, ref.intercept_, alpha, ratio, sw)
    assert ours <= theirs + 1e-10
    assert res.fun == pytest.approx(ours, rel=1e-10)
    np.testing.assert_allclose(res.x, ref.coef_, atol=1e-5)
    assert res.intercept == pytest.approx(ref.intercept_, abs=1e-5)
    if positive:
        assert np.all(res.x >= 0)


def test_lasso_sample_weight_matches_sklearn_on_sparse_input():
    X, y, rng = _data(seed=1, shift=-1.0)
    X[np.abs(X) < 1.0] = 0.0
    sw = rng.uniform(0.0, 2.0, y.shape[0])
    model = Lasso(alpha=0.05, tol=1e-12).fit(sp.csc_matrix(X), y, sample_weight=sw)
    ref = sk.Lasso(alpha=0.05, tol=1e-14, max_iter=100_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)
    assert model.intercept_ == pytest.approx(ref.intercept_, abs=1e-5)


def test_integer_sample_weights_equal_repeated_rows():
    X, y, rng = _data(n=40, p=30, seed=2)
    counts = rng.integers(0, 4, y.shape[0])
    counts[0] = 1
    weighted = lasso(X, y, 0.05, sample_weight=counts, fit_intercept=True, tol=1e-13)
    repeated = lasso(np.repeat(X, counts, axis=0), np.repeat(y, counts), 0.05,
                     fit_intercept=True, tol=1e-13)
    np.testing.assert_allclose(weighted.x, repeated.x, atol=1e-7)
    assert weighted.intercept == pytest.approx(repeated.intercept, abs=1e-7)
    assert weighted.fun == pytest.approx(repeated.fun, rel=1e-9)


def test_bad_sample_weight_is_named():
    X, y, _ = _data(n=10, p=5)
    with pytest.raises(ValueError, match="sample_weight"):
        lasso(X, y, 0.1, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="sample_weight"):
        lasso(X, y, 0.1, sample_weight=np.ones(9))
    with pytest.raises(ValueError, match="l1_ratio"):
        elastic_net(X, y, 0.1, l1_ratio=1.5)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.7])
def test_paths_match_sklearn(l1_ratio):
    X, y, _ = _data(seed=3)
    n = y.shape[0]
    if l1_ratio == 1.0:
        alphas, coefs, gaps, n_iter = lasso_path(X, y, alphas=15, tol=1e-12,
                                                 return_n_iter=True)
        ref_alphas, ref_coefs, _ = sk.lasso_path(X, y, alphas=15, tol=1e-14,
                                                 max_iter=100_000)
    else:
        alphas, coefs, gaps, n_iter = enet_path(X, y, l1_ratio=l1_ratio, alphas=15,
                                                tol=1e-12, return_n_iter=True)
        ref_alphas, ref_coefs, _ = sk.enet_path(X, y, l1_ratio=l1_ratio, alphas=15,
                                                tol=1e-14, max_iter=100_000)
    np.testing.assert_allclose(alphas, ref_alphas, rtol=1e-12)
    assert coefs.shape == ref_coefs.shape == (X.shape[1], 15)
    assert np.all(gaps <= 1e-12 * (y @ y) / n) and len(n_iter) == 15
    for k, alpha in enumerate(alphas):
        ours = _enet_objective(X, y, coefs[:, k], 0.0, alpha, l1_ratio)
        theirs = _enet_objective(X, y, ref_coefs[:, k], 0.0, alpha, l1_ratio)
        assert ours <= theirs + 1e-10
    np.testing.assert_allclose(coefs, ref_coefs, atol=1e-4)
    # alpha_max is the smallest penalty whose solution is 0
    assert not np.any(coefs[:, 0]) and np.any(coefs[:, 1])


def test_path_warm_starts_save_work():
    X, y, _ = _data(seed=4)
    alphas, _, _, warm = lasso_path(X, y, alphas=20, tol=1e-10, return_n_iter=True)
    cold = [lasso(X, y, a, tol=1e-10).nit for a in alphas]
    assert sum(warm) < sum(cold)


def test_lasso_cv_matches_sklearn():
    X, y, _ = _data(n=80, p=60, seed=5, shift=1.0)
    ours = LassoCV(alphas=20, cv=4, tol=1e-12, n_jobs=2).fit(X, y)
    ref = sk.LassoCV(alphas=20, cv=4, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)


def test_elastic_net_cv_chooses_the_l1_ratio_like_sklearn():
    X, y, _ = _data(n=80, p=60, seed=6)
    ours = ElasticNetCV(l1_ratio=[0.3, 0.9], alphas=15, cv=3, tol=1e-12).fit(X, y)
    ref = sk.ElasticNetCV(l1_ratio=[0.3, 0.9], alphas=15, cv=3, tol=1e-14,
                          max_iter=100_000).fit(X, y)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (2, 15, 3)
    # the smallest penalties are barely strongly convex on 53 x 60 training folds
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-4)
    assert (ours.alpha_, ours.l1_ratio_) == pytest.approx((ref.alpha_, ref.l1_ratio_))


def test_weighted_l1_with_an_unpenalised_feature_is_certified_by_kkt():
    """A zero weight leaves no finite rescaling of the dual point: the solver certifies
    with the KKT violation instead of reporting a gap it cannot close."""
    X, y, _ = _data(seed=7)
    weights = np.ones(X.shape[1])
    weights[5] = 0.0
    alpha = 0.1
    problem = SparseGLMProblem(np, np.asfortranarray(X), y, Quadratic(),
                               WeightedL1(alpha, weights), fit_intercept=False)
    res = run_solver(WorkingSetCD(problem, np.zeros(X.shape[1]), 0.0, tol=1e-9), maxiter=100)
    assert res.success and np.isnan(res.dual_gap)
    # KKT recomputed here: the unpenalised coefficient has a zero gradient
    grad = X.T @ (X @ res.x - y) / y.shape[0]
    assert abs(grad[5]) <= 1e-8 and res.x[5] != 0
    active = res.x != 0
    np.testing.assert_allclose(grad[active], -alpha * weights[active] * np.sign(res.x[active]),
                               atol=1e-8)
    assert np.all(np.abs(grad[~active]) <= alpha * weights[~active] + 1e-8)


def test_huber_datafit_kkt_and_its_quadratic_limit():
    X, y, _ = _data(seed=8)
    y[:3] += 20.0    # outliers
    alpha = 0.05
    Xf = np.asfortranarray(X)

    def solve(datafit):
        problem = SparseGLMProblem(np, Xf, y, datafit, L1(alpha), fit_intercept=False)
        return run_solver(WorkingSetCD(problem, np.zeros(X.shape[1]), 0.0, tol=1e-10),
                          maxiter=200)

    huber = solve(Huber(delta=1.0))
    assert huber.success
    r = X @ huber.x - y
    grad = X.T @ np.clip(r, -1.0, 1.0) / y.shape[0]
    active = huber.x != 0
    np.testing.assert_allclose(grad[active], -alpha * np.sign(huber.x[active]), atol=1e-9)
    assert np.all(np.abs(grad[~active]) <= alpha + 1e-9)
    # delta beyond every residual: the Lasso
    wide = solve(Huber(delta=1e6))
    np.testing.assert_allclose(wide.x, lasso(X, y, alpha, tol=1e-12).x, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_elastic_net_kernels_match_reference(sparse):
    X, y, rng = _data(n=30, p=40, seed=9)
    sw = rng.uniform(0.5, 1.5, y.shape[0])
    Xin = sp.csc_matrix(np.where(np.abs(X) > 0.5, X, 0.0)) if sparse else X
    kw = dict(fit_intercept=True, sample_weight=sw, tol=1e-12, positive=True)
    fast = elastic_net(Xin, y, 0.05, 0.5, **kw)
    with config_context(kernels="reference"):
        ref = elastic_net(Xin, y, 0.05, 0.5, **kw)
    assert fast.success and ref.success
    np.testing.assert_allclose(fast.x, ref.x, atol=1e-8)


_LOOSE_CV = ("at tol=1e-4 two equivalent fits whose rounding differs stop at different "
             "iterates of the CV paths, and predictions near 0 are compared at rtol 1e-7 "
             "only; LassoCV passes at tol=1e-12 (tested below), ElasticNetCV leaves "
             "4e-11 absolute differences there")


def _expected_failed_checks(estimator):
    if isinstance(estimator, (LassoCV, ElasticNetCV)) and estimator.tol > 1e-12:
        return {"check_sample_weight_equivalence_on_dense_data": _LOOSE_CV,
                "check_sample_weight_equivalence_on_sparse_data": _LOOSE_CV}
    return {}


@parametrize_with_checks([ElasticNet(), LassoCV(cv=3, alphas=5), ElasticNetCV(cv=3, alphas=5)],
                         expected_failed_checks=_expected_failed_checks)
def test_new_estimators_pass_sklearn_checks(estimator, check):
    check(estimator)


def test_cv_sample_weights_equal_repeated_rows_at_tight_tol():
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    check_sample_weight_equivalence_on_dense_data("LassoCV", LassoCV(cv=3, alphas=5,
                                                                     tol=1e-12))


def test_elastic_net_gap_below_rounding_is_not_success():
    """At the elastic net's optimum the residual is the dual optimum: primal and dual
    agree to the last bits, and a gap clipped to 0 read as success at tol=1e-300."""
    X, y, _ = _data(n=40, p=25, seed=10)
    res = elastic_net(X, y, 0.05, 0.7, tol=1e-300, maxiter=3)
    assert not res.success and res.nit == 3
    assert 0 < res.dual_gap < 1e-12 * (y @ y) / y.shape[0]


def test_sparse_logistic_sample_weight_matches_sklearn():
    """scikit-learn's ``C sum_i s_i loss_i + ||w||_1`` is ours with the weights rescaled
    to sum to n and ``alpha = 1 / (C sum_i s_i)``."""
    from numopt.coordinate import SparseLogisticRegression

    X, y, rng = _data(n=80, p=30, seed=11)
    labels = (y > 0).astype(int)
    sw = rng.uniform(0.2, 3.0, y.shape[0])
    C = 0.5
    ours = SparseLogisticRegression(alpha=1.0 / (C * sw.sum()), fit_intercept=False,
                                    tol=1e-10).fit(X, labels, sample_weight=sw)
    ref = sk.LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                                tol=1e-12, max_iter=100_000).fit(X, labels, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
