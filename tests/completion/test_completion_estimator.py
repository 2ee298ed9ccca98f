"""MatrixCompleter: scikit-learn conventions and agreement with complete()."""

import warnings

import numpy as np
import pytest

from numopt.completion import MatrixCompleter, complete
from sklearn.exceptions import ConvergenceWarning
from numopt.problems import random_low_rank_completion


@pytest.fixture(scope="module")
def prob():
    return random_low_rank_completion(80, 60, rank=3, rate=0.4, seed=2)


def test_fit_predict_transform(prob):
    est = MatrixCompleter(3, tol=1e-11, random_state=0)
    assert est.fit(prob.observed) is est
    truth = prob.dense()
    rows, cols = np.nonzero(np.isnan(prob.dense_with_nan()))
    np.testing.assert_allclose(est.predict_entries(rows, cols), truth[rows, cols], atol=1e-7)
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
        est.predict_entries([0], [0])
    est.fit(prob.observed)
    with pytest.raises(ValueError, match=r"\bcols\b"):
        est.predict_entries([0], [60])
    with pytest.raises(TypeError, match=r"\brows\b"):
        est.predict_entries([0.5], [1])
    with pytest.raises(ValueError, match="X has 3 features.*expecting 60"):
        est.transform(np.full((3, 3), np.nan))
    dense = prob.observed.toarray()
    dense[0, 0] = np.inf
    with pytest.raises(ValueError, match="X contains infinity"):
        est.transform(dense)
    sparse = prob.observed.copy()
    sparse.data[0] = np.nan
    with pytest.raises(ValueError, match="stored entries contain NaN"):
        est.fit(sparse)
    with pytest.raises(ValueError, match=r"rank=4 exceeds .* 3 feature\(s\)"):
        MatrixCompleter(4).fit(np.ones((5, 3)))
    assert est.predict_entries([], []).shape == (0,)


@pytest.mark.parametrize("method,options", [("altmin", None), ("als", {"reg": 0.5}),
                                            ("softimpute", None),
                                            ("softimpute", {"shrinkage": 2.0})])
def test_transform_of_the_fitted_rows_gives_the_fitted_fill(prob, method, options):
    # fold-in is the fit's own row update (softimpute: its fixed point), so a fitted row
    # folded in again gets its fitted completion back, regularized fits included
    X = prob.dense_with_nan()
    est = MatrixCompleter(3, method=method, solver_options=options, tol=1e-12,
                          random_state=0)
    fitted = est.fit_transform(X)
    np.testing.assert_allclose(est.transform(X), fitted, atol=1e-7 * np.abs(fitted).max())
    np.testing.assert_allclose(est.transform(X[::-1][:7]), fitted[::-1][:7],
                               atol=1e-7 * np.abs(fitted).max())


def test_transform_completes_rows_it_was_not_fitted_on(prob):
    # the old transform returned the fitted rows' fill for any matrix of the fitted shape
    truth = prob.dense()
    rng = np.random.default_rng(1)
    est = MatrixCompleter(3, tol=1e-12, random_state=0).fit(prob.dense_with_nan()[:50])
    new = truth[50:].copy()
    new[rng.random(new.shape) < 0.6] = np.nan
    filled = est.transform(new)
    np.testing.assert_allclose(filled, truth[50:], atol=1e-6 * np.abs(truth).max())
    # a new row without any observation gets complete()'s fill of an empty row
    empty = est.transform(np.full((2, 60), np.nan))
    np.testing.assert_allclose(empty[0], empty[1])
    X = prob.dense_with_nan()[:50].copy()
    X[0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    np.testing.assert_allclose(est.transform(np.full((1, 60), np.nan))[0],
                               est.predict_entries(np.zeros(60, int), np.arange(60)),
                               atol=1e-10 * np.abs(truth).max())


def test_sparse_input_stored_entries_are_the_observations(prob):
    est = MatrixCompleter(3, tol=1e-12, random_state=0).fit(prob.observed)
    dense_fit = MatrixCompleter(3, tol=1e-12, random_state=0).fit(prob.dense_with_nan())
    filled = est.transform(prob.observed)
    np.testing.assert_allclose(filled, dense_fit.transform(prob.dense_with_nan()),
                               atol=1e-7 * np.abs(filled).max())
    np.testing.assert_allclose(filled, prob.dense(), atol=1e-6 * np.abs(filled).max())


def test_float32_dataframe_and_set_output(prob):
    pd = pytest.importorskip("pandas")
    X = prob.dense_with_nan().astype(np.float32)
    columns = [f"c{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    est = MatrixCompleter(3, tol=1e-5, random_state=0).set_output(transform="pandas")
    out = est.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == columns
    assert (out.dtypes == np.float32).all()
    assert list(est.feature_names_in_) == columns
    assert list(est.get_feature_names_out()) == columns
    np.testing.assert_allclose(out.to_numpy(), prob.dense(),
                               atol=1e-3 * np.abs(X[~np.isnan(X)]).max())
    assert est.set_output(transform="default").transform(frame).dtype == np.float32
