"""Public optimal-transport solvers: sinkhorn, emd, sparse_ot, quadratic_ot."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._backend import is_cupy
from .._loop import DispTable, run_solver, wrap_callback
from .._result import OptimizeResult, Status
from .._validation import check_choice, check_options, check_scalar
from ._common import validate_problem
from ._sinkhorn import SinkhornSolver, epsilon_schedule, kernel_underflow_risk

__all__ = ["sinkhorn", "emd", "sparse_ot", "quadratic_ot"]

SINKHORN_METHODS = ("auto", "kernel", "log", "sns")

SINKHORN_OPTIONS = {
    "kernel": {"check_every": None},
    "log": {"check_every": None, "eps_scaling": "auto", "eps_factor": 4.0,
            "stage_tol": 1e-4},
    "sns": {"warmup_tol": 1e-1, "warmup_maxiter": 2000, "max_nnz_per_row": None,
            "drop_tol": 1e-6, "cg_rtol": 1e-2, "cg_maxiter": 200, "eps_factor": 8.0,
            "min_kept": 0.99},
}
SINKHORN_OPTIONS["auto"] = {**SINKHORN_OPTIONS["kernel"], **SINKHORN_OPTIONS["log"]}


def sinkhorn(a, b, M, reg, *, method="auto", tol=1e-9, maxiter=10000, callback=None,
             **options):
    r"""Entropic optimal transport by Sinkhorn's algorithm.

    Solves :math:`\min_{P \ge 0,\ P1 = a,\ P^T 1 = b} \langle P, M\rangle
    + \mathrm{reg}\sum_{ij} P_{ij}(\log P_{ij} - 1)`.

    Parameters
    ----------
    a : array of shape (n,) or (B, n), or None
        Source weights (non-negative); ``None`` means uniform. A 2-D ``a`` solves ``B``
        problems with the same cost at once, each stopping when it converges.
    b : array of shape (m,) or (B, m), or None
        Target weights, same total mass as ``a`` (relative tolerance 1e-6).
    M : array of shape (n, m)
        Cost matrix (finite).
    reg : float
        Entropic regularization, ``> 0``.
    method : {"auto", "kernel", "log", "sns"}
        ``"kernel"`` iterates scalings of the Gibbs kernel exp(-M/reg) (fastest, but
        exp(-M/reg) underflows for small ``reg``); ``"log"`` iterates dual potentials
        with fused log-sum-exp passes (stable for any ``reg``, with epsilon scaling);
        ``"sns"`` is Sinkhorn-Newton-Sparse (Newton steps with a sparsified Hessian,
        for small ``reg`` and tight ``tol``). ``"auto"`` takes ``"kernel"`` when the
        range of M/reg uses less than half of the exponent range of the dtype, else
        ``"log"``, and falls back to ``"log"`` if the kernel form overflows; the
        result's ``method`` field says which ran.
    tol : float
        Stop when the L1 error of both marginals, ``||P1 - a||_1 + ||P^T1 - b||_1``,
        is at most ``tol`` times the total mass ``sum(a)`` (the same as an absolute
        bound for histograms of mass 1; masses near 1e-20 or 1e20 keep their accuracy).
    maxiter : int
        Maximum number of Sinkhorn iterations (all epsilon-scaling stages together; for
        ``"sns"``, warm-up Sinkhorn iterations plus Newton steps).
    callback : callable, optional
        ``callback(intermediate_result)``; raise ``StopIteration`` to stop.
    **options
        ``check_every`` (kernel/log: iterations between convergence checks; default 1
        on the CPU, where the error comes for free with the row pass, and 10 on a GPU),
        ``eps_scaling`` (log: ``"auto"``, True or False), ``eps_factor`` (ratio
        between successive regularizations), ``stage_tol`` (marginal error at which an
        intermediate epsilon stage hands over). For ``"sns"``: ``warmup_tol``,
        ``warmup_maxiter``, ``max_nnz_per_row``, ``drop_tol``, ``cg_rtol``,
        ``cg_maxiter``, ``min_kept``; see ``numopt.show_options("sinkhorn", "sns")``.

    Returns
    -------
    OptimizeResult
        ``plan`` (also ``x``), ``cost`` = <P, M>, ``fun`` (the regularized objective),
        potentials ``f`` and ``g`` (``P = exp((f_i + g_j - M_ij)/reg)``), ``nit``,
        ``marginal_error`` (of the returned plan), ``method``, ``success``, ``status``,
        ``message``. For batched input ``plan`` is (B, n, m) and ``cost``, ``fun``,
        ``marginal_error`` are arrays of shape (B,), with ``converged`` and
        ``nit_per_problem`` per problem. A run stopped (``maxiter``, callback) during
        epsilon scaling holds the potentials of an intermediate ``reg``: the plan,
        ``cost`` and ``fun`` are then those of that ``reg``, which the message names.
        Points of zero weight get zero rows or columns of the plan and ``-inf``
        potentials. ``method="kernel"`` raises ``ValueError`` where exp(-M/reg)
        underflows to zero on a whole row or column.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.ot import sinkhorn
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = sinkhorn([0.5, 0.5], [0.5, 0.5], M, reg=0.1)
    >>> bool(res.success), round(res.cost, 6)
    (True, 4.5e-05)
    """
    check_choice(method, "method", SINKHORN_METHODS)
    if method == "sns":
        xp, a, b, M = validate_problem(a, b, M)
    else:
        xp, a, b, M, batched = validate_problem(a, b, M, batch=True)
    reg = check_scalar(reg, "reg", low=0, low_open=True)
    tol = check_scalar(tol, "tol", low=0, low_open=True)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    opts = check_options(options, SINKHORN_OPTIONS[method], f"sinkhorn(method={method!r})")
    if method == "sns":
        from ._sns import solve_sns

        return solve_sns(xp, a, b, M, reg, tol=tol, maxiter=maxiter, callback=callback, **opts)
    risk = kernel_underflow_risk(M, reg, M.dtype, xp)
    chosen = method if method != "auto" else ("kernel" if risk < 1 else "log")
    note = ""
    if method == "auto":
        note = (f" method='auto' chose {chosen!r}: range(M)/reg uses {risk:.0%} of the "
                f"safe exponent range.")
    res = _run_sinkhorn(xp, a, b, M, reg, chosen, tol, maxiter, callback, opts)
    if method == "auto" and chosen == "kernel" and res.status == Status.NONFINITE:
        res = _run_sinkhorn(xp, a, b, M, reg, "log", tol, maxiter, callback, opts)
        note = " method='auto': the kernel form overflowed, so the log form ran."
    res.message += note
    return _unbatch(xp, res) if not batched else res


def _run_sinkhorn(xp, a, b, M, reg, mode, tol, maxiter, callback, opts):
    spread = float(xp.max(M) - xp.min(M))
    regs = [reg]
    if mode == "log":
        scaling = opts["eps_scaling"]
        if scaling == "auto":
            scaling = spread / reg > 50
        if scaling:
            factor = check_scalar(opts["eps_factor"], "eps_factor", low=1, low_open=True)
            regs = epsilon_schedule(reg, spread, factor)
    check_every = opts["check_every"]
    if check_every is None:
        check_every = 10 if is_cupy(xp) else 1
    solver = SinkhornSolver(xp, a, b, M, regs, mode, tol, stage_tol=max(tol, opts.get("stage_tol", 1e-4)))
    res = run_solver(solver, maxiter=maxiter, callback=callback, check_every=check_every,
                     finite_fields=("x",), disp=opts["disp"])
    res["method"] = mode
    res["reg"] = reg
    return res


def _unbatch(xp, res):
    """Drop the batch axis of a single problem's result; scalars become Python floats."""
    for name in ("x", "plan", "f", "g"):
        res[name] = res[name][0, ...]
    for name in ("cost", "fun", "marginal_error"):
        res[name] = float(res[name][0])
    res.pop("converged", None)
    res.pop("nit_per_problem", None)
    return res


def emd(a, b, M, **options):
    """Exact (unregularized) optimal transport by linear programming.

    Solves :math:`\\min_{P \\ge 0,\\ P1 = a,\\ P^T 1 = b} \\langle P, M\\rangle` with SciPy's
    HiGHS solver, or with :func:`scipy.optimize.linear_sum_assignment` when the problem
    is square with uniform weights (an assignment).

    Parameters
    ----------
    a, b : array of shape (n,) and (m,), or None
        Non-negative weights of equal total mass (``None``: uniform).
    M : array of shape (n, m)
        Cost matrix.

    Returns
    -------
    OptimizeResult
        ``plan`` (also ``x``), ``cost`` (= ``fun``), dual potentials ``f``, ``g`` with
        ``f_i + g_j <= M_ij`` (equality on the support of the plan), ``marginal_error``,
        ``nit`` (simplex/IPM iterations, or n for an assignment), ``success``...

    Examples
    --------
    >>> from numopt.ot import emd
    >>> res = emd([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]])
    >>> res.cost
    0.0
    """
    from .._backend import is_numpy, to_numpy
    from ._emd import solve_emd

    opts = check_options(options, {}, "emd")
    xp, a, b, M = validate_problem(a, b, M)
    if not is_numpy(xp):
        raise TypeError("emd needs NumPy input (it calls SciPy's HiGHS)")
    dtype = M.dtype
    a64, b64, M64 = (np.asarray(to_numpy(x), dtype=np.float64) for x in (a, b, M))
    plan, f, g, nit, ok, detail = solve_emd(a64, b64, M64)
    status = Status.SUCCESS if ok else Status.STALLED
    err = float(np.abs(plan.sum(axis=1) - a64).sum() + np.abs(plan.sum(axis=0) - b64).sum())
    cost = float(np.sum(plan * M64))
    res = OptimizeResult.from_status(
        status, detail, x=plan.astype(dtype), plan=plan.astype(dtype), cost=cost, fun=cost,
        f=f.astype(dtype), g=g.astype(dtype), marginal_error=err, nit=nit, method="emd")
    if opts["disp"]:  # one LP solve: no progress rows, SciPy's closing summary
        DispTable().summary(res)
    return res


def sparse_ot(a, b, M, k, *, gamma=1.0, formulation="semi_dual", tol=1e-6, maxiter=500,
              callback=None, **options):
    """Sparsity-constrained optimal transport (Liu, Puigcerver, Blondel, ICLR 2023).

    Solves :math:`\\min_T \\langle T, M\\rangle + \\frac{\\gamma}{2}\\|T\\|_F^2` over transport
    plans between ``a`` and ``b`` whose columns have at most ``k`` nonzeros, through
    its smoothed semi-dual or dual and L-BFGS, then rounds the plan to be exactly
    feasible while keeping its support. ``k = 1`` recovers unregularized OT (an
    assignment for uniform square problems); ``k = n`` is :func:`quadratic_ot`.

    Parameters
    ----------
    a, b : array of shape (n,) and (m,), or None
        Non-negative weights of equal total mass (``None``: uniform).
    M : array of shape (n, m)
        Cost matrix.
    k : int
        Maximum number of nonzeros per column of the plan, ``1 <= k``
        (values above n mean n).
    gamma : float
        Strength of the quadratic regularization, ``> 0`` (POT's ``reg``).
    formulation : {"semi_dual", "dual"}
        The semi-dual optimizes n row potentials with exact column sums; the dual
        optimizes n + m potentials.
    tol : float
        L-BFGS stops when the largest gradient entry (a marginal residual) is ``<= tol``,
        or when the objective's relative decrease falls below the option ``ftol``
        (default 1e-9; the objective is not smooth for small k). The rounding step
        then makes the marginals exact whatever ``tol``.
    maxiter : int
        Maximum number of L-BFGS iterations.
    callback : callable, optional
        ``callback(intermediate_result)`` after each L-BFGS iteration;
        ``StopIteration`` stops.

    Returns
    -------
    OptimizeResult
        ``plan`` (also ``x``): a ``scipy.sparse.csr_array`` with at most ``k`` nonzeros
        per column and both marginals exact up to rounding (``marginal_error``);
        ``cost`` = <T, M>, ``fun`` = cost + gamma/2 ||T||^2, potentials ``f``, ``g``,
        ``duality_gap`` (``fun`` minus the dual objective at ``f, g``: how far the plan
        can be above the optimum; for k < n the problem is not convex and this bound
        need not be tight, so it is reported, not required),
        ``marginal_error_before_rounding``, ``max_nnz_per_column``, ``nit``, ``nfev``.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.ot import sparse_ot
    >>> M = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 1.0], [4.0, 1.0, 0.0]])
    >>> res = sparse_ot(None, None, M, k=1)
    >>> res.plan.toarray().round(3).tolist()
    [[0.333, 0.0, 0.0], [0.0, 0.333, 0.0], [0.0, 0.0, 0.333]]
    """
    from ._sparse import solve_sparse_ot

    opts = check_options(options, {"ftol": 1e-9}, "sparse_ot")
    xp, a, b, M = validate_problem(a, b, M)
    from .._backend import is_numpy

    if not is_numpy(xp):
        raise TypeError("sparse_ot needs NumPy input (it returns a scipy.sparse plan)")
    k = check_scalar(k, "k", low=1, integer=True)
    gamma = check_scalar(gamma, "gamma", low=0, low_open=True)
    tol = check_scalar(tol, "tol", low=0, low_open=True)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    check_choice(formulation, "formulation", ("semi_dual", "dual"))
    dtype = M.dtype
    a64, b64, M64 = (np.asarray(x, dtype=np.float64) for x in (a, b, M))
    ftol = check_scalar(opts["ftol"], "ftol", low=0)
    # L-BFGS-B runs the iterations here, not run_solver: the callback and disp
    # conventions are applied on its intermediate results instead
    on_iteration = wrap_callback(callback)
    progress = DispTable() if opts["disp"] else None
    if progress is not None:
        user_callback, counter = on_iteration, itertools.count(1)

        def on_iteration(intermediate_result):
            intermediate_result["nit"] = next(counter)
            progress.update(intermediate_result)
            if user_callback is not None:
                user_callback(intermediate_result)
    res = solve_sparse_ot(a64, b64, M64, min(k, M.shape[0]), gamma, formulation, tol, ftol,
                          maxiter, on_iteration)
    for name in ("x", "plan"):
        res[name] = res[name].astype(dtype)
    res["f"], res["g"] = res["f"].astype(dtype), res["g"].astype(dtype)
    res["method"] = f"sparse_ot:{formulation}"
    if progress is not None:
        progress.summary(res)
    return res


def quadratic_ot(a, b, M, gamma=1.0, *, formulation="dual", tol=1e-9, maxiter=1000,
                 callback=None, **options):
    """Quadratically regularized optimal transport.

    Solves :math:`\\min_T \\langle T, M\\rangle + \\frac{\\gamma}{2}\\|T\\|_F^2` over transport
    plans (POT's ``smooth_ot_dual(reg_type="l2")`` with ``reg = gamma``): the
    :func:`sparse_ot` machinery with no sparsity constraint. The plan is naturally
    sparse and returned as a ``scipy.sparse.csr_array``. Parameters and result as in
    :func:`sparse_ot`; the problem is convex, and ``success`` also requires
    ``duality_gap <= tol * max(|fun|, sum(a) * max|M|)``: the plan is certified within
    ``tol`` of the optimum.
    """
    xp, _, _, M_checked = validate_problem(a, b, M)
    n = M_checked.shape[0]
    options.setdefault("ftol", 1e-15)
    res = sparse_ot(a, b, M, n, gamma=gamma, formulation=formulation, tol=tol,
                    maxiter=maxiter, callback=callback, **options)
    res["method"] = f"quadratic_ot:{formulation}"
    return res
