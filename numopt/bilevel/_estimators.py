""":class:`TunedLogisticRegression`: logistic regression whose per-feature L2 penalties
are tuned by bilevel optimization on a validation split (or on ``cv`` folds)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._estimator import progress_callback, report_fit, warn_if_unconverged
from .._validation import check_scalar, check_seed
from ._api import METHODS, minimize_bilevel
from ._implicit import check_implicit_solver
from ._problem import DENSE_LIMIT, MultiBlockBilevel
from ._problems import LogisticTuning

__all__ = ["TunedLogisticRegression"]

# The log-penalties stay within [log(lam0) - LOWER_SPAN, log(lam0) + UPPER_SPAN] around the
# start lam0 = 1 / (C n): a bounded lower curvature keeps the fixed inner step (taken at
# the largest penalty allowed) stable, and e^5 ~ 150 times scikit-learn's default
# penalty is already a strong ridge.
LOWER_SPAN, UPPER_SPAN = 12.0, 5.0


class TunedLogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with per-feature L2 penalties tuned by bilevel
    optimization.

    ``fit`` splits off a validation set (``validation_fraction``) or uses ``cv`` folds,
    minimizes the validation cross entropy over the log-penalties (the lower problem is
    the penalized training fit, :class:`~numopt.bilevel.LogisticTuning`; with ``cv`` one
    block per fold of a :class:`~numopt.bilevel.MultiBlockBilevel`), then refits on all
    of ``X`` with the tuned penalties. The penalty of feature ``k`` multiplies
    ``1/2 ||W_k||^2`` next to the *mean* training loss; scikit-learn's ``C`` corresponds
    to ``1 / (C n_samples)``, the start of the tuning.

    Parameters
    ----------
    C : float, default 1.0
        Inverse of the starting penalty (scikit-learn's meaning).
    cv : int or None, default None
        Number of stratified folds to tune on; ``None`` uses one validation split.
    validation_fraction : float, default 0.25
        Share of the samples held out when ``cv`` is None.
    solver : str, default "implicit"
        A :func:`~numopt.bilevel.minimize_bilevel` method (``"bsvrb"`` needs ``cv``).
    hypergrad : {"cg", "direct", "neumann", "sgd"} or LinearOperator or callable, default "cg"
        The implicit-system solver of ``solver="implicit"`` (ignored by the methods
        that track their own implicit vector). Up to 200 coefficients ``"implicit"``
        takes one warm-started Newton step on the lower problem per iteration.
    max_iter : int, default 100
    tol : float, default 1e-4
        Hypergradient (projected-gradient mapping) norm of the log-penalties.
    batch_size : int or None, default None
        Minibatches of the stochastic solvers (None: full batches).
    fit_intercept : bool, default True
    random_state : int, RandomState or None
        The split, the folds and the solver's sampling.
    solver_options : dict, optional
        Extra options of the solver (``outer_step``, ``inner_steps``...).
    verbose : int, default 0

    Attributes
    ----------
    penalties_ : ndarray of shape (n_features,)
        The tuned per-feature penalties.
    hypergrad_norm_ : float
        The certified hypergradient measure reached.
    n_oracle_calls_ : int
        Oracle calls (gradients, Hessian-vector and cross-derivative products, dense
        Hessians) of the tuning iterations; the exact lower solves of the start, the
        certificate and the refit are not counted.
    coef_, intercept_ : ndarray
        scikit-learn's layout: ``(1, n_features)`` and ``(1,)`` for two classes.
    classes_, n_iter_, result_, n_features_in_
    """

    def __init__(self, C=1.0, *, cv=None, validation_fraction=0.25, solver="implicit",
                 hypergrad="cg", max_iter=100, tol=1e-4, batch_size=None, fit_intercept=True,
                 random_state=None, solver_options=None, verbose=0):
        self.C = C
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.solver = solver
        self.hypergrad = hypergrad
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.solver_options = solver_options
        self.verbose = verbose

    def _splits(self, y, rng):
        """``[(train, validation)]`` index pairs: one split, or stratified folds."""
        n = y.size
        if self.cv is None:
            frac = check_scalar(self.validation_fraction, "validation_fraction", low=0.0,
                                high=1.0, low_open=True, high_open=True)
            order = rng.permutation(n)
            n_val = min(n - 1, max(1, int(round(frac * n))))
            return [(order[n_val:], order[:n_val])]
        from sklearn.model_selection import StratifiedKFold

        folds = check_scalar(self.cv, "cv", low=2, integer=True)
        if folds > n:
            raise ValueError(f"cv={folds} folds need at least as many samples, got {n}")
        _, counts = np.unique(y, return_counts=True)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=int(rng.integers(2**31)))
        if counts.min() < folds:   # too few members of a class to stratify
            from sklearn.model_selection import KFold

            splitter = KFold(folds, shuffle=True, random_state=int(rng.integers(2**31)))
        return list(splitter.split(np.zeros((n, 1)), y))

    def fit(self, X, y):
        """Tune the per-feature penalties on held-out data, then refit on all of ``X``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError("TunedLogisticRegression needs samples of at least 2 classes; "
                             f"got 1 class: {self.classes_[0]!r}")
        C = check_scalar(self.C, "C", low=0.0, low_open=True)
        if self.solver not in METHODS:
            raise ValueError(f"solver must be one of {', '.join(METHODS)}; got {self.solver!r}")
        check_implicit_solver(self.hypergrad)
        rng = check_seed(self.random_state if not isinstance(
            self.random_state, np.random.RandomState) else
            int(self.random_state.randint(np.iinfo(np.int32).max)), "random_state")
        X64 = np.asarray(X, dtype=np.float64)
        n, d = X64.shape
        log_start = -math.log(C * n)
        blocks = [LogisticTuning(X64[tr], y[tr], X64[va], y[va], classes=self.classes_,
                                 fit_intercept=self.fit_intercept)
                  for tr, va in self._splits(y, rng)]
        problem = blocks[0] if len(blocks) == 1 else MultiBlockBilevel(blocks)
        lo, hi = log_start - LOWER_SPAN, log_start + UPPER_SPAN
        x0 = np.full(d, log_start)
        options = {"bounds": (lo, hi),
                   "inner_step": 1.0 / max(b.data_smoothness + math.exp(hi) for b in blocks)}
        if self.solver == "implicit":
            options["implicit_solver"] = self.hypergrad
            if problem.dim_y <= DENSE_LIMIT:   # one warm Newton step beats 10 GD steps
                options.update(inner_solver="newton", inner_steps=1)
        options.update(self.solver_options or {})
        # the exact lower solution at the start (uncounted setup, as the certificate)
        y0 = problem.lower_solution(x0)
        if "outer_step" not in options:
            options["outer_step"] = self._first_step(problem, x0, y0, (lo, hi))
        res = minimize_bilevel(problem, x0, y0, method=self.solver, tol=self.tol,
                               maxiter=self.max_iter, batch_size=self.batch_size, seed=rng,
                               callback=progress_callback(self), **options)
        report_fit(self, res)
        warn_if_unconverged(self, res)
        self.result_ = res
        self.n_iter_ = res.nit
        self.hypergrad_norm_ = float(res.hypergrad_norm)
        self.n_oracle_calls_ = int(res.n_oracle_calls)
        x = np.asarray(res.x, dtype=np.float64)
        self.penalties_ = np.exp(x)
        full = LogisticTuning(X64, y, X64[:1], y[:1], classes=self.classes_,
                              fit_intercept=self.fit_intercept)
        W = full.lower_solution(x).reshape(full.shape_W)
        self._set_coefficients(W, d, X.dtype)
        return self

    @staticmethod
    def _first_step(problem, x0, y0, bounds):
        """An outer step under which the first move of the log-penalties has norm 1: the
        hypergradient in log-penalties has no natural scale (it is ``lam_k ||W_k||^2``
        times validation sensitivities), so 1 / L_g steps would barely move them."""
        grad = problem.hypergradient(x0, y0)[0]
        grad = x0 - np.clip(x0 - grad, *bounds)
        norm = float(np.linalg.norm(grad))
        return 1.0 / norm if norm > 0 else 1.0

    def _set_coefficients(self, W, d, dtype):
        weights, bias = W[:d], (W[d] if self.fit_intercept else np.zeros(W.shape[1]))
        if self.classes_.size == 2:   # one column: the scores of class 1 against class 0
            self.coef_ = weights.T.astype(dtype)
            self.intercept_ = np.array([bias[0]], dtype=dtype)
        else:
            self.coef_ = weights.T.astype(dtype)
            self.intercept_ = bias.astype(dtype)

    def predict_proba(self, X):
        """Class probabilities (softmax of the multinomial scores)."""
        check_is_fitted(self)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))
