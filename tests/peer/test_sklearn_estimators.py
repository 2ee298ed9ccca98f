"""scikit-learn's own cases for score, DataFrame input and ConvergenceWarning filters,
translated to numopt's estimators.

Sources (scikit-learn 1.9): ``sklearn/metrics/tests/test_common.py``,
``sklearn/metrics/tests/test_regression.py``, ``sklearn/utils/estimator_checks.py``,
``sklearn/linear_model/tests/test_coordinate_descent.py``.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from numopt.completion import MatrixCompleter
from numopt.coordinate import Lasso, LabelPropagation, SparseLogisticRegression
from numopt.ot import EntropicOT, SparseOT


def _regression(seed=0, n=40, p=5):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 0.01 * rng.standard_normal(n)
    return X, y


def _classification(seed=0, n=40, p=4):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, p))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def _fitted_supervised():
    X, y = _regression()
    Xc, yc = _classification()
    return [(Lasso(alpha=1e-4, tol=1e-10), X, y),
            (SparseLogisticRegression(alpha=1e-3), Xc, yc),
            (LabelPropagation(n_neighbors=5), Xc, yc)]


@pytest.mark.parametrize("estimator,X,y", _fitted_supervised(),
                         ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_score_is_invariant_to_a_column_vector_y(estimator, X, y):
    # metrics/tests/test_common.py::test_format_invariance_with_1d_vectors: a metric
    # gives the same value for y as a list, a 1d array and a column. score(X, y[:, None])
    # broadcast (n, 1) against (n,): Lasso scored -58.7 for a 0.99997 fit and
    # SparseLogisticRegression 0.5 for 1.0
    estimator.fit(X, y)
    reference = estimator.score(X, y)
    assert reference > 0.9
    assert estimator.score(X, y[:, np.newaxis]) == pytest.approx(reference, rel=1e-12)
    assert estimator.score(X, list(y)) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("estimator,X,y", _fitted_supervised(),
                         ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_fit_with_a_column_vector_y_warns_and_ravels(estimator, X, y):
    # utils/estimator_checks.py::check_supervised_y_2d: fitting on y[:, np.newaxis]
    # warns a DataConversionWarning ("A column-vector y was passed when a 1d array was
    # expected") and predicts as the fit on y
    expected = estimator.fit(X, y).predict(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataConversionWarning)
        estimator.fit(X, y[:, np.newaxis])
    messages = [str(w.message) for w in caught if issubclass(w.category, DataConversionWarning)]
    assert len(messages) == 1 and "A column-vector y was passed" in messages[0]
    assert_allclose(estimator.predict(X), expected)


def test_r2_of_a_constant_y_follows_r2_score():
    # metrics/tests/test_regression.py::test_regression_metrics_at_limits: with
    # force_finite (the default), r2_score([1, 1], [1, 1]) is 1.0 and
    # r2_score([0, 0], [1, -1]) is 0.0. Lasso.score gave 0.0 for an exact fit of a
    # constant y
    X, _ = _regression()
    y = np.full(X.shape[0], 3.5)
    lasso = Lasso(alpha=0.1).fit(X, y)
    assert_allclose(lasso.predict(X), y)
    assert lasso.score(X, y) == 1.0
    X2, y2 = _regression(seed=1)
    varying = Lasso(alpha=1e-3).fit(X2, y2)
    assert varying.score(X2, np.zeros_like(y2)) == 0.0


def _dataframe_cases():
    X, y = _regression()
    Xc, yc = _classification()
    M = np.outer(np.arange(1.0, 13.0), np.arange(1.0, 6.0)) + \
        np.outer(np.ones(12), np.arange(5.0) ** 2)
    M[::3, 1] = np.nan
    return [
        (Lasso(alpha=1e-3), "predict", X, (y,)),
        (SparseLogisticRegression(alpha=1e-3), "predict", Xc, (yc,)),
        (LabelPropagation(n_neighbors=5), "predict", Xc, (yc,)),
        (MatrixCompleter(2, random_state=0), "transform", M, ()),
    ]


@pytest.mark.parametrize("estimator,method,X,fit_args", _dataframe_cases(),
                         ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_dataframe_column_names_consistency(estimator, method, X, fit_args):
    # utils/estimator_checks.py::check_dataframe_column_names_consistency: a DataFrame
    # fit records feature_names_in_; the same data as a DataFrame gives the same
    # result; other column names are an error naming the features; an array after a
    # DataFrame fit warns. MatrixCompleter rejected a DataFrame with a TypeError naming
    # nothing
    pd = pytest.importorskip("pandas")
    names = np.array([f"col_{j}" for j in range(X.shape[1])], dtype=object)
    frame = pd.DataFrame(X, columns=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = getattr(estimator.fit(np.asarray(X), *fit_args), method)(X)
        estimator.fit(frame, *fit_args)
    assert_array_equal(estimator.feature_names_in_, names)
    assert_allclose(getattr(estimator, method)(frame), expected)
    bad = pd.DataFrame(X, columns=names[::-1])
    with pytest.raises(ValueError, match="feature names should match"):
        getattr(estimator, method)(bad)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        getattr(estimator, method)(np.asarray(X))


@pytest.mark.parametrize("estimator", [EntropicOT, SparseOT], ids=lambda c: c.__name__)
def test_ot_estimators_take_dataframes(estimator):
    # the same check for the OT estimators, fitted in POT's convention
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    Xs, Xt = rng.standard_normal((12, 2)), rng.standard_normal((9, 2)) + 1
    names = ["x", "y"]
    fitted = estimator().fit(Xs=Xs, Xt=Xt)
    est = estimator().fit(Xs=pd.DataFrame(Xs, columns=names),
                          Xt=pd.DataFrame(Xt, columns=names))
    assert_array_equal(est.feature_names_in_, names)
    assert_allclose(est.transform(pd.DataFrame(Xs, columns=names)), fitted.transform(Xs))
    with pytest.raises(ValueError, match="feature names should match"):
        est.transform(pd.DataFrame(Xs, columns=names[::-1]))


def _unconverged_fits():
    X, y = _regression()
    Xc, yc = _classification()
    rng = np.random.RandomState(0)
    Xs, Xt = rng.standard_normal((20, 2)), rng.standard_normal((15, 2)) + 1
    M = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20))
    M[rng.rand(*M.shape) < 0.3] = np.nan
    Xw = rng.standard_normal((200, 60))
    yw = (Xw[:, 0] + 0.5 * Xw[:, 1] + rng.standard_normal(200) > 0).astype(int)
    yl = yc.copy()
    yl[::2] = -1
    return [
        ("Lasso", lambda: Lasso(alpha=1e-4, tol=1e-14, max_iter=1).fit(X, y)),
        ("SparseLogisticRegression",   # 4 features: one working set holds them all
         lambda: SparseLogisticRegression(alpha=1e-4, tol=1e-14, max_iter=1).fit(Xw, yw)),
        ("LabelPropagation",
         lambda: LabelPropagation(n_neighbors=5, tol=1e-15, max_iter=1).fit(Xc, yl)),
        ("MatrixCompleter", lambda: MatrixCompleter(3, max_iter=1, tol=1e-14).fit(M)),
        # through scikit-learn's fit_transform wrapper: a fixed stacklevel pointed there
        ("MatrixCompleter",
         lambda: MatrixCompleter(3, max_iter=1, tol=1e-14).fit_transform(M)),
        ("EntropicOT",
         lambda: EntropicOT(reg=0.01, method="log", max_iter=2).fit(Xs=Xs, Xt=Xt)),
        ("SparseOT", lambda: SparseOT(k=2, max_iter=1, tol=1e-14).fit(Xs=Xs, Xt=Xt)),
    ]


@pytest.mark.parametrize("name,fit", _unconverged_fits(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_pytest_warns_with_scikit_learns_convergence_warning(name, fit):
    # linear_model/tests/test_coordinate_descent.py (test_warm_start_convergence et al.):
    # pytest.warns(sklearn.exceptions.ConvergenceWarning, match=...) on a fit that stops
    # early. numopt's own class was not scikit-learn's, so this missed it
    with pytest.warns(ConvergenceWarning, match=f"{name} did not converge"):
        fit()


@pytest.mark.parametrize("name,fit", _unconverged_fits(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_filterwarnings_on_scikit_learns_class(name, fit):
    # tests/test_common.py and test_coordinate_descent.py filter scikit-learn's class:
    # "ignore" silences numopt's estimators, "error" turns their warning into an error
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        fit()
    assert not [w for w in caught if "did not converge" in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            fit()


@pytest.mark.parametrize("name,fit", _unconverged_fits(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_convergence_warning_points_at_the_callers_line(name, fit):
    # numopt's convention (as SciPy's warnings do): the warning names the user's file,
    # not numopt's own line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    ours = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert ours and all(w.filename == __file__ for w in ours), [w.filename for w in ours]


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_converged_fits_raise_no_convergence_warning():
    # test_coordinate_descent.py::test_convergence_warnings: a fit that converges runs
    # under simplefilter("error", ConvergenceWarning)
    X, y = _regression()
    Lasso(alpha=1e-3).fit(X, y)
    Xc, yc = _classification()
    SparseLogisticRegression(alpha=1e-2).fit(Xc, yc)
