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
from . import _rows  # noqa: F401  (declares the kernels)
from .._result import Status
from .._validation import check_seed
from ._data import add_sketch, array_module, residual_detail, residual_stalled, split
from ._spectral import spectral_init


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


def choose_row_solver(choice, rank):
    """``"exact"`` or ``"sketched"`` for the ``row_solver`` option (``"auto"``: by rank)."""
    if choice != "auto":
        return choice
    return "sketched" if rank >= SKETCH_MIN_RANK else "exact"


@dataclass
class _State:
    U: object            # m x k, orthonormal columns
    V: object            # n x k coefficients: completion = U @ V.T
    rel: float = math.inf        # ||P_Omega(U V^T - M)|| / ||P_Omega(M)||
    prev_rel: float = math.inf
    sq: float = math.nan
    n_inner: int = 0
    t: int = 0


class AlternatingSolver:
    """init/step/check/result for :func:`numopt._loop.run_solver`."""

    def __init__(self, xp, obs, rank, *, exact, tol, seed, options):
        self.row_solver = "exact" if exact else choose_row_solver(
            options.get("row_solver", "auto"), rank)
        self.exact = self.row_solver == "exact"
        self.xp, self.obs, self.rank, self.tol = xp, obs, rank, tol
        self.options = options
        self.lib = array_module(xp)     # numpy or cupy: QR beyond the array API
        self.rng = check_seed(seed)
        self.reg = float(options["reg"])
        n_parts = options["sample_splits"]
        if n_parts > 1:
            self.parts = split(obs, n_parts, self.rng)
        else:
            self.parts = [(obs.by_row, obs.by_col, obs.norm)]
        if self.exact:
            self.solve_kernel = get_kernel("completion.exact_rows", xp)
        else:
            self.sketch_size = int(options["sketch_factor"] * rank)
            self.solve_kernel = get_kernel("completion.sketched_rows", xp)
            for by_row, by_col, _ in self.parts:
                add_sketch(by_row, self.sketch_size, self.rng, obs.dtype)
                add_sketch(by_col, self.sketch_size, self.rng, obs.dtype)

    def _solve(self, lines, basis, warm):
        if self.exact:
            C, sq = self.solve_kernel(self.xp, lines.indptr, lines.indices, lines.data,
                                      basis, self.reg)
            return C, sq, 0
        return self.solve_kernel(self.xp, lines.indptr, lines.indices, lines.data, basis,
                                 warm, lines.bucket, lines.sign, self.sketch_size,
                                 self.options["inner_tol"], self.options["max_inner"],
                                 self.reg)

    def init(self):
        U, V = spectral_init(self.obs, self.rank, self.rng, clip=self.options["clip"])
        return _State(U=U, V=V)

    def step(self, state):
        by_row, by_col, norm = self.parts[state.t % len(self.parts)]
        V_new, _, inner_v = self._solve(by_col, state.U, state.V)
        QV, RV = self.lib.linalg.qr(V_new)
        U_warm = state.U @ RV.T                  # same completion, written in basis QV
        U_new, sq, inner_u = self._solve(by_row, QV, U_warm)
        QU, RU = self.lib.linalg.qr(U_new)
        rel = math.sqrt(sq) / norm if norm > 0 else 0.0
        return _State(U=QU, V=QV @ RU.T, rel=rel, prev_rel=state.rel, sq=sq,
                      n_inner=state.n_inner + inner_u + inner_v, t=state.t + 1)

    def check(self, state):
        if math.isnan(state.rel):
            return Status.NONFINITE
        if state.rel <= self.tol:
            return Status.SUCCESS
        if self._stationary(state):
            return Status.SUCCESS   # the fit stopped improving
        return None

    def _stationary(self, state):
        # Each half-step can only lower the training residual (it minimizes it from a warm
        # start that keeps the previous fit), so a rise is rounding: count it as stationary.
        return len(self.parts) == 1 and residual_stalled(
            state.rel, state.prev_rel, self.tol, self.obs.dtype, monotone=True)

    def result(self, state):
        n_obs = self.obs.n_observed
        if len(self.parts) > 1 or math.isnan(state.sq):
            resid = get_kernel("completion.observed_residual", self.xp)(
                self.xp, self.obs.by_row.indptr, self.obs.by_row.indices,
                self.obs.by_row.data, state.U, state.V)
            resid = resid.astype(self.lib.float64)
            sq = float(self.lib.dot(resid, resid))
        else:
            sq = state.sq
        scale = self.obs.scale          # U is orthonormal: V carries M's units
        fields = {"x": state.U, "U": state.U, "V": state.V * scale,
                  "rmse": scale * math.sqrt(sq / n_obs),
                  "relative_residual": math.sqrt(sq) / self.obs.norm if self.obs.norm else 0.0,
                  "row_solver": self.row_solver}
        if not self.exact:
            fields["n_inner"] = state.n_inner
        detail = residual_detail(fields["relative_residual"], self.tol,
                                 self._stationary(state), state.t)
        if detail:
            fields["message_detail"] = detail
        return fields
