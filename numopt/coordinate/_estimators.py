"""scikit-learn estimators: the Lasso, sparse logistic regression and label propagation.

Each inherits ``sklearn.base.BaseEstimator`` and the mixin of its kind, so ``score``,
``get_params``/``set_params``, ``clone``, tags and input validation (``validate_data``,
``check_is_fitted``) are scikit-learn's own.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._estimator import progress_callback, report_fit, warn_if_unconverged
from .._units import Pow2
from ..parallel import map_problems
from ._api import bcd, lasso, sparse_logistic_regression
from ._problems import LabelPropagationProblem

__all__ = ["Lasso", "LassoCV", "SparseLogisticRegression", "LabelPropagation"]

_FLOATS = [np.float64, np.float32]   # float32 is solved in float32; anything else float64


class Lasso(RegressorMixin, BaseEstimator):
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
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, n_features_in_, result_
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100,
                 warm_start=False, positive=False, verbose=0):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.positive = positive
        self.verbose = verbose

    def fit(self, X, y):
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS, y_numeric=True)
        y = y.astype(X.dtype, copy=False)
        coef0 = None
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (X.shape[1],):
            coef0 = self.coef_
        res = lasso(X, y, self.alpha, coef0=coef0, fit_intercept=self.fit_intercept,
                    tol=self.tol, maxiter=self.max_iter, positive=self.positive,
                    callback=progress_callback(self))
        self.result_ = res
        self.coef_ = np.asarray(res.x)
        self.intercept_ = float(res.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = int(res.nit)
        self.dual_gap_ = float(res.dual_gap)
        report_fit(self, res)
        warn_if_unconverged(self, res, "increase max_iter or tol; the duality gap was checked")
        return self

    def predict(self, X):
        """``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csc", dtype=_FLOATS, reset=False)
        return np.asarray(X @ self.coef_ + self.intercept_).ravel()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class LassoCV(RegressorMixin, BaseEstimator):
    r"""Lasso with its penalty chosen by cross-validation along a path of alphas.

    scikit-learn's ``LassoCV``: for every fold, :func:`numopt.coordinate.lasso` solves
    the whole path (warm-started from the previous, larger alpha) on the training part
    and scores the mean squared error on the held-out part; ``alpha_`` minimises the
    mean over folds and the model is refitted on all data at ``alpha_``.

    Parameters
    ----------
    alphas : int or array-like, default 100
        An int: that many alphas, log-spaced from ``alpha_max`` (the smallest alpha
        whose solution is zero) down to ``eps * alpha_max``; an array: those alphas
        (sorted in decreasing order).
    eps : float, default 1e-3
    fit_intercept : bool, default True
    tol : float, default 1e-4
        Duality-gap tolerance of every fit, as in :class:`Lasso`.
    max_iter : int, default 100
        Maximum working-set iterations of every fit.
    cv : int, cross-validation generator or iterable, default None
        scikit-learn's ``cv`` (None: 5-fold ``KFold``).
    n_jobs : int or None, default None
        Number of joblib workers that run the folds' paths (scikit-learn's meaning:
        None is 1 unless an enclosing ``joblib.parallel_config`` says otherwise, -1 uses
        every core; ``joblib.parallel_config(backend="dask")`` runs them on a Dask
        cluster). The fit does not depend on it.
    positive : bool, default False
    verbose : int, default 0
        1: print the final fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    alpha_, alphas_, mse_path_ (``(n_alphas, n_folds)``), coef_, intercept_, n_iter_,
    dual_gap_, n_features_in_, result_ (the final fit's result)
    """

    def __init__(self, *, alphas=100, eps=1e-3, fit_intercept=True, tol=1e-4, max_iter=100,
                 cv=None, n_jobs=None, positive=False, verbose=0):
        self.alphas = alphas
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.n_jobs = n_jobs
        self.positive = positive
        self.verbose = verbose

    def _alpha_grid(self, X, y):
        if not isinstance(self.alphas, (int, np.integer)):
            alphas = np.sort(np.asarray(self.alphas, dtype=np.float64).ravel())[::-1]
            if alphas.size == 0 or not np.all(np.isfinite(alphas)) or alphas[-1] <= 0:
                raise ValueError(f"alphas must be positive and finite, got {self.alphas!r}")
            return alphas
        if self.alphas < 1:
            raise ValueError(f"alphas must be a positive number of alphas or an array of "
                             f"them, got {self.alphas!r}")
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be positive, got {self.eps!r}")
        # X^T y_c = X_c^T y_c: the centred design's correlations, X never densified
        residual = (y - y.mean()) if self.fit_intercept else y
        Xy = np.asarray(X.T @ residual.astype(np.float64)).ravel()
        if self.positive:
            Xy = np.maximum(Xy, 0.0)
        alpha_max = float(np.max(np.abs(Xy))) / X.shape[0]
        tiny = float(np.finfo(np.float64).resolution)
        if alpha_max <= tiny:   # y is constant (or orthogonal to X): any alpha gives 0
            return np.full(int(self.alphas), tiny)
        return np.geomspace(alpha_max, alpha_max * self.eps, num=int(self.alphas))

    def fit(self, X, y):
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS, y_numeric=True)
        y = y.astype(X.dtype, copy=False)
        alphas = self._alpha_grid(X, y)
        folds = list(check_cv(self.cv).split(X, y))
        path = _LassoPath(alphas, self.fit_intercept, self.tol, self.max_iter, self.positive)
        scored = map_problems(path, [(X[train], y[train], X[test], y[test])
                                     for train, test in folds], n_jobs=self.n_jobs)
        self.mse_path_ = np.column_stack([mse for mse, _ in scored])
        unconverged = sum(count for _, count in scored)
        if unconverged:
            warnings.warn(f"LassoCV: {unconverged} of {alphas.size * len(folds)} fits along "
                          "the folds' paths did not converge (increase max_iter or tol)",
                          ConvergenceWarning, stacklevel=2)
        self.alphas_ = alphas
        self.alpha_ = float(alphas[np.argmin(self.mse_path_.mean(axis=1))])
        res = lasso(X, y, self.alpha_, fit_intercept=self.fit_intercept, tol=self.tol,
                    maxiter=self.max_iter, positive=self.positive,
                    callback=progress_callback(self))
        self.result_ = res
        self.coef_ = np.asarray(res.x)
        self.intercept_ = float(res.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = int(res.nit)
        self.dual_gap_ = float(res.dual_gap)
        report_fit(self, res)
        warn_if_unconverged(self, res, "increase max_iter or tol; the duality gap was checked")
        return self

    def predict(self, X):
        """``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csc", dtype=_FLOATS, reset=False)
        return np.asarray(X @ self.coef_ + self.intercept_).ravel()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _LassoPath:
    """One fold of :class:`LassoCV`: the path on the training part, warm-started from
    alpha to alpha, scored on the held-out part; a task of
    :func:`numopt.parallel.map_problems`. Returns ``(mse per alpha, unconverged fits)``."""

    def __init__(self, alphas, fit_intercept, tol, max_iter, positive):
        self.alphas, self.fit_intercept = alphas, fit_intercept
        self.tol, self.max_iter, self.positive = tol, max_iter, positive

    def __call__(self, fold):
        X_train, y_train, X_test, y_test = fold
        mse, unconverged, coef = np.empty(self.alphas.size), 0, None
        for i, alpha in enumerate(self.alphas):
            res = lasso(X_train, y_train, alpha, coef0=coef, fit_intercept=self.fit_intercept,
                        tol=self.tol, maxiter=self.max_iter, positive=self.positive)
            coef = np.asarray(res.x)
            intercept = float(res.intercept) if self.fit_intercept else 0.0
            error = (np.asarray(X_test @ coef).ravel() + intercept).astype(np.float64) - y_test
            mse[i] = float(np.mean(error * error))
            unconverged += not res.success
        return mse, unconverged


class SparseLogisticRegression(ClassifierMixin, BaseEstimator):
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
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    classes_, coef_, intercept_, n_iter_, n_features_in_, result_
    """

    def __init__(self, alpha=1e-2, *, fit_intercept=True, tol=1e-4, max_iter=100,
                 verbose=0):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def fit(self, X, y):
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS)
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.shape[0] != 2:
            raise ValueError("Only binary classification is supported: y must hold "
                             f"exactly two classes for this binary model, got "
                             f"{classes.shape[0]} class(es): {classes[:5].tolist()}")
        self.classes_ = classes
        y_pm = np.where(y == classes[1], 1.0, -1.0).astype(X.dtype)
        res = sparse_logistic_regression(X, y_pm, self.alpha,
                                         fit_intercept=self.fit_intercept, tol=self.tol,
                                         maxiter=self.max_iter,
                                         callback=progress_callback(self))
        self.result_ = res
        self.coef_ = np.asarray(res.x)[None, :]
        self.intercept_ = np.asarray([float(res.intercept) if self.fit_intercept else 0.0])
        self.n_iter_ = int(res.nit)
        report_fit(self, res)
        warn_if_unconverged(self, res, "increase max_iter or tol; the KKT violation was checked")
        return self

    def decision_function(self, X):
        """The margin ``X @ coef_[0] + intercept_[0]`` (positive: ``classes_[1]``)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csc", dtype=_FLOATS, reset=False)
        return np.asarray(X @ self.coef_[0] + self.intercept_[0]).ravel()

    def predict_proba(self, X):
        """Probabilities of ``classes_`` (logistic of the margin)."""
        from scipy.special import expit   # no overflow warning for large margins

        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """The class of positive margin, ``classes_[1]``, or ``classes_[0]``."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True
        return tags


class LabelPropagation(ClassifierMixin, BaseEstimator):
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
    verbose : int, default 0
        1: print each class's outcome; 2: also one line per BCD iteration (printed by
        the worker that solves the class when ``n_jobs`` is not 1).
    n_jobs : int or None, default None
        Number of joblib workers that solve the classes' problems (one per class;
        scikit-learn's meaning: None is 1 unless an enclosing
        ``joblib.parallel_config`` says otherwise, -1 uses every core, and a
        ``joblib.parallel_config(backend="dask")`` runs them on a Dask cluster). The
        fit does not depend on it.

    Attributes
    ----------
    classes_, label_distributions_, transduction_, n_features_in_
    n_iter_ : int
        BCD iterations of the slowest class (1 when every sample is labelled).
    """

    def __init__(self, n_neighbors=7, *, tol=1e-6, max_iter=1000, block_size=100,
                 verbose=0, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.tol = tol
        self.max_iter = max_iter
        self.block_size = block_size
        self.verbose = verbose
        self.n_jobs = n_jobs

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

        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
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
            labels = [f" (class {c!r})" for c in classes]
            problems = [(LabelPropagationProblem(W, Y[:, c], labeled,
                                                 prior=1.0 / classes.shape[0]),
                         progress_callback(self, labels[c]))
                        for c in range(classes.shape[0])]
            # the classes are independent problems: solved on n_jobs workers, and
            # reported and warned about here, where the caller sees the warnings
            solved = map_problems(_PropagateClass(self.block_size, self.tol, self.max_iter),
                                  problems, n_jobs=self.n_jobs)
            for c, ((problem, _), res) in enumerate(zip(problems, solved)):
                report_fit(self, res, labels[c])
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
        """kNN-weighted average of the fitted label distributions."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        nn, w = self._knn_weights(X, self.X_fit_, self.n_neighbors, exclude_self=False)
        w = np.maximum(w, 1e-300)
        P = np.einsum("ik,ikc->ic", w, self.label_distributions_[nn])
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class _PropagateClass:
    """The solve of one class's label-propagation problem, a task of
    :func:`numopt.parallel.map_problems` (a class, so it pickles by reference)."""

    def __init__(self, block_size, tol, max_iter):
        self.block_size, self.tol, self.max_iter = block_size, tol, max_iter

    def __call__(self, problem_and_callback):
        problem, callback = problem_and_callback
        return bcd(problem, partition="forest", rule="gsl", update="message_passing",
                   block_size=self.block_size, tol=self.tol, maxiter=self.max_iter,
                   callback=callback)


def _squared_distances(A, B):
    """Squared Euclidean distances between the rows of ``A`` and of ``B``."""
    d2 = np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d2, 0.0)
