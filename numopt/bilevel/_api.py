"""Public entry point: :func:`minimize_bilevel`."""

from __future__ import annotations

from .._loop import run_solver
from .._validation import check_choice, check_options, check_scalar
from ._aid import ImplicitSolver
from ._borep import BOREPSolver
from ._bsvrb import BSVRBSolver
from ._penalty import F2SASolver, PenaltySolver, StochasticPenaltySolver
from ._soba import SABASolver, SOBASolver
from ._validation import check_batch_size, check_problem, check_start, validate_options

__all__ = ["minimize_bilevel", "METHODS", "DEFAULTS"]

SOLVERS = {"implicit": ImplicitSolver, "soba": SOBASolver, "saba": SABASolver,
           "f2sa": F2SASolver, "penalty": PenaltySolver,
           "penalty_stochastic": StochasticPenaltySolver, "borep": BOREPSolver,
           "bsvrb": BSVRBSolver}
METHODS = tuple(SOLVERS)

_COMMON = {"inner_step": None, "outer_step": None, "bounds": None, "certify_every": 10}
_PENALTY = {"penalty": None, "z0": None}
DEFAULTS = {
    "implicit": {**_COMMON, "inner_steps": 10, "inner_solver": "gd", "implicit_solver": "cg",
                 "implicit_maxiter": 50,
                 "implicit_tol": 1e-10, "v0": None},
    "soba": {**_COMMON, "v0": None},
    "saba": {**_COMMON, "v0": None},
    "f2sa": {**_COMMON, **_PENALTY, "inner_steps": 10, "penalty_start": 1.0,
             "penalty_growth": None},
    "penalty": {**_COMMON, **_PENALTY, "inner_tol": 0.1, "inner_maxiter": 1000},
    "penalty_stochastic": {**_COMMON, **_PENALTY, "momentum": 0.1},
    "borep": {**_COMMON, "v0": None, "momentum": 0.9, "refine_steps": 10, "period": 1,
              "period_steps": 1, "z_step": None, "z_radius": float("inf"),
              "outer_step_decay": 1.0},
    "bsvrb": {**_COMMON, "blocks_per_iter": None, "msvr_weight": 0.5, "momentum": 0.5,
              "hessian": "matrix"},
}
MAXITER = 1000


def minimize_bilevel(problem, x0, y0=None, *, method="implicit", tol=1e-6, maxiter=None,
                     batch_size=None, seed=None, callback=None, **options):
    """Minimize ``F(x) = f(x, y*(x))`` where ``y*(x) = argmin_y g(x, y)``.

    Parameters
    ----------
    problem : BilevelProblem
        The oracles (values, gradients, Hessian-vector and cross-derivative products,
        on minibatches); see :class:`numopt.bilevel.BilevelProblem` and the ready
        problems. ``g(x, .)`` must be strongly convex.
    x0 : array of shape (problem.dim_x,)
        Start of the upper variable; its dtype (float32 or float64) is that of the
        returned ``x`` and ``y`` (the iterations run in float64).
    y0 : array of shape (problem.dim_y,), optional
        Start of the lower variable (zeros).
    method : str
        ``"implicit"`` (approximate implicit differentiation, deterministic by default),
        ``"soba"``, ``"saba"``, ``"f2sa"``, ``"penalty"``, ``"penalty_stochastic"``,
        ``"borep"``, ``"bsvrb"`` (a :class:`MultiBlockBilevel` only). See
        :func:`numopt.show_options` for each method's options and the docs page.
    tol : float
        ``success=True`` means the exact hypergradient norm ``||grad F(x)||`` at the
        returned ``x`` (with ``bounds``: the projected-gradient mapping
        ``||x - P(x - grad F(x))||``) is at most ``tol``; it is computed in float64 with
        the lower problem solved to 1e-13 and the implicit system by CG, through
        uncounted oracles, every ``certify_every`` iterations and whenever the method's
        own hypergradient estimate falls below ``tol``. Penalty methods converge to a
        point of the penalty function, within ``O(penalty)`` of a stationary point:
        their ``penalty`` defaults to ``tol``.
    maxiter : int, optional
        Upper iterations (1000).
    batch_size : int, optional
        Samples per oracle call and level (``None``: full batches, the deterministic
        method). SABA partitions the samples into batches of this size.
    seed : None, int or numpy.random.Generator
        The only source of randomness (batches, blocks).
    callback : callable, optional
        SciPy's two forms: ``callback(intermediate_result)`` or ``callback(xk)``.
    **options
        ``inner_step``, ``outer_step`` (default ``1/L_g`` and ``1/L_F`` from the
        problem's constants, or ``1/L_g`` for both where ``L_F`` is unknown),
        ``bounds=(lower, upper)`` (projected steps on ``x``), ``certify_every``,
        ``disp``, and the method's own (``implicit_solver="cg" | "direct" | "neumann" | "sgd" |
        LinearOperator | callable`` and ``inner_solver="gd" | "newton"`` for
        ``"implicit"``; see the docs page).

    Returns
    -------
    OptimizeResult
        ``x``, ``y``, ``fun`` (``F(x)``), ``hypergrad_norm`` (the certified measure
        above), ``hypergrad_estimate`` (the method's last raw estimate of the
        hypergradient), oracle counts ``n_grad``, ``n_hvp``, ``n_cross``, ``n_value``,
        ``n_hessian``, ``n_oracle_calls`` (excluding the certification), ``nit``,
        ``success``, ``status``, ``message``, ``method``.
    """
    method = check_choice(method, "method", METHODS)
    problem = check_problem(problem, method)
    x0, y0, dtype = check_start(x0, y0, problem)
    opts = validate_options(check_options(options, DEFAULTS[method],
                                          f"minimize_bilevel(method={method!r})"), problem)
    tol = check_scalar(tol, "tol", low=0.0)
    maxiter = MAXITER if maxiter is None else check_scalar(maxiter, "maxiter", low=0,
                                                            integer=True)
    batch_size = check_batch_size(batch_size)
    solver = SOLVERS[method](problem, x0, y0, tol=tol, seed=seed, batch_size=batch_size,
                             dtype=dtype, options=opts)
    return run_solver(solver, maxiter=maxiter, callback=callback, check_every=1,
                      finite_fields=("x", "y"), disp=opts["disp"])
