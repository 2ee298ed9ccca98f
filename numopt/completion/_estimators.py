"""A scikit-learn style estimator around :func:`complete`."""

from __future__ import annotations

import numpy as np

from .._estimator import Estimator
from ._api import complete

__all__ = ["MatrixCompleter"]


class MatrixCompleter(Estimator):
    """Low-rank matrix completion as an imputer (scikit-learn conventions).

    The estimator is *transductive*: ``fit(M)`` learns the factors of the matrix it is
    given, ``predict(rows, cols)`` reads any entries of the completion and
    ``transform(X)`` fills the NaN entries of a matrix of the fitted shape.

    Parameters
    ----------
    rank : int
        Rank of the completion.
    method : {"altmin", "als", "softimpute"}
        See :func:`numopt.completion.complete`.
    max_iter : int, optional
        Maximum number of outer iterations (the method's default when None).
    tol : float
        Relative training-residual tolerance.
    random_state : int, optional
        Seed of the initialization and sketches.
    solver_options : dict, optional
        Extra options passed to :func:`~numopt.completion.complete`.

    Attributes
    ----------
    U_, V_ : ndarray
        The factors, ``U_ @ V_.T`` is the completion.
    result_ : OptimizeResult
    n_iter_ : int
    n_features_in_ : int
        Number of columns of the fitted matrix.
    """

    def __init__(self, rank=2, *, method="altmin", max_iter=None, tol=1e-8, random_state=None,
                 solver_options=None):
        self.rank = rank
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.solver_options = solver_options

    def fit(self, X, y=None):
        """Fit the factors to the observed entries of ``X`` (sparse, or dense with NaN)."""
        res = complete(X, self.rank, method=self.method, tol=self.tol, maxiter=self.max_iter,
                       seed=self.random_state, **(self.solver_options or {}))
        self._warn_if_unconverged(res)
        self.result_ = res
        self.U_, self.V_ = res.U, res.V
        self.n_iter_ = res.nit
        self.shape_fit_ = (res.U.shape[0], res.V.shape[0])
        self.n_features_in_ = res.V.shape[0]
        return self

    def predict(self, rows, cols):
        """Entries ``(rows[t], cols[t])`` of the completion ``U_ @ V_.T``."""
        self._check_fitted("U_")
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

    def transform(self, X):
        """Return a copy of the dense ``X`` (fitted shape) with its NaN entries filled."""
        self._check_fitted("U_")
        import scipy.sparse as sp

        if sp.issparse(X):
            raise TypeError("X must be dense with NaN for the missing entries; for a sparse "
                            "input read the entries you need with predict(rows, cols)")
        X = np.array(X, dtype=self.U_.dtype if np.asarray(X).dtype == np.float32 else float)
        if X.shape != self.shape_fit_:
            raise ValueError(f"X has shape {X.shape}, expected {self.shape_fit_} (the "
                             "completer is transductive: it fills the matrix it was fitted on)")
        if np.isinf(X).any():
            raise ValueError("X must not contain inf (NaN marks a missing entry)")
        rows, cols = np.nonzero(np.isnan(X))
        X[rows, cols] = self.predict(rows, cols)
        return X

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)
