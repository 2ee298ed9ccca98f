"""Public optimal-transport solvers: sinkhorn, emd, emd_1d, wasserstein_1d, sparse_ot,
quadratic_ot."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from .._backend import float_dtype, get_namespace
from .._loop import DispTable, run_solver, wrap_callback
from .._registry import Option
from .._result import OptimizeResult, Status
from .._validation import check_choice, check_options, check_scalar
from ._validation import validate_problem
from ._marginals import equal_mass
from ._sinkhorn import LOG_EPS_FACTOR, SinkhornSolver, choose_form, regularizations
from ._sns import solve_sns

__all__ = ["sinkhorn", "emd", "emd_1d", "wasserstein_1d", "sparse_ot", "quadratic_ot"]

SINKHORN_METHODS = ("auto", "kernel", "log", "sns")

# The options of each method, with their defaults and docs: the one table that
# ``sinkhorn`` reads its defaults from and the registry (_methods) shows.
_CHECK_EVERY = Option(None, "iterations between the callback's and disp's looks at the run "
                            "(None: 1 on the CPU, gpu_check_every on a GPU); the stop is "
                            "decided every iteration")
_EPS_FACTOR = "ratio between successive regularizations of epsilon scaling"
SINKHORN_OPTIONS = {
    "kernel": {"check_every": _CHECK_EVERY},
    "log": {
        "check_every": _CHECK_EVERY,
        "eps_scaling": Option("auto", "log: 'auto' (on when range(M)/reg > 50), True or False"),
        "eps_factor": Option(LOG_EPS_FACTOR, _EPS_FACTOR),
        "stage_tol": Option(1e-4, "marginal error at which an intermediate epsilon stage "
                                  "hands over"),
    },
    "sns": {
        "warmup_tol": Option(1e-1, "sns: marginal error at which Sinkhorn hands over to "
                                   "Newton"),
        "warmup_maxiter": Option(2000, "sns: most Sinkhorn warm-up iterations"),
        "max_nnz_per_row": Option(None, "sns: most Hessian entries kept per row (None: "
                                        "max(20, m/10))"),
        "drop_tol": Option(1e-6, "sns: entries below drop_tol * row mass are dropped from "
                                 "the Hessian"),
        "cg_rtol": Option(1e-2, "sns: relative tolerance of the preconditioned CG solve"),
        "cg_maxiter": Option(200, "sns: most CG iterations per Newton step"),
        "eps_factor": Option(8.0, _EPS_FACTOR),
        "min_kept": Option(0.99, "sns: below this fraction of the plan's mass in the sparse "
                                 "Hessian, take Sinkhorn steps instead of Newton steps "
                                 "(dense plans, large reg)"),
    },
}
SINKHORN_OPTIONS["auto"] = {**SINKHORN_OPTIONS["kernel"], **SINKHORN_OPTIONS["log"]}
SPARSE_OT_OPTIONS = {"ftol": Option(1e-9, "L-BFGS relative objective decrease to stop at")}
QUADRATIC_OT_OPTIONS = {"ftol": Option(1e-15, "L-BFGS relative objective decrease to stop at")}


def _defaults(options):
    return {name: option.default for name, option in options.items()}


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
        ``check_every`` (kernel/log: iterations between the callback's and ``disp``'s
        looks at the run, each a device-to-host sync on a GPU; default 1 on the CPU and
        ``gpu_check_every`` of :func:`numopt.set_config` on a GPU; the stop itself is
        decided every iteration, so results do not depend on it),
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
    opts = check_options(options, _defaults(SINKHORN_OPTIONS[method]),
                         f"sinkhorn(method={method!r})")
    if method == "sns":
        res = solve_sns(xp, a, b, M, reg, tol=tol, maxiter=maxiter, callback=callback, **opts)
        res.update(method="sns", reg=reg)
        return res
    chosen, note = choose_form(method, M, reg, xp)
    res = _run_sinkhorn(xp, a, b, M, reg, chosen, tol, maxiter, callback, opts)
    if method == "auto" and chosen == "kernel" and res.status == Status.NONFINITE:
        chosen = "log"
        res = _run_sinkhorn(xp, a, b, M, reg, chosen, tol, maxiter, callback, opts)
        note = " method='auto': the kernel form overflowed, so the log form ran."
    res.message += note
    res.update(method=chosen, reg=reg)
    return _unbatch(xp, res) if not batched else res


def _run_sinkhorn(xp, a, b, M, reg, mode, tol, maxiter, callback, opts):
    regs = [reg]
    if mode == "log":
        regs = regularizations(reg, float(xp.max(M) - xp.min(M)),
                               check_scalar(opts["eps_factor"], "eps_factor", low=1,
                                            low_open=True), opts["eps_scaling"])
    solver = SinkhornSolver(xp, a, b, M, regs, mode, tol, stage_tol=max(tol, opts.get("stage_tol", 1e-4)))
    return run_solver(solver, maxiter=maxiter, callback=callback,
                      check_every=opts["check_every"], xp=xp, finite_fields=("x",),
                      disp=opts["disp"])


def _unbatch(xp, res):
    """Drop the batch axis of a single problem's result; scalars become Python floats.

    Fields that were one array (``x`` and ``plan``) stay one array: two views would
    pickle as two copies, doubling what a worker of ``map_problems`` sends back."""
    unbatched = {}
    for name in ("x", "plan", "f", "g"):
        batched = res[name]
        if id(batched) not in unbatched:
            unbatched[id(batched)] = batched[0, ...]
        res[name] = unbatched[id(batched)]
    for name in ("cost", "fun", "marginal_error"):
        res[name] = float(res[name][0])
    res.pop("converged", None)
    res.pop("nit_per_problem", None)
    return res


def emd(a, b, M, *, tol=None, maxiter=None, dense=False, **options):
    r"""Exact (unregularized) optimal transport by the network simplex.

    Solves :math:`\min_{P \ge 0,\ P1 = a,\ P^T 1 = b} \langle P, M\rangle` with a primal
    network simplex on the complete bipartite graph (the algorithm of POT's ``ot.emd``
    and LEMON: block-search pivoting, a strongly feasible spanning-tree basis), in
    float64 with the costs as given (never rescaled: costs spanning 1e8 are solved as
    accurately as costs in [0, 1]).

    Parameters
    ----------
    a : array of shape (n,) or (B, n), or None
        Source weights (non-negative; ``None`` means uniform). Points of zero weight are
        left out of the solve and get zero rows; any positive weight, however small,
        keeps its mass.
    b : array of shape (m,) or (B, m), or None
        Target weights, same total mass as ``a`` (relative tolerance 1e-6; ``b`` is then
        scaled to the mass of ``a``). A 2-D ``a`` or ``b`` solves ``B`` problems with the
        same cost matrix, one after the other.
    M : array of shape (n, m)
        Cost matrix (finite; any sign).
    tol : float, optional
        Relative tolerance of the certificate that decides ``success``: the L1 marginal
        error at most ``tol * sum(a)``, the dual violation ``max(f_i + g_j - M_ij)`` at
        most ``tol * max|M|`` and the duality gap at most ``tol * max|M| * sum(a)``, all
        recomputed from the returned plan and potentials. Default 1e-9 (float32 input:
        7.6e-6, the rounding of the returned float32 arrays).
    maxiter : int, optional
        Most simplex pivots (default: no limit; the pivot rule terminates). A run cut
        there returns the current feasible plan with ``status=1`` (MAXITER).
    dense : bool
        Return the plan as a dense ndarray (the layout ``emd`` returned before it moved
        to the network simplex, and POT's) instead of a ``scipy.sparse.csr_array``.

    Returns
    -------
    OptimizeResult
        ``plan`` (also ``x``): a ``scipy.sparse.csr_array`` (``dense=True``: an ndarray)
        with non-negative entries, at most n + m - 1 of them nonzero (a vertex of the
        transport polytope); ``cost`` (= ``fun``) = <P, M>; dual potentials ``f``, ``g``
        with ``f_i + g_j <= M_ij`` and equality on the plan's support (a point of zero
        weight gets the largest potential that keeps dual feasibility);
        ``marginal_error`` (L1, of the returned plan), ``dual_violation``,
        ``duality_gap`` = ``|<a,f> + <b,g> - cost|``, ``nit`` (pivots), ``method``,
        ``success``, ``status``, ``message`` (naming the measure that missed ``tol``).
        For batched input ``plan`` is a list of B plans (``dense=True``: an array
        (B, n, m)), ``f`` and ``g`` are (B, n) and (B, m), ``cost``, ``marginal_error``,
        ``dual_violation``, ``duality_gap`` and ``nit_per_problem`` are arrays of shape
        (B,), ``nit`` their total, and ``converged`` says which problems succeeded.

    Examples
    --------
    >>> from numopt.ot import emd
    >>> res = emd([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]])
    >>> res.cost, res.plan.toarray().tolist()
    (0.0, [[0.5, 0.0], [0.0, 0.5]])
    """
    from .._backend import is_numpy, to_numpy
    from ._emd import default_tol, emd_measures, solve_emd

    opts = check_options(options, {}, "emd")
    xp, a, b, M, batched = validate_problem(a, b, M, batch=True)
    if not is_numpy(xp):
        raise TypeError("emd needs NumPy input (it returns a scipy.sparse plan)")
    dtype = M.dtype
    tol = default_tol(dtype) if tol is None else check_scalar(tol, "tol", low=0, low_open=True)
    limit = (np.iinfo(np.int64).max if maxiter is None
             else check_scalar(maxiter, "maxiter", low=0, integer=True))
    if not isinstance(dense, (bool, np.bool_)):
        raise TypeError(f"dense must be a bool, got {type(dense).__name__}")
    a64, b64, M64 = (np.asarray(to_numpy(x), dtype=np.float64) for x in (a, b, M))
    M64 = np.ascontiguousarray(M64)
    # masses equal in float64 too (b was scaled to a's mass in the input dtype)
    b64 = equal_mass(np, a64, b64)
    scale = float(np.max(np.abs(M64))) or 1.0
    results = []
    for k in range(a64.shape[0]):
        plan, f, g, nit, status, detail = solve_emd(a64[k], b64[k], M64, maxiter=limit)
        plan = plan.astype(dtype)
        f, g = f.astype(dtype), g.astype(dtype)
        measures = emd_measures(plan, f, g, a64[k], b64[k], M64)
        if status == Status.SUCCESS:
            status, detail = _emd_certificate(measures, float(a64[k].sum()), scale, tol)
        results.append(OptimizeResult.from_status(
            status, detail, x=plan.toarray() if dense else plan, cost=measures["cost"],
            f=f, g=g, marginal_error=measures["marginal_error"],
            dual_violation=measures["dual_violation"], duality_gap=measures["duality_gap"],
            nit=nit))
    if not batched:
        res = results[0]
        res["plan"] = res.x
        res["fun"] = res.cost
        res["method"] = "network_simplex"
    else:
        res = _stack_emd(results, dense)
    if opts["disp"]:  # one network-simplex solve: no progress rows, SciPy's summary
        DispTable().summary(res)
    return res


def _emd_certificate(measures, mass, scale, tol):
    """SUCCESS if the recomputed measures of an optimal basis meet ``tol``, else STALLED
    with the measures that missed it (rounding of a badly scaled problem)."""
    missed = []
    if measures["marginal_error"] > tol * mass:
        missed.append(f"the L1 marginal error {measures['marginal_error']:.3g} exceeds "
                      f"tol * sum(a) = {tol * mass:.3g}")
    if measures["dual_violation"] > tol * scale:
        missed.append(f"the dual violation max(f_i + g_j - M_ij) = "
                      f"{measures['dual_violation']:.3g} exceeds tol * max|M| = {tol * scale:.3g}")
    if measures["duality_gap"] > tol * scale * mass:
        missed.append(f"the duality gap {measures['duality_gap']:.3g} exceeds "
                      f"tol * max|M| * sum(a) = {tol * scale * mass:.3g}")
    if missed:
        return Status.STALLED, ("The optimal basis fails its certificate: "
                                + "; ".join(missed) + ".")
    return Status.SUCCESS, ""


def _stack_emd(results, dense):
    """One result for B problems: arrays stacked along a first axis of size B."""
    plans = [r.x for r in results]
    worst = max(results, key=lambda r: (r.status != 0, r.status))
    failed = [k for k, r in enumerate(results) if not r.success]
    detail = ("" if not failed else
              f"Problems {failed[:10]}{'...' if len(failed) > 10 else ''} failed; the first: "
              f"{results[failed[0]].message}")
    plan = np.stack(plans) if dense else plans
    nits = np.array([r.nit for r in results])
    return OptimizeResult.from_status(
        Status(worst.status), detail, x=plan, plan=plan,
        cost=np.array([r.cost for r in results]), fun=np.array([r.cost for r in results]),
        f=np.stack([r.f for r in results]), g=np.stack([r.g for r in results]),
        marginal_error=np.array([r.marginal_error for r in results]),
        dual_violation=np.array([r.dual_violation for r in results]),
        duality_gap=np.array([r.duality_gap for r in results]),
        converged=np.array([r.success for r in results]), nit_per_problem=nits,
        nit=int(nits.sum()), method="network_simplex")


EMD_1D_METRICS = ("sqeuclidean", "euclidean", "cityblock", "minkowski")


def emd_1d(x_a, x_b, a=None, b=None, metric="sqeuclidean", p=1, *, dense=False):
    """Exact optimal transport between measures on the real line.

    For a cost convex in ``x - y`` the monotone plan (the north-west corner rule on the
    sorted points) is optimal; it is built by sorting both point sets and merging their
    cumulative weights in O((n + m) log(n + m)), no LP. Same arguments and plan as POT's
    ``ot.emd_1d``.

    Parameters
    ----------
    x_a, x_b : array of shape (n,) and (m,) (or (n, 1) and (m, 1))
        Positions of the source and target points (finite).
    a, b : array of shape (n,) and (m,), or None
        Non-negative weights of equal total mass (``None``: uniform; masses within 1e-6
        relative, ``b`` then scaled to the mass of ``a``).
    metric : {"sqeuclidean", "euclidean", "cityblock", "minkowski"}
        Ground cost: ``|x - y|**2``, ``|x - y|`` (twice), or ``|x - y|**p``.
    p : float
        Exponent of ``"minkowski"``, ``>= 1`` (the cost must be convex).
    dense : bool
        Return the plan as a dense ndarray instead of a ``scipy.sparse.csr_array``.

    Returns
    -------
    OptimizeResult
        ``plan`` (also ``x``) with at most n + m - 1 nonzeros, ``cost`` (= ``fun``),
        ``marginal_error``, ``nit`` (0), ``success``, ``status``, ``message``, ``method``.

    Examples
    --------
    >>> from numopt.ot import emd_1d
    >>> res = emd_1d([0.0, 1.0], [0.5, 2.0])
    >>> res.cost
    0.625
    """
    from ._emd import ground_cost_1d, monotone_plan

    x_a, x_b, a, b, dtype = _validate_1d(x_a, x_b, a, b)
    check_choice(metric, "metric", EMD_1D_METRICS)
    p = check_scalar(p, "p", low=1)
    rows, cols, values = monotone_plan(x_a, x_b, a, b)
    cost = float(values @ ground_cost_1d(x_a[rows], x_b[cols], metric, p))
    n, m = x_a.size, x_b.size
    error = float(np.abs(np.bincount(rows, values, minlength=n) - a).sum()
                  + np.abs(np.bincount(cols, values, minlength=m) - b).sum())
    plan = sp.csr_array((values.astype(dtype), (rows, cols)), shape=(n, m))
    plan = plan.toarray() if dense else plan
    return OptimizeResult.from_status(Status.SUCCESS, "", x=plan, plan=plan, cost=cost,
                                      fun=cost, marginal_error=error, nit=0, method="emd_1d")


def wasserstein_1d(x_a, x_b, a=None, b=None, p=1):
    r"""The p-Wasserstein distance between measures on the real line.

    :math:`W_p = \left(\int_0^1 |F_a^{-1}(q) - F_b^{-1}(q)|^p\,dq\right)^{1/p}`, from the
    monotone plan of :func:`emd_1d` (O((n + m) log(n + m))). Unlike POT's
    ``ot.wasserstein_1d``, which returns :math:`W_p^p`, this is the distance itself (as
    ``scipy.stats.wasserstein_distance`` for p = 1).

    Parameters
    ----------
    x_a, x_b : array of shape (n,) and (m,)
        Positions of the points.
    a, b : array of shape (n,) and (m,), or None
        Non-negative weights of equal total mass (``None``: uniform).
    p : float
        Order, ``>= 1``.

    Returns
    -------
    float

    Examples
    --------
    >>> from numopt.ot import wasserstein_1d
    >>> wasserstein_1d([0.0, 1.0], [0.5, 2.0], p=2)
    0.790569415042...
    """
    from ._emd import ground_cost_1d, monotone_plan

    x_a, x_b, a, b, _ = _validate_1d(x_a, x_b, a, b)
    p = check_scalar(p, "p", low=1)
    rows, cols, values = monotone_plan(x_a, x_b, a, b)
    return float(values @ ground_cost_1d(x_a[rows], x_b[cols], "minkowski", p)) ** (1.0 / p)


def _validate_1d(x_a, x_b, a, b):
    """Points as float64 vectors (an (n, 1) column is accepted, as POT does) and weights
    checked as for every OT problem; also the dtype of the input."""
    from .._backend import is_numpy, to_numpy
    from .._validation import as_array
    from ._validation import validate_weights

    xp = get_namespace(*(x for x in (x_a, x_b, a, b) if x is not None))
    if not is_numpy(xp):
        raise TypeError("emd_1d needs NumPy input (it returns a scipy.sparse plan)")
    points = []
    for x, name in ((x_a, "x_a"), (x_b, "x_b")):
        arr = as_array(x, name, xp, ndim=(1, 2))
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise ValueError(f"{name} must have shape (n,) or (n, 1), got {arr.shape}")
            arr = arr[:, 0]
        if arr.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one point")
        points.append(arr)
    dtype = float_dtype(xp, *(x for x in (*points, a, b) if x is not None and hasattr(x, "dtype")))
    n, m = points[0].shape[0], points[1].shape[0]
    a, b, _ = validate_weights(xp, a, b, n, m, dtype, against=("x_a.shape[0]", "x_b.shape[0]"))
    x_a, x_b, a, b = (np.asarray(to_numpy(v), dtype=np.float64) for v in (*points, a, b))
    return x_a, x_b, a, b, dtype


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

    opts = check_options(options, _defaults(SPARSE_OT_OPTIONS), "sparse_ot")
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
    options.setdefault("ftol", QUADRATIC_OT_OPTIONS["ftol"].default)
    res = sparse_ot(a, b, M, n, gamma=gamma, formulation=formulation, tol=tol,
                    maxiter=maxiter, callback=callback, **options)
    res["method"] = f"quadratic_ot:{formulation}"
    return res
