"""The ``numopt.minimize`` methods of :mod:`numopt.stochastic` (the functions behind
``method="adabelief"``, ``"diffgrad"``, ``"adahessian"``, ``"adadagrad"`` and
``"adadagradnorm"``). Call them through :func:`numopt.minimize`."""

from __future__ import annotations

from .._loop import run_solver
from .._validation import check_choice, check_flag, check_scalar
from ._adadagrad import AdAdaGradSolver
from ._adaptive import AdaBeliefRule, AdaHessianRule, AdaptiveSolver, DiffGradRule
from ._validation import check_beta, prepare

__all__ = ["minimize_adabelief", "minimize_diffgrad", "minimize_adahessian",
           "minimize_adadagrad", "minimize_adadagradnorm", "ADABELIEF_DEFAULTS",
           "DIFFGRAD_DEFAULTS", "ADAHESSIAN_DEFAULTS", "ADADAGRAD_DEFAULTS"]

ADABELIEF_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-16,
                      "rectify": True, "degenerated_to_sgd": True}
DIFFGRAD_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
ADAHESSIAN_DEFAULTS = {"lr": 0.15, "beta1": 0.9, "beta2": 0.999, "eps": 1e-4,
                       "hessian_power": 1.0, "block_size": 1, "n_hutchinson": 1}
ADADAGRAD_DEFAULTS = {"lr": 0.1, "eps": 1e-10, "initial_accumulator": 0.0, "test": "norm",
                      "eta": 0.9, "theta": 0.9, "nu": 5.84, "max_batch_size": None,
                      "variance_groups": None}


def _no_bounds(method, bounds, constraints):
    if bounds is not None or constraints:
        raise ValueError(f"method {method!r} handles neither bounds nor constraints")


def _run(solver, settings, callback, opts, xp):
    return run_solver(solver, maxiter=settings["maxiter"], callback=callback,
                      disp=opts["disp"], check_every=settings["check_every"], xp=xp)


def _adaptive(method, defaults, make_rule, fun, x0, args, jac, hessp, tol, callback,
              options):
    opts, objective, x0, xp, dtype, settings = prepare(method, defaults, fun, x0, args,
                                                       jac, hessp, tol, options)
    rule = make_rule(opts)
    solver = AdaptiveSolver(objective, x0, xp, dtype, rule, lr=settings["lr"],
                            batch_size=settings["batch_size"], seed=settings["seed"],
                            gtol=settings["gtol"])
    return _run(solver, settings, callback, opts, xp)


def minimize_adabelief(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                       constraints=(), tol=None, callback=None, **options):
    """AdaBelief (Zhuang et al., NeurIPS 2020).

    Options: ``lr``, ``beta1``, ``beta2``, ``eps`` (1e-16, the official value; added to
    the belief ``s`` at every step and to its root), ``rectify`` (True: the official
    ``adabelief-pytorch`` 0.2 variant with RAdam's rectification; False: the
    torch-optimizer / optax variant), ``degenerated_to_sgd`` (rectified steps before the
    variance is tractable are SGD with momentum; False: no step), plus the package's
    ``n_samples``, ``batch_size``, ``seed``, ``maxiter``, ``gtol``, ``check_every``,
    ``disp`` (see :mod:`numopt.stochastic`).
    """
    _no_bounds("adabelief", bounds, constraints)

    def rule(opts):
        return AdaBeliefRule(check_beta(opts["beta1"], "beta1"),
                             check_beta(opts["beta2"], "beta2"),
                             check_scalar(opts["eps"], "eps", low=0.0),
                             check_flag(opts["rectify"], "rectify"),
                             check_flag(opts["degenerated_to_sgd"], "degenerated_to_sgd"))

    return _adaptive("adabelief", ADABELIEF_DEFAULTS, rule, fun, x0, args, jac, None, tol,
                     callback, options)


def minimize_diffgrad(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                      constraints=(), tol=None, callback=None, **options):
    """diffGrad (Dubey et al., IEEE TNNLS 2020): Adam whose step is scaled entry-wise by
    ``sigmoid(|g_{t-1} - g_t|)``.

    Options: ``lr``, ``beta1``, ``beta2``, ``eps`` (added to ``sqrt(v)`` before the bias
    correction, as the authors' code), plus the package's common options.
    """
    _no_bounds("diffgrad", bounds, constraints)

    def rule(opts):
        return DiffGradRule(check_beta(opts["beta1"], "beta1"),
                            check_beta(opts["beta2"], "beta2"),
                            check_scalar(opts["eps"], "eps", low=0.0))

    return _adaptive("diffgrad", DIFFGRAD_DEFAULTS, rule, fun, x0, args, jac, None, tol,
                     callback, options)


def _hessp_from_hess(hess):
    def hessp(x, v, *rest):
        return hess(x, *rest) @ v

    return hessp


def minimize_adahessian(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                        constraints=(), tol=None, callback=None, **options):
    """AdaHessian (Yao et al., AAAI 2021), written from the paper.

    Needs ``hessp(x, v[, batch])``, or SciPy's ``hess(x[, batch])`` returning the Hessian
    matrix (as trust-ncg does, ``hessp`` wins when both are given). Options: ``lr``
    (0.15), ``beta1``, ``beta2``, ``eps``
    (1e-4), ``hessian_power`` (``k``: 1, the paper's and the official value;
    torch-optimizer uses 0.5), ``block_size`` (spatial averaging over blocks of that many
    consecutive entries; 1: none), ``n_hutchinson`` (Rademacher probes per step), plus
    the package's common options.
    """
    _no_bounds("adahessian", bounds, constraints)
    if hessp is None and callable(hess):
        hessp = _hessp_from_hess(hess)
    if hessp is None:
        raise TypeError("method 'adahessian' needs hessp(x, v[, batch]) (Hessian-vector "
                        "products of the batch objective) or a callable hess, got "
                        "hessp=None")

    def rule(opts):
        return AdaHessianRule(check_beta(opts["beta1"], "beta1"),
                              check_beta(opts["beta2"], "beta2"),
                              check_scalar(opts["eps"], "eps", low=0.0),
                              check_scalar(opts["hessian_power"], "hessian_power", low=0.0,
                                           high=1.0),
                              check_scalar(opts["block_size"], "block_size", low=1,
                                           integer=True),
                              check_scalar(opts["n_hutchinson"], "n_hutchinson", low=1,
                                           integer=True))

    return _adaptive("adahessian", ADAHESSIAN_DEFAULTS, rule, fun, x0, args, jac, hessp,
                     tol, callback, options)


def _adadagrad(method, norm, fun, x0, args, jac, bounds, constraints, tol, callback,
               options):
    _no_bounds(method, bounds, constraints)
    opts, objective, x0, xp, dtype, settings = prepare(
        method, ADADAGRAD_DEFAULTS, fun, x0, args, jac, None, tol, options,
        default_batch_size=8)
    n = objective.n_samples
    batch_size = settings["batch_size"]
    if n is not None and batch_size < 2 and n >= 2:
        raise ValueError(f"batch_size must be at least 2 for the sampling tests of "
                         f"{method!r} (a variance needs two samples), got {batch_size}")
    max_batch = opts["max_batch_size"]
    if max_batch is None:
        max_batch = n
    elif n is not None:
        max_batch = check_scalar(max_batch, "max_batch_size", low=batch_size, high=n,
                                 integer=True)
    groups = opts["variance_groups"]
    if groups is not None:
        groups = check_scalar(groups, "variance_groups", low=2, integer=True)
    solver = AdAdaGradSolver(
        objective, x0, xp, dtype, lr=settings["lr"], batch_size=batch_size,
        seed=settings["seed"], gtol=settings["gtol"], norm=norm,
        eps=check_scalar(opts["eps"], "eps", low=0.0),
        initial_accumulator=check_scalar(opts["initial_accumulator"],
                                         "initial_accumulator", low=0.0),
        test=check_choice(opts["test"], "test", ("norm", "inner_product")),
        eta=check_scalar(opts["eta"], "eta", low=0.0, low_open=True),
        theta=check_scalar(opts["theta"], "theta", low=0.0, low_open=True),
        nu=check_scalar(opts["nu"], "nu", low=0.0, low_open=True),
        max_batch_size=max_batch, variance_groups=groups)
    return _run(solver, settings, callback, opts, xp)


def minimize_adadagrad(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                       constraints=(), tol=None, callback=None, **options):
    """AdAdaGrad (Lau, Liu & Kolar, 2024): coordinate-wise AdaGrad with adaptive batch
    sizes.

    Options: ``lr``, ``eps``, ``initial_accumulator``, ``test`` (``"norm"``: the norm
    test with ``eta``; ``"inner_product"``: the augmented inner-product test with
    ``theta`` and ``nu``), ``batch_size`` (the first batch size, at least 2),
    ``max_batch_size`` (default ``n_samples``), ``variance_groups`` (``None``: the test
    statistics from per-sample gradients, one ``jac`` call per sample; an integer ``K``:
    from ``K`` group gradients), plus the package's common options. The result's
    ``batch_size`` is the batch size the last test asked for.
    """
    return _adadagrad("adadagrad", False, fun, x0, args, jac, bounds, constraints, tol,
                      callback, options)


def minimize_adadagradnorm(fun, x0, args=(), *, jac=None, hess=None, hessp=None,
                           bounds=None, constraints=(), tol=None, callback=None,
                           **options):
    """AdAdaGradNorm (Lau, Liu & Kolar, 2024): AdaGrad-Norm (one step size
    ``lr / (sqrt(sum ||g||^2) + eps)``) with adaptive batch sizes; the options of
    :func:`minimize_adadagrad`."""
    return _adadagrad("adadagradnorm", True, fun, x0, args, jac, bounds, constraints, tol,
                      callback, options)
