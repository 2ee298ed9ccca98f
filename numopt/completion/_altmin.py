"""Alternating minimization: robust (sketched, inexact) and exact (ALS) per-row updates.

The state is an orthonormal basis of one side and the coefficients of the other, so
that the completion is always ``U @ V.T``. One iteration solves every column given
``U``, orthonormalizes, then solves every row given the new column basis and
orthonormalizes again. The coefficients of the previous iterate, rotated into the new
basis, warm-start the inexact solver: that is what lets a few preconditioned CG steps
per row replace the exact solve (Gu, Song, Yin, Zhang, ICLR 2024).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._backend import get_kernel
from .._result import Status
from .._validation import check_seed
from . import _rows  # noqa: F401  (declares the kernels)
from ._observations import add_sketch, observed_misfit, split
from ._spectral import spectral_init
from ._stopping import StopsInStep, residual_stalled, stall_detail, unmet_detail


# Below this rank ``row_solver="auto"`` solves each row exactly. The exact solve forms
# the k x k Gram matrix, n_i k^2 flops in one BLAS-3 call. The sketched solve costs the
# sketch's s k^2 plus n_i k (2 + 4 * steps) flops in matrix-vector products, with four
# to five CG steps per row. In flops the sketch pays once k exceeds 2 + 4 * steps (about
# 20); the Gram matrix runs at BLAS-3 speed, so the measured crossover lies higher.
# Measured per iteration, 2000 x 2000, 10 k observations per row, sketched / exact
# (median of five paired runs; asv_benchmarks/scaling_completion.py --crossover):
# 1.7 at k = 8, 1.4-1.5 at 12-20, 0.93-1.06 at 24-32 (within the noise), 0.85 at 48,
# 0.63 at 64.
SKETCH_MIN_RANK = 32

# Below identifiable_count observations (and without a reg of the caller's), every row
# solve gets the ridge UNDERSAMPLED_RIDGE * p * min(1, rel): p, the sampling rate, is the
# scale of the Gram matrices in an orthonormal basis, and rel, the relative training
# residual of the iterate, makes the ridge vanish as the fit interpolates, so exact
# recovery stays exact. Without it the per-row problems of a thinly observed matrix are
# nearly singular and ALS filled the missing entries with up to 1e3-1e4 times the
# largest observation (500 x 10, rank 5, 20% observed); with it the fill stays within
# 1.2x the data, and the runs that interpolate still reach 1e-10 (0.1 was chosen over
# 0.01, fill up to 2.3x, and 1, which stalls the fit at a training residual near 0.1).
UNDERSAMPLED_RIDGE = 0.1


def choose_row_solver(choice, rank):
    """``"exact"`` or ``"sketched"`` for the ``row_solver`` option (``"auto"``: by rank)."""
    if choice != "auto":
        return choice
    return "sketched" if rank >= SKETCH_MIN_RANK else "exact"


@dataclass
class _State:
    U: object            # m x k, orthonormal columns
    V: object            # n x k coefficients: completion = U @ V.T
    rel: float = math.inf        # ||P_Omega(U V^T - M)|| / ||P_Omega(M)||, as solved
    prev_rel: float = math.inf
    sq: float = math.nan
    n_inner: int = 0
    t: int = 0
    # the same two figures recomputed in float64 from U and V (NaN until needed): the
    # measure that success is decided on
    checked_sq: float = math.nan
    checked_rel: float = math.nan
    stationary: bool = False     # the fit stopped improving (residual_stalled)
    stop: Status | None = None   # decided by step (see _stopping)


class AlternatingSolver(StopsInStep):
    """init/step(_many)/check/result/detail for :func:`numopt._loop.run_solver`."""

    def __init__(self, xp, obs, rank, *, exact, tol, seed, options, auto_ridge=False):
        self.row_solver = "exact" if exact else choose_row_solver(
            options.get("row_solver", "auto"), rank)
        self.exact = self.row_solver == "exact"
        self.xp, self.obs, self.rank, self.tol = xp, obs, rank, tol
        self.options = options
        self.rng = check_seed(seed)
        self.reg = float(options["reg"])
        # the residual-scaled ridge of thinly observed matrices (UNDERSAMPLED_RIDGE)
        self.ridge_scale = (UNDERSAMPLED_RIDGE * obs.n_observed / math.prod(obs.shape)
                            if auto_ridge else 0.0)
        n_parts = options["sample_splits"]
        if n_parts > 1:
            parts = split(obs, n_parts, self.rng, xp)
        else:
            parts = [(obs.by_row, obs.by_col, obs.norm)]
        if self.exact:
            self.solve_kernel = get_kernel("completion.exact_rows", xp)
        else:
            self.sketch_size = int(options["sketch_factor"] * rank)
            self.solve_kernel = get_kernel("completion.sketched_rows", xp)
            parts = [(add_sketch(by_row, self.sketch_size, self.rng, obs.dtype),
                      add_sketch(by_col, self.sketch_size, self.rng, obs.dtype), norm)
                     for by_row, by_col, norm in parts]
        self.parts = parts

    def _solve(self, lines, basis, warm, reg):
        if self.exact:
            C, sq = self.solve_kernel(self.xp, lines.indptr, lines.indices, lines.data,
                                      basis, reg)
            return C, sq, 0
        return self.solve_kernel(self.xp, lines.indptr, lines.indices, lines.data, basis,
                                 warm, lines.bucket, lines.sign, self.sketch_size,
                                 self.options["inner_tol"], self.options["max_inner"], reg)

    def init(self):
        U, V = spectral_init(self.obs, self.rank, self.rng, self.xp, clip=self.options["clip"],
                             products=self._products())
        return _State(U=U, V=V)

    def _products(self):
        """The products with ``P_Omega(M)`` of the spectral start (None: in this
        process)."""
        return None

    def _misfit(self, U, V):
        """``(sq, rel)`` recomputed in float64 from the factors ``U``, ``V``."""
        return observed_misfit(self.obs, U, V, self.xp)

    def step(self, state):
        by_row, by_col, norm = self.parts[state.t % len(self.parts)]
        reg = self.reg + self.ridge_scale * min(1.0, state.rel)
        V_new, _, inner_v = self._solve(by_col, state.U, state.V, reg)
        QV, RV = self.xp.linalg.qr(V_new)
        U_warm = state.U @ RV.T                  # same completion, written in basis QV
        U_new, sq, inner_u = self._solve(by_row, QV, U_warm, reg)
        QU, RU = self.xp.linalg.qr(U_new)
        rel = math.sqrt(sq) / norm if norm > 0 else 0.0
        new = _State(U=QU, V=QV @ RU.T, rel=rel, prev_rel=state.rel, sq=sq,
                     n_inner=state.n_inner + inner_u + inner_v, t=state.t + 1)
        new.stationary = self._stationary(rel, state.rel)
        if rel <= self.tol or new.stationary:
            # a candidate stop: decide it on the returned factors (float64), not on the
            # residual the row solves accumulated in working precision
            new.checked_sq, new.checked_rel = self._misfit(new.U, new.V)
        if math.isnan(rel):
            new.stop = Status.NONFINITE
        elif new.checked_rel <= self.tol:
            new.stop = Status.SUCCESS
        elif new.stationary:
            new.stop = Status.STALLED   # the fit stopped improving above tol
        return new

    def _stationary(self, rel, prev_rel):
        # Each half-step can only lower the training residual (it minimizes it from a warm
        # start that keeps the previous fit), so a rise is rounding: count it as stationary.
        # The residual-scaled ridge changes the problem between iterations, so there only a
        # rise at the rounding level counts.
        return len(self.parts) == 1 and residual_stalled(
            rel, prev_rel, self.tol, self.obs.dtype, monotone=self.ridge_scale == 0.0)

    def _measure(self, state):
        """``(sq, rel)`` recomputed in float64 from the iterate's factors."""
        if math.isnan(state.checked_rel):
            return self._misfit(state.U, state.V)
        return state.checked_sq, state.checked_rel

    def result(self, state):
        sq, rel = self._measure(state)
        scale = self.obs.scale          # U is orthonormal: V carries M's units
        fields = {"x": state.U, "U": state.U, "V": state.V * scale,
                  "rmse": scale * math.sqrt(sq / self.obs.n_observed),
                  "relative_residual": rel, "row_solver": self.row_solver}
        if not self.exact:
            fields["stats"] = {"n_inner": state.n_inner}
        return fields

    def detail(self, state, status):
        rel = self._measure(state)[1]
        if status == Status.STALLED:
            return stall_detail("relative training residual", rel, self.tol, self.obs.dtype)
        return unmet_detail("relative training residual", rel, self.tol, state.t)
