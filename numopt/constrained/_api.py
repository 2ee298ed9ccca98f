"""Public entry points: :func:`minimize_eq` and ``numopt.minimize(method="newton-sketch")``."""

from __future__ import annotations

import numpy as np

from .._loop import run_solver
from .._objective import scalar_function
from .._validation import (as_array, check_choice, check_flag, check_options, check_scalar,
                           check_seed)
from ._newton_sketch import NewtonSketchSolver
from ._nlp import EqualityNLP
from ._validation import equality_blocks

__all__ = ["minimize_eq", "minimize_newton_sketch", "DEFAULTS", "KKT_SOLVERS"]

KKT_SOLVERS = ("sketch", "direct")
DEFAULTS = {"kkt_solver": "sketch", "sketch": "block_kaczmarz", "block_size": None,
            "inner_maxiter": None, "accuracy": 0.5, "sharpen": True, "eta1": 1.0,
            "eta2": 0.1, "armijo": 1e-4, "rank_tol": 1e-8, "multipliers0": None}
MAXITER = 500


def minimize_eq(fun, x0, *, jac, hess=None, hessp=None, constraints, args=(), tol=1e-6,
                maxiter=MAXITER, seed=None, callback=None, **options):
    """Minimize ``f(x)`` subject to equality constraints ``c(x) = 0``.

    An inexact Newton (SQP) method: each iteration solves the KKT system
    ``[B G^T; G 0] [dx; dl] = -[grad f + G^T l; c]`` by randomized iterative sketching
    (:func:`numopt.linalg.sketch_solve`) to an adaptive accuracy, and tests the step
    on the exact augmented Lagrangian ``f + l^T c + eta1/2 |c|^2 + eta2/2 |grad_x L|^2``,
    raising the penalties and tightening the accuracy until it is a descent direction,
    then backtracks (Armijo). Hong, Na, Mahoney & Kolar, "Constrained Optimization via
    Exact Augmented Lagrangian and Randomized Iterative Sketching", ICML 2023.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``.
    x0 : (n,) array_like
    jac : callable, True, {"2-point", "3-point", "cs"} or None
        The gradient of ``fun``, as :func:`scipy.optimize.minimize` takes it (``None``
        and the strings: SciPy's finite differences).
    hess : callable, optional
        ``hess(x, *args)`` -> ``(n, n)`` dense array, sparse matrix or LinearOperator.
    hessp : callable, optional
        ``hessp(x, p, *args)`` -> ``(n,)``: the Hessian of ``fun`` times ``p``. With
        neither ``hess`` nor ``hessp`` the Lagrangian Hessian acts by finite
        differences of the Lagrangian gradient.
    constraints : dict, NonlinearConstraint, LinearConstraint or a list of them
        SciPy's forms, equalities only: ``{"type": "eq", "fun": c, "jac": J,
        "args": ()}``, ``NonlinearConstraint(c, v, v, jac=J, hess=H)`` (``c(x) - v =
        0``; ``H(x, w)`` is ``sum_i w_i hess c_i(x)``; without it, finite differences
        of ``J^T w``) or ``LinearConstraint(A, v, v)``. ``J`` may return a dense array
        or a sparse matrix. At most ``n`` constraints in all.
    args : tuple
        Extra arguments of ``fun``, ``jac``, ``hess`` and ``hessp``.
    tol : float
        Stop when ``||(grad f + J^T l, c)||_2 <= tol`` at the returned ``x`` and
        multipliers ``l``; ``success`` is exactly that test.
    maxiter : int
        Maximum number of Newton iterations.
    seed : int or numpy.random.Generator, optional
        Seeds the sketches: the same seed gives the same iterates.
    callback : callable, optional
        SciPy's two forms (``callback(intermediate_result)`` or ``callback(xk)``);
        raising ``StopIteration`` stops the run.
    **options
        ``kkt_solver`` ("sketch": :func:`numopt.linalg.sketch_solve` on the KKT
        matrix; "direct": one LU (or sparse LU) factorization, the limit of the sketch
        family with the whole system as one block), ``sketch`` (sketch_solve's
        ``sketch``, default "block_kaczmarz"), ``block_size`` (rows per sketch, default
        ``min(n + m, 50)``), ``inner_maxiter`` (sketch steps per solve), ``accuracy``
        (``theta``: the KKT residual relative to ``||(grad_x L, c)||``, default 0.5),
        ``sharpen`` (``theta = min(accuracy, ||(grad_x L, c)||)``: superlinear local
        convergence; default True), ``eta1``, ``eta2`` (the merit's starting
        penalties), ``armijo`` (sufficient-decrease constant), ``rank_tol`` (relative
        ``lambda_min(G G^T)`` below which the least-squares KKT step is used),
        ``multipliers0`` (default: the least-squares multipliers at ``x0``), ``disp``.

    Returns
    -------
    OptimizeResult
        ``x``, ``fun``, ``jac`` (gradient of ``f``), ``multipliers`` (``l`` with
        ``grad f + J^T l = 0``, the sign of trust-constr's ``v``),
        ``kkt_residual``, ``constraint_violation`` (``max |c_i|``), ``optimality``
        (``max |grad_x L|``), ``nit``, ``nfev``, ``njev``, ``nhev``, ``constr_nfev``,
        ``constr_njev``, ``constr_nhev``, ``inner_nit`` (sketch steps), ``kkt_solves``,
        ``eta1``, ``eta2`` (final penalties), ``hessian_shift``,
        ``rank_deficient_steps``, ``descent_fallbacks``, ``success``, ``status``,
        ``message``.

    Raises
    ------
    ValueError
        More constraints than unknowns (the message gives both shapes), shapes that
        disagree with ``x0``, inequality constraints, NaN or inf returned at ``x0`` by
        a user function (named: ``fun``, ``jac``, ``hess``, ``hessp``, the constraint's
        ``fun``, ``jac`` or ``hess``). Later NaNs end the run with ``status=3`` and a
        message naming the function; a singular constraint Jacobian is handled by
        least-squares steps and reported in the message.
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    opts = check_options(options, DEFAULTS, "newton-sketch")
    x0_in = np.asarray(x0)
    dtype = np.float32 if x0_in.dtype == np.float32 else np.float64
    x0 = as_array(x0_in, "x0", np, ndim=(0, 1), dtype=np.float64)
    x0 = np.reshape(x0, (-1,))
    if not isinstance(args, tuple):
        args = (args,)
    for name, f in (("hess", hess), ("hessp", hessp)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    if hess is not None and hessp is not None:
        raise ValueError("give hess or hessp, not both")
    blocks = equality_blocks(constraints)
    tol = check_scalar(tol, "tol", low=0.0)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True, integral_float=True)
    check_seed(seed)
    check_choice(opts["kkt_solver"], "kkt_solver", KKT_SOLVERS)
    from ..linalg._sketch import SKETCHES

    check_choice(opts["sketch"], "sketch", SKETCHES)
    if opts["block_size"] is not None:
        check_scalar(opts["block_size"], "block_size", low=1, integer=True)
    if opts["inner_maxiter"] is not None:
        check_scalar(opts["inner_maxiter"], "inner_maxiter", low=1, integer=True)
    accuracy = check_scalar(opts["accuracy"], "accuracy", low=0.0, high=1.0, low_open=True,
                            high_open=True)
    eta1 = check_scalar(opts["eta1"], "eta1", low=0.0, low_open=True)
    eta2 = check_scalar(opts["eta2"], "eta2", low=0.0, low_open=True)
    armijo = check_scalar(opts["armijo"], "armijo", low=0.0, high=0.5, low_open=True,
                          high_open=True)
    rank_tol = check_scalar(opts["rank_tol"], "rank_tol", low=0.0)
    lam0 = opts["multipliers0"]
    if lam0 is not None:
        lam0 = as_array(lam0, "multipliers0", np, ndim=1, dtype=np.float64)
    objective = scalar_function(fun, x0, args, jac, np)
    nlp = EqualityNLP(objective, blocks, x0.shape[0], hess=hess, hessp=hessp, args=args)
    solver = NewtonSketchSolver(
        nlp, x0, lam0, dtype, tol=tol, kkt_solver=opts["kkt_solver"], sketch=opts["sketch"],
        block_size=opts["block_size"], inner_maxiter=opts["inner_maxiter"],
        accuracy=accuracy, sharpen=check_flag(opts["sharpen"], "sharpen"), eta1=eta1,
        eta2=eta2, armijo=armijo, rank_tol=rank_tol, seed=seed)
    return run_solver(solver, maxiter=maxiter, callback=callback, disp=opts["disp"])


def minimize_newton_sketch(fun, x0, args=(), *, jac=None, hess=None, hessp=None, bounds=None,
                           constraints=(), tol=None, callback=None, **options):
    """``numopt.minimize(..., method="newton-sketch")``: :func:`minimize_eq` with
    SciPy's calling convention (``tol=None`` means 1e-6; ``maxiter`` and ``seed`` are
    options)."""
    maxiter = options.pop("maxiter", MAXITER)
    seed = options.pop("seed", None)
    return minimize_eq(fun, x0, jac=jac, hess=hess, hessp=hessp, constraints=constraints,
                       args=args, tol=1e-6 if tol is None else tol, maxiter=maxiter,
                       seed=seed, callback=callback, **options)
