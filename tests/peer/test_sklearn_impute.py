"""scikit-learn's imputer tests that apply to MatrixCompleter, translated.

Sources: scikit-learn 1.9 ``sklearn/impute/tests/test_impute.py`` and
``sklearn/impute/tests/test_common.py``. MatrixCompleter differs from scikit-learn's
imputers by design in two ways, kept visible below: NaN is the only missing marker of a
dense X (a sparse X's missing entries are the ones not stored), and a column without
any observation is kept and filled (scikit-learn's ``keep_empty_features=True``).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from numopt.completion import MatrixCompleter


@pytest.fixture(autouse=True)
def _quiet_coverage_warnings():
    # complete() warns (OptimizeWarning) about rows and columns with few observations,
    # which these small cases have on purpose
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="M has")
        yield


@pytest.mark.parametrize("rank", [3, 5])
def test_transform_recovery(rank):
    # test_impute.py::test_iterative_imputer_transform_recovery: fit on half the rows of
    # a low-rank matrix with half its entries missing, transform the other half. The old
    # transductive transform returned the fitted rows' fill (max error 1.49); fold-in
    # recovers the new rows (scikit-learn's IterativeImputer is held to atol=0.1).
    rng = np.random.RandomState(0)
    n = d = 70
    A = rng.rand(n, rank)
    B = rng.rand(rank, d)
    X_filled = np.dot(A, B)
    nan_mask = rng.rand(n, d) < 0.5
    X_missing = X_filled.copy()
    X_missing[nan_mask] = np.nan

    n = n // 2
    X_train = X_missing[:n]
    X_test_filled = X_filled[n:]
    X_test = X_missing[n:]

    imputer = MatrixCompleter(rank, tol=1e-12, random_state=0).fit(X_train)
    X_test_est = imputer.transform(X_test)
    assert_allclose(X_test_filled, X_test_est, atol=0.1)
    assert_allclose(X_test_filled, X_test_est, atol=1e-6)   # exact low rank: exact


def test_rank_one():
    # test_impute.py::test_iterative_imputer_rank_one
    rng = np.random.RandomState(0)
    d = 50
    A = rng.rand(d, 1)
    B = rng.rand(1, d)
    X = np.dot(A, B)
    nan_mask = rng.rand(d, d) < 0.5
    X_missing = X.copy()
    X_missing[nan_mask] = np.nan

    imputer = MatrixCompleter(1, tol=1e-12, random_state=0)
    X_filled = imputer.fit_transform(X_missing)
    assert_allclose(X_filled, X, atol=0.02)


def test_no_missing_and_fit_transform_agrees_with_fit_then_transform():
    # test_impute.py::test_iterative_imputer_no_missing (the first column is entirely
    # missing; scikit-learn drops it, MatrixCompleter keeps and fills it)
    rng = np.random.RandomState(0)
    X = rng.rand(100, 100)
    X[:, 0] = np.nan
    m1 = MatrixCompleter(max_iter=10, random_state=0)
    m2 = MatrixCompleter(max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # full-rank data: a rank-2 fit does not converge
        pred1 = m1.fit(X).transform(X)
        pred2 = m2.fit_transform(X)
    assert_allclose(X[:, 1:], pred1[:, 1:])
    assert np.isfinite(pred1).all()
    assert_allclose(pred1, pred2, rtol=1e-7)


def test_missing_value_in_test_array():
    # test_common.py::test_imputation_missing_value_in_test_array (non-regression test
    # for scikit-learn issue #13968): a missing value in the test set gives a finite
    # result, not an error
    train = [[1], [2]]
    test = [[3], [np.nan]]
    out = MatrixCompleter(1).fit(train).transform(test)
    assert np.isfinite(out).all() and out[0, 0] == 3


@pytest.mark.parametrize("dtype_test", [np.float32, np.float64])
def test_transform_preserves_numeric_dtype(dtype_test):
    # test_impute.py::test_imputer_transform_preserves_numeric_dtype
    X = np.asarray([[1.2, 3.4, np.nan], [np.nan, 1.2, 1.3], [4.2, 2, 1]], dtype=np.float64)
    imp = MatrixCompleter(1).fit(X)

    X_test = np.asarray([[np.nan, np.nan, np.nan]], dtype=dtype_test)
    X_trans = imp.transform(X_test)
    assert X_trans.dtype == dtype_test
    assert np.isfinite(X_trans).all()


def test_keep_empty_features():
    # test_common.py::test_keep_empty_features with keep_empty_features=True (the only
    # behaviour of MatrixCompleter): a feature with only missing values is kept
    X = np.array([[np.nan, 1], [np.nan, 2], [np.nan, 3]])
    imputer = MatrixCompleter(1)
    for method in ["fit_transform", "transform"]:
        X_imputed = getattr(imputer, method)(X)
        assert X_imputed.shape == X.shape
        assert np.isfinite(X_imputed).all()
        assert_array_equal(X_imputed[:, 1], X[:, 1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_feature_names_out_pandas():
    # test_common.py::test_imputers_feature_names_out_pandas (add_indicator=False; the
    # all-missing column "e" is kept)
    pd = pytest.importorskip("pandas")
    marker = np.nan
    X = np.array(
        [
            [marker, 1, 5, 3, marker, 1],
            [2, marker, 1, 4, marker, 2],
            [6, 3, 7, marker, marker, 3],
            [1, 2, 9, 8, marker, 4],
        ]
    )
    X_df = pd.DataFrame(X, columns=["a", "b", "c", "d", "e", "f"])
    imputer = MatrixCompleter(2, random_state=0).fit(X_df)
    assert_array_equal(imputer.get_feature_names_out(), ["a", "b", "c", "d", "e", "f"])
    assert_array_equal(imputer.feature_names_in_, X_df.columns)


def test_imputation_copy():
    # test_impute.py::test_imputation_copy (copy=True, the only behaviour): transform
    # returns a new array; the input is unchanged
    rng = np.random.RandomState(0)
    X = rng.rand(5, 5)
    X[rng.rand(5, 5) < 0.25] = np.nan
    X_before = X.copy()
    imputer = MatrixCompleter(1, random_state=0)
    Xt = imputer.fit(X).transform(X)
    Xt[0, 0] = -1
    assert_array_equal(X, X_before)
    Xt = imputer.fit_transform(X)
    Xt[0, 0] = -1
    assert_array_equal(X, X_before)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.coo_matrix])
def test_imputation_shape(container):
    # test_impute.py::test_imputation_shape. A sparse X marks its missing entries by not
    # storing them, so the NaN rows of scikit-learn's case are left out of the sparse one
    rng = np.random.RandomState(0)
    X = rng.randn(10, 2)
    X[::2] = np.nan
    imputer = MatrixCompleter(1, random_state=0)
    assert imputer.fit_transform(X).shape == (10, 2)
    observed = ~np.isnan(X)
    rows, cols = np.nonzero(observed)
    X_sparse = container((X[rows, cols], (rows, cols)), shape=X.shape)
    filled = imputer.fit_transform(X_sparse)
    assert filled.shape == (10, 2)
    assert_array_equal(filled[observed], X[observed])
    assert_allclose(imputer.transform(X_sparse), imputer.transform(X))
