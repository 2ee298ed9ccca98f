"""The deep conjugate direction method (Kaneda et al., ICML 2023).

Each step maps the normalized residual to a search direction with a model (the shipped
convolutional network, or any callable such as an AMG cycle), A-orthogonalizes it
against the last ``n_orth`` directions, takes the exact step along it and recomputes
the true residual ``b - A x``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .._backend import get_namespace, is_numpy, to_numpy
from .._loop import run_solver
from .._result import Status
from .._validation import _is_sparse, check_options, check_scalar
from ._validation import as_operator, as_rhs, check_x0, operator_like, system_dtype

DCDM_DEFAULTS = {"stall_window": 100}

# a window of iterations that does not lower the best residual by this fraction stalls
STALL_DECREASE = 0.01


class _DCDMSolver:
    """DCDM on ``A x = b``; the state is a dict with ``x``, the true residual ``r``,
    its norm and the last ``n_orth`` directions with their ``A d`` and ``d.A d``."""

    def __init__(self, xp, matvec, model, b, x0, threshold, n_orth, stall_window):
        self.xp, self.matvec, self.model, self.b, self.x0 = xp, matvec, model, b, x0
        self.threshold, self.n_orth, self.stall_window = threshold, n_orth, stall_window
        self.dot = np.dot if is_numpy(xp) else xp.vecdot

    def _norm(self, v):
        return float(self.xp.linalg.vector_norm(v))

    def init(self):
        xp = self.xp
        x = xp.asarray(self.x0, copy=True)
        r = self.b - self.matvec(x)
        rnorm = self._norm(r)
        # best residual norm so far, and the best one at the start of the current window
        return {"x": x, "r": r, "rnorm": rnorm, "directions": deque(), "failure": None,
                "n_matvec": 1, "n_model": 0, "steps": 0, "best": rnorm, "window_best": rnorm}

    def _direction(self, s):
        """The model's direction for the normalized residual, A-orthogonalized against
        the kept ones (modified Gram-Schmidt): ``(d, A d, d.A d)`` or a failure text."""
        xp = self.xp
        r = s["r"]
        d = self.model(r / s["rnorm"])
        s["n_model"] += 1
        if d is None:
            return "the model returned None"
        try:
            d = xp.reshape(xp.asarray(d, dtype=r.dtype), (-1,))
        except Exception as exc:  # noqa: BLE001 - any malformed output says the same
            return f"the model's output could not be read as a vector: {exc}"
        if tuple(d.shape) != tuple(r.shape):
            return f"the model returned shape {tuple(d.shape)}, expected {tuple(r.shape)}"
        if not bool(xp.all(xp.isfinite(d))):
            return "the model returned NaN or inf"
        for p, Ap, pAp in s["directions"]:
            d = d - (self.dot(d, Ap) / pAp) * p
        Ad = self.matvec(d)
        s["n_matvec"] += 1
        dAd = float(self.dot(d, Ad))
        if not dAd > 0.0:
            return ("d^T A d <= 0: A is not symmetric positive definite, or the model "
                    "returned a direction in the span of the kept ones")
        return d, Ad, dAd

    def step(self, s):
        if s["failure"] is not None:
            return s
        found = self._direction(s)
        if isinstance(found, str):
            s["failure"] = found
            return s
        d, Ad, dAd = found
        dr = float(self.dot(d, s["r"]))
        if dr == 0.0:
            s["failure"] = "the model's direction is orthogonal to the residual"
            return s
        x = s["x"] + (dr / dAd) * d
        r = self.b - self.matvec(x)   # the true residual, as in the paper
        s["n_matvec"] += 1
        directions = s["directions"]
        directions.append((d, Ad, dAd))
        while len(directions) > self.n_orth:
            directions.popleft()
        rnorm = self._norm(r)
        s.update(x=x, r=r, rnorm=rnorm, steps=s["steps"] + 1, best=min(s["best"], rnorm))
        if self.stall_window and s["steps"] % self.stall_window == 0:
            # the model's nonlinear directions can cycle: the A-norm error still falls,
            # but by nothing
            if not s["best"] < (1.0 - STALL_DECREASE) * s["window_best"]:
                s["failure"] = (f"the best residual fell by less than {STALL_DECREASE:.0%} "
                                f"over the last {self.stall_window} iterations (the "
                                "model's directions cycle; a larger n_orth may help)")
            s["window_best"] = s["best"]
        return s

    def check(self, s):
        rnorm = s["rnorm"]
        if not math.isfinite(rnorm):
            return Status.NONFINITE
        if rnorm <= self.threshold:
            return Status.SUCCESS
        if s["failure"] is not None:
            return Status.STALLED
        return None

    def result(self, s):
        return {"x": s["x"], "residual": s["rnorm"],
                "stats": {"n_matvec": s["n_matvec"], "n_model": s["n_model"]}}

    def detail(self, s, status):
        if s["rnorm"] <= self.threshold:
            return ""
        why = f": {s['failure']}." if s["failure"] is not None else "."
        return f"Residual norm {s['rnorm']:.3e} above the target {self.threshold:.3e}{why}"


def _host_offdiagonal_free_rows(A, n):
    """Rows of ``A`` without off-diagonal entries (decoupled cells: solids), as a NumPy
    bool vector; all ``False`` for an operator."""
    if operator_like(A):
        return np.zeros(n, dtype=bool)
    if _is_sparse(A):
        M = A.tocoo() if hasattr(A, "tocoo") else A
        row, col = to_numpy(M.row), to_numpy(M.col)
        keep = (row != col) & (to_numpy(M.data) != 0)
        return np.bincount(row[keep], minlength=n) == 0
    dense = to_numpy(A)
    off = dense != 0
    np.fill_diagonal(off, False)
    return ~off.any(axis=1)


def _infer_grid(n, grid_shape):
    if grid_shape is not None:
        shape = tuple(int(check_scalar(g, "grid_shape", low=1, integer=True))
                      for g in grid_shape)
        if len(shape) not in (2, 3) or math.prod(shape) != n:
            raise ValueError(f"grid_shape must be 2 or 3 sides whose product is n = {n}, "
                             f"got {shape}")
        return shape
    side = math.isqrt(n)
    if side * side == n:
        return (side, side)
    side = round(n ** (1 / 3))
    for s in (side - 1, side, side + 1):
        if s > 0 and s**3 == n:
            return (s, s, s)
    raise ValueError(f"grid_shape is needed: n = {n} is neither a perfect square nor a "
                     "perfect cube")


class NetworkModel:
    """The shipped network as a callable ``r -> d`` for one grid.

    The network sees the residual (scaled to unit RMS over the fluid cells, the scale
    it was trained at) and the fluid mask (cells whose row of ``A`` has off-diagonal
    entries); its output is zero in solid cells, where the direction is instead
    ``r_i / a_ii`` (a solid row is decoupled, so this solves it exactly). It runs in
    float32 (a direction needs no more) and returns the residual's dtype.
    """

    def __init__(self, net, xp, grid_shape, solid, diagonal):
        self.net, self.xp, self.grid_shape = net, xp, tuple(grid_shape)
        self.fluid = xp.asarray(np.reshape(~solid, grid_shape).astype(np.float32))
        self.n_fluid = max(int(np.count_nonzero(~solid)), 1)
        self.solid_inverse = None
        if solid.any():
            inv = np.where(solid, 1.0 / np.where(solid, diagonal, 1.0), 0.0)
            self.solid_inverse = xp.asarray(inv)

    def __call__(self, r):
        xp = self.xp
        image = xp.reshape(xp.astype(r, xp.float32), self.grid_shape)
        scale = math.sqrt(self.n_fluid) / max(float(xp.linalg.vector_norm(r)), 1e-300)
        d = xp.astype(xp.reshape(self.net(image * scale, self.fluid), (-1,)), r.dtype)
        if self.solid_inverse is not None:
            d = d + xp.astype(self.solid_inverse, r.dtype) * r
        return d


def _network_model(A, xp, n, grid_shape):
    from ._dcdm_model import load_model

    shape = _infer_grid(n, grid_shape)
    net = load_model(len(shape), xp=xp, dtype=xp.float32)
    solid = _host_offdiagonal_free_rows(A, n)
    diagonal = np.ones(n)
    if solid.any():
        diagonal = to_numpy(A.diagonal()) if hasattr(A, "diagonal") else np.diag(to_numpy(A))
    return NetworkModel(net, xp, shape, solid, np.asarray(diagonal, dtype=float))


def _as_model(model, A, xp, n, grid_shape):
    if isinstance(model, str):
        if model != "poisson":
            raise ValueError(f"model must be 'poisson' or a callable r -> d, got {model!r}")
        return _network_model(A, xp, n, grid_shape)
    if callable(model):
        return model
    if hasattr(model, "matvec"):
        return model.matvec
    raise TypeError(f"model must be 'poisson' or a callable r -> d, got "
                    f"{type(model).__name__}")


# n_orth of the shipped network: with 2 (the paper's) our CPU-trained model's directions
# cycle and the residual stalls around 1e-2 on 64^2 Poisson; 40 is enough at 64^2 (35-44
# iterations) but at 128^2 the truncation stalls near 1e-2 on smooth b (or needs 300
# iterations), where 200 converges in about 100: the model's directions keep components
# along long waves that only a long history keeps conjugate. The kept directions and
# their products with A cost 2 n_orth vectors of n, capped at NETWORK_ORTH_BYTES.
NETWORK_N_ORTH = 200
NETWORK_MIN_N_ORTH = 40
NETWORK_ORTH_BYTES = 256 * 2**20


def _network_n_orth(n, itemsize):
    by_memory = NETWORK_ORTH_BYTES // (2 * n * itemsize)
    return int(min(NETWORK_N_ORTH, max(NETWORK_MIN_N_ORTH, by_memory)))


def dcdm(A, b, x0=None, *, model="poisson", grid_shape=None, n_orth=None, tol=1e-6,
         maxiter=None, callback=None, **options):
    """Solve ``A x = b`` (``A`` symmetric positive definite) by the deep conjugate
    direction method.

    Each iteration asks ``model`` for a direction ``d = model(r / ||r||)`` (an
    approximation of ``A^{-1} r`` up to scale), A-orthogonalizes it against the last
    ``n_orth`` directions, takes the exact step ``alpha = d.r / d.A d`` and recomputes the
    true residual ``r = b - A x`` (Kaneda et al., "A deep conjugate direction method for
    iteratively solving linear systems", ICML 2023). With a linear symmetric positive
    definite ``model`` and ``n_orth >= 1`` this is preconditioned CG up to rounding;
    the shipped network is nonlinear, and the orthogonalization keeps the steps
    A-conjugate to the recent ones.

    Parameters
    ----------
    A : (n, n) array, sparse matrix or LinearOperator
    b : (n,) array
    x0 : (n,) array, optional
    model : "poisson" or callable
        ``"poisson"``: the convolutional network shipped with numopt, trained by us on
        Poisson matrices with obstacles (2-D grids: the model trained at 64 x 64;
        3-D grids: the one trained at 16^3; see :doc:`/linalg`); ``A`` must then live on a regular grid, cells in C order
        (:func:`numopt.problems.poisson_obstacles`). Any callable ``r -> d`` (a
        preconditioner, an AMG cycle, a LinearOperator) works too.
    grid_shape : tuple of int, optional
        The grid of the network model; inferred when ``n`` is a perfect square or cube.
    n_orth : int, optional
        How many of the last directions each new one is A-orthogonalized against.
        Default 2 (the paper's) for a callable model, enough for a linear one; for
        the shipped network 200, or fewer (down to 40) where the kept vectors (``2
        n_orth`` of length ``n``) would exceed 256 MiB: its nonlinear directions cycle
        with 2 (the residual stalls near 1e-2 on 64 x 64 Poisson) and with 40 at
        128 x 128 (see :doc:`/linalg`).
    tol : float
        Stop when the true residual ``||b - A x|| <= tol ||b||``.
    maxiter : int, optional
        Default ``10 n`` (as :func:`cg`).
    callback : callable, optional
        ``callback(intermediate_result)`` with ``x`` and ``residual``; raise
        ``StopIteration`` to stop.
    **options
        ``stall_window`` : int, default 100. The run ends as stalled (status 4) when
        a window of that many iterations lowers the best residual by less than 1%;
        0 never stalls.

    Returns
    -------
    OptimizeResult
        ``x``, ``success``, ``status``, ``message``, ``nit``, ``residual`` (``||b - A
        x||`` of the returned ``x``), ``n_matvec`` and ``n_model`` (products with ``A``
        and model applications). A model whose direction cannot make progress
        (orthogonal to the residual, ``d.A d <= 0``, non-finite) ends the run with
        status 4 (stalled) and the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.problems import poisson_2d
    >>> A = poisson_2d(32); b = np.ones(A.shape[0])
    >>> res = dcdm(A, b, tol=1e-8)
    >>> bool(res.success), bool(np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b))
    (True, True)
    """
    xp = get_namespace(b=b, x0=x0, A=None if operator_like(A) else A)
    opts = check_options(options, DCDM_DEFAULTS, "dcdm")
    stall_window = check_scalar(opts["stall_window"], "stall_window", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    dtype = system_dtype(xp, A, b)
    matvec, n, _, _ = as_operator(A, xp, dtype, "A")
    if n_orth is None:
        itemsize = xp.finfo(dtype).bits // 8
        n_orth = _network_n_orth(n, itemsize) if isinstance(model, str) else 2
    n_orth = check_scalar(n_orth, "n_orth", low=0, integer=True)
    b = as_rhs(b, xp, dtype, n)
    x0 = check_x0(x0, xp, dtype, n)
    maxiter = (10 * n if maxiter is None
               else check_scalar(maxiter, "maxiter", low=0, integer=True))
    model = _as_model(model, A, xp, n, grid_shape)
    b_norm = float(xp.linalg.vector_norm(b))
    threshold = tol * b_norm
    solver = _DCDMSolver(xp, matvec, model, b, x0, threshold, n_orth, stall_window)
    # the solver's residual is b - A x of the iterate it holds, recomputed every step
    # (not updated), so success and ``residual`` are the returned x's own
    return run_solver(solver, maxiter=maxiter, callback=callback, xp=xp, disp=opts["disp"])
