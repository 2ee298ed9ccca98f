""":class:`MatrixCompleter`: low-rank matrix completion as a scikit-learn imputer."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import get_kernel, get_namespace
from .._estimator import progress_callback, report_fit, warn_if_unconverged
from ._api import complete

__all__ = ["MatrixCompleter"]

_FLOATS = [np.float64, np.float32]


def _with_nan(X):
    """Dense copy of ``X`` with NaN where an entry is missing (for a sparse ``X``: every
    entry that is not stored; duplicates add up, SciPy's convention)."""
    if not sp.issparse(X):
        return np.array(X, copy=True)
    coo = sp.coo_matrix(X)
    coo.sum_duplicates()
    dense = np.full(coo.shape, np.nan, dtype=coo.dtype)
    dense[coo.row, coo.col] = coo.data
    return dense


def _column_means(X):
    """Mean of each column's observed entries (0 for a column without any)."""
    if sp.issparse(X):
        csc = sp.csc_matrix(X)
        counts = np.diff(csc.indptr)
        sums = np.asarray(csc.sum(axis=0), dtype=np.float64).ravel()
    else:
        observed = ~np.isnan(X)
        counts = observed.sum(axis=0)
        sums = np.sum(np.where(observed, X, 0.0), axis=0, dtype=np.float64)
    return sums / np.maximum(counts, 1)


class MatrixCompleter(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Low-rank matrix completion as a scikit-learn imputer.

    ``fit(X)`` learns the rank-``rank`` factors ``U_ @ V_.T`` of the observed entries of
    ``X`` (NaN marks a missing entry; for a sparse matrix the stored entries are the
    observations). ``transform(X)`` fills the missing entries of any rows with the
    fitted number of columns, fitted or new, by *fold-in*: each row's factor is solved
    from its observed entries against the fitted column space, with the fit's
    regularization, exactly the row update of the fit (so a fitted row gets its fitted
    fill back). ``fit_transform`` fills the fitted matrix with the fitted completion, and
    ``predict_entries(rows, cols)`` reads any entries of it.

    Parameters
    ----------
    rank : int, default 2
        Rank of the completion, at most ``min(n_samples, n_features)``.
    method : {"altmin", "als", "softimpute"}
        See :func:`numopt.completion.complete`.
    max_iter : int, optional
        Maximum number of outer iterations (the method's default when None).
    tol : float, default 1e-8
        Relative training-residual tolerance.
    random_state : int, numpy.random.Generator or RandomState, optional
        Seed of the initialization and sketches.
    solver_options : dict, optional
        Extra options passed to :func:`~numopt.completion.complete` (``reg``, the ridge
        penalty of ``altmin``/``als``, is also the fold-in's).
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per iteration.

    Attributes
    ----------
    U_, V_ : ndarray
        The factors, ``U_ @ V_.T`` is the completion of the fitted matrix.
    result_ : OptimizeResult
    n_iter_ : int
    shape_fit_ : tuple
        Shape of the fitted matrix.
    n_features_in_ : int
        Number of columns of the fitted matrix.
    feature_names_in_ : ndarray of str
        Column names of a fitted DataFrame (only then).
    """

    def __init__(self, rank=2, *, method="altmin", max_iter=None, tol=1e-8, random_state=None,
                 solver_options=None, verbose=0):
        self.rank = rank
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.solver_options = solver_options
        self.verbose = verbose

    def _validate(self, X, *, reset):
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=_FLOATS,
                          ensure_all_finite="allow-nan", reset=reset)
        if sp.issparse(X) and not np.all(np.isfinite(X.data)):
            raise ValueError("X is sparse and its stored entries contain NaN or infinity: a "
                             "sparse X marks missing entries by not storing them")
        return X

    def fit(self, X, y=None):
        """Fit the factors to the observed entries of ``X`` (sparse, or dense with NaN)."""
        X = self._validate(X, reset=True)
        m, n = X.shape
        if isinstance(self.rank, (int, np.integer)) and self.rank > min(m, n):
            raise ValueError(f"rank={self.rank} exceeds min(n_samples, n_features) = "
                             f"{min(m, n)}: X has {m} sample(s) and {n} feature(s)")
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):   # scikit-learn's kind of seed
            seed = int(seed.randint(np.iinfo(np.int32).max))
        options = dict(self.solver_options or {})
        res = complete(X, self.rank, method=self.method, tol=self.tol, maxiter=self.max_iter,
                       seed=seed, callback=progress_callback(self), **options)
        report_fit(self, res)
        warn_if_unconverged(self, res)
        self.result_ = res
        self.U_, self.V_ = res.U, res.V
        self.n_iter_ = res.nit
        self.shape_fit_ = (m, n)
        self._set_fold_in(res, options, _column_means(X))
        return self

    def _set_fold_in(self, res, options, column_means):
        """The fold-in's design ``B`` and ridge ``reg``: a row's factor minimizes
        ``||x_obs - B_obs d||^2 + reg ||d||^2`` and its completion is ``B d``.

        In an orthonormal basis ``Q`` of the span of ``V_`` the fold-in is
        ``min_c ||x_obs - Q_obs c||^2 + sum_j penalty_j c_j^2``. For ``altmin``/``als``
        that is the fit's own row update (ridge ``reg`` on the coefficients in an
        orthonormal basis: the same in any rotation of it, and in any units, as the
        fit's rescaling of ``X`` multiplies both terms alike). For ``softimpute`` it is
        the fixed point of a row of ``Z = S_lambda(P_Omega(X) + P_Omega^perp(Z))`` at the
        fitted singular vectors ``Q`` and values ``s``: ridge ``lambda / s_j`` in
        direction ``j``, a unit ridge on ``B = Q diag(penalty)^(-1/2)``.
        """
        V = np.asarray(self.V_, dtype=np.float64)
        Q, s, _ = np.linalg.svd(V, full_matrices=False)
        keep = s > s[0] * np.finfo(np.float64).eps * max(V.shape) if s.size and s[0] > 0 \
            else np.zeros(s.shape, dtype=bool)
        Q, s = Q[:, keep], s[keep]
        if self.method == "softimpute" and float(res.shrinkage) > 0:
            self._fold_in_design = Q * np.sqrt(s / float(res.shrinkage))
            self._fold_in_reg = 1.0
        else:
            self._fold_in_design = np.ascontiguousarray(Q)
            self._fold_in_reg = 0.0 if self.method == "softimpute" else \
                float(options.get("reg", 0.0))
        # a row without observations gets complete()'s fill of such rows: the column
        # means, projected onto the fitted column space
        coef = np.linalg.lstsq(V, column_means, rcond=None)[0]
        self._empty_row_fill = V @ coef

    def _fold_in(self, X):
        """The completion of each row of ``X`` (dense, NaN missing, fitted columns), by
        the fit's per-row least-squares kernel (a row with fewer observations than the
        rank gets the fit's tiny ridge)."""
        B = self._fold_in_design
        observed = ~np.isnan(X)
        Z = np.zeros(X.shape, dtype=np.float64)
        if B.shape[1]:
            rows, cols = np.nonzero(observed)
            indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
            np.cumsum(observed.sum(axis=1), out=indptr[1:])
            solve = get_kernel("completion.exact_rows", get_namespace(B))
            C, _ = solve(get_namespace(B), indptr, cols.astype(np.int64),
                         X[rows, cols].astype(np.float64), B, self._fold_in_reg)
            Z = C @ B.T
        Z[~observed.any(axis=1)] = self._empty_row_fill
        return Z

    def transform(self, X):
        """A dense copy of ``X`` with its missing entries filled; rows by fold-in.

        ``X`` has the fitted number of columns; NaN (or, sparse, an entry not stored)
        marks a missing entry. Observed entries are returned unchanged; float32 stays
        float32.
        """
        check_is_fitted(self)
        X = _with_nan(self._validate(X, reset=False))
        missing = np.isnan(X)
        if missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            Z = self._fold_in(X[rows])
            part = X[rows]
            part[missing[rows]] = Z[missing[rows]]
            X[rows] = part
        return X

    def fit_transform(self, X, y=None):
        """Fit, and fill the missing entries of ``X`` with the fitted completion."""
        self.fit(X)
        X = _with_nan(self._validate(X, reset=False))
        rows, cols = np.nonzero(np.isnan(X))
        X[rows, cols] = self.predict_entries(rows, cols)
        return X

    def predict_entries(self, rows, cols):
        """Entries ``(rows[t], cols[t])`` of the fitted completion ``U_ @ V_.T``."""
        check_is_fitted(self)
        m, n = self.shape_fit_
        rows, cols = (np.asarray(idx) for idx in (rows, cols))
        # an empty list reads as float64: no index, so any dtype will do
        rows, cols = (idx.astype(np.intp) if idx.size == 0 else idx for idx in (rows, cols))
        for name, idx, size in (("rows", rows, m), ("cols", cols, n)):
            if not np.issubdtype(idx.dtype, np.integer):
                raise TypeError(f"{name} must hold integer indices, got dtype {idx.dtype}")
            if idx.size and (idx.min() < -size or idx.max() >= size):
                raise ValueError(f"{name} has indices outside [0, {size})")
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must have the same shape, got {rows.shape} "
                             f"and {cols.shape}")
        return np.einsum("...k,...k->...", self.U_[rows], self.V_[cols])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
