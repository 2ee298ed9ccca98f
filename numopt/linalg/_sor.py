"""SOR and symmetric SOR (SSOR) as solvers: forward, backward and symmetric sweeps over
a CSR matrix, in natural or multicolour row order."""

from __future__ import annotations

from .._backend import get_kernel, get_namespace, is_cupy, kernel
from .._loop import resolve_check_every, run_solver
from .._result import Status
from .._units import Pow2
from .._validation import check_choice, check_flag, check_options, check_scalar
from ._residual import wide_residual_norm
from ._validation import as_csr_system, as_rhs, check_nonzero_diagonal, check_x0, system_dtype

# how many of the last residuals a stall is looked for in
RECENT_RESIDUALS = 8

SOR_DEFAULTS = {"ordering": "auto", "check_every": None}


@kernel("linalg.sor_sweep",
        numba="numopt.linalg._kernels_numba:sor_sweep",
        cupy="numopt.linalg._kernels_cupy:sor_sweep")
def sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, reverse):
    """One SOR sweep in place over the rows in ``order`` (natural order if ``None``),
    reversed if ``reverse``: ``x_i <- omega (b_i - sum_{j != i} a_ij x_j) / a_ii
    + (1 - omega) x_i``. ``color_ptr`` (colour offsets into ``order``) is used only by
    the GPU kernel, which updates one colour at a time in parallel."""
    n = b.shape[0]
    rows = list(range(n)) if order is None else [int(i) for i in order]
    if reverse:
        rows.reverse()
    for i in rows:
        start, stop = int(indptr[i]), int(indptr[i + 1])
        cols = indices[start:stop]
        vals = data[start:stop]
        off = cols != i
        zero = xp.zeros_like(vals)
        rsum = xp.sum(xp.where(off, vals * xp.take(x, cols), zero))
        diag = xp.sum(xp.where(off, zero, vals))
        x[i] = omega * ((b[i] - rsum) / diag) + (1.0 - omega) * x[i]
    return x


@kernel("linalg.sor_iteration",
        numba="numopt.linalg._kernels_numba:sor_iteration",
        cupy="numopt.linalg._kernels_cupy:sor_iteration")
def sor_iteration(xp, indptr, indices, data, b, x, omega, order, color_ptr, symmetric,
                  matvec):
    """One SOR iteration in place (a forward sweep, plus a backward one if
    ``symmetric``); returns the residual norm ``||b - A x||`` of the new iterate
    (``matvec`` computes ``A x`` here; the Numba kernel fuses it into one call), or
    ``None`` when ``matvec`` is ``None`` (no convergence test after this iteration)."""
    x = sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, False)
    if symmetric:
        x = sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, True)
    return None if matvec is None else xp.linalg.vector_norm(b - matvec(x))


def resolve_ordering(system, ordering):
    """``(order, color_ptr)`` for the requested row ordering; the GPU always colours."""
    check_choice(ordering, "ordering", ("auto", "natural", "multicolor"))
    if ordering == "auto":
        ordering = "multicolor" if is_cupy(system.xp) else "natural"
    if ordering == "natural":
        if is_cupy(system.xp):
            raise ValueError("ordering='natural' is sequential and not available on the "
                             "GPU; use ordering='multicolor'")
        return None, None
    return system.coloring()


class _SORSolver:
    """SOR on ``A x = b / 2**unit.exp`` (see :class:`Pow2`); ``result`` reports ``x``
    and the residual in the caller's units.

    The sweeps test the residual in the working precision; success also needs the
    residual recomputed in a wider one (:func:`wide_residual_norm`) below the target,
    and ``residual`` reports that figure: a float32 residual near its target is off by
    its own rounding (a sweep of float32 solves reported success on 48 of 587 runs
    whose true residual missed tol).

    The residual is computed every ``check_every`` sweeps (fused into the sweep by the
    Numba kernel; on the GPU it stays on the device until a check reads it), where the
    loop checks; ``step`` records it with the stall test, so ``check`` only reads."""

    def __init__(self, system, b, x0, omega, symmetric, tol, atol, order, color_ptr,
                 check_every, unit=Pow2()):
        self.system, self.b, self.x0, self.unit = system, b, x0, unit
        self.check_every = check_every
        self.omega, self.symmetric = omega, symmetric
        self.order, self.color_ptr = order, color_ptr
        self.iteration = get_kernel("linalg.sor_iteration", system.xp)
        held = system.native if system.native is not None else system.dense
        self.true_norm, _ = wide_residual_norm(held, system.xp, system.dtype)
        self.threshold = max(tol * self.true_norm(b, system.xp.zeros_like(b)), atol)

    def _measured(self, x, residual, recent, sweeps):
        """The state after ``sweeps`` sweeps with iterate ``x`` and (device) residual
        ``residual``: the residual joins the ``recent`` ones and the stall test runs; the
        wide residual is computed where the working one says done."""
        value = float(residual)
        true = self.true_norm(self.b, x) if value <= self.threshold else None
        # A residual equal, to the bit, to one of the last few: the sweep has reached a
        # fixed point or a short cycle of its rounded arithmetic (float32 at a tol below
        # its reach) and further sweeps cannot lower it.
        return {"x": x, "sweeps": sweeps, "residual": value, "true_residual": true,
                "stalled": value in recent,
                "recent": (recent + (value,))[-RECENT_RESIDUALS:]}

    def init(self):
        x = self.x0
        return self._measured(x, self._residual_of(x), (), 0)

    def _residual_of(self, x):
        return self.system.xp.linalg.vector_norm(self.b - self.system.matvec(x))

    def step(self, state):
        s, x = self.system, state["x"]
        sweeps = state["sweeps"] + 1
        # the residual is needed only where the loop will test it
        matvec = s.matvec if sweeps % self.check_every == 0 else None
        res = self.iteration(s.xp, s.indptr, s.indices, s.data, self.b, x, self.omega,
                             self.order, self.color_ptr, self.symmetric, matvec)
        if res is None:
            return {**state, "x": x, "sweeps": sweeps, "residual": None,
                    "true_residual": None, "stalled": False}
        return self._measured(x, res, state["recent"], sweeps)

    def _measures(self, state):
        """``(residual, true residual or None, stalled)`` of ``state``; what ``step``
        did not measure (a check off its cadence, at ``maxiter``) is computed here and
        not kept."""
        if state["residual"] is not None:
            return state["residual"], state["true_residual"], state["stalled"]
        measured = self._measured(state["x"], self._residual_of(state["x"]),
                                  state["recent"], state["sweeps"])
        return measured["residual"], measured["true_residual"], measured["stalled"]

    def true_residual(self, state):
        res, true, _ = self._measures(state)
        return self.true_norm(self.b, state["x"]) if true is None else true

    def check(self, state):
        res, true, stalled = self._measures(state)
        if res != res or res == float("inf"):
            return Status.NONFINITE
        if res <= self.threshold and true <= self.threshold:
            return Status.SUCCESS
        return Status.STALLED if stalled else None

    def result(self, state):
        up = self.unit.up
        return {"x": up(state["x"]), "residual": up(self.true_residual(state)),
                "omega": self.omega}

    def detail(self, state, status):
        res = self.true_residual(state)
        if res <= self.threshold:
            return ""
        up = self.unit.up
        text = f"Residual norm {up(res):.3e} above the target {up(self.threshold):.3e}."
        if status == Status.STALLED:
            text += (" The iterate stopped changing (or cycles): that residual is the "
                     f"floor in {self.b.dtype}.")
        return text


def sor(A, b, x0=None, *, omega=1.0, symmetric=False, tol=1e-8, atol=0.0, maxiter=10000,
        callback=None, **options):
    """Solve ``A x = b`` by successive over-relaxation (SOR) or symmetric SOR (SSOR).

    Each iteration is one forward Gauss-Seidel sweep relaxed by ``omega`` (or a
    forward then a backward sweep when ``symmetric``). The run stops when
    ``||b - A x|| <= max(tol * ||b||, atol)``.

    Parameters
    ----------
    A : (n, n) array or sparse matrix
        NumPy array or any SciPy sparse format (converted to CSR), or a CuPy array or
        cupyx sparse matrix. Its diagonal must be nonzero (either sign). SOR converges
        for every ``omega`` in (0, 2) when ``A`` is symmetric positive definite (or
        negative definite: SOR on ``A`` and on ``-A`` are the same iteration).
    b : (n,) array
    x0 : (n,) array, optional
        Starting point (zeros by default).
    omega : float
        Relaxation parameter in (0, 2); ``omega = 1`` is Gauss-Seidel.
    symmetric : bool
        Symmetric sweeps (SSOR) instead of forward sweeps.
    tol, atol : float
        Relative and absolute residual tolerances.
    maxiter : int
        Maximum number of iterations (sweeps, or sweep pairs when ``symmetric``).
    callback : callable, optional
        ``callback(intermediate_result)`` after each checked iteration, with ``x`` and
        ``residual``; raise ``StopIteration`` to stop.
    **options
        ``ordering`` : {"auto", "natural", "multicolor"}. ``"natural"`` sweeps rows in
        index order (CPU only); ``"multicolor"`` sweeps one greedy colour class at a
        time (red-black for 5-point stencils), which is what runs in parallel on a GPU.
        ``"auto"``: natural on the CPU, multicolour on the GPU.
        ``check_every`` : int, check the residual every so many iterations (default 1
        on the CPU; on the GPU, where a check is a device sync, the configuration's
        ``gpu_check_every``, see :func:`numopt.set_config`).

    Returns
    -------
    OptimizeResult
        ``x``, ``success``, ``status``, ``message``, ``nit`` (sweeps), ``residual``
        (``||b - A x||``) and ``omega``. ``status`` 4 (stalled) means the residual
        repeated exactly within the last eight checks: the rounded sweep reached a
        fixed point or a short cycle above the target (a float32 solve at a ``tol``
        below its precision), and more sweeps cannot lower it.

    Examples
    --------
    >>> from numopt.problems import poisson_2d
    >>> import numpy as np
    >>> A = poisson_2d(16); b = np.ones(A.shape[0])
    >>> res = sor(A, b, omega=1.7)
    >>> res.success, res.nit < 300
    (True, True)
    """
    xp = get_namespace(A=A, b=b, x0=x0)
    opts = check_options(options, SOR_DEFAULTS, "sor")
    omega = check_scalar(omega, "omega", low=0.0, high=2.0, low_open=True, high_open=True)
    symmetric = check_flag(symmetric, "symmetric")
    tol = check_scalar(tol, "tol", low=0.0)
    atol = check_scalar(atol, "atol", low=0.0)
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    dtype = system_dtype(xp, A, b)
    system = as_csr_system(A, xp, dtype)
    b = as_rhs(b, xp, dtype, system.n)
    x0 = check_x0(x0, xp, dtype, system.n)
    check_nonzero_diagonal(system)
    order, color_ptr = resolve_ordering(system, opts["ordering"])
    check_every = resolve_check_every(opts["check_every"], xp)
    # solve for b / 2**e with max |b| / 2**e in [0.5, 1): unit-free (see Pow2)
    unit = Pow2.of(xp, b)
    solver = _SORSolver(system, unit.down(b), unit.down(x0), omega, symmetric, tol,
                        unit.down(atol), order, color_ptr, check_every, unit)
    return run_solver(solver, maxiter=maxiter, callback=callback, check_every=check_every,
                      xp=xp, disp=opts["disp"])
