"""SoftImpute (Mazumder, Hastie, Tibshirani, JMLR 2010) with sparse-plus-low-rank products.

Each iteration fills the missing entries with the current estimate ``Z = U diag(s) V^T``
and shrinks the singular values of the filled matrix
``X = P_Omega(M - Z) + Z`` by ``lambda``. ``X`` is never formed: its products are
``P_Omega(M - Z) @ Y + U diag(s) (V^T Y)`` (a sparse product plus a rank-k one), and its
top-k SVD is one block power step warm-started at the previous ``V`` (a randomized SVD
whose test matrix is the previous right factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from . import _rows  # noqa: F401  (declares the kernels)
from .._result import Status
from .._validation import check_seed
from ._data import residual_detail, residual_stalled
from ._spectral import randomized_svd


@dataclass
class _State:
    U: object       # m x k orthonormal
    s: object       # k singular values (after shrinkage)
    V: object       # n x k orthonormal
    resid: object   # M - Z on the observed entries (row-major)
    rel: float = math.inf
    prev_rel: float = math.inf
    t: int = 0


class SoftImputeSolver:
    def __init__(self, xp, obs, rank, *, tol, seed, options):
        self.xp, self.obs, self.rank, self.tol = xp, obs, rank, tol
        self.rng = check_seed(seed)
        self.shrinkage = options["shrinkage"]
        self.decay = float(options["shrinkage_decay"])
        self.residual_kernel = get_kernel("completion.observed_residual", xp)
        rows = obs.by_row
        self._pattern = (rows.indices, rows.indptr)

    def _sparse(self, values):
        return sp.csr_matrix((values, *self._pattern), shape=self.obs.shape)

    def _residual(self, U, s, V):
        rows = self.obs.by_row
        return self.residual_kernel(self.xp, rows.indptr, rows.indices, rows.data,
                                    U * s, V)

    def init(self):
        X = self.obs.sparse()
        U, s, Vt = randomized_svd(lambda Y: X @ Y, lambda Y: X.T @ Y, self.obs.shape,
                                  self.rank, self.rng, self.obs.dtype, n_iter=2)
        # fancyimpute's default shrinkage: the top singular value of P_Omega(M) / 50.
        # (lambda in the units of the normalized observations, like s)
        self.lambda0 = (float(s[0]) / 50.0 if self.shrinkage is None
                        else float(self.shrinkage) / self.obs.scale)
        zero = np.zeros(self.rank, dtype=self.obs.dtype)
        return _State(U=U.astype(self.obs.dtype), s=zero, V=Vt.T.astype(self.obs.dtype),
                      resid=self.obs.by_row.data.copy())

    def shrinkage_at(self, t):
        if self.shrinkage is None:
            return self.lambda0 * self.decay ** t
        return self.lambda0

    def step(self, state):
        R = self._sparse(state.resid)
        Us = state.U * state.s
        U, s, Vt = randomized_svd(
            lambda Y: R @ Y + Us @ (state.V.T @ Y),
            lambda Y: R.T @ Y + state.V @ (Us.T @ Y),
            self.obs.shape, self.rank, self.rng, self.obs.dtype, n_iter=0, start=state.V)
        s = np.maximum(s - self.shrinkage_at(state.t), 0.0).astype(self.obs.dtype)
        V = Vt.T
        resid = self._residual(U, s, V)
        rel = float(np.linalg.norm(resid.astype(np.float64))) / self.obs.norm
        return _State(U=U, s=s, V=V, resid=resid, rel=rel, prev_rel=state.rel, t=state.t + 1)

    def _stationary(self, state):
        return residual_stalled(state.rel, state.prev_rel, self.tol, self.obs.dtype,
                                monotone=False)

    def check(self, state):
        if math.isnan(state.rel):
            return Status.NONFINITE
        if state.rel <= self.tol or self._stationary(state):
            return Status.SUCCESS
        return None

    def result(self, state):
        sq = float(np.sum(state.resid.astype(np.float64) ** 2))
        # Singular vectors are defined up to sign: fix it (largest entry of each column
        # of V positive) so that the result does not depend on rounding.
        pivot = state.V[np.argmax(np.abs(state.V), axis=0), np.arange(self.rank)]
        flip = np.where(pivot < 0, -1.0, 1.0).astype(self.obs.dtype)
        U, V = state.U * flip, state.V * flip
        scale = self.obs.scale          # back to M's units
        fields = {"x": U, "U": U, "V": V * (state.s * scale),
                  "singular_values": state.s * scale,
                  "rmse": scale * math.sqrt(sq / self.obs.n_observed),
                  "relative_residual": state.rel if math.isfinite(state.rel) else 1.0,
                  "shrinkage": scale * self.shrinkage_at(max(state.t - 1, 0))}
        detail = residual_detail(fields["relative_residual"], self.tol,
                                 self._stationary(state), state.t)
        if detail:
            fields["message_detail"] = detail
        return fields
