"""Sinkhorn's algorithm in kernel (scaling) and log (potential) form, batched.

Both forms keep, for B problems at once, a pair of scalings ``(U, V)`` (kernel) or of
potentials ``(F, G)`` (log) and do one full iteration per ``step``: the row update
then the column update. The row pass also measures, for free, the row-marginal error
of the *previous* pair, whose column marginal is exact, so the error that decides
convergence is the exact L1 marginal error of a pair the solver still holds: the pair
that is returned. Problems that converge are frozen while the others go on.

The kernels below are the array-API reference versions; ``_kernels_numba`` fuses each
iteration into a single pass over the n×m matrix and ``_kernels_cupy`` runs it on a GPU.
"""

from __future__ import annotations

import math

from .._backend import get_kernel, is_cupy, kernel, to_numpy
from .._result import Status
from ._marginals import plan_marginal_error

__all__ = ["SinkhornSolver", "choose_form", "epsilon_schedule", "kernel_underflow_risk",
           "log_weights", "regularizations",
           "relative_error_message"]


@kernel("ot.sinkhorn_kernel_step",
        numba="numopt.ot._kernels_numba:sinkhorn_kernel_step",
        cupy="numopt.ot._kernels_cupy:sinkhorn_kernel_step")
def sinkhorn_kernel_step(xp, K, U, V, A, Bw, active):
    """One Sinkhorn iteration for every problem: returns ``(U_new, V_new, err)``.

    ``err[p]`` is the L1 row-marginal error of ``(U[p], V[p])``. Rows ``p`` of
    problems that are not ``active`` may be skipped (their outputs are then ignored).
    """
    KV = V @ xp.matrix_transpose(K)
    err = xp.sum(xp.abs(U * KV - A), axis=1)
    U_new = A / KV
    V_new = Bw / (U_new @ K)
    return U_new, V_new, err


@kernel("ot.sinkhorn_log_step",
        numba="numopt.ot._kernels_numba:sinkhorn_log_step",
        cupy="numopt.ot._kernels_cupy:sinkhorn_log_step")
def sinkhorn_log_step(xp, M, F, G, logA, logB, reg, active):
    """One log-domain Sinkhorn iteration: returns ``(F_new, G_new, err)``.

    ``err[p]`` is the L1 row-marginal error of the plan ``exp((F + G - M) / reg)``
    of the incoming potentials. Zero weights give ``-inf`` potentials and zero rows.
    """
    T = (G[:, None, :] - M[None, :, :]) / reg
    F_new = reg * (logA - _logsumexp(xp, T, axis=2))
    F_new = xp.where(logA == -math.inf, -math.inf, F_new)
    rows = xp.sum(xp.exp(T + F[:, :, None] / reg), axis=2)
    err = xp.sum(xp.abs(rows - xp.exp(logA)), axis=1)
    S = (F_new[:, :, None] - M[None, :, :]) / reg
    G_new = reg * (logB - _logsumexp(xp, S, axis=1))
    G_new = xp.where(logB == -math.inf, -math.inf, G_new)
    return F_new, G_new, err


@kernel("ot.log_plan", numba="numopt.ot._kernels_numba:log_plan")
def log_plan(xp, M, F, G, reg):
    """The plans exp((F_i + G_j - M_ij)/reg) of a batch of potentials, shape (B, n, m)."""
    return xp.exp((F[:, :, None] + G[:, None, :] - M[None, :, :]) / reg)


def _logsumexp(xp, T, axis):
    top = xp.max(T, axis=axis, keepdims=True)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    return xp.log(xp.sum(xp.exp(T - top), axis=axis)) + xp.squeeze(top, axis=axis)


def kernel_underflow_risk(M, reg, dtype, xp) -> float:
    """How far exp(-M/reg) reaches into the underflow range, as a fraction of it.

    The kernel form multiplies entries of exp(-M/reg) by scalings of size up to about
    exp(range(M)/reg); it stays safe while range(M)/reg uses less than half of the
    exponent range (both scalings together then stay representable).
    """
    spread = float(xp.max(M) - xp.min(M)) / reg
    info = xp.finfo(dtype)
    tiny = float(getattr(info, "smallest_normal", None) or info.tiny)
    return spread / (0.5 * -math.log(tiny))


def epsilon_schedule(reg, spread, factor):
    """Regularizations from about ``spread`` down to ``reg``, each ``factor`` times smaller."""
    regs = []
    current = reg
    while current * factor < spread:
        current *= factor
        regs.append(current)
    return regs[::-1] + [reg]


# the epsilon factor of method="log" (its default; SNS's log-domain run that takes over)
LOG_EPS_FACTOR = 4.0

# epsilon scaling="auto" is on where range(M)/reg exceeds this: below it Sinkhorn at the
# target reg converges about as fast as the schedule would
EPS_SCALING_SPREAD = 50


def regularizations(reg, spread, factor, scaling="auto"):
    """The regularizations a log-domain run goes through: ``[reg]``, or with epsilon
    scaling (``scaling=True``, or ``"auto"`` where ``spread / reg`` >
    EPS_SCALING_SPREAD, ``spread`` being range(M)) the :func:`epsilon_schedule`."""
    if scaling == "auto":
        scaling = spread / reg > EPS_SCALING_SPREAD
    return epsilon_schedule(reg, spread, factor) if scaling else [reg]


def choose_form(method, M, reg, xp):
    """The Sinkhorn form ``method`` runs (``"auto"``: the kernel form where exp(-M/reg)
    is safe from underflow, see :func:`kernel_underflow_risk`, else the log form), and
    the note the message gets for it."""
    if method != "auto":
        return method, ""
    risk = kernel_underflow_risk(M, reg, M.dtype, xp)
    chosen = "kernel" if risk < 1 else "log"
    return chosen, (f" method='auto' chose {chosen!r}: range(M)/reg uses {risk:.0%} of the "
                    f"safe exponent range.")


# iterations without a new lowest marginal error after which a run at its rounding floor
# stops (see SinkhornSolver._at_floor)
STALL_WINDOW = 100


class SinkhornSolver:
    """init/step/check/result for :func:`numopt._loop.run_solver`.

    ``mode`` is ``"kernel"`` or ``"log"``; ``regs`` the regularization schedule (its last
    entry is the target; earlier stages stop at ``stage_tol`` and warm-start the next).
    Both tolerances bound the L1 marginal error relative to each problem's total mass:
    an absolute bound would be met at once by masses near 1e-20 and never by masses
    near 1e20.
    """

    def __init__(self, xp, a, b, M, regs, mode, tol, stage_tol=1e-3, stage_maxiter=1000,
                 with_plan=True, dtype=None, start=None):
        self.xp, self.A, self.Bw, self.M = xp, a, b, M
        self.regs, self.mode, self.tol = list(regs), mode, tol
        self.stage_tol, self.stage_maxiter = stage_tol, stage_maxiter
        self.mass = xp.sum(a, axis=1)
        self.with_plan = with_plan  # False: potentials only (a warm start for SNS)
        # of the scalings or potentials: M's, or float64 over a float32 M for SNS, which
        # reads M in its own dtype (a float64 copy of it would be twice its size)
        self.dtype = M.dtype if dtype is None else dtype
        self.start = start   # log mode: potentials (F, G) to start from (default zeros)
        # The exponent (f_i + g_j - M_ij) / reg is formed from numbers of size max|M|:
        # their rounding, divided by reg, is a relative error of every plan entry, and
        # the marginal error cannot fall much below it (2e-7 of the mass for squared
        # distances up to 9801 at reg = 1e-5 in float64). Only near that floor does a run
        # without a new low stop; above it, Sinkhorn can sit on a plateau for a thousand
        # iterations and then fall again (1-D histograms at small reg).
        self.rounding_floor = float(xp.finfo(self.dtype).eps) * float(
            xp.max(xp.abs(M))) / self.regs[-1]
        self.stall_below = min(1e-3, 1000.0 * self.rounding_floor)
        if mode == "kernel":
            self.K = xp.exp(-M / self.regs[-1])
            _check_kernel_representable(xp, self.K, M, self.regs[-1])
            self.step_kernel = get_kernel("ot.sinkhorn_kernel_step", xp)
        else:
            self.logA, self.logB = log_weights(xp, a), log_weights(xp, b)
            self.step_kernel = get_kernel("ot.sinkhorn_log_step", xp)

    # state: dict with X, Y (scalings or potentials), err (of X, Y), converged mask,
    # stage index, iterations in this stage, valid (err measures the held pair)
    def init(self):
        xp, (B, n), m = self.xp, self.A.shape, self.Bw.shape[1]
        fill = 1.0 if self.mode == "kernel" else 0.0
        dtype = self.dtype
        X, Y = self.start if self.start is not None else (
            xp.full((B, n), fill, dtype=dtype, device=self.M.device),
            xp.full((B, m), fill, dtype=dtype, device=self.M.device))
        return {
            "X": X, "Y": Y,
            "err": xp.full((B,), math.inf, dtype=dtype, device=self.M.device),
            "done": xp.zeros((B,), dtype=xp.bool, device=self.M.device),
            "stage": 0, "stage_nit": 0, "held_stage": 0, "nit": xp.zeros((B,), dtype=xp.int64, device=self.M.device),
            # lowest error of the final stage so far, and iterations since it was set
            "best": xp.full((B,), math.inf, dtype=dtype, device=self.M.device),
            "since_best": xp.zeros((B,), dtype=xp.int64, device=self.M.device),
            # the error below which a problem freezes: tol, halved for a problem whose
            # returned plan then failed the tol (its marginals rounded above it)
            "freeze_tol": xp.full(self.mass.shape, self.tol, dtype=self.mass.dtype,
                                  device=self.mass.device),
            "stop": None,   # the Status a step decided, None: go on
        }

    @property
    def final_stage(self):
        return len(self.regs) - 1

    def step_many(self, s, budget):
        """Up to ``budget`` iterations, fewer when one of them decided a stop: the run
        ends at that iteration whatever the loop's check cadence. On a GPU the stop and
        the epsilon-stage switch are decided at the last iteration of the budget only
        (one device-to-host read-back every ``gpu_check_every`` iterations, not one an
        iteration); the per-problem freezing runs on the device every iteration."""
        ran = 0
        while ran < budget and s["stop"] is None:
            ran += 1
            s = self.step(s, decide=not is_cupy(self.xp) or ran == budget)
        return s, ran

    def step(self, s, decide=True):
        xp = self.xp
        if self.mode == "kernel":
            X_new, Y_new, err = self.step_kernel(xp, self.K, s["X"], s["Y"], self.A, self.Bw,
                                                 ~s["done"])
        else:
            reg = self.regs[s["stage"]]
            X_new, Y_new, err = self.step_kernel(xp, self.M, s["X"], s["Y"],
                                                 self.logA, self.logB, reg, ~s["done"])
        first = s["stage_nit"] == 0 and s["stage"] == 0
        if first:  # the starting pair has no exact column marginal: its error means nothing
            err = xp.full_like(err, math.inf)
        frozen = s["done"]
        if s["stage"] == self.final_stage:
            frozen = frozen | (err <= s["freeze_tol"] * self.mass)
        keep = frozen[:, None]
        s = dict(s)
        s.pop("checked_plan", None)   # the plan check made of the previous pair
        s["X"] = xp.where(keep, s["X"], X_new)
        s["Y"] = xp.where(keep, s["Y"], Y_new)
        s["err"] = xp.where(s["done"], s["err"], err)
        s["nit"] = s["nit"] + xp.astype(~s["done"], xp.int64)
        if s["stage"] == self.final_stage:
            improved = err < s["best"]
            s["best"] = xp.where(improved, err, s["best"])
            s["since_best"] = xp.where(improved, 0, s["since_best"] + 1)
        s["done"] = frozen
        s["stage_nit"] += 1
        s["held_stage"] = s["stage"]   # the stage whose reg the held pair belongs to
        return self._decide(s, err) if decide else s

    def _decide(self, s, err):
        """``s`` moved to the next epsilon stage where ``err`` (this iteration's) meets
        ``stage_tol``, and with its ``stop``, decided on the pair it holds. Where every
        problem is frozen, the plan returned is checked against tol; the problems whose
        plan fails it (its marginals rounded above tol) iterate on towards a halved
        target, and at the rounding floor the stall rule ends them."""
        xp, held = self.xp, s["err"]
        staged = s["stage"] < self.final_stage
        any_nan, all_finite, all_done, done_or_floor, *stage_met = _read_back(xp, (
            xp.any(xp.isnan(held)), xp.all(xp.isfinite(held)), xp.all(s["done"]),
            xp.all(s["done"] | self._at_floor(s)),
            *((xp.all(err <= self.stage_tol * self.mass),) if staged else ())))
        if staged and (s["stage_nit"] >= self.stage_maxiter or stage_met[0]):
            s["stage"] += 1
            s["stage_nit"] = 0
        if any_nan or (s["stage_nit"] > 1 and not all_finite):
            s["stop"] = Status.NONFINITE
            return s
        if s["stage"] != self.final_stage or not done_or_floor:
            return s
        if not self.with_plan:
            s["stop"] = Status.SUCCESS if all_done else Status.STALLED
            return s
        # the frozen pair's error is measured before its plan is formed: success means
        # the plan returned meets tol, the figure the result reports (float32 plans were
        # reported converged at 3e-7 with tol = 1e-7)
        s["checked_plan"] = self.plan(s)   # result reuses it: one plan pass, not two
        failed = plan_marginal_error(xp, s["checked_plan"], self.A, self.Bw) > (
            self.tol * self.mass)
        if not bool(xp.any(failed)):
            s["stop"] = Status.SUCCESS
        elif not all_done:
            s["stop"] = Status.STALLED
        else:
            s["done"] = s["done"] & ~failed
            s["freeze_tol"] = xp.where(failed, 0.5 * s["freeze_tol"], s["freeze_tol"])
        return s

    def check(self, s):
        return s["stop"]

    def _at_floor(self, s):
        """Problems whose error, already below ``stall_below`` of the mass (1e-3, or 1000
        times the rounding floor where that is less), set no new low in the
        last STALL_WINDOW iterations: Sinkhorn's error falls every iteration until the
        rounding floor (about 1e-7 of the mass in float32, where a tol of 1e-9 would
        otherwise run to maxiter), and then wanders there."""
        return (s["since_best"] >= STALL_WINDOW) & (s["best"] <= self.stall_below * self.mass)

    def plan(self, s):
        xp = self.xp
        if self.mode == "kernel":
            P = s["X"][:, :, None] * self.K[None, :, :]
            P *= s["Y"][:, None, :]   # in place: one plan-sized temporary less
            return P
        return get_kernel("ot.log_plan", xp)(xp, self.M, s["X"], s["Y"],
                                            self.regs[s["held_stage"]])

    def potentials(self, s):
        xp, reg = self.xp, self.regs[-1]
        if self.mode == "kernel":
            return reg * log_weights(xp, s["X"]), reg * log_weights(xp, s["Y"])
        return s["X"], s["Y"]

    def result(self, s):
        # A run stopped before the last epsilon stage holds the potentials of that
        # stage's reg: the plan, cost and objective are those of that reg.
        xp, reg = self.xp, self.regs[s["held_stage"]]
        if not self.with_plan:
            f, g = self.potentials(s)
            return {"x": f, "f": f, "g": g, "marginal_error": s["err"], "reg": reg}
        P = s.get("checked_plan")
        P = self.plan(s) if P is None else P
        f, g = self.potentials(s)
        rows, cols = xp.sum(P, axis=2), xp.sum(P, axis=1)
        err = plan_marginal_error(xp, P, self.A, self.Bw)
        # (row dot products: P * M was a plan-sized temporary)
        cost = xp.sum(xp.vecdot(P, self.M[None, :, :], axis=-1), axis=1)
        # <P, M> + reg * sum P (log P - 1), with log P = (f + g - M) / reg on the support
        fun = xp.sum(_finite_product(xp, f, rows), axis=1) + xp.sum(
            _finite_product(xp, g, cols), axis=1) - reg * xp.sum(rows, axis=1)
        return {"x": P, "plan": P, "cost": cost, "fun": fun, "f": f, "g": g,
                "marginal_error": err, "converged": s["done"], "nit_per_problem": s["nit"]}

    def detail(self, s, status):
        xp = self.xp
        if not self.with_plan:
            return ""
        if s["held_stage"] < self.final_stage:
            reg = self.regs[s["held_stage"]]
            return (f"(still at stage {s['held_stage'] + 1} of {len(self.regs)} of epsilon "
                    f"scaling: the plan is that of reg = {reg:.3g})")
        P = s.get("checked_plan")
        P = self.plan(s) if P is None else P
        err = plan_marginal_error(xp, P, self.A, self.Bw)
        if not bool(xp.any(err > self.tol * self.mass)):
            return ""
        # the figure of the plan returned (marginal_error), relative to its mass
        detail = relative_error_message(float(xp.max(err / self.mass)), self.tol)
        if bool(xp.all(s["done"] | self._at_floor(s))):
            floor = self.rounding_floor
            detail += (
                f" It set no new low in {STALL_WINDOW} iterations: near the rounding "
                f"floor in {self.dtype} (about {floor:.1g} of the mass here: eps * "
                f"max|M| / reg{', above tol' if floor > self.tol else ''}), or on a "
                "plateau of slow convergence; loosen tol or raise reg.")
        return detail


def _read_back(xp, conditions):
    """The 0-d boolean arrays ``conditions`` as Python bools: on a GPU in one
    device-to-host copy (each ``bool()`` would be a sync of its own), elsewhere one by
    one (stacking them costs more than reading them on the CPU)."""
    if is_cupy(xp):
        return [bool(flag) for flag in to_numpy(xp.stack(conditions))]
    return [bool(flag) for flag in conditions]


def relative_error_message(relative, tol):
    return (f"The L1 marginal error is {relative:.3g} times the mass > tol = {tol:.3g}.")


def _finite_product(xp, potential, mass):
    """potential * mass, with 0 where the mass is 0 (potentials are -inf there)."""
    positive = mass > 0
    return xp.where(positive, xp.where(positive, potential, 0.0) * mass, 0.0)


def log_weights(xp, x):
    """log(x) with -inf at the zeros of x, and without NumPy's divide-by-zero warning
    (zero weights are valid input)."""
    positive = x > 0
    return xp.where(positive, xp.log(xp.where(positive, x, 1.0)), -math.inf)


def _check_kernel_representable(xp, K, M, reg):
    """Kernel Sinkhorn divides by the row and column sums of exp(-M/reg): a row or
    column that underflows to zero leaves it nothing to scale."""
    if bool(xp.any(xp.max(K, axis=1) == 0)) or bool(xp.any(xp.max(K, axis=0) == 0)):
        spread = float(xp.max(M) - xp.min(M)) / reg
        raise ValueError(
            f"method='kernel' cannot solve this problem: exp(-M/reg) underflows to 0 on "
            f"whole rows or columns (reg = {reg:.3g}, range(M)/reg = {spread:.3g}); use "
            "method='log' or method='auto'")
