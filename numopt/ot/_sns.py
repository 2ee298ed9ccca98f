"""Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao,
Ying, "Accelerating Sinkhorn algorithm with sparse Newton iterations", ICLR 2024).

Stage 1: log-domain Sinkhorn (with epsilon scaling) until the marginal error is below
``warmup_tol``. Stage 2: Newton ascent on the concave Lyapunov potential

    L(f, g) = <f, a> + <g, b> - reg * sum_ij exp((f_i + g_j - M_ij) / reg),

whose negated Hessian is (1/reg) [[diag(P1), P], [P^T, diag(P^T 1)]]. P is sparsified
to the largest entries of each row (at most ``max_nnz_per_row``, each at least
``drop_tol`` times its row mass) while the diagonal keeps the exact marginals, so the
matrix stays diagonally dominant; the Newton system is solved by Jacobi-preconditioned
CG and the step chosen by backtracking on L (or on the marginal error, which stays
measurable when L no longer changes in floating point). Where the kept entries carry
less than ``min_kept`` of the plan's mass (large reg: a dense plan), the sparse model is
poor and Sinkhorn converges fast anyway, so the solver takes Sinkhorn steps there.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._backend import get_kernel, is_numpy, kernel
from .._loop import run_solver
from .._result import OptimizeResult, Status
from ._marginals import equal_mass
from ._support import embed_plan, embed_potentials, restrict, weight_support
from ._sinkhorn import (LOG_EPS_FACTOR, SinkhornSolver, regularizations,
                        relative_error_message)

__all__ = ["solve_sns"]

# Newton gives up (log-domain Sinkhorn takes over) when its first NEWTON_PATIENCE steps
# never get below the error it started from, or when NEWTON_STALL steps in a row do not
# halve its lowest error. On 1-D histograms with squared distances up to 9801 at
# reg <= 1e-3, CG hits cg_maxiter on every step and the steps raise the error from
# 5e-2 to 0.2 (4949 line searches of 4949 failed, 32-44 s to maxiter). Where Newton
# works the error halves every step or two; the slowest seen (a warm-up cut to 3
# iterations) went 89 steps between halvings and then converged.
# Where range(M)/reg > STEEP (1-D grids with costs up to 9801 at reg <= 1e-2) the
# window is NEWTON_STALL_STEEP: there Newton went 219 steps halving its error now and
# then, 5x the time of log Sinkhorn, which then did the work anyway.
NEWTON_PATIENCE = 20
NEWTON_STALL = 100
NEWTON_STALL_STEEP = 10
STEEP = 1e5


@kernel("ot.sns_evaluate", numba="numopt.ot._kernels_numba:sns_evaluate")
def sns_evaluate(xp, M, f, g, reg, drop_tol, cap):
    """Plan P = exp((f + g - M)/reg): its total, row and column sums, and its sparsified
    rows as CSR ``(data, indices, indptr)``. Reference version (NumPy, dense)."""
    P = np.exp((f[:, None] + g[None, :] - M) / reg)
    rows, cols = P.sum(axis=1), P.sum(axis=0)
    cap = min(cap, M.shape[1])
    top = np.argpartition(-P, cap - 1, axis=1)[:, :cap]
    mask = np.zeros(P.shape, dtype=bool)
    np.put_along_axis(mask, top, True, axis=1)
    mask &= P >= drop_tol * rows[:, None]
    S = sp.csr_array(np.where(mask, P, 0.0))
    return float(P.sum()), rows, cols, (S.data, S.indices, S.indptr)


@kernel("ot.sns_hessian_matvec", numba="numopt.ot._kernels_numba:sns_hessian_matvec")
def sns_hessian_matvec(xp, data, indices, indptr, rows, cols, x):
    """[[diag(rows), P], [P^T, diag(cols)]] @ x for P in CSR ``(data, indices, indptr)``.
    Reference version (scipy.sparse); the Numba kernel reads P once for both products."""
    n, m = rows.shape[0], cols.shape[0]
    P = sp.csr_array((data, indices, indptr), shape=(n, m))
    top, bottom = x[:n], x[n:]
    return np.concatenate([rows * top + P @ bottom, cols * bottom + P.T @ top])


class _NewtonSolver:
    """Newton ascent on L from the potentials ``(f, g)``, for at most ``budget``
    iterations: a Newton step is one, each Sinkhorn step taken instead is one more.
    Its counters live in the state and reach the result through ``stats``."""

    def __init__(self, a, b, M, reg, f, g, tol, drop_tol, cap, cg_rtol, cg_maxiter, min_kept,
                 budget):
        self.a, self.b, self.M, self.reg, self.tol = a, b, M, reg, tol
        self.mass = float(a.sum())   # tol is relative to it, as in Sinkhorn
        self.drop_tol, self.cap = drop_tol, cap
        self.cg_rtol, self.cg_maxiter = cg_rtol, cg_maxiter
        self.evaluate = get_kernel("ot.sns_evaluate", np)
        self.matvec = get_kernel("ot.sns_hessian_matvec", np)
        self.start = (f, g)
        self.budget = budget   # iterations left to this stage (maxiter minus the warm-up)
        self.min_kept = min_kept
        steep = (float(np.max(M)) - float(np.min(M))) / reg > STEEP
        self.stall_window = NEWTON_STALL_STEEP if steep else NEWTON_STALL

    def _point(self, f, g):
        total, rows, cols, sparse = self.evaluate(np, self.M, f, g, self.reg, self.drop_tol,
                                                  self.cap)
        err = float(np.abs(rows - self.a).sum() + np.abs(cols - self.b).sum())
        value = float(f @ self.a + g @ self.b - self.reg * total)
        kept = float(sparse[0].sum()) / total if total > 0 else 0.0
        return {"f": f, "g": g, "rows": rows, "cols": cols, "sparse": sparse,
                "err": err, "value": value, "kept": kept}

    def init(self):
        point = self._point(*self.start)
        # Newton steps since the lowest error was set: past NEWTON_PATIENCE, Newton
        # gives up and log-domain Sinkhorn takes over (see solve_sns)
        return {"point": point, "start_err": point["err"], "lowest": math.inf,
                "started": math.inf, "since_halved": 0, "newton_nit": 0,
                "cg_iterations": 0, "line_search_failures": 0, "sinkhorn_steps": 0,
                "newton_steps": 0, "gave_up": False}

    @staticmethod
    def spent(s):
        """Iterations taken: Newton steps plus Sinkhorn iterations (nit counts both)."""
        return s["newton_steps"] + s["sinkhorn_steps"]

    def step_many(self, s, budget):
        """One Newton step, or one run of up to ten Sinkhorn steps where the sparse
        model does not fit: ``ran`` is the iterations it took (``budget`` is what is
        left of ``maxiter``, the loop's check cadence being ``maxiter``), and the loop
        checks after each."""
        before = self.spent(s)
        s = self._step(s, budget)
        return s, self.spent(s) - before

    def _step(self, s, budget):
        s = dict(s)
        point = s["point"]
        if point["kept"] < self.min_kept:
            # The plan is too dense for the sparse Hessian to be a good model (large reg):
            # there, Sinkhorn itself converges fast, so take Sinkhorn steps.
            # (ten at a time, but never past maxiter)
            s["point"] = self._sinkhorn_fallback(s, point, iterations=int(min(10, budget)))
            return s
        s["newton_steps"] += 1
        n, m = self.M.shape
        data, indices, indptr = point["sparse"]
        rows, cols = point["rows"], point["cols"]

        # The Hessian is (1/reg) K with K = [[diag(rows), P], [P^T, diag(cols)]]: CG runs
        # on K d' = grad and d = reg d' (the same iterates), so that K's entries, in units
        # of mass, meet no 1/reg factor that overflows CG's dot products at tiny reg
        def hessian_times(x):
            return self.matvec(np, data, indices, indptr, rows, cols, x)

        H = spla.LinearOperator((n + m, n + m), matvec=hessian_times, dtype=float)
        grad = np.concatenate([self.a - rows, self.b - cols])
        diag = np.concatenate([rows, cols])
        precond = spla.LinearOperator(H.shape, matvec=lambda x: x / diag, dtype=float)
        count = [0]

        def counter(_):
            count[0] += 1

        direction, _ = spla.cg(H, grad, rtol=self.cg_rtol, maxiter=self.cg_maxiter,
                               M=precond, callback=counter)
        direction *= self.reg
        s["cg_iterations"] += count[0]
        slope = float(grad @ direction)
        step = 1.0
        for _ in range(30):
            # a too-long trial step may overflow the plan: it is rejected below (its
            # error is not finite), so the overflow is expected, not worth a warning
            with np.errstate(over="ignore", invalid="ignore"):
                trial = self._point(point["f"] + step * direction[:n],
                                    point["g"] + step * direction[n:])
            if math.isfinite(trial["err"]) and (
                    trial["value"] >= point["value"] + 1e-4 * step * slope
                    or trial["err"] < point["err"]):
                return self._progress(s, trial)
            step *= 0.5
        s["line_search_failures"] += 1
        # (the Newton step took one iteration of the budget)
        return self._progress(s, self._sinkhorn_fallback(s, point) if budget > 1 else point)

    def _progress(self, s, point):
        s["point"] = point
        if s["lowest"] == math.inf:   # the error Newton started from
            s["lowest"] = s["started"] = s["start_err"]
        s["newton_nit"] += 1
        if point["err"] <= 0.5 * s["lowest"] or (s["lowest"] == s["started"]
                                                 and point["err"] < s["lowest"]):
            s["lowest"], s["since_halved"] = point["err"], 0
        else:
            s["since_halved"] += 1
        s["gave_up"] = (s["lowest"] == s["started"] and s["newton_nit"] >= NEWTON_PATIENCE
                        or s["since_halved"] >= self.stall_window)
        return s

    def _sinkhorn_fallback(self, s, point, iterations=1):
        """Log-domain Sinkhorn iterations: progress where Newton stalls or does not fit.
        Counts them in ``s`` and returns the point they reach."""
        step = get_kernel("ot.sinkhorn_log_step", np)
        F, G = point["f"][None, :], point["g"][None, :]
        logA, logB = np.log(self.a)[None, :], np.log(self.b)[None, :]
        for _ in range(iterations):
            F, G, _ = step(np, self.M, F, G, logA, logB, self.reg, np.ones(1, dtype=bool))
        s["sinkhorn_steps"] += iterations
        return self._point(F[0], G[0])

    def check(self, s):
        err = s["point"]["err"]
        if not math.isfinite(err):
            return Status.NONFINITE
        if err <= self.tol * self.mass:
            return Status.SUCCESS
        return Status.STALLED if s["gave_up"] else None

    def result(self, s):
        f, g, err = s["point"]["f"], s["point"]["g"], s["point"]["err"]
        plan = get_kernel("ot.log_plan", np)(np, self.M, f[None, :], g[None, :],
                                             self.reg)[0].astype(self.M.dtype, copy=False)
        return {"x": plan, "plan": plan, "f": f, "g": g, "marginal_error": err,
                "stats": {"nit_newton": s["newton_steps"],
                          "cg_iterations": s["cg_iterations"],
                          "nit_sinkhorn_fallback": s["sinkhorn_steps"]}}

    def detail(self, s, status):
        err = s["point"]["err"]
        if err <= self.tol * self.mass:
            return ""
        return relative_error_message(err / self.mass, self.tol)


def solve_sns(xp, a, b, M, reg, **options):
    """SNS on the support of ``a`` and ``b``: points of zero weight carry no mass, so
    they get zero rows or columns of the plan and ``-inf`` potentials (as in the other
    Sinkhorn methods), and the Newton system keeps a positive diagonal."""
    if not is_numpy(xp):
        raise TypeError("sinkhorn(method='sns') needs NumPy input (it uses scipy.sparse)")
    support = weight_support(a, b)
    if support is None:
        return _solve_sns(a, b, M, reg, **options)
    res = _solve_sns(a[support[0]], b[support[1]], restrict(M, support), reg, **options)
    res.x = res.plan = embed_plan(res.plan, support, M.shape)
    res.f, res.g = embed_potentials(res.f, res.g, support, M.shape, -np.inf)
    return res


def _solve_sns(a, b, M, reg, *, tol, maxiter, callback, disp, warmup_tol, warmup_maxiter,
               max_nnz_per_row, drop_tol, cg_rtol, cg_maxiter, eps_factor, min_kept):
    dtype = M.dtype
    m = M.shape[1]
    cap = max(20, math.ceil(0.1 * m)) if max_nnz_per_row is None else int(max_nnz_per_row)
    cap = min(max(cap, 1), m)
    a64, b64 = (np.asarray(x, dtype=np.float64) for x in (a, b))
    b64 = equal_mass(np, a64, b64)   # float32 weights differ in mass by ~1e-8
    # M stays in its dtype: the kernels compute in float64 from it (a float32 M is
    # exact in float64), and a float64 copy of a float32 M was twice its size
    M64 = M
    spread = float(M64.max()) - float(M64.min())
    regs = regularizations(reg, spread, eps_factor)
    warm = SinkhornSolver(np, a64[None, :], b64[None, :], M64, regs, "log",
                          tol=max(tol, warmup_tol), stage_tol=max(tol, 1e-2), with_plan=False,
                          dtype=np.float64)
    # (one iteration kept back for the map to the target reg below, so nit <= maxiter)
    warm_res = run_solver(warm, maxiter=min(max(maxiter - 1, 0), warmup_maxiter))
    f0, g0 = warm_res.f[0], warm_res.g[0]
    warmup_nit = warm_res.nit
    if warm_res.reg != reg and warmup_nit < maxiter:
        # The warm-up stopped (warmup_maxiter) in an earlier epsilon stage: its potentials
        # would overflow exp((f + g - M) / reg). One log-domain Sinkhorn iteration at the
        # target reg maps them to finite ones (log-sum-exp cannot overflow).
        step = get_kernel("ot.sinkhorn_log_step", np)
        F, G, _ = step(np, M64, f0[None, :], g0[None, :], np.log(a64)[None, :],
                       np.log(b64)[None, :], reg, np.ones(1, dtype=bool))
        f0, g0 = F[0], G[0]
        warmup_nit += 1
    budget = max(0, maxiter - warmup_nit)
    newton = _NewtonSolver(a64, b64, M64, reg, f0, g0, tol, drop_tol,
                           cap, cg_rtol, cg_maxiter, min_kept, budget)
    # below the rounding floor of the plan (see SinkhornSolver) no step can meet tol;
    # Newton's line searches then fail one after another, so log-domain Sinkhorn runs
    # to its floor and stops there
    floor = np.finfo(np.float64).eps * float(np.max(np.abs(M64))) / reg
    below_floor = tol < 0.1 * floor   # (the estimate is pessimistic by up to ~6x)
    # (check_every = the budget: each step_many gets what is left of it, for its
    # Sinkhorn steps, and returns after one Newton step or one run of Sinkhorn steps)
    res = (run_solver(newton, maxiter=budget, callback=callback, disp=disp,
                      check_every=max(budget, 1))
           if not below_floor else
           OptimizeResult(status=Status.STALLED, nit=0, nit_newton=0, cg_iterations=0,
                          nit_sinkhorn_fallback=0))
    newton_steps, newton_spent = res["nit_newton"], res["nit"]
    fields = dict(res)
    sinkhorn_nit = 0
    if res.status == Status.STALLED:
        # from the start, as method="log" runs: the potentials Newton leaves behind
        # (error up to 0.2) or those of the loose warm-up were worse starts than the
        # epsilon schedule itself
        schedule = regularizations(reg, spread, LOG_EPS_FACTOR)
        log = SinkhornSolver(np, a64[None, :], b64[None, :], M64, schedule, "log", tol,
                             stage_tol=max(tol, 1e-4), dtype=np.float64)
        rest = run_solver(log, maxiter=max(0, budget - newton_spent))
        sinkhorn_nit = rest.nit
        plan = rest["plan"][0]  # one array for x and plan, as the other paths give
        fields.update(x=plan, plan=plan, f=rest["f"][0], g=rest["g"][0])
        fields.update(success=rest.success, status=rest.status, message=(
            f"{rest.message} (" + (f"Newton steps stopped lowering the marginal error "
                                   f"after {newton_steps} steps"
                                   if newton_steps else
                                   f"tol is below the rounding floor, about {floor:.1g} of "
                                   f"the mass: no Newton step") +
            "; log-domain Sinkhorn took over)"))
    plan = fields["plan"]   # in M's dtype, formed directly from the float64 potentials
    # the figure of the plan returned: a float32 plan rounds each entry, which moves
    # its marginals by about 1e-8 of the mass, above what the float64 plan met
    rows, cols = plan.sum(axis=1, dtype=np.float64), plan.sum(axis=0, dtype=np.float64)
    fields["marginal_error"] = err = float(np.abs(rows - a64).sum()
                                           + np.abs(cols - b64).sum())
    if fields["success"] and not err <= tol * newton.mass:
        fields.update(success=False, status=int(Status.STALLED), message=(
            f"{Status.STALLED.message} The float64 plan met tol; rounded to {dtype}: "
            f"{relative_error_message(err / newton.mass, tol)} That is the rounding floor "
            f"of {dtype}: loosen tol."))
    # iterations: Sinkhorn warm-up + Newton steps + Sinkhorn steps taken instead of Newton
    fields["nit"] = warmup_nit + newton_spent + sinkhorn_nit
    fields["nit_warmup"] = warmup_nit
    fields["nit_sinkhorn_fallback"] = res["nit_sinkhorn_fallback"] + sinkhorn_nit
    fields["cost"] = float(np.einsum("ij,ij->", plan, M, dtype=np.float64))
    fields["fun"] = float(fields["f"] @ rows + fields["g"] @ cols - reg * plan.sum(dtype=np.float64))
    for name in ("f", "g"):
        fields[name] = fields[name].astype(dtype, copy=False)
    return OptimizeResult(fields)
