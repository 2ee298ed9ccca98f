"""scikit-learn-style estimators (``fit``/``predict``, fitted attributes end in ``_``).

They follow scikit-learn's estimator protocol without importing scikit-learn (the
shared :class:`numopt._estimator.Estimator` base); ``__sklearn_tags__`` imports
scikit-learn only when scikit-learn itself asks for the tags.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from .._estimator import Estimator
from ..exceptions import ConvergenceWarning, NotFittedError
from .._units import Pow2
from ._data import is_scipy_sparse

__all__ = ["Lasso", "SparseLogisticRegression", "LabelPropagation", "NotFittedError"]


def _conversion_warning():
    exc = sys.modules.get("sklearn.exceptions")
    return getattr(exc, "DataConversionWarning", UserWarning)


class _Params(Estimator):
    """The estimator protocol plus the input validation the linear models share."""

    def _validate_X(self, X, *, reset, accept_sparse=True):
        if X is None:
            raise ValueError("X must be an array, got None")
        if is_scipy_sparse(X):
            if not accept_sparse:
                raise TypeError("X is sparse; this estimator needs dense X")
            import scipy.sparse as sp

            if np.iscomplexobj(np.empty(0, dtype=X.dtype)):
                raise ValueError("Complex data not supported: X has a complex dtype")
            X = sp.csc_matrix(X)
            X = sp.csc_matrix(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)
            if not np.all(np.isfinite(X.data)):
                raise ValueError("X must be finite: Input contains NaN or infinity")
        else:
            if hasattr(X, "__array__") and not isinstance(X, np.ndarray) and \
                    hasattr(X, "columns"):
                X = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
            try:
                X = np.asarray(X)
            except Exception as exc:
                raise ValueError(f"X could not be converted to an array: {exc}") from exc
            if np.iscomplexobj(X):
                raise ValueError("Complex data not supported: X has a complex dtype")
            if X.dtype.kind not in "fiub":
                try:
                    X = X.astype(np.float64)
                except TypeError as exc:
                    raise TypeError(f"X must hold numbers ({exc})") from exc
                except ValueError as exc:
                    raise ValueError(f"X must hold numbers ({exc})") from exc
            if X.ndim != 2:
                raise ValueError(f"X must be 2-dimensional, got shape {X.shape}. "
                                 "Reshape your data with X.reshape(-1, 1) for a single "
                                 "feature or X.reshape(1, -1) for a single sample.")
            if X.dtype != np.float32:
                X = np.asarray(X, dtype=np.float64)   # no copy for float64 input
            # one cheap reduction; the full scan only when it is not finite (NaN, inf
            # or an overflowing sum)
            if X.size and not np.isfinite(np.sum(X)) and not np.all(np.isfinite(X)):
                raise ValueError("X must be finite: Input contains NaN or infinity")
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                             "minimum of 1 is required.")
        if X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a "
                             "minimum of 1 is required.")
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        return X

    def _validate_y(self, y, n_samples):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; "
                          "it is raveled", _conversion_warning(), stacklevel=3)
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        if y.shape[0] != n_samples:
            raise ValueError(f"y has {y.shape[0]} samples but X has {n_samples}: "
                             "inconsistent numbers of samples")
        return y


def _check_classification_targets(y):
    """Classification labels: integers or strings, not a continuous target."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("y must be finite: Input contains NaN or infinity")
        if np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous. y holds non-integer floats; "
                             "a classifier needs class labels")
    elif y.dtype.kind == "O":
        kinds = {type(v) for v in y.ravel()}
        if any(issubclass(k, (dict, list, tuple)) for k in kinds) or len(kinds) > 1:
            raise ValueError("Unknown label type: y holds mixed or unhashable objects")


class _LinearModel(_Params):
    def _decision(self, X):
        self._check_fitted("n_features_in_")
        X = self._validate_X(X, reset=False)
        out = X @ self.coef_ + self.intercept_
        return np.asarray(out).ravel()


class Lasso(_LinearModel):
    r"""Lasso with scikit-learn's objective and a duality-gap certificate.

    Minimises :math:`\frac{1}{2n}\|y - Xw - b\|_2^2 + \alpha\|w\|_1` with
    :func:`numopt.coordinate.lasso` (working sets, Numba coordinate descent, Anderson
    extrapolation).

    Parameters
    ----------
    alpha : float, default 1.0
    fit_intercept : bool, default True
    tol : float, default 1e-4
        Stop when the duality gap is at most ``tol * ||y - mean(y)||^2 / n``
        (scikit-learn's criterion).
    max_iter : int, default 100
        Maximum number of working-set iterations.
    warm_start : bool, default False
    positive : bool, default False

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, n_features_in_, result_
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100,
                 warm_start=False, positive=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.positive = positive

    def fit(self, X, y):
        from ._api import lasso

        X = self._validate_X(X, reset=True)
        y = self._validate_y(y, X.shape[0])
        if y.dtype.kind not in "fiub":
            raise ValueError("Unknown label type: y must hold numbers")
        y = y.astype(X.dtype)
        if not np.all(np.isfinite(y)):
            raise ValueError("y must be finite: Input contains NaN or infinity")
        coef0 = None
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (X.shape[1],):
            coef0 = self.coef_
        res = lasso(X, y, self.alpha, coef0=coef0, fit_intercept=self.fit_intercept,
                    tol=self.tol, maxiter=self.max_iter, positive=self.positive)
        self.result_ = res
        self.coef_ = np.asarray(res.x)
        self.intercept_ = float(res.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = int(res.nit)
        self.dual_gap_ = float(res.dual_gap)
        self._warn_if_unconverged(res, "increase max_iter or tol; the duality gap was checked")
        return self

    def predict(self, X):
        return self._decision(X)

    def score(self, X, y):
        y = np.asarray(y, dtype=np.float64)
        pred = self.predict(X)
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags, RegressorTags, InputTags

        tags = Tags(estimator_type="regressor", target_tags=TargetTags(required=True),
                    regressor_tags=RegressorTags(),
                    input_tags=InputTags(sparse=True))
        return tags


class SparseLogisticRegression(_LinearModel):
    r"""Binary L1-regularised logistic regression.

    Minimises :math:`\frac1n\sum_i\log(1 + e^{-y_i(x_i^Tw + b)}) + \alpha\|w\|_1` with
    :func:`numopt.coordinate.sparse_logistic_regression` (working sets, prox-Newton
    directions by Numba coordinate descent, backtracking).

    Parameters
    ----------
    alpha : float, default 1e-2
    fit_intercept : bool, default True
    tol : float, default 1e-4
        Stop when the KKT violation is at most ``tol``.
    max_iter : int, default 100

    Attributes
    ----------
    classes_, coef_, intercept_, n_iter_, n_features_in_, result_
    """

    def __init__(self, alpha=1e-2, *, fit_intercept=True, tol=1e-4, max_iter=100):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        from ._api import sparse_logistic_regression

        X = self._validate_X(X, reset=True)
        y = self._validate_y(y, X.shape[0])
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y must be finite: Input contains NaN or infinity")
        _check_classification_targets(y)
        classes = np.unique(y)
        if classes.shape[0] != 2:
            raise ValueError("Only binary classification is supported: y must hold "
                             f"exactly two classes for this binary model, got "
                             f"{classes.shape[0]} class(es): {classes[:5].tolist()}")
        self.classes_ = classes
        y_pm = np.where(y == classes[1], 1.0, -1.0).astype(X.dtype)
        res = sparse_logistic_regression(X, y_pm, self.alpha,
                                         fit_intercept=self.fit_intercept, tol=self.tol,
                                         maxiter=self.max_iter)
        self.result_ = res
        self.coef_ = np.asarray(res.x)[None, :]
        self.intercept_ = np.asarray([float(res.intercept) if self.fit_intercept else 0.0])
        self.n_iter_ = int(res.nit)
        self._warn_if_unconverged(res, "increase max_iter or tol; the KKT violation was checked")
        return self

    def decision_function(self, X):
        self._check_fitted("n_features_in_")
        X = self._validate_X(X, reset=False)
        return np.asarray(X @ self.coef_[0] + self.intercept_[0]).ravel()

    def predict_proba(self, X):
        from scipy.special import expit   # no overflow warning for large margins

        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=False),
                    input_tags=InputTags(sparse=True))


class LabelPropagation(_Params):
    """Semi-supervised label propagation on a k-nearest-neighbour graph.

    Builds a symmetric kNN graph with Gaussian weights on ``X``, and for every class
    minimises the graph's quadratic energy with the labelled nodes held at their
    one-hot values (samples labelled ``-1`` are unlabelled), by block coordinate descent
    with forest-structured blocks and exact message-passing updates
    (:func:`numopt.coordinate.bcd`). New points are labelled by their kNN-weighted
    average of the fitted scores.

    Parameters
    ----------
    n_neighbors : int, default 7
    tol : float, default 1e-6
    max_iter : int, default 1000
        Maximum BCD iterations per class.
    block_size : int, default 100

    Attributes
    ----------
    classes_, label_distributions_, transduction_, n_features_in_
    n_iter_ : int
        BCD iterations of the slowest class (1 when every sample is labelled).
    """

    def __init__(self, n_neighbors=7, *, tol=1e-6, max_iter=1000, block_size=100):
        self.n_neighbors = n_neighbors
        self.tol = tol
        self.max_iter = max_iter
        self.block_size = block_size

    def _knn_weights(self, A, B, k, exclude_self):
        """Gaussian weights from rows of ``A`` to their k nearest rows of ``B``."""
        d2 = _squared_distances(self._unit.down(A), self._unit.down(B))
        if exclude_self:
            np.fill_diagonal(d2, np.inf)
        k = max(1, min(k, B.shape[0] - int(exclude_self)))
        nn = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.take_along_axis(d2, nn, axis=1)
        return nn, np.exp(-dist / self._sigma2)

    def fit(self, X, y):
        import scipy.sparse as sp

        from ._api import bcd
        from ._problems import LabelPropagationProblem as LPProblem

        X = self._validate_X(X, reset=True, accept_sparse=False).astype(np.float64)
        y = self._validate_y(y, X.shape[0])
        _check_classification_targets(y)
        labeled = y != -1
        if not labeled.any():
            raise ValueError("y has no labelled sample (every entry is -1)")
        classes = np.unique(y[labeled])
        self.classes_ = classes
        n = X.shape[0]
        k = self.n_neighbors
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        # distances in units of 2**e (max |X| / 2**e in [0.5, 1)): exact, and free of the
        # overflow (|X| near 1e160) or underflow (1e-170: every weight 1) of squares
        self._unit = Pow2.of(np, X)
        scaled = self._unit.down(X)
        d2 = _squared_distances(scaled, scaled)
        positive = d2[d2 > 0]
        self._sigma2 = float(np.median(positive)) if positive.size else 1.0
        self.X_fit_ = X
        Y = (y[:, None] == classes[None, :]).astype(np.float64)
        if n == 1:
            self.label_distributions_ = Y
            self.transduction_ = classes[np.argmax(Y, axis=1)]
            self.n_iter_ = 1
            return self
        nn, w = self._knn_weights(X, X, k, exclude_self=True)
        rows = np.repeat(np.arange(n), nn.shape[1])
        W = sp.coo_matrix((w.ravel(), (rows, nn.ravel())), shape=(n, n)).tocsr()
        W = W.maximum(W.T)
        F = Y.copy()
        # every sample labelled: the labels are the solution, one pass
        self.n_iter_ = 1
        if (~labeled).any():
            for c in range(classes.shape[0]):
                problem = LPProblem(W, Y[:, c], labeled, prior=1.0 / classes.shape[0])
                res = bcd(problem, partition="forest", rule="gsl", update="message_passing",
                          block_size=self.block_size, tol=self.tol, maxiter=self.max_iter)
                if not res.success:
                    warnings.warn(f"LabelPropagation did not converge for class "
                                  f"{classes[c]!r}: {res.message}", ConvergenceWarning,
                                  stacklevel=2)
                F[problem.unlabeled, c] = np.asarray(res.x)
                self.n_iter_ = max(self.n_iter_, int(res.nit))
        F = np.clip(F, 0.0, None)
        total = F.sum(axis=1, keepdims=True)
        F = np.where(total > 0, F / np.where(total > 0, total, 1.0), 1.0 / classes.size)
        self.label_distributions_ = F
        self.transduction_ = classes[np.argmax(F, axis=1)]
        return self

    def predict_proba(self, X):
        self._check_fitted("n_features_in_")
        X = self._validate_X(X, reset=False, accept_sparse=False).astype(np.float64)
        nn, w = self._knn_weights(X, self.X_fit_, self.n_neighbors, exclude_self=False)
        w = np.maximum(w, 1e-300)
        P = np.einsum("ik,ikc->ic", w, self.label_distributions_[nn])
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags())


def _squared_distances(A, B):
    """Squared Euclidean distances between the rows of ``A`` and of ``B``."""
    d2 = np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d2, 0.0)
