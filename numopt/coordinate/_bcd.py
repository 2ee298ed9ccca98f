"""Block coordinate descent: partitions, selection rules, updates (Nutini et al., 2022).

:class:`BCDSolver` composes three small strategy objects: a partition
(``_bcd_partitions``: how coordinates are grouped into blocks), a rule (``_bcd_rules``:
which block next) and an update (``_bcd_updates``: how the block moves). Each
iteration picks one block and moves it; the problem object keeps the gradient up to
date incrementally, so an iteration costs what the block touches plus ``O(n)`` for the
selection rule, never a full gradient evaluation.

Some configurations also exist fused into one compiled loop (selection, step and
incremental gradient): :func:`batch_path` asks the problem for it
(``problem.compiled_batch(scheme)``), and :class:`CompiledBCDSolver` runs it.
"""

from __future__ import annotations

import math

from .._backend import is_numpy
from .._result import Status
from .._validation import check_seed
from ._bcd_partitions import FIXED_PARTITIONS, PARTITIONS, make_partition
from ._bcd_rules import RULES, SAMPLING_RULES, make_rule
from ._bcd_updates import UPDATES, make_update
from ._glm_objects import min_norm_subgradient

__all__ = ["BCDSolver", "CompiledBCDSolver", "batch_path", "FIXED_PARTITIONS", "PARTITIONS",
           "RULES", "SAMPLING_RULES", "UPDATES"]

#: (partition, update) -> the scheme name of the fused loop, for the GS and GSL rules
_COMPILED_SCHEMES = {("variable", "lipschitz"): "greedy_lipschitz",
                     ("forest", "message_passing"): "forest_message_passing"}


def batch_path(problem, partition, rule, update):
    """The problem's compiled batch for this configuration (a callable, see
    :meth:`CompiledBCDSolver.step_many`), or None: GS and GSL rules on NumPy arrays,
    with the schemes the problem offers (sparse GLMs and sparse softmax regression:
    variable blocks and Lipschitz steps; sparse quadratics: forest blocks and message
    passing)."""
    scheme = _COMPILED_SCHEMES.get((partition, update))
    if scheme is None or rule not in ("gs", "gsl") or not is_numpy(problem.xp):
        return None
    offer = getattr(problem, "compiled_batch", None)
    return None if offer is None else offer(scheme)


class BCDSolver:
    """``run_solver`` object for :func:`numopt.coordinate.bcd`: one iteration per step.

    The state is the problem's (``x``, its gradient, the problem's auxiliary vector)
    with the run's counters: ``nit`` (the cyclic rule's position), ``nfev`` (line-search
    evaluations), ``L_scale`` (the last backtracked constant) and ``rng`` (the random
    rules' generator, seeded afresh by ``init``)."""

    def __init__(self, problem, x0, *, partition, rule, update, block_size, tol, seed,
                 backtrack_factor=2.0):
        self.pb, self.xp = problem, problem.xp
        self.block_size, self.tol = block_size, tol
        check_seed(seed)   # a bad seed fails here, not at the first random choice
        self.seed = seed
        self.x0 = x0
        xp = self.xp
        L = problem.lipschitz
        # coordinates without curvature are refused by init unless they never move
        self.L = xp.where(L > 0, L, xp.ones_like(L))
        self.partition = make_partition(problem, partition, block_size, self.L)
        self.rule = make_rule(rule, problem, self.L)
        self.update = make_update(update, problem, self.L, backtrack_factor)

    # ---------------------------------------------------------------- state & checks
    def init(self):
        xp, pb = self.xp, self.pb
        x = xp.asarray(self.x0, copy=True)
        st = pb.init(x)
        st.nit, st.nfev, st.L_scale = 0, 0, None
        st.rng = check_seed(self.seed)
        self._check_bounded(st)
        return st

    def _subgradient(self, st):
        pb = self.pb
        return min_norm_subgradient(self.xp, st.x, pb.grad(st), pb.l1, pb.positive)

    def _check_bounded(self, st):
        """A coordinate without curvature (zero diagonal of a PSD ``Q``: its column is
        zero, so its gradient never changes) whose minimum-norm subgradient is not zero
        makes the objective linear and unbounded below along it: no minimiser, and a
        step ``g / 0``."""
        xp, pb = self.xp, self.pb
        s = self._subgradient(st)
        flat = (pb.lipschitz == 0) & (s != 0)
        if bool(xp.any(flat)):
            i = int(xp.argmax(xp.astype(flat, xp.int32)))
            raise ValueError(f"problem is unbounded below: coordinate {i} has zero "
                             f"curvature (a zero diagonal entry or zero column) but the "
                             f"non-zero gradient {float(s[i]):.3e}")

    def optimality(self, st):
        return float(self.xp.max(self.xp.abs(self._subgradient(st))))

    def check(self, st):
        m = self.optimality(st)
        if not math.isfinite(m):
            return Status.NONFINITE
        return Status.SUCCESS if m <= self.tol else None

    def result(self, st):
        return {"x": st.x, "fun": self.pb.objective(st), "optimality": self.optimality(st),
                "stats": {"nfev": st.nfev}}

    def detail(self, st, status):
        m = self.optimality(st)
        if m <= self.tol:
            return ""
        return f"The optimality measure {m:.3e} is above the tolerance {self.tol:.3e}."

    # ------------------------------------------------------------------------- step
    def step(self, st):
        block = self.rule.select(st, self.partition)
        if block.indices.shape[0]:
            self.update.apply(st, block, self.partition)
        st.nit += 1
        return st


class CompiledBCDSolver(BCDSolver):
    """The configurations of :func:`batch_path`: ``step_many`` runs the iterations the
    loop asks for in one compiled call, which stops by itself at the first iterate
    meeting ``tol`` (so the result is the per-call split's, whatever the budgets)."""

    def __init__(self, problem, x0, *, partition, rule, update, block_size, tol, seed,
                 backtrack_factor=2.0):
        super().__init__(problem, x0, partition=partition, rule=rule, update=update,
                         block_size=block_size, tol=tol, seed=seed,
                         backtrack_factor=backtrack_factor)
        self.batch = batch_path(problem, partition, rule, update)
        self.scaled = rule == "gsl"

    def step_many(self, st, budget):
        # the loop checks before every call, so the kernel's own test (the same
        # measure against the same tol) lets at least one iteration run
        ran, _ = self.batch(st, self.L, self.block_size, self.scaled, budget, self.tol)
        st.nit += ran
        return st, ran
