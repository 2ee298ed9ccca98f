"""Input checks of numopt.coordinate (built on :mod:`numopt._validation`): the design
matrix and its labels, for the entry points, the problem objects and the estimators."""

from __future__ import annotations

import sys

import numpy as np

from .._backend import float_dtype, get_kernel, is_numpy, kernel
from .._validation import as_array, check_finite, check_shape


def is_scipy_sparse(X) -> bool:
    """A SciPy sparse matrix or array (SciPy is not imported to find out)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def check_design(X, y, xp, *, name_X="X", name_y="y"):
    """Validate ``X`` (dense 2-D array or SciPy sparse matrix) and ``y`` (1-D).

    Returns ``(X, y, dtype)`` with ``y`` cast to the computing dtype, a dense NumPy ``X``
    in Fortran order (columns contiguous, what coordinate descent reads) and a sparse
    ``X`` in CSC format with sorted indices.
    """
    if is_scipy_sparse(X):
        import scipy.sparse as sp   # loaded already: X is one of its matrices

        if X.ndim != 2:
            raise ValueError(f"{name_X} must be 2-dimensional, got shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{name_X} must not be empty, got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise TypeError(f"{name_X} must hold real numbers, got dtype {X.dtype}")
        y_arr = as_array(y, name_y, xp, ndim=1)
        dtype = np.float32 if (X.dtype == np.float32 and y_arr.dtype == np.float32) \
            else np.float64
        X = sp.csc_matrix(X, dtype=dtype)
        if not np.all(np.isfinite(X.data)):
            kind = "NaN" if np.isnan(X.data).any() else "inf"
            raise ValueError(f"{name_X} must be finite, but it contains {kind} values")
        if not X.has_canonical_format:
            # csc_matrix(X) shares the caller's arrays; sorting them in place would
            # reorder the caller's matrix behind its back
            X = X.copy()
            X.sum_duplicates()  # SciPy's convention: duplicates add up; sorts too
            X.sort_indices()
        X.indices = X.indices.astype(np.int32, copy=False)
        X.indptr = X.indptr.astype(np.int32, copy=False)
        y_arr = xp.astype(y_arr, dtype)
    else:
        # the finiteness check of X is folded into the column norms (one pass)
        X = as_array(X, name_X, xp, ndim=2, finite=False)
        y_arr = as_array(y, name_y, xp, ndim=1)
        dtype = float_dtype(xp, X, y_arr)
        X = xp.astype(X, dtype, copy=False)
        if is_numpy(xp):
            X = np.asfortranarray(X)
        y_arr = xp.astype(y_arr, dtype, copy=False)
    check_shape(y_arr, name_y, (X.shape[0],), against=f"the rows of {name_X}")
    return X, y_arr, dtype


def column_sq_norms(X, xp, name_X="X", *, sample_weight=None):
    """The finiteness check of a design ``X`` that :func:`check_design` leaves out,
    folded into the pass that computes its squared column norms (returned: the solvers
    need them as coordinate Lipschitz constants; ``sum_i s_i X_ij^2`` with sample
    weights ``s``); raises if ``X`` holds NaN or inf or
    if a squared norm overflows.

    Non-finite entries make their column's norm non-finite, so the full finiteness scan
    runs only in that (rare) case, to tell an overflow from a bad entry.
    """
    if is_scipy_sparse(X):
        squares = X.multiply(X)
        sums = squares.sum(axis=0) if sample_weight is None else squares.T @ sample_weight
        return np.asarray(sums).ravel().astype(X.dtype, copy=False)
    if sample_weight is None:
        norms = get_kernel("coordinate.column_sq_norms", xp)(xp, X)
    else:
        norms = xp.astype(sample_weight @ (X * X), X.dtype)
    if not bool(xp.all(xp.isfinite(norms))):
        check_finite(X, name_X, xp)
        raise ValueError(f"{name_X} has columns whose squared norm overflows")
    return norms


@kernel("coordinate.column_sq_norms",
        numba="numopt.coordinate._kernels_numba:column_sq_norms")
def _column_sq_norms(xp, X):
    """Squared column norms (reference version)."""
    return xp.sum(X * X, axis=0)


def check_binary_labels(y, xp, name="y"):
    """Labels must be exactly -1 and 1 (the function API; estimators map classes)."""
    values = xp.unique_values(y)
    if values.shape[0] > 2 or not bool(xp.all((values == -1) | (values == 1))):
        raise ValueError(f"{name} must hold binary labels -1 and 1 for the logistic loss, "
                         f"got values {list(map(float, values[:5]))}")
