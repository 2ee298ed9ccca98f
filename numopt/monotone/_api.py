"""Public entry points: :func:`solve_inclusion` and :func:`solve_matrix_game`."""

from __future__ import annotations

import math

from .._backend import get_namespace, is_numpy
from .._loop import run_solver
from .._validation import as_array, check_choice, check_options, check_scalar, check_seed
from ._deterministic import DETERMINISTIC_SOLVERS
from ._operators import bilinear_operator
from ._prox import product, simplex
from ._residual import ResidualMeasure, operator_residual
from ._validation import validate_probability, validate_problem, validate_step
from ._variance_reduced import VR_SOLVERS

__all__ = ["solve_inclusion", "solve_matrix_game", "METHODS", "DEFAULTS", "duality_gap"]

METHODS = ("halpern", "extragradient", "eag", "fbf", "optimistic", "vr-eg", "vr-halpern",
           "inexact-halpern")

DEFAULTS = {
    "halpern": {"step_size": None},
    "extragradient": {"step_size": None},
    "eag": {"step_size": None},
    "fbf": {"step_size": None},
    "optimistic": {"step_size": None, "alpha": 1.0, "beta": 1.0},
    "vr-eg": {"step_size": None, "p": None},
    "vr-halpern": {"step_size": None, "batch_size": None},
    "inexact-halpern": {"step_size": None, "resolvent_step": None, "p": None, "inner": 1.0},
}
# default steps of the deterministic methods, in units of 1/L
_STEP_OVER_L = {"halpern": 1.0, "extragradient": 0.5, "eag": 0.125, "fbf": 0.5,
                "optimistic": 0.4}
MAXITER = 10000


def _build_solver(method, xp, op, prox, z0, tol, measure, opts, seed):
    L = op.lipschitz
    if method in DETERMINISTIC_SOLVERS:
        step = opts["step_size"] or _STEP_OVER_L[method] / L
        extra = ({"alpha": check_scalar(opts["alpha"], "alpha", low=0.0),
                  "beta": check_scalar(opts["beta"], "beta", low=0.0)}
                 if method == "optimistic" else {})
        return DETERMINISTIC_SOLVERS[method](xp, op, prox, z0, tol=tol, measure=measure,
                                             step=step, **extra)
    if not is_numpy(xp):
        raise TypeError(f"method={method!r} runs on NumPy arrays only (its per-sample loop "
                        "is a CPU kernel); the deterministic methods run on any array "
                        "library, CuPy included")
    n, LQ = op.n_components, op.mean_square_lipschitz
    cls, kernel_name = VR_SOLVERS[method]
    rng = check_seed(seed)
    if method == "vr-eg":
        p = opts["p"] or 1.0 / n
        step = opts["step_size"] or 0.99 * math.sqrt(p) / LQ
        params = {"p": p, "alpha": 1.0 - p}
    elif method == "vr-halpern":
        batch = (math.ceil(math.sqrt(n)) if opts["batch_size"] is None
                 else check_scalar(opts["batch_size"], "batch_size", low=1, integer=True))
        step = opts["step_size"] or 0.5 / max(L, LQ / math.sqrt(batch))
        params = {"batch": batch, "round": math.ceil(math.sqrt(n))}
    else:
        p = opts["p"] or 1.0 / n
        c = opts["resolvent_step"] or math.sqrt(n) / LQ
        step = opts["step_size"] or 0.5 * math.sqrt(p) / (c * LQ + 1.0)
        inner = check_scalar(opts["inner"], "inner", low=0.0, low_open=True)
        params = {"p": p, "alpha": 1.0 - p, "c": c, "inner": inner}
    return cls(xp, op, prox, z0, tol=tol, measure=measure, step=step, rng=rng,
               kernel_name=kernel_name, **params)


def _options(method, options):
    opts = check_options(options, DEFAULTS[method], f"solve_inclusion(method={method!r})")
    for name in ("step_size", "resolvent_step"):
        if name in opts:
            opts[name] = validate_step(opts[name], name)
    if "p" in opts:
        opts["p"] = validate_probability(opts["p"], "p")
    return opts


def solve_inclusion(operator, z0, *, prox=None, method="extragradient", tol=1e-6,
                    maxiter=None, seed=None, callback=None, **options):
    """Solve the monotone inclusion ``0 in F(z) + G(z)``, ``F = (1/n) sum_i F_i``.

    Parameters
    ----------
    operator : FiniteSumOperator
        ``F``, from :func:`matrix_operator`, :func:`bilinear_operator`,
        :func:`callable_operator` or :func:`gradient_operator`.
    z0 : array of shape (d,)
        The start (and the Halpern methods' anchor). Its dtype (float32 or float64) is
        kept; integers become float64.
    prox : None, "simplex", "box", "ball" or Prox, optional
        ``G``, the normal cone of a set, applied through its projection:
        :func:`simplex`, :func:`box`, :func:`ball`, or a :func:`product` of them over
        blocks of coordinates. None: ``G = 0``.
    method : str
        Deterministic (``n`` component calls per operator evaluation):
        ``"halpern"`` (needs a cocoercive ``F``), ``"extragradient"`` (default),
        ``"eag"`` (extra anchored gradient), ``"fbf"`` (forward-backward-forward),
        ``"optimistic"`` (optax's optimistic gradient). Variance-reduced (matrix
        operators run a Numba kernel; NumPy input only): ``"vr-eg"``,
        ``"vr-halpern"`` (Algorithm 1 of Cai, Alacaoglu & Diakonikolas 2024, cocoercive
        ``F``), ``"inexact-halpern"`` (their Algorithm 2, monotone Lipschitz ``F``).
    tol : float
        ``success=True`` means that the operator residual of the returned ``x``,
        recomputed in float64, is at most ``tol``: ``L ||x - P(x - F(x)/L)||`` (with
        ``L = operator.lipschitz``), which is ``||F(x)||`` when ``G = 0``.
    maxiter : int, optional
        Iterations (default 10000). For the variance-reduced methods one iteration is
        a round: ``n`` VR-EG steps, ``ceil(sqrt(n))`` steps of Algorithm 1, or one
        Halpern step of Algorithm 2 with its whole inner VR-FoRB loop.
    seed : int or numpy.random.Generator, optional
        The variance-reduced methods' samples.
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration; raise
        ``StopIteration`` to stop.
    **options
        ``step_size`` for every method (defaults: ``1/L`` Halpern, ``0.5/L``
        extragradient and FBF, ``1/(8L)`` EAG (its proven step), ``0.4/L`` optimistic,
        ``0.99 sqrt(p)/L_Q`` VR-EG, ``0.5/max(L, L_Q/sqrt(b))`` Algorithm 1,
        ``0.5 sqrt(p)/(c L_Q + 1)`` for the inner VR-FoRB of Algorithm 2; ``L_Q`` is
        ``operator.mean_square_lipschitz``); ``alpha``, ``beta`` (optimistic, 1.0);
        ``p`` (snapshot probability, ``1/n``; VR-EG and Algorithm 2); ``batch_size``
        (Algorithm 1, ``ceil(sqrt(n))``); ``resolvent_step`` (``c`` of Algorithm 2,
        ``sqrt(n)/L_Q``) and ``inner`` (its ``M_k = ceil(inner n log(k+2))`` inner
        steps, 1.0); ``disp``.

    Returns
    -------
    OptimizeResult
        ``x`` (the last iterate; for Algorithm 1 the last forward-backward point
        ``P(u - eta Ft)`` and for Algorithm 2 the last approximate resolvent, where their
        theory certifies the residual, not the anchored Halpern point), ``residual``
        (as above, at ``x``), ``nit``, ``ncalls`` (component
        calls ``F_i`` the method made; a full evaluation counts ``n``; the stopping
        rule's own evaluations are not counted), ``epochs`` (``ncalls / n``),
        ``n_inner`` (Algorithm 2's VR-FoRB steps), ``method``.

    Examples
    --------
    The variational inequality of ``F(z) = M z + q`` on the box ``[0, 1]^2``:

    >>> import numpy as np
    >>> from numopt.monotone import box, matrix_operator, solve_inclusion
    >>> op = matrix_operator(np.array([[1.0, 2.0], [-2.0, 1.0]]), np.array([-1.0, 3.0]))
    >>> res = solve_inclusion(op, np.zeros(2), prox=box(0.0, 1.0), tol=1e-10)
    >>> res.success, np.round(res.x, 6)
    (True, array([1., 0.]))
    """
    xp = get_namespace(z0)
    check_choice(method, "method", METHODS)
    z0, prox = validate_problem(operator, z0, prox, xp)
    opts = _options(method, options)
    tol = check_scalar(tol, "tol", low=0.0)
    maxiter = MAXITER if maxiter is None else check_scalar(maxiter, "maxiter", low=0,
                                                            integer=True)
    op = operator.for_dtype(xp, z0.dtype)
    measure = ResidualMeasure(xp, operator, prox)
    solver = _build_solver(method, xp, op, prox, z0, tol, measure, opts, seed)
    res = run_solver(solver, maxiter=maxiter, callback=callback, xp=xp, disp=opts["disp"])
    res.method = method
    return res


def duality_gap(A, x, y, xp=None):
    """``max_i (A y)_i - min_j (x^T A)_j`` for the row strategy ``x`` (maximizer) and
    the column strategy ``y`` (minimizer), in float64; also the two bounds on the value."""
    xp = get_namespace(A) if xp is None else xp
    A64, x64, y64 = (a if a.dtype == xp.float64 else xp.astype(a, xp.float64)
                     for a in (A, x, y))
    upper = float(xp.max(A64 @ y64))
    lower = float(xp.min(x64 @ A64))
    return upper - lower, lower, upper


class _GapMeasure:
    """The duality gap of ``z = (y, x)`` (the inclusion's order: the minimizer first)."""

    name = "duality_gap"

    def __init__(self, xp, A):
        self.xp, self.A = xp, A
        self.n_cols = A.shape[1]

    def __call__(self, z, Fz=None):
        xp = self.xp
        y, x = z[:self.n_cols], z[self.n_cols:]
        # the iterates stay on the simplices up to rounding; project the certificate's
        # pair exactly so that the gap is a true bound
        return duality_gap(self.A, _renormalize(xp, x), _renormalize(xp, y), xp)[0]


def _renormalize(xp, v):
    """``v`` (on a simplex up to rounding) put back on it exactly, in float64."""
    v = v if v.dtype == xp.float64 else xp.astype(v, xp.float64)
    v = xp.maximum(v, xp.zeros(v.shape, dtype=xp.float64))
    return v / xp.sum(v)


def solve_matrix_game(A, *, method="extragradient", tol=1e-6, maxiter=None, seed=None,
                      callback=None, **options):
    """Solve the zero-sum matrix game ``max_x min_y x^T A y`` over probability simplices.

    Parameters
    ----------
    A : array of shape (m, n)
        The row player's payoff: the row player (``x``, length ``m``) maximizes
        ``x^T A y``, the column player (``y``, length ``n``) minimizes it. A NumPy array
        (any method) or a CuPy array (deterministic methods; the iteration runs on the
        device through the array API).
    method, maxiter, seed, callback, **options
        As in :func:`solve_inclusion` (the game is the inclusion of the bilinear
        operator, split by the rows of ``A``, with the product of the two simplices).
    tol : float
        ``success=True`` means that the duality gap of the returned pair,
        ``max_i (A y)_i - min_j (x^T A)_j``, recomputed in float64, is at most ``tol``.

    Returns
    -------
    OptimizeResult
        ``x`` (row strategy), ``y`` (column strategy), ``value`` (the midpoint of the
        certified bounds ``value_bounds = (min_j (x^T A)_j, max_i (A y)_i)``, which
        hold the game's value; so ``|value - v*| <= duality_gap / 2``),
        ``duality_gap``, ``residual`` (the operator residual of the pair), ``nit``,
        ``ncalls``, ``epochs``.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.monotone import solve_matrix_game
    >>> res = solve_matrix_game(np.array([[2.0, -1.0], [-1.0, 1.0]]), tol=1e-8)
    >>> res.success, round(res.value, 6), np.round(res.x, 4), np.round(res.y, 4)
    (True, 0.2, array([0.4, 0.6]), array([0.4, 0.6]))
    """
    xp = get_namespace(A)
    check_choice(method, "method", METHODS)
    A = as_array(A, "A", xp, ndim=2)
    if not xp.isdtype(A.dtype, "real floating"):
        A = xp.astype(A, xp.float64)
    m, n = A.shape
    opts = _options(method, options)
    tol = check_scalar(tol, "tol", low=0.0)
    maxiter = MAXITER if maxiter is None else check_scalar(maxiter, "maxiter", low=0,
                                                            integer=True)
    op = bilinear_operator(A)
    prox = product((simplex(), n), (simplex(), m))
    z0 = xp.concat([xp.full(n, 1.0 / n, dtype=A.dtype), xp.full(m, 1.0 / m, dtype=A.dtype)])
    measure = _GapMeasure(xp, A)
    solver = _build_solver(method, xp, op, prox, z0, tol, measure, opts, seed)
    res = run_solver(solver, maxiter=maxiter, callback=callback, xp=xp, disp=opts["disp"])
    y, x = res.x[:n], res.x[n:]
    gap, lower, upper = duality_gap(A, _renormalize(xp, x), _renormalize(xp, y), xp)
    res.x, res.y = xp.astype(_renormalize(xp, x), A.dtype), xp.astype(_renormalize(xp, y),
                                                                      A.dtype)
    res.duality_gap, res.value_bounds = gap, (lower, upper)
    res.value = 0.5 * (lower + upper)
    res.residual = operator_residual(xp, op.for_dtype(xp, xp.float64), prox,
                                     xp.astype(xp.concat([res.y, res.x]), xp.float64))
    res.method = method
    return res
