"""LassoCV (issue 23, item 4: n_jobs where scikit-learn's estimators have it, for
cross-validation and paths) against scikit-learn's LassoCV on the same folds."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model
from sklearn.datasets import make_regression
from sklearn.model_selection import KFold

from numopt.coordinate import LassoCV


@pytest.fixture(scope="module")
def data():
    return make_regression(n_samples=60, n_features=15, n_informative=4, noise=5.0,
                           random_state=0)


@pytest.mark.parametrize("fit_intercept, sparse", [(True, False), (False, False),
                                                   (True, True)])
def test_lasso_cv_matches_scikit_learn(data, fit_intercept, sparse):
    X, y = data
    X = sp.csc_matrix(X) if sparse else X
    cv = KFold(4, shuffle=True, random_state=1)
    ours = LassoCV(alphas=15, cv=cv, tol=1e-10, max_iter=1000,
                   fit_intercept=fit_intercept).fit(X, y)
    theirs = sklearn.linear_model.LassoCV(alphas=15, cv=cv, tol=1e-10, max_iter=100000,
                                          fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-10)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-10)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-8)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-6, abs=1e-8)
    assert ours.result_.success


def test_given_alphas_are_sorted_and_checked(data):
    X, y = data
    est = LassoCV(alphas=[0.1, 10.0, 1.0], cv=3).fit(X, y)
    np.testing.assert_array_equal(est.alphas_, [10.0, 1.0, 0.1])
    assert est.mse_path_.shape == (3, 3)
    with pytest.raises(ValueError, match="alphas must be non-negative"):
        LassoCV(alphas=[1.0, -1.0]).fit(X, y)
    with pytest.raises(ValueError, match=r"alphas must lie in \[1, inf\)"):
        LassoCV(alphas=0).fit(X, y)
    with pytest.raises(ValueError, match=r"eps must lie in \(0, inf\)"):
        LassoCV(eps=0.0).fit(X, y)


def test_lasso_cv_does_not_depend_on_n_jobs(data):
    X, y = data
    serial = LassoCV(alphas=10, cv=4).fit(X, y)
    on_two = LassoCV(alphas=10, cv=4, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(on_two.mse_path_, serial.mse_path_)
    assert on_two.alpha_ == serial.alpha_
    np.testing.assert_array_equal(on_two.coef_, serial.coef_)
