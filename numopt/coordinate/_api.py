"""Public functions of numopt.coordinate (the estimators live in ``_estimators``)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from .._backend import get_namespace, is_numpy
from .._loop import run_solver
from .._result import Status
from .._units import ldexp_float
from .._validation import (as_array, check_choice, check_flag, check_nonnegative,
                           check_options, check_scalar, check_shape)
from ._bcd import (FIXED_PARTITIONS, PARTITIONS, RULES, SAMPLING_RULES, UPDATES, BCDSolver,
                   CompiledBCDSolver, batch_path)
from ._glm_gram import GramCD, GramData, check_gram, resolve_precompute
from ._glm_l1 import SparseGLMProblem, WorkingSetCD, extreme_exponent, ldexp_design
from ._glm_objects import L1, ElasticNet, GroupL1, Logistic, Multinomial, Quadratic
from ._problems import QuadraticProblem
from ._validation import check_binary_labels, check_design

__all__ = ["lasso", "elastic_net", "lasso_path", "enet_path", "sparse_logistic_regression",
           "multinomial_logistic_regression",
           "bcd"]

GLM_DEFAULTS = {"p0": None, "anderson_k": 5, "max_epochs": 50_000, "positive": False}
# first working-set sizes: a Lasso outer iteration costs a full X^T r, and a first
# working set of 100 saved one or two of them on every timing case (Gaussian
# 1000x5000 at alpha_max/20: 2 outer iterations instead of 4); the logistic fits
# (breast_cancer poly-2) were fastest from 10
P0_DEFAULT = {Quadratic: 100, Logistic: 10, Multinomial: 10}
# a path's warm-started solve begins at the previous support, which is most of its
# final one: its first working set need not be padded to P0_DEFAULT (LassoCV, Gaussian
# 400 x 1000 folds: the first 45 of the 54 working sets were 100 columns for a support
# below 20, 10 epochs each)
P0_WARM = 10


def _glm_options(options, method, datafit_class):
    opts = check_options(options, GLM_DEFAULTS, method)
    given = opts["p0"] is not None
    p0 = opts["p0"] if given else P0_DEFAULT[datafit_class]
    p0 = check_scalar(p0, "p0", low=1, integer=True)
    warm_p0 = p0 if given else min(p0, P0_WARM)
    k = check_scalar(opts["anderson_k"], "anderson_k", low=0, integer=True)
    epochs = check_scalar(opts["max_epochs"], "max_epochs", low=1, integer=True)
    positive = check_flag(opts["positive"], "positive")
    return p0, warm_p0, k, epochs, positive, opts["disp"]


def _check_sample_weight(sample_weight, n, xp, dtype):
    """Non-negative finite weights, rescaled to sum to ``n`` (scikit-learn's convention:
    the objective's mean becomes a weighted mean), or None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (int, float)) and not isinstance(sample_weight, bool):
        sample_weight = xp.full(n, float(sample_weight), dtype=dtype)
    sw = as_array(sample_weight, "sample_weight", xp, ndim=1, dtype=dtype)
    check_shape(sw, "sample_weight", (n,), against="the rows of X")
    check_nonnegative(sw, "sample_weight", xp)
    total = float(xp.sum(xp.astype(sw, xp.float64)))
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum, got all zeros")
    return xp.astype(sw * (n / total), dtype)


def _penalty(alpha, l1_ratio, positive, exp_X, exp_y):
    """The penalty of ``alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)`` for
    the data divided by ``2**exp_X`` and ``2**exp_y`` (``w' = 2**(exp_X - exp_y) w``:
    the L1 level scales by ``2**-(exp_X + exp_y)``, the L2 one by ``2**(-2 exp_X)``)."""
    a1 = ldexp_float(alpha * l1_ratio, -exp_X - exp_y)
    if l1_ratio == 1.0:
        return L1(a1, positive=positive)
    a2 = ldexp_float(alpha * (1.0 - l1_ratio), -2 * exp_X)
    return ElasticNet(a1 + a2, a1 / (a1 + a2), positive=positive)


def _setup_glm(X, y, datafit_class, *, coef0, fit_intercept, tol, maxiter, options, method,
               sample_weight=None, precompute=False):
    """Validate and rescale the data of a sparse GLM once (a path solves it for many
    penalties); returns the settings the solves share."""
    xp = get_namespace(X, y, coef0)
    if not is_numpy(xp):
        raise TypeError("X and y must be NumPy arrays (or X a SciPy sparse matrix): the "
                        "working-set solvers run on the CPU with Numba kernels; for GPU "
                        f"arrays use numopt.coordinate.bcd. Got {xp.__name__} arrays")
    quadratic = datafit_class is Quadratic
    multinomial = datafit_class is Multinomial
    classes = None
    if multinomial:
        # class labels: their dtype does not set the precision (integer labels with a
        # float32 X are solved in float32), and codes keep large labels distinct
        classes, codes = np.unique(as_array(y, "y", xp, ndim=1), return_inverse=True)
        y = codes.astype(np.float32 if getattr(X, "dtype", None) == np.float32
                         else np.float64)
    X, y, dtype = check_design(X, y, xp)
    tol = check_scalar(tol, "tol", low=0, low_open=True)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    p0, warm_p0, k, epochs, positive, disp = _glm_options(options, method, datafit_class)
    fit_intercept = check_flag(fit_intercept, "fit_intercept")
    if multinomial:
        # the labels become one-hot rows, one column per class (sorted)
        if classes.shape[0] < 2:
            raise ValueError(f"y must hold at least two classes, got {classes.shape[0]}")
        y = np.ascontiguousarray(codes[:, None] == np.arange(classes.shape[0]), dtype=dtype)
    elif not quadratic:
        check_binary_labels(y, xp)
    n, p = X.shape
    sample_weight = _check_sample_weight(sample_weight, n, xp, dtype)
    coef_shape = (p, classes.shape[0]) if multinomial else (p,)
    if coef0 is None:
        coef0 = xp.zeros(coef_shape, dtype=dtype)
    else:
        coef0 = as_array(coef0, "coef0", xp, ndim=len(coef_shape), dtype=dtype)
        check_shape(coef0, "coef0", coef_shape, against="the columns of X (and classes)")
    # data far from unit scale (|X| or |y| near 1e+-80 and beyond in float64) is solved
    # divided by exact powers of two, X = 2**e X', y = 2**c y', for w' = 2**(e - c) w and
    # alpha' = alpha / 2**(e + c): the same problem (the Lasso's gap test is relative to
    # ||y||^2, the logistic KKT tolerance is rescaled with it), without the overflow or
    # underflow of the squared column norms and of ||y||^2
    exp_X = extreme_exponent(X, dtype)
    exp_y = extreme_exponent(y, dtype) if quadratic else 0
    if exp_X:
        X = ldexp_design(X, -exp_X)
    if exp_y:
        y = np.ldexp(y, -exp_y)
    if not quadratic and exp_X:
        tol = ldexp_float(tol, -exp_X)
    weights = xp.ones(n, dtype=dtype) if sample_weight is None else sample_weight
    if multinomial:
        # the log class frequencies (centred): the intercepts of the zero model's optimum
        freq = np.maximum(weights @ y / n, 1e-6)
        intercept0 = np.log(freq) - np.mean(np.log(freq))
        if not fit_intercept:
            intercept0 = np.zeros_like(intercept0)
    elif not fit_intercept:
        intercept0 = 0.0
    elif quadratic:
        intercept0 = float(xp.sum(weights * y)) / n
    else:
        pos = float(xp.sum(weights * xp.astype(y > 0, dtype))) / n
        pos = min(max(pos, 1e-6), 1 - 1e-6)
        intercept0 = math.log(pos / (1 - pos))
    datafit = datafit_class(sample_weight=sample_weight)
    if multinomial and positive:
        raise ValueError("positive=True is not supported by the multinomial datafit")
    penalty = GroupL1(1.0) if multinomial else L1(1.0, positive=positive)
    problem = SparseGLMProblem(xp, X, y, datafit, penalty, fit_intercept=fit_intercept)
    centered = None
    if multinomial and fit_intercept and not hasattr(X, "indptr"):
        # the block steps crawl when the features have large means next to an
        # intercept (iris as it is: 19000 model sweeps to a KKT violation of 1e-4, 2940
        # with centred columns); the same model on centred columns, intercept
        # b - mean @ W
        mean = weights @ X / n
        centered = (SparseGLMProblem(xp, np.asfortranarray(X - mean), y, datafit, penalty,
                                     fit_intercept=True), np.ldexp(mean, exp_X))
    gram = None
    use_gram, user_gram = resolve_precompute(precompute, n, p, fit_intercept, sample_weight)
    if use_gram and quadratic:
        if user_gram is not None:
            # the solver's units: X / 2**exp_X
            user_gram = np.ldexp(check_gram(user_gram, X if not exp_X else
                                            ldexp_design(X, exp_X)), -2 * exp_X)
        gram = GramData(X, y, sample_weight, fit_intercept, user_gram)
    return SimpleNamespace(xp=xp, problem=problem, exponents=(exp_X, exp_y), tol=tol,
                           maxiter=maxiter, p0=p0, warm_p0=warm_p0, k=k, epochs=epochs, positive=positive,
                           disp=disp, coef0=coef0, intercept0=intercept0, classes=classes,
                           centered=centered, gram=gram)


def _solve_glm(setup, alpha, l1_ratio=1.0, *, coef0=None, intercept0=None, warm=None,
               report_warm=False, callback=None):
    """One working-set solve of ``setup``'s problem at ``alpha`` (warm start in the
    caller's units, or the setup's; ``warm``: the previous solve's ``warm`` field, in
    the solver's units, with ``report_warm`` on for a path)."""
    exp_X, exp_y = setup.exponents
    if coef0 is None:
        coef0 = setup.coef0
    if exp_X or exp_y:
        coef0 = np.ldexp(coef0, exp_X - exp_y)
    if intercept0 is None:
        intercept0 = setup.intercept0
    elif exp_y:
        intercept0 = ldexp_float(intercept0, -exp_y)
    if setup.classes is not None:
        penalty = GroupL1(ldexp_float(alpha, -exp_X))
    else:
        penalty = _penalty(alpha, l1_ratio, setup.positive, exp_X, exp_y)
    def solve(problem, coef0, intercept0, tol, maxiter):
        solver = WorkingSetCD(problem.with_penalty(penalty), coef0, intercept0, tol=tol,
                              p0=setup.p0 if warm is None else setup.warm_p0,
                              anderson_k=setup.k, max_epochs=setup.epochs,
                              exponents=setup.exponents, warm=warm,
                              report_warm=report_warm)
        return run_solver(solver, maxiter=maxiter, callback=callback, disp=setup.disp,
                          xp=setup.xp)

    if setup.gram is not None:
        # solved on the Gram form (to half the tolerance), then certified, and finished
        # if need be, on the data: the residual itself, not its Gram expansion
        d = setup.gram
        pb = setup.problem.with_penalty(penalty)
        first = run_solver(GramCD(d, pb.penalty, coef0, target=0.5 * setup.tol * pb.y_scale
                                  * pb.n_samples, anderson_k=setup.k,
                                  max_epochs=setup.epochs, xp=setup.xp),
                           maxiter=setup.maxiter, xp=setup.xp)
        intercept = d.y_mean - float(d.x_mean @ first.x) if pb.fit_intercept else 0.0
        res = solve(setup.problem, first.x, intercept, setup.tol,
                    max(setup.maxiter - first.nit, 0))
        res["nit"] += first.nit
        res["n_epochs"] += first.n_epochs
        return res
    if setup.centered is None:
        return _with_classes(solve(setup.problem, coef0, intercept0, setup.tol,
                                   setup.maxiter), setup)
    # solved on centred columns (to half the tolerance), then certified, and finished
    # if need be, on the data as given: the KKT conditions are those of X
    problem_c, mean = setup.centered
    first = solve(problem_c, coef0, intercept0 + mean @ np.ldexp(coef0, -exp_X),
                  0.5 * setup.tol, setup.maxiter)
    if first.status in (Status.CALLBACK_STOP, Status.NONFINITE):
        # the caller's stop (or a breakdown) ends the fit here, in the data's terms
        first["intercept"] = first.intercept - mean @ first.x
        return _with_classes(first, setup)
    res = solve(setup.problem, np.ldexp(first.x, exp_X), first.intercept - mean @ first.x,
                setup.tol, max(setup.maxiter - first.nit, 0))
    res["nit"] += first.nit
    res["n_epochs"] += first.n_epochs
    return _with_classes(res, setup)


def _with_classes(res, setup):
    if setup.classes is not None:
        res["classes"] = setup.classes
    return res


def _fit_l1_glm(X, y, alpha, datafit_class, *, coef0, fit_intercept, tol, maxiter,
                callback, options, method, l1_ratio=1.0, sample_weight=None,
                precompute=False):
    alpha = check_scalar(alpha, "alpha", low=0, low_open=True)
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0, high=1)
    setup = _setup_glm(X, y, datafit_class, coef0=coef0, fit_intercept=fit_intercept,
                       tol=tol, maxiter=maxiter, options=options, method=method,
                       sample_weight=sample_weight, precompute=precompute)
    return _solve_glm(setup, alpha, l1_ratio, callback=callback)


def lasso(X, y, alpha, *, coef0=None, fit_intercept=False, sample_weight=None, tol=1e-4,
          maxiter=100, callback=None, precompute=False, **options):
    r"""Solve the Lasso by working-set coordinate descent with Anderson extrapolation.

    Minimises scikit-learn's objective

    .. math:: \frac{1}{2n}\|y - Xw - b\|_2^2 + \alpha\|w\|_1 .

    Parameters
    ----------
    X : array or scipy.sparse matrix, shape (n, p)
        Design matrix (dense NumPy arrays are used in Fortran order, sparse ones as CSC).
    y : array, shape (n,)
    alpha : float
        Penalty level, > 0.
    coef0 : array, shape (p,), optional
        Warm start.
    fit_intercept : bool
        Fit the unpenalised intercept ``b`` (returned as ``intercept``).
    sample_weight : array, shape (n,), optional
        Non-negative weights ``s`` of the squared residuals, rescaled to sum to ``n``
        (scikit-learn's convention): the datafit becomes
        :math:`\frac{1}{2n}\sum_i s_i (y_i - x_i^T w - b)^2`.
    tol : float
        Stop when the duality gap is at most ``tol * ||y_c||_s^2 / n`` (scikit-learn's
        certificate; ``y_c`` is ``y`` centred, with the weights, when an intercept is
        fitted).
    maxiter : int
        Maximum number of outer (working-set) iterations.
    callback : callable, optional
        Called with an ``OptimizeResult`` after every outer iteration.
    precompute : bool, 'auto' or array of shape (p, p)
        Solve on the Gram matrix ``X^T S X`` (scikit-learn's ``precompute``): each
        coordinate move then costs ``p`` operations instead of ``n``, worth its
        ``n p^2`` set-up when ``n >> p``; ``'auto'``: when ``n > p``. An array is
        used as ``X^T X`` (checked on one column) when there is neither an intercept
        nor sample weights, else computed again with a warning. The result is then
        certified on the data (one product with ``X`` and one with ``X^T``).
    **options
        ``p0`` (first working-set size; 100 for the Lasso, 10 for the logistic
        loss), ``anderson_k`` (extrapolation memory, 5; 0 turns it off),
        ``max_epochs`` (per working set, 50000), ``positive`` (False: non-negative
        coefficients when True).

    Returns
    -------
    OptimizeResult
        ``x`` (coefficients), ``intercept``, ``fun`` (objective), ``dual_gap`` (the gap
        reached), ``kkt_violation``, ``n_epochs`` (coordinate sweeps), ``n_active``,
        ``nit`` (working-set iterations), ``success``, ``status``, ``message``.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.coordinate import lasso
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 200)); y = X[:, :3] @ [1.0, -2.0, 3.0]
    >>> res = lasso(X, y, alpha=0.1, tol=1e-8)
    >>> res.success, sorted(np.flatnonzero(np.abs(res.x) > 0.5).tolist())
    (True, [0, 1, 2])
    """
    return _fit_l1_glm(X, y, alpha, Quadratic, coef0=coef0, fit_intercept=fit_intercept,
                       tol=tol, maxiter=maxiter, callback=callback, options=options,
                       method="lasso", sample_weight=sample_weight, precompute=precompute)


def elastic_net(X, y, alpha, l1_ratio=0.5, *, coef0=None, fit_intercept=False,
                sample_weight=None, tol=1e-4, maxiter=100, callback=None, precompute=False,
                **options):
    r"""Solve the elastic net by working-set coordinate descent (as :func:`lasso`).

    Minimises scikit-learn's objective

    .. math:: \frac{1}{2n}\|y - Xw - b\|_2^2 + \alpha\rho\|w\|_1
              + \frac{\alpha(1 - \rho)}{2}\|w\|_2^2

    with :math:`\rho` = ``l1_ratio`` in [0, 1] (1: the Lasso).

    Parameters
    ----------
    X, y, alpha, coef0, fit_intercept, sample_weight, maxiter, callback, precompute
        As in :func:`lasso`.
    **options
        As in :func:`lasso`.
    l1_ratio : float
        The share of the L1 term, in [0, 1].
    tol : float
        Stop when the duality gap (at the residual, the dual point of the elastic net's
        Fenchel dual, rescaled only when ``l1_ratio`` is 1) is at most
        ``tol * ||y_c||_s^2 / n``.

    Returns
    -------
    OptimizeResult
        As in :func:`lasso`.
    """
    return _fit_l1_glm(X, y, alpha, Quadratic, coef0=coef0, fit_intercept=fit_intercept,
                       tol=tol, maxiter=maxiter, callback=callback, options=options,
                       method="elastic_net", l1_ratio=l1_ratio, sample_weight=sample_weight,
                       precompute=precompute)


def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, alphas=100, coef_init=None,
              return_n_iter=False, positive=False, fit_intercept=False, sample_weight=None,
              tol=1e-4, max_iter=100, **options):
    """The elastic-net solutions along a decreasing grid of penalties, each solve
    warm-started at the previous solution (scikit-learn's ``enet_path``).

    Parameters
    ----------
    X : array or scipy.sparse matrix, shape (n, p)
    y : array, shape (n,)
    l1_ratio : float
        As in :func:`elastic_net`; 1 is the Lasso (:func:`lasso_path`).
    eps : float
        ``alpha_min / alpha_max`` of the automatic grid.
    alphas : int or array
        The number of penalties of the automatic grid (geometric, from ``alpha_max``,
        the smallest penalty with the zero solution, down to ``eps * alpha_max``) or
        the penalties themselves (solved in decreasing order).
    coef_init : array, shape (p,), optional
        Warm start of the first solve.
    return_n_iter : bool
        Also return the number of working-set iterations of each solve.
    positive : bool
        Constrain the coefficients to be >= 0.
    fit_intercept : bool
        Fit an unpenalised intercept at every penalty (scikit-learn's path assumes
        centred data instead, which is the default here too: False).
    sample_weight : array, shape (n,), optional
        As in :func:`lasso`.
    tol, max_iter : float, int
        Of each solve (``tol`` and ``maxiter`` of :func:`elastic_net`).
    **options
        As in :func:`lasso`.

    Returns
    -------
    alphas : array, shape (n_alphas,)
    coefs : array, shape (p, n_alphas)
    dual_gaps : array, shape (n_alphas,)
        The duality gap (mean scaling) each solve reached.
    n_iters : list of int
        Only when ``return_n_iter``.
    """
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0, high=1)
    options = {**options, "positive": positive}
    setup = _setup_glm(X, y, Quadratic, coef0=coef_init, fit_intercept=fit_intercept,
                       tol=tol, maxiter=max_iter, options=options, method="enet_path",
                       sample_weight=sample_weight)
    grid = _alpha_grid(setup, alphas, l1_ratio, eps)
    fits = _path(setup, grid, l1_ratio)
    coefs = np.stack([np.asarray(res.x) for res in fits], axis=1) if fits else \
        np.zeros((setup.problem.n_features, 0), dtype=setup.coef0.dtype)
    gaps = np.asarray([res.dual_gap for res in fits])
    out = (grid, coefs, gaps)
    return out + ([int(res.nit) for res in fits],) if return_n_iter else out


def lasso_path(X, y, *, eps=1e-3, alphas=100, coef_init=None, return_n_iter=False,
               positive=False, fit_intercept=False, sample_weight=None, tol=1e-4,
               max_iter=100, **options):
    """The Lasso solutions along a decreasing grid of penalties: :func:`enet_path` with
    ``l1_ratio=1`` (scikit-learn's ``lasso_path``; same parameters and returns)."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, alphas=alphas, coef_init=coef_init,
                     return_n_iter=return_n_iter, positive=positive,
                     fit_intercept=fit_intercept, sample_weight=sample_weight, tol=tol,
                     max_iter=max_iter, **options)


def _alpha_grid(setup, alphas, l1_ratio, eps):
    """The penalties of a path, decreasing: scikit-learn's geometric grid from
    ``alpha_max = max_j |X_j^T S y_c| / (n l1_ratio)`` when ``alphas`` is a count."""
    if isinstance(alphas, (int, np.integer)) and not isinstance(alphas, bool):
        n_alphas = check_scalar(alphas, "alphas", low=1, integer=True)
        eps = check_scalar(eps, "eps", low=0, low_open=True)
        if l1_ratio == 0:
            raise ValueError("an automatic alpha grid needs l1_ratio > 0 (alpha_max is "
                             "infinite for the ridge penalty): pass alphas explicitly")
        pb = setup.problem
        s = pb.datafit.sample_weight
        yc = pb.y_centered if s is None else s * pb.y_centered
        corr = np.asarray(pb.X.T @ yc)
        top = float(np.max(corr if setup.positive else np.abs(corr))) if corr.size else 0.0
        exp_X, exp_y = setup.exponents
        alpha_max = ldexp_float(max(top, 0.0) / (pb.n_samples * l1_ratio), exp_X + exp_y)
        if alpha_max <= np.finfo(float).tiny:
            return np.full(n_alphas, np.finfo(float).resolution)
        return np.geomspace(alpha_max, alpha_max * eps, num=n_alphas)
    grid = as_array(alphas, "alphas", np, ndim=1, dtype=np.float64)
    check_nonnegative(grid, "alphas", np)
    return np.sort(grid)[::-1]


def _path(setup, grid, l1_ratio, callback=None):
    """The solves of ``setup`` along ``grid``, each warm-started at the previous."""
    fits, coef, intercept, warm = [], None, None, None
    for alpha in grid:
        res = _solve_glm(setup, float(alpha), l1_ratio, coef0=coef, intercept0=intercept,
                         warm=warm, report_warm=True)
        coef, intercept, warm = np.asarray(res.x), float(res.intercept), res.pop("warm")
        fits.append(res)
    return fits


def sparse_logistic_regression(X, y, alpha, *, coef0=None, fit_intercept=False,
                               sample_weight=None, tol=1e-6, maxiter=100, callback=None,
                               **options):
    r"""L1-regularised logistic regression by working-set coordinate descent.

    Minimises :math:`\frac1n\sum_i \log(1 + e^{-y_i (x_i^T w + b)}) + \alpha\|w\|_1`
    with labels ``y`` in {-1, 1}.

    Parameters
    ----------
    X, y, alpha, coef0, fit_intercept, sample_weight, maxiter, callback, **options
        As in :func:`lasso` (the weights multiply the per-sample losses).
    tol : float
        Stop when the KKT violation (largest distance of the gradient to the
        subdifferential, intercept included) is at most ``tol``.

    Returns
    -------
    OptimizeResult
        As in :func:`lasso`; ``kkt_violation`` is the optimality measure (``dual_gap``
        is NaN).
    """
    return _fit_l1_glm(X, y, alpha, Logistic, coef0=coef0, fit_intercept=fit_intercept,
                       tol=tol, maxiter=maxiter, callback=callback, options=options,
                       method="sparse_logistic_regression", sample_weight=sample_weight)


def multinomial_logistic_regression(X, y, alpha, *, coef0=None, fit_intercept=False,
                                    sample_weight=None, tol=1e-6, maxiter=100,
                                    callback=None, **options):
    r"""Multinomial logistic regression with a group L1 penalty, by working-set block
    coordinate descent over the feature rows.

    Minimises

    .. math:: \frac1n\sum_i \Big(\log\sum_k e^{z_{ik}} - z_{i y_i}\Big)
              + \alpha\sum_j \|W_j\|_2, \qquad z_i = W^T x_i + b,

    with ``W`` of shape ``(n_features, n_classes)``: a feature is used for every class
    or for none. Each working-set row takes proximal gradient steps of length
    ``1 / L_j``, ``L_j = ||X_j||_s^2 / 2`` (the softmax Hessian is at most ``I / 2``),
    with Anderson extrapolation of the iterates.

    Parameters
    ----------
    X : array or scipy.sparse matrix, shape (n, p)
    y : array, shape (n,)
        Class labels (any values; the classes are ``numpy.unique(y)``, at least two).
    alpha : float
        Penalty level, > 0.
    coef0 : array, shape (p, n_classes), optional
        Warm start.
    fit_intercept, sample_weight, maxiter, callback, **options
        As in :func:`sparse_logistic_regression` (``positive`` is not supported).
    tol : float
        Stop when the KKT violation (the largest distance of a row gradient to the
        subdifferential of ``alpha ||W_j||``, in the Euclidean norm, and the largest
        entry of the intercept gradient; mean scaling) is at most ``tol``.

    Returns
    -------
    OptimizeResult
        ``x`` (``(p, n_classes)`` coefficients), ``intercept`` (``(n_classes,)``),
        ``classes``, ``fun``, ``kkt_violation`` (the optimality measure), ``n_active``
        (features in use), ``n_epochs``, ``nit``, ``success``, ``status``, ``message``.
    """
    return _fit_l1_glm(X, y, alpha, Multinomial, coef0=coef0, fit_intercept=fit_intercept,
                       tol=tol, maxiter=maxiter, callback=callback, options=options,
                       method="multinomial_logistic_regression",
                       sample_weight=sample_weight)


BCD_DEFAULTS = {"seed": 0, "backtrack_factor": 2.0, "check_every": None}
# iterations per compiled call on the batch path (a cost, not a GPU sync): one call
# and one optimality check per 50 iterations kept the Python overhead out of the
# per-iteration cost of the sparse timing cases
BATCH_CHECK_EVERY = 50


def bcd(problem, x0=None, *, partition="variable", rule="gsl", update="lipschitz",
        block_size=5, tol=1e-6, maxiter=10_000, callback=None, **options):
    """Block coordinate descent with a chosen partition, selection rule and update.

    Implements the framework of Nutini, Laradji & Schmidt (JMLR 2022). Each iteration
    selects one block and updates it; the problem keeps its gradient up to date
    incrementally, so an iteration never evaluates the full gradient.

    Parameters
    ----------
    problem : problem object
        From :mod:`numopt.coordinate` (``LeastSquares``, ``BinaryLogistic``,
        ``SoftmaxLogistic``, ``LabelPropagationProblem``, ``L1LeastSquares``, ``L1Logistic``,
        or a ``QuadraticProblem``/``GLMProblem``).
    x0 : array, shape (problem.n,), optional
        Starting point (zeros by default).
    partition : {"variable", "order", "sorted", "averaged", "forest"}
        ``"order"``, ``"sorted"`` (by Lipschitz constant) and ``"averaged"`` (blocks
        with similar mean Lipschitz constants) are fixed partitions into blocks of
        ``block_size``; ``"variable"`` picks the ``block_size`` best coordinates each
        iteration; ``"forest"`` grows a block greedily while its subgraph in the
        Hessian's sparsity graph stays a forest (quadratic problems). Variable and
        forest blocks leave out coordinates whose score is zero (they would not move,
        but would raise the block's Lipschitz constant).
    rule : {"gsl", "gs", "gsd", "gsq", "cyclic", "random", "lipschitz"}
        Gauss-Southwell (largest gradient), Gauss-Southwell-Lipschitz (gradient scaled
        by the Lipschitz constant), GSD (diagonal Gershgorin bound), GSQ (block
        quadratic bound ``g_b^T M_b^{-1} g_b``; on variable blocks it uses the diagonal
        bound), or the non-greedy cyclic, uniform random and Lipschitz sampling (fixed
        partitions only). With an L1 term the greedy rules score the minimum-norm
        subgradient (GS-s), and ``"gsq"`` on variable blocks scores the proximal
        progress (GS-q).
    update : {"lipschitz", "diagonal", "backtracking", "newton", "message_passing"}
        Gradient step with the block Lipschitz constant, with a diagonal (Gershgorin)
        bound, with a backtracked constant; Newton step with the block Hessian (line
        search for non-quadratic problems; for L1 a proximal step then a Newton step on
        the active coordinates); exact solve by Gaussian belief propagation on
        forest blocks (``partition="forest"``).
    block_size : int
    tol : float
        Stop when the largest entry of the minimum-norm subgradient is at most ``tol``.
    maxiter : int
    callback : callable, optional
        ``callback(OptimizeResult)`` after every check (every ``check_every``
        iterations); ``StopIteration`` stops.
    **options
        ``seed`` (random rules, 0), ``backtrack_factor`` (2.0) and ``check_every``
        (how many iterations between two optimality checks; None: 50 on the batch
        path below, else 1 on the CPU and ``gpu_check_every`` of
        :func:`numopt.set_config` on a GPU). On a sparse GLM or sparse softmax
        regression with ``partition="variable"``, ``rule`` "gs" or "gsl" and
        ``update="lipschitz"``, and on a sparse quadratic (label propagation) with
        ``partition="forest"``, ``rule`` "gs" or "gsl" and
        ``update="message_passing"``, the iterations between two checks run in one
        compiled call (selection, step and incremental gradient in one Numba loop
        that still stops at the first iterate meeting ``tol``, so the result does
        not depend on ``check_every``), returning to Python for the check and the
        callback.

    Returns
    -------
    OptimizeResult
        ``x``, ``fun`` (objective), ``optimality`` (the measure reached), ``nfev``
        (extra function evaluations of line searches), ``nit``, ``success``,
        ``status``, ``message``.
    """
    required = ("init", "grad", "move", "lipschitz", "block_hessian", "n")
    if not all(hasattr(problem, a) for a in required):
        raise TypeError("problem must be a numopt.coordinate problem object (for example "
                        f"LeastSquares(A, b)), got {type(problem).__name__}")
    xp = problem.xp
    opts = check_options(options, BCD_DEFAULTS, "bcd")
    check_choice(partition, "partition", PARTITIONS)
    check_choice(rule, "rule", RULES)
    check_choice(update, "update", UPDATES)
    block_size = check_scalar(block_size, "block_size", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0, low_open=True)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    factor = check_scalar(opts["backtrack_factor"], "backtrack_factor", low=1, low_open=True)
    if rule in SAMPLING_RULES and partition not in FIXED_PARTITIONS:
        raise ValueError(f"rule={rule!r} needs a fixed partition ('order', 'sorted' or "
                         f"'averaged'), got partition={partition!r}")
    if partition == "forest" and not hasattr(problem, "hessian_graph"):
        raise ValueError("partition='forest' needs a quadratic problem with a sparse "
                         "Hessian (QuadraticProblem, LabelPropagationProblem)")
    if update == "message_passing":
        if partition != "forest" or not isinstance(problem, QuadraticProblem):
            raise ValueError("update='message_passing' needs partition='forest' and a "
                             "quadratic problem")
        if problem.l1 or problem.positive:
            raise ValueError("update='message_passing' does not handle an L1 term")
    if x0 is None:
        x0 = xp.zeros(problem.n, dtype=problem.dtype)
    else:
        x0 = as_array(x0, "x0", get_namespace(x0), ndim=1)
        if get_namespace(x0) is not xp and type(x0).__module__.split(".")[0] != \
                type(problem.lipschitz).__module__.split(".")[0]:
            raise TypeError("x0 and problem come from different array libraries")
        x0 = xp.astype(xp.asarray(x0), problem.dtype)
        check_shape(x0, "x0", (problem.n,), against="problem.n")
    if problem.positive and bool(xp.any(x0 < 0)):
        x0 = xp.maximum(x0, 0.0)
    compiled = batch_path(problem, partition, rule, update) is not None
    check_every = opts["check_every"]
    if check_every is None and compiled:
        check_every = BATCH_CHECK_EVERY
    solver_class = CompiledBCDSolver if compiled else BCDSolver
    solver = solver_class(problem, x0, partition=partition, rule=rule, update=update,
                          block_size=block_size, tol=tol, seed=opts["seed"],
                          backtrack_factor=factor)
    return run_solver(solver, maxiter=maxiter, callback=callback, check_every=check_every,
                      xp=xp, disp=opts["disp"])
