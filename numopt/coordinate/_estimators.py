"""scikit-learn estimators: Lasso, elastic net (and their cross-validated versions),
sparse logistic regression and label propagation.

Each inherits ``sklearn.base.BaseEstimator`` and the mixin of its kind, so ``score``,
``get_params``/``set_params``, ``clone``, tags and input validation (``validate_data``,
``check_is_fitted``) are scikit-learn's own.
"""

from __future__ import annotations

import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._estimator import progress_callback, report_fit, warn_if_unconverged
from .._units import Pow2
from ..parallel import map_problems
from ._api import (_alpha_grid, _path, _setup_glm, _solve_glm, bcd, elastic_net,
                   multinomial_logistic_regression, sparse_logistic_regression)
from ._glm_objects import Quadratic
from ._problems import LabelPropagationProblem

__all__ = ["Lasso", "ElasticNet", "LassoCV", "ElasticNetCV", "SparseLogisticRegression",
           "LabelPropagation"]

_FLOATS = [np.float64, np.float32]   # float32 is solved in float32; anything else float64


class _PenalizedLeastSquares(RegressorMixin, BaseEstimator):
    """The fit, predict and tags that Lasso and ElasticNet share."""

    def _l1_ratio(self):
        return self.l1_ratio

    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` (optional, non-negative) weighs the squared
        residuals, rescaled to sum to ``n_samples`` as scikit-learn does."""
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS, y_numeric=True)
        y = y.astype(X.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        coef0 = None
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (X.shape[1],):
            coef0 = self.coef_
        res = elastic_net(X, y, self.alpha, self._l1_ratio(), coef0=coef0,
                          fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                          tol=self.tol, maxiter=self.max_iter, positive=self.positive,
                          precompute=self.precompute, callback=progress_callback(self))
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


class ElasticNet(_PenalizedLeastSquares):
    r"""Elastic net with scikit-learn's objective and a duality-gap certificate.

    Minimises :math:`\frac{1}{2n}\|y - Xw - b\|_2^2 + \alpha\rho\|w\|_1 +
    \frac{\alpha(1 - \rho)}{2}\|w\|_2^2` (:math:`\rho` = ``l1_ratio``) with
    :func:`numopt.coordinate.elastic_net` (working sets, Numba coordinate descent,
    Anderson extrapolation).

    Parameters
    ----------
    alpha : float, default 1.0
    l1_ratio : float, default 0.5
    fit_intercept : bool, default True
    tol : float, default 1e-4
        Stop when the duality gap is at most ``tol * ||y - mean(y)||^2 / n``
        (scikit-learn's criterion; weighted with ``sample_weight``).
    max_iter : int, default 100
        Maximum number of working-set iterations.
    precompute : bool, 'auto' or array of shape (n_features, n_features), default False
        Solve on the Gram matrix ``X^T X`` (scikit-learn's parameter; see
        :func:`numopt.coordinate.lasso`): faster when ``n_samples >> n_features``;
        ``'auto'``: when ``n_samples > n_features``.
    warm_start : bool, default False
    positive : bool, default False
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, n_features_in_, result_
    """

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False,
                 tol=1e-4, max_iter=100, warm_start=False, positive=False, verbose=0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.positive = positive
        self.verbose = verbose


class Lasso(_PenalizedLeastSquares):
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
        (scikit-learn's criterion; weighted with ``sample_weight``).
    max_iter : int, default 100
        Maximum number of working-set iterations.
    precompute : bool, 'auto' or array of shape (n_features, n_features), default False
        Solve on the Gram matrix ``X^T X`` (scikit-learn's parameter; see
        :func:`numopt.coordinate.lasso`): faster when ``n_samples >> n_features``;
        ``'auto'``: when ``n_samples > n_features``.
    warm_start : bool, default False
    positive : bool, default False
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, n_features_in_, result_
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, tol=1e-4,
                 max_iter=100, warm_start=False, positive=False, verbose=0):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.positive = positive
        self.verbose = verbose

    def _l1_ratio(self):
        return 1.0


class _PenalizedLeastSquaresCV(RegressorMixin, BaseEstimator):
    """Cross-validated choice of ``alpha`` (and ``l1_ratio``) along warm-started paths,
    the folds in parallel (joblib threads: the Numba kernels release the GIL)."""

    def _l1_ratios(self):
        return np.atleast_1d(np.asarray(self.l1_ratio, dtype=float))

    def fit(self, X, y, sample_weight=None):
        """Choose the penalty by K-fold mean squared error, then refit on all the data."""
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS, y_numeric=True)
        y = y.astype(X.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        ratios = self._l1_ratios()
        settings = dict(fit_intercept=self.fit_intercept, tol=self.tol,
                        maxiter=self.max_iter, method=type(self).__name__)
        options = {"positive": self.positive}
        full = _setup_glm(X, y, Quadratic, coef0=None, options=options,
                          sample_weight=sample_weight, **settings)
        grids = [_alpha_grid(full, self.alphas, float(r), self.eps) for r in ratios]
        folds = list(check_cv(self.cv).split(X, y))
        jobs = [(k, train, test) for k in range(ratios.shape[0]) for train, test in folds]

        def fold_mse(k, train, test):
            sw = None if sample_weight is None else sample_weight[train]
            setup = _setup_glm(X[train], y[train], Quadratic, coef0=None, options=options,
                               sample_weight=sw, **settings)
            fits = _path(setup, grids[k], float(ratios[k]))
            coefs = np.stack([np.asarray(res.x) for res in fits], axis=1)
            pred = np.asarray(X[test] @ coefs) + np.asarray([res.intercept for res in fits])
            sq = (pred - y[test][:, None]) ** 2
            w = None if sample_weight is None else sample_weight[test]
            return np.average(sq, axis=0, weights=w)

        mse = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(fold_mse)(*job) for job in jobs)
        mse_path = np.asarray(mse).reshape(ratios.shape[0], len(folds), -1).transpose(0, 2, 1)
        mean = mse_path.mean(axis=2)
        k, i = np.unravel_index(np.argmin(mean), mean.shape)
        self.l1_ratio_ = float(ratios[k])
        self.alpha_ = float(grids[k][i])
        res = _solve_glm(full, self.alpha_, self.l1_ratio_, callback=progress_callback(self))
        single = np.ndim(self.l1_ratio) == 0
        self.mse_path_ = mse_path[0] if single else mse_path
        self.alphas_ = grids[0] if single else np.stack(grids)
        self.result_ = res
        self.coef_ = np.asarray(res.x)
        self.intercept_ = float(res.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = int(res.nit)
        self.dual_gap_ = float(res.dual_gap)
        report_fit(self, res)
        warn_if_unconverged(self, res, "increase max_iter or tol; the duality gap was checked")
        return self

    predict = _PenalizedLeastSquares.predict

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class ElasticNetCV(_PenalizedLeastSquaresCV):
    """Elastic net with ``alpha`` (and ``l1_ratio``, when a list) chosen by
    cross-validation (scikit-learn's ``ElasticNetCV``).

    Parameters
    ----------
    l1_ratio : float or list of float, default 0.5
    eps : float, default 1e-3
        ``alpha_min / alpha_max`` of the automatic grid.
    alphas : int or array, default 100
        The number of penalties of the automatic grid, or the penalties.
    fit_intercept : bool, default True
    max_iter : int, default 100
        Working-set iterations of each solve.
    tol : float, default 1e-4
    cv : int, cross-validation generator or iterable, default None (5 folds)
    verbose : int, default 0
    n_jobs : int, default None
        Folds (times ``l1_ratio`` values) solved in parallel, in joblib threads.
    positive : bool, default False

    Attributes
    ----------
    alpha_, l1_ratio_, coef_, intercept_, mse_path_, alphas_, dual_gap_, n_iter_,
    n_features_in_, result_
    """

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, fit_intercept=True,
                 max_iter=100, tol=1e-4, cv=None, verbose=0, n_jobs=None, positive=False):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive


class LassoCV(_PenalizedLeastSquaresCV):
    """Lasso with ``alpha`` chosen by cross-validation (scikit-learn's ``LassoCV``).

    Parameters
    ----------
    eps, alphas, fit_intercept, max_iter, tol, cv, verbose, n_jobs, positive
        As in :class:`ElasticNetCV`.

    Attributes
    ----------
    alpha_, coef_, intercept_, mse_path_, alphas_, dual_gap_, n_iter_, n_features_in_,
    result_
    """

    def __init__(self, *, eps=1e-3, alphas=100, fit_intercept=True, max_iter=100, tol=1e-4,
                 cv=None, verbose=0, n_jobs=None, positive=False):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive

    def _l1_ratios(self):
        return np.ones(1)

    @property
    def l1_ratio(self):
        return 1.0


class SparseLogisticRegression(ClassifierMixin, BaseEstimator):
    r"""L1-regularised logistic regression, binary or multiclass.

    Binary targets minimise
    :math:`\frac1n\sum_i s_i\log(1 + e^{-y_i(x_i^Tw + b)}) + \alpha\|w\|_1`
    (:func:`numopt.coordinate.sparse_logistic_regression`: working sets, prox-Newton
    directions by Numba coordinate descent). More than two classes are fitted either
    jointly, ``multi_class="multinomial"``: the softmax cross-entropy with the group
    L1 penalty :math:`\alpha\sum_j\|W_j\|_2` over the features' rows of
    coefficients, so that a feature is used by every class or by none
    (:func:`numopt.coordinate.multinomial_logistic_regression`); or
    ``multi_class="ovr"``: one binary L1 model per class against the rest.

    The penalty is given by exactly one of ``alpha`` (the mean scaling above) or
    ``C`` (scikit-learn's scaling, :math:`C\sum_i s_i\,\mathrm{loss}_i +
    \|w\|_1`): the two are the same problem for :math:`\alpha = 1 / (C \sum_i s_i)`,
    ``1 / (C n)`` without weights. With neither, ``alpha = 0.01``. ``s`` is
    ``sample_weight`` times the ``class_weight`` of each sample's class (weights
    in the ``alpha`` scaling are rescaled to sum to ``n``).

    Parameters
    ----------
    alpha : float, optional
        Penalty level in the mean scaling (> 0); exclusive with ``C``.
    C : float, optional
        Inverse penalty level in scikit-learn's scaling (> 0); exclusive with ``alpha``.
    fit_intercept : bool, default True
        Fit an unpenalised intercept (per class when multiclass).
    tol : float, default 1e-4
        Stop when the KKT violation (mean scaling) is at most ``tol``.
    max_iter : int, default 100
        Working-set iterations (per class with ``"ovr"``).
    class_weight : dict, "balanced" or None, default None
        Weights of the classes (scikit-learn's meaning), multiplied into the sample
        weights.
    multi_class : {"multinomial", "ovr"}, default "multinomial"
        The model for more than two classes (two classes: always one binary model).
    warm_start : bool, default False
        Start from the previous fit's coefficients when their shape matches.
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per working-set iteration.

    Attributes
    ----------
    classes_ : array, shape (n_classes,)
    coef_ : array, shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : array, shape (1,) or (n_classes,)
    alpha_ : float
        The penalty level actually used (mean scaling).
    n_iter_ : int
        Working-set iterations (the largest over the classes with ``"ovr"``).
    n_features_in_, result_
        ``result_``: the solver's result (a list of them with ``"ovr"``).
    """

    def __init__(self, alpha=None, *, C=None, fit_intercept=True, tol=1e-4, max_iter=100,
                 class_weight=None, multi_class="multinomial", warm_start=False,
                 verbose=0):
        self.alpha = alpha
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.multi_class = multi_class
        self.warm_start = warm_start
        self.verbose = verbose

    def _penalty_level(self, weights, n):
        """``alpha``, from ``alpha`` or from ``C`` and the sum of the weights."""
        if self.alpha is not None and self.C is not None:
            raise ValueError(f"give exactly one of alpha and C, got alpha={self.alpha!r} "
                             f"and C={self.C!r}")
        if self.C is None:
            return 1e-2 if self.alpha is None else self.alpha
        if isinstance(self.C, bool) or not isinstance(self.C, (int, float, np.number)) \
                or not self.C > 0 or not np.isfinite(self.C):
            raise ValueError(f"C must be a positive finite number, got {self.C!r}")
        total = float(n if weights is None else np.sum(weights))
        return 1.0 / (float(self.C) * total)

    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` (optional, non-negative) weighs the
        per-sample losses (times ``class_weight``)."""
        from sklearn.utils.class_weight import compute_class_weight

        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=_FLOATS)
        check_classification_targets(y)
        if self.multi_class not in ("multinomial", "ovr"):
            raise ValueError("multi_class must be 'multinomial' or 'ovr', got "
                             f"{self.multi_class!r}")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError("y must hold at least two classes to fit a classifier, got "
                             f"{classes.shape[0]} class: {classes.tolist()}")
        if sample_weight is not None:
            weighted = np.unique(codes[sample_weight > 0])
            if weighted.shape[0] < 2:
                raise ValueError("y must hold at least two classes with a positive "
                                 f"sample_weight, got {weighted.shape[0]} class")
        if self.class_weight is not None:
            # "balanced" counts the classes with the sample weights (scikit-learn's
            # rule: weighting a sample is repeating it)
            per_class = compute_class_weight(self.class_weight, classes=classes, y=y,
                                             sample_weight=sample_weight)
            by_class = per_class.astype(X.dtype)[codes]
            sample_weight = by_class if sample_weight is None else sample_weight * by_class
        self.classes_ = classes
        alpha = self._penalty_level(sample_weight, X.shape[0])
        self.alpha_ = float(alpha)
        settings = dict(sample_weight=sample_weight, fit_intercept=self.fit_intercept,
                        tol=self.tol, maxiter=self.max_iter,
                        callback=progress_callback(self))
        previous = getattr(self, "coef_", None) if self.warm_start else None
        n_classes, p = classes.shape[0], X.shape[1]
        rows = 1 if n_classes == 2 else n_classes
        if previous is not None and previous.shape != (rows, p):
            previous = None
        if n_classes > 2 and self.multi_class == "multinomial":
            res = multinomial_logistic_regression(
                X, codes.astype(X.dtype), alpha,
                coef0=None if previous is None else previous.T, **settings)
            results = [res]
            coef = np.asarray(res.x).T
            intercept = np.asarray(res.intercept, dtype=X.dtype)
        else:
            targets = [1] if n_classes == 2 else range(n_classes)
            results = [sparse_logistic_regression(
                X, np.where(codes == k, 1.0, -1.0).astype(X.dtype), alpha,
                coef0=None if previous is None else previous[row], **settings)
                for row, k in enumerate(targets)]
            coef = np.stack([np.asarray(res.x) for res in results])
            intercept = np.asarray([float(res.intercept) for res in results], dtype=X.dtype)
        self.result_ = results[0] if len(results) == 1 else results
        self.coef_ = coef
        self.intercept_ = intercept if self.fit_intercept else np.zeros_like(intercept)
        self.n_iter_ = max(int(res.nit) for res in results)
        for res in results:
            report_fit(self, res)
            warn_if_unconverged(self, res,
                                "increase max_iter or tol; the KKT violation was checked")
        return self

    def decision_function(self, X):
        """The margins ``X @ coef_.T + intercept_``: shape (n,) for two classes
        (positive: ``classes_[1]``), else (n, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csc", dtype=_FLOATS, reset=False)
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Probabilities of ``classes_``: the logistic of the margin (two classes), the
        softmax of the scores (multinomial), or the one-vs-rest logistics normalised
        to sum to 1 (scikit-learn's ``"ovr"`` rule)."""
        from scipy.special import expit, softmax   # no overflow warning for large margins

        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        if self.multi_class == "multinomial":
            return softmax(scores, axis=1)
        p = expit(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class of the largest score (two classes: positive margin is
        ``classes_[1]``)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
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
