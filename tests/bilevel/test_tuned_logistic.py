"""numopt.bilevel.TunedLogisticRegression: scikit-learn's estimator checks and the
tuning itself."""

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from numopt.bilevel import LogisticTuning, TunedLogisticRegression


@parametrize_with_checks([TunedLogisticRegression(max_iter=10)])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not converge")
        check(estimator)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("dataset", ["binary", "multiclass"])
def test_untuned_fit_is_scikit_learns_logistic_regression(dataset):
    # max_iter=0 keeps the start penalty 1/(C n) on every feature: the refit is then
    # scikit-learn's L2 logistic regression (binary, multinomial)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = _breast_cancer() if dataset == "binary" else load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = TunedLogisticRegression(C=0.5, max_iter=0).fit(X, y)
    theirs = LogisticRegression(C=0.5, tol=1e-12,
                                max_iter=10000).fit(X, y)
    # (the intercept keeps a 1e-6 ridge, which moves iris's intercepts of about 10 by 2e-2
    # and the probabilities by up to 7e-4; ours is the exact minimizer of its objective)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X),
                               atol=1e-4 if dataset == "binary" else 2e-3)
    assert ours.coef_.shape == theirs.coef_.shape
    np.testing.assert_allclose(ours.penalties_, 1 / (0.5 * X.shape[0]))


def test_tuning_lowers_the_validation_loss_of_the_start():
    X, y = _breast_cancer()
    with warnings.catch_warnings():   # 30 iterations: a lower loss, not yet tol
        warnings.simplefilter("ignore")
        est = TunedLogisticRegression(C=1.0, max_iter=30, random_state=0).fit(X, y)
    res = est.result_
    # the problem it tuned on: the same split (same seed), at the start and at the end
    start = np.full(X.shape[1], -np.log(X.shape[0]))
    rng = np.random.default_rng(0)
    order = rng.permutation(y.size)
    n_val = int(round(0.25 * y.size))
    problem = LogisticTuning(X[order[n_val:]], y[order[n_val:]], X[order[:n_val]],
                             y[order[:n_val]])
    before = problem.validation_loss(problem.lower_solution(start))
    after = problem.validation_loss(problem.lower_solution(np.log(est.penalties_)))
    assert after < before - 1e-3, (before, after)
    assert after == pytest.approx(res.fun, rel=1e-9)
    assert est.hypergrad_norm_ == res.hypergrad_norm and est.n_oracle_calls_ > 0
    assert est.penalties_.shape == (X.shape[1],) and np.ptp(np.log(est.penalties_)) > 0.1


def test_cv_tunes_on_every_fold():
    X, y = _breast_cancer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = TunedLogisticRegression(cv=3, max_iter=5, random_state=0).fit(X, y)
    assert est.score(X, y) > 0.95
    assert est.n_oracle_calls_ > 0 and np.all(np.isfinite(est.penalties_))


@pytest.mark.parametrize("params, match", [
    ({"C": 0.0}, "C"), ({"solver": "newton"}, "solver"), ({"hypergrad": "lu"}, "implicit_solver"),
    ({"validation_fraction": 1.5}, "validation_fraction"), ({"cv": 1}, "cv"),
])
def test_bad_parameters(params, match):
    X, y = _breast_cancer()
    with pytest.raises(ValueError, match=match):
        TunedLogisticRegression(**params).fit(X[:50], y[:50])
