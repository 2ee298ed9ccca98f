"""Bad input: clear errors naming the argument, or documented handling with a warning."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import OptimizeWarning

from numopt.completion import complete
from numopt.problems import random_low_rank_completion


@pytest.fixture(scope="module")
def prob():
    return random_low_rank_completion(60, 40, rank=2, rate=0.4, seed=0)


@pytest.mark.parametrize("rank", [0, 41, 100])
def test_rank_out_of_range(prob, rank):
    with pytest.raises(ValueError, match=r"\brank\b"):
        complete(prob.observed, rank)


def test_rank_not_integer(prob):
    with pytest.raises(TypeError, match=r"\brank\b"):
        complete(prob.observed, 2.5)


def test_nan_in_sparse_values(prob):
    M = prob.observed.copy()
    M.data[3] = np.nan
    with pytest.raises(ValueError, match=r"\bM\b.*NaN"):
        complete(M, 2)


def test_inf_in_dense_and_sparse(prob):
    D = prob.dense_with_nan()
    D[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"\bM\b.*inf"):
        complete(D, 2)
    M = prob.observed.copy()
    M.data[0] = -np.inf
    with pytest.raises(ValueError, match=r"\bM\b.*inf"):
        complete(M, 2)


@pytest.mark.parametrize("M", [np.zeros((0, 5)), sp.csr_matrix((5, 0)), np.full((4, 3), np.nan),
                               sp.csr_matrix((4, 3))])
def test_empty_input(M):
    with pytest.raises(ValueError, match=r"\bM\b"):
        complete(M, 1)


@pytest.mark.parametrize("M", [np.ones(5), np.ones((2, 2, 2))])
def test_wrong_ndim(M):
    with pytest.raises(ValueError, match=r"\bM\b.*2-dimensional"):
        complete(M, 1)


def test_non_numeric():
    with pytest.raises(TypeError, match=r"\bM\b"):
        complete(np.array([["a", "b"], ["c", "d"]]), 1)


def test_unknown_method_and_bad_options(prob):
    with pytest.raises(ValueError, match=r"\bmethod\b"):
        complete(prob.observed, 2, method="svt")
    with pytest.raises(ValueError, match=r"\binner_tol\b"):
        complete(prob.observed, 2, inner_tol=2.0)
    with pytest.raises(ValueError, match=r"\brow_solver\b"):
        complete(prob.observed, 2, row_solver="lstsq")
    with pytest.raises(ValueError, match=r"\bsketch_factor\b"):
        complete(prob.observed, 2, sketch_factor=0.5)
    with pytest.raises(ValueError, match=r"\btol\b"):
        complete(prob.observed, 2, tol=-1.0)
    with pytest.warns(OptimizeWarning, match="shrinkage"):
        complete(prob.observed, 2, method="als", shrinkage=1.0, maxiter=2)
    # a decay of 1 would never leave sigma_max for the target shrinkage
    with pytest.raises(ValueError, match=r"\bshrinkage_decay\b"):
        complete(prob.observed, 2, method="softimpute", shrinkage_decay=1.0)


def test_unobserved_row_and_column_get_projected_means():
    prob = random_low_rank_completion(50, 40, rank=2, rate=0.5, seed=1)
    D = prob.dense_with_nan()
    D[7, :] = np.nan
    D[:, 11] = np.nan
    with pytest.warns(OptimizeWarning, match="no observation") as record:
        res = complete(D, 2, method="als", tol=1e-12, seed=0)
    messages = " ".join(str(w.message) for w in record)
    assert "1 rows" in messages and "1 columns" in messages
    assert res.n_empty_rows == 1 and res.n_empty_cols == 1
    # Row 7 of the completion is the least-squares projection of the column means of the
    # observed values onto the span of the columns of V.
    seen = ~np.isnan(D)
    col_mean = np.where(seen, D, 0).sum(0) / np.maximum(seen.sum(0), 1)
    V = res.V.copy()
    V[11] = 0.0   # the unobserved column takes no part in the row's projection
    projected = V @ np.linalg.lstsq(V, col_mean, rcond=None)[0]
    others = np.arange(40) != 11
    np.testing.assert_allclose((res.U @ res.V.T)[7, others], projected[others], atol=1e-10)
    # and column 11 is the projection of the row means onto the span of U
    row_mean = (np.where(seen, D, 0).sum(1) / np.maximum(seen.sum(1), 1))[np.arange(50) != 7]
    U = res.U[np.arange(50) != 7]
    np.testing.assert_allclose((U @ res.V.T)[:, 11], U @ np.linalg.lstsq(U, row_mean, rcond=None)[0],
                               atol=1e-10)
    # The observed part is still fitted exactly.
    observed = ~np.isnan(D)
    np.testing.assert_allclose((res.U @ res.V.T)[observed], D[observed], atol=1e-8)


def test_thin_rows_warn(prob):
    D = prob.dense_with_nan()
    keep = np.flatnonzero(~np.isnan(D[5]))[:1]
    D[5] = np.nan
    D[5, keep] = prob.dense()[5, keep]
    with pytest.warns(OptimizeWarning, match="fewer observations than rank"):
        res = complete(D, 2, method="als", maxiter=5, seed=0)
    assert np.all(np.isfinite(res.U)) and np.all(np.isfinite(res.V))


def test_mixed_namespaces_rejected():
    array_api_strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"\bM\b|NumPy"):
        complete(array_api_strict.ones((3, 3)), 1)
