"""Conjugate gradients, plain and preconditioned, with SciPy's stopping rule and
iterates; fused Numba/CuPy vector updates."""

from __future__ import annotations

import math

import numpy as np

from .._backend import get_kernel, get_namespace, is_cupy, is_numpy, kernel
from .._loop import resolve_check_every, run_solver
from .._result import OptimizeResult, Status
from .._units import Pow2
from .._validation import check_options, check_scalar
from ._residual import wide_residual_norm
from ._validation import as_operator, as_rhs, check_x0, operator_like, system_dtype

CG_DEFAULTS = {"check_every": None}


@kernel("linalg.cg_update",
        numba="numopt.linalg._kernels_numba:cg_update",
        cupy="numopt.linalg._kernels_cupy:cg_update")
def cg_update(xp, x, r, p, q, alpha):
    """``x += alpha p``, ``r -= alpha q`` in place; returns ``r . r``."""
    x += alpha * p
    r -= alpha * q
    return xp.vecdot(r, r)


@kernel("linalg.csr_matvec_dot",
        cupy="numopt.linalg._kernels_cupy:csr_matvec_dot")
def csr_matvec_dot(xp, indptr, indices, data, p, q):
    """``q <- A p`` in place for CSR ``A`` and return ``p . q``: one fused pass on the GPU
    (it saves cupyx's per-call SpMV set-up and a separate dot); a row loop here, for
    checking it. On the CPU SciPy's SpMV plus a BLAS dot is faster than a Numba loop
    (measured), so NumPy input never comes here."""
    n = p.shape[0]
    for i in range(n):
        start, stop = int(indptr[i]), int(indptr[i + 1])
        q[i] = xp.sum(data[start:stop] * xp.take(p, indices[start:stop]))
    return xp.vecdot(p, q)


@kernel("linalg.cg_direction",
        numba="numopt.linalg._kernels_numba:cg_direction",
        cupy="numopt.linalg._kernels_cupy:cg_direction")
def cg_direction(xp, p, z, beta):
    """``p <- z + beta p`` in place (SciPy's ``p *= beta; p += z``)."""
    p *= beta
    p += z
    return p


@kernel("linalg.fused_cg", cupy="numopt.linalg._cg_cupy:fused_cg")
def fused_cg(xp, csr, M, b, x0, threshold, check_every, unit):
    """A solver that runs whole (P)CG iterations in a few fused launches, or ``None``
    where there is none: here, and on the GPU for anything but a cupyx CSR ``A``
    (``csr``) with no preconditioner or :func:`ssor_preconditioner`'s. ``None`` means
    the generic :class:`_CGSolver` runs, with the per-operation kernels above."""
    return None


class _CGSolver:
    """(P)CG on ``A x = b / 2**unit.exp`` (see :class:`Pow2`); ``result`` reports ``x``
    and the residual in the caller's units."""

    def __init__(self, xp, matvec, psolve, b, x0, threshold, csr=None, unit=Pow2()):
        self.xp, self.matvec, self.psolve, self.b, self.x0 = xp, matvec, psolve, b, x0
        self.threshold, self.unit = threshold, unit
        # the fused SpMV + dot kernel pays on the GPU only (see csr_matvec_dot)
        self.csr = csr if is_cupy(xp) else None
        self.matvec_dot = get_kernel("linalg.csr_matvec_dot", xp) if self.csr else None
        self.update = get_kernel("linalg.cg_update", xp)
        # NumPy: BLAS dot (array-api-compat's vecdot goes through matmul and broadcasting)
        self.dot = np.dot if is_numpy(xp) else xp.vecdot
        self.direction = get_kernel("linalg.cg_direction", xp)

    def init(self):
        xp = self.xp
        x = self.x0
        r = self.b - self.matvec(x) if bool(xp.any(x != 0)) else xp.asarray(self.b, copy=True)
        return {"x": x, "r": r, "p": None, "q": None, "rho": None, "rr": xp.vecdot(r, r),
                "breakdown": False}

    def step(self, s):
        xp = self.xp
        r = s["r"]
        z = r if self.psolve is None else self.psolve(r)
        rho = s["rr"] if self.psolve is None else self.dot(r, z)
        if s["p"] is None:
            p = xp.asarray(z, copy=True)
        else:
            p = self.direction(xp, s["p"], z, rho / s["rho"])
        if self.csr is not None:
            q = xp.empty_like(p) if s["q"] is None else s["q"]
            pq = self.matvec_dot(xp, *self.csr, p, q)
            s["q"] = q
        else:
            q = self.matvec(p)
            pq = self.dot(p, q)
        if isinstance(pq, float) or is_numpy(xp):
            s["breakdown"] = s["breakdown"] or not float(pq) > 0
            if not float(pq) != 0:  # alpha = rho / 0: keep the last (finite) iterate
                s.update(p=p, rho=rho)
                return s
        alpha = rho / pq
        rr = self.update(xp, s["x"], r, p, q, alpha)
        s.update(p=p, rho=rho, rr=rr)
        return s

    def residual(self, s):
        return math.sqrt(max(float(s["rr"]), 0.0))

    def converged(self, s):
        # SciPy's strict test, plus an exactly zero residual (tol = atol = 0), where the
        # next step would divide 0 by 0
        res = self.residual(s)
        return res < self.threshold or res == 0.0

    def check(self, s):
        res = self.residual(s)
        if res != res or res == math.inf:
            return Status.NONFINITE
        if self.converged(s):
            return Status.SUCCESS
        if s["breakdown"]:
            return Status.STALLED
        return None

    def result(self, s):
        return {"x": self.unit.up(s["x"]), "residual": self.unit.up(self.residual(s))}

    def detail(self, s, status):
        if self.converged(s):
            return ""
        return cg_detail(s["breakdown"], self.unit.up(self.residual(s)),
                          self.unit.up(self.threshold))


def cg_detail(breakdown, residual, threshold):
    """The message of a (P)CG run that did not converge, in the caller's units."""
    if breakdown:
        return "p^T A p <= 0: A (or the preconditioner) is not symmetric positive definite."
    return f"Residual norm {residual:.3e} above the target {threshold:.3e}."


def cg(A, b, x0=None, *, M=None, tol=1e-5, atol=0.0, maxiter=None, callback=None,
       rtol=None, **options):
    """Solve ``A x = b`` for symmetric positive definite ``A`` by (preconditioned)
    conjugate gradients.

    The stopping rule and the iterates are SciPy's (:func:`scipy.sparse.linalg.cg`):
    stop when the updated residual satisfies ``||r|| < max(atol, tol * ||b||)``.

    Parameters
    ----------
    A : (n, n) array, sparse matrix or LinearOperator
        NumPy array, SciPy sparse matrix, ``scipy.sparse.linalg.LinearOperator``, or
        their CuPy / cupyx counterparts.
    b : (n,) array
    x0 : (n,) array, optional
    M : matrix or LinearOperator, optional
        Preconditioner approximating ``A^{-1}`` (SciPy's convention), for instance
        :func:`ssor_preconditioner`.
    tol, atol : float
        Relative and absolute tolerances; ``rtol`` is accepted as SciPy's name for
        ``tol`` and wins when given.
    maxiter : int, optional
        Default ``10 n`` (SciPy's).
    callback : callable, optional
        ``callback(intermediate_result)`` with ``x`` and ``residual``; raise
        ``StopIteration`` to stop.
    **options
        ``check_every`` : int, read the convergence test on the host every so many
        iterations (default 1 on the CPU; on the GPU, where each read is a device sync,
        the configuration's ``gpu_check_every``, see :func:`numopt.set_config`). For a
        cupyx CSR ``A`` (alone or with :func:`ssor_preconditioner`) the test itself
        runs on the device every iteration and freezes ``x`` at the iteration SciPy
        stops at, so ``x`` and ``nit`` are SciPy's and only up to ``check_every - 1``
        idle launches follow; other GPU input may run up to ``check_every - 1``
        extra iterations (``nit`` then counts them).

    Returns
    -------
    OptimizeResult
        ``x``, ``success``, ``status``, ``message``, ``nit`` and ``residual``
        (``||b - A x||`` of the returned ``x``). Success needs this true residual below
        the target as well as the updated one SciPy's rule tests: where rounding leaves
        them apart, CG restarts from ``x`` (residual replacement), and ends with status
        4 (stalled) at the attainable accuracy, returning the best ``x`` of the runs,
        when restarts stop helping. The true residual and ``||b||`` in the target are
        computed in a wider precision than the solve: float64 for float32 input,
        NumPy's ``longdouble`` for float64 matrices on the CPU (``aslinearoperator``
        of one included; float64 for other float64 LinearOperators and GPU input, the
        widest they take).

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.problems import poisson_2d
    >>> A = poisson_2d(32); b = np.ones(A.shape[0])
    >>> res = cg(A, b, tol=1e-8)
    >>> bool(res.success), bool(np.linalg.norm(b - A @ res.x) < 1e-6)
    (True, True)
    """
    xp = get_namespace(b=b, x0=x0, A=None if operator_like(A) else A,
                       M=None if M is None or operator_like(M) else M)
    opts = check_options(options, CG_DEFAULTS, "cg")
    tol = check_scalar(tol if rtol is None else rtol, "rtol" if rtol is not None else "tol",
                       low=0.0)
    atol = check_scalar(atol, "atol", low=0.0)
    dtype = system_dtype(xp, A, b)
    matvec, n, csr, held = as_operator(A, xp, dtype, "A")
    b = as_rhs(b, xp, dtype, n)
    x0 = check_x0(x0, xp, dtype, n)
    psolve = None
    if M is not None:
        psolve, m, _, _ = as_operator(M, xp, dtype, "M")
        if m != n:
            raise ValueError(f"M has shape ({m}, {m}), expected ({n}, {n}) to match A")
    maxiter = 10 * n if maxiter is None else check_scalar(maxiter, "maxiter", low=0,
                                                           integer=True)
    check_every = resolve_check_every(opts["check_every"], xp)
    # solve for b / 2**e with max |b| / 2**e in [0.5, 1): unit-free (see Pow2); CG's
    # iterates are linear in b, so this changes no digit for data in the normal range
    unit = Pow2.of(xp, b)
    b, x0, atol = unit.down(b), unit.down(x0), unit.down(atol)
    b_norm = float(xp.linalg.vector_norm(b))
    threshold = max(atol, tol * b_norm)
    if b_norm == 0.0:
        return OptimizeResult.from_status(Status.SUCCESS, x=xp.zeros(n, dtype=dtype),
                                          nit=0, residual=0.0)

    fused = get_kernel("linalg.fused_cg", xp)

    def run(start, budget):
        solver = fused(xp, csr, M, b, start, threshold, check_every, unit)
        if solver is None:
            solver = _CGSolver(xp, matvec, psolve, b, start, threshold, csr, unit)
        return run_solver(solver, maxiter=budget, callback=callback,
                          check_every=check_every, xp=xp, disp=opts["disp"])

    residual_norm, wide = wide_residual_norm(held, xp, dtype)
    # the target success is judged against, with ||b|| in the same wide precision
    target = max(atol, tol * float(xp.linalg.vector_norm(xp.astype(b, wide))))

    def true_residual(res):
        return residual_norm(b, unit.down(res.x))

    def restart(x):  # a fresh array: the run updates its start in place
        return xp.asarray(unit.down(x), copy=True)

    return _verified(run, true_residual, restart, x0, maxiter, target, unit, dtype)


# restarts allowed after the updated residual met the target but the true one did not
MAX_RESTARTS = 5


def _verified(run, true_residual, restart, x0, maxiter, target, unit, dtype):
    """Run CG, and accept its convergence only if the true residual ``||b - A x||`` meets
    the target too. The updated residual that SciPy's rule tests drifts from the true
    one by rounding and goes on falling below it (float32 at tol 1e-15 reported success
    with a true relative residual of 2.5e-5, an ill-conditioned float64 solve at tol
    1e-15 with 1e-12). Where they disagree, CG restarts from ``x`` with the true
    residual (residual replacement); once a restart no longer halves the true residual,
    that is the attainable accuracy and the run ends STALLED. Where they agree (every
    solve within the precision) nothing changes: SciPy's iterates, ``nit`` and ``x``.
    ``residual`` is always the true residual of the returned ``x``, and ``target`` the
    bound it must stay under, both computed in a precision wider than the solve's where
    one is at hand (see ``wide_residual_norm``). ``restart(x)`` is the next run's start: a
    copy, since the run updates it in place and ``x`` may be the best one kept."""
    res = run(x0, maxiter)
    nit, true, previous, restarts = res.nit, true_residual(res), math.inf, 0
    met = true < target or true == 0.0
    best = (true, res.x)
    while res.success and not met:
        if nit >= maxiter or restarts == MAX_RESTARTS or not true <= 0.5 * previous:
            true, x = best   # a last restart may have gained nothing: return the best x
            detail = (f"The updated residual met the target {unit.up(target):.3e} but "
                      f"the true residual ||b - A x|| is {unit.up(true):.3e}: the "
                      f"attainable accuracy in {np.dtype(dtype).name} for this system.")
            res = OptimizeResult.from_status(Status.STALLED, detail, x=x, nit=nit)
            break
        previous, restarts = true, restarts + 1
        res = run(restart(res.x), maxiter - nit)
        nit += res.nit
        true = true_residual(res)
        met = true < target or true == 0.0
        if true < best[0]:
            best = (true, res.x)
    if res.status == Status.MAXITER:   # quote the true residual, which is reported
        res = OptimizeResult.from_status(
            Status.MAXITER, f"Residual norm {unit.up(true):.3e} above the target "
            f"{unit.up(target):.3e}.", x=res.x, nit=nit)
    res["nit"] = nit
    res["residual"] = unit.up(true)
    return res
