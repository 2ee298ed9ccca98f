"""MatrixCompleter: scikit-learn conventions and agreement with complete()."""

import warnings

import numpy as np
import pytest

from numopt.completion import MatrixCompleter, complete
from numopt.exceptions import ConvergenceWarning
from numopt.problems import random_low_rank_completion


@pytest.fixture(scope="module")
def prob():
    return random_low_rank_completion(80, 60, rank=3, rate=0.4, seed=2)


def test_fit_predict_transform(prob):
    est = MatrixCompleter(3, tol=1e-11, random_state=0)
    assert est.fit(prob.observed) is est
    truth = prob.dense()
    rows, cols = np.nonzero(np.isnan(prob.dense_with_nan()))
    np.testing.assert_allclose(est.predict(rows, cols), truth[rows, cols], atol=1e-7)
    X = prob.dense_with_nan()
    filled = est.transform(X)
    assert np.isnan(X).any() and not np.isnan(filled).any()  # input untouched
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    np.testing.assert_allclose(filled, truth, atol=1e-7)
    assert est.n_iter_ == est.result_.nit and est.n_features_in_ == 60
    res = complete(prob.observed, 3, tol=1e-11, seed=0)
    np.testing.assert_allclose(est.U_ @ est.V_.T, res.U @ res.V.T)


def test_fit_transform_dense(prob):
    filled = MatrixCompleter(3, method="als", tol=1e-11).fit_transform(prob.dense_with_nan())
    np.testing.assert_allclose(filled, prob.dense(), atol=1e-7)


def test_convergence_warning(prob):
    with pytest.warns(ConvergenceWarning):
        MatrixCompleter(3, max_iter=1, tol=1e-14).fit(prob.observed)


def test_params_protocol_and_clone(prob):
    from sklearn.base import clone

    est = MatrixCompleter(3, method="softimpute", solver_options={"shrinkage": 0.1})
    assert est.get_params()["method"] == "softimpute"
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    est.set_params(rank=2)
    assert est.rank == 2
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(nonsense=1)


def test_errors(prob):
    est = MatrixCompleter(3)
    with pytest.raises(ValueError, match="not fitted"):
        est.predict([0], [0])
    est.fit(prob.observed)
    with pytest.raises(ValueError, match=r"\bcols\b"):
        est.predict([0], [60])
    with pytest.raises(TypeError, match=r"\brows\b"):
        est.predict([0.5], [1])
    with pytest.raises(ValueError, match="shape"):
        est.transform(np.full((3, 3), np.nan))
    with pytest.raises(TypeError, match="predict"):
        est.transform(prob.observed)
    dense = prob.observed.toarray()
    dense[0, 0] = np.inf
    with pytest.raises(ValueError, match="X must not contain inf"):
        est.transform(dense)
    assert est.predict([], []).shape == (0,)
