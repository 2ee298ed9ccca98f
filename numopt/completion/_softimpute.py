"""SoftImpute (Mazumder, Hastie, Tibshirani, JMLR 2010) with sparse-plus-low-rank products.

Each iteration fills the missing entries with the current estimate ``Z = U diag(s) V^T``
and shrinks the singular values of the filled matrix
``X = P_Omega(M - Z) + Z`` by ``lambda``: ``Z <- T(Z) = S_lambda(X)``, keeping at most
``k`` of them. ``X`` is never formed: its products are
``P_Omega(M - Z) @ Y + U diag(s) (V^T Y)`` (a sparse product plus a rank-k one), and its
top-k SVD is one block power step warm-started at the previous ``V`` (a randomized SVD
whose test matrix is the previous right factor).

The run solves the regularized problem at one ``lambda``, so its success measure is the
fixed-point residual ``||T(Z) - Z||_F / ||P_Omega(M)||_F`` of the returned ``Z``, with
``T`` computed exactly (a dense or ARPACK SVD of the filled matrix, in float64). The
change between consecutive iterates, which is that residual with the iteration's
one-step SVD, decides when to compute it.

The method is CPU-only (``complete`` rejects GPU input for it): beyond the dense size,
its exact fixed-point map runs SciPy's ARPACK on a SciPy ``LinearOperator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._backend import get_kernel
from .._result import Status
from .._validation import check_seed
from . import _rows  # noqa: F401  (declares the kernels)
from ._observations import observed_csr, observed_misfit, sparse_module
from ._spectral import randomized_svd
from ._stopping import ROUNDING_FLOOR_ULPS, StopsInStep, stall_detail, unmet_detail

# fancyimpute's default shrinkage (and Mazumder, Hastie, Tibshirani's rule of thumb): the
# largest singular value of the zero-filled observations over 50.
DEFAULT_SHRINKAGE_FRACTION = 1.0 / 50.0
# The iterates' change is not monotone (the one-step SVD is inexact, and rounding moves
# it at its floor): the fit has stalled when the change has not reached a new minimum in
# this many iterations at the final shrinkage, at the rounding floor of the dtype, or in
# ten times as many anywhere (with a binding rank cap the change can hover for 100
# iterations before it decreases again: 40 x 30, rank 10, half observed).
STALL_PATIENCE = 20
# The exact fixed-point map forms the filled matrix densely when it is this small (or
# when min(m, n) leaves ARPACK too little room above k), and uses ARPACK's SVD otherwise.
DENSE_ENTRIES = 250_000


@dataclass
class _State:
    U: object       # m x k orthonormal
    s: object       # k singular values (after shrinkage)
    V: object       # n x k orthonormal
    resid: object   # M - Z on the observed entries (row-major), working precision
    lam: float      # the shrinkage of the step that produced this iterate
    change: float = math.inf     # ||Z - Z_previous||_F / ||P_Omega(M)||_F (float64)
    best_change: float = math.inf
    since_best: int = 0          # iterations at the final shrinkage without a new best
    t: int = 0
    # the exact fixed-point residual of this iterate (NaN until needed): the measure
    # that success is decided on
    checked: float = math.nan
    stop: Status | None = None   # decided by step (see _stopping)


def _difference_norm(xp, A1, B1, A2, B2):
    """``||A1 B1^T - A2 B2^T||_F`` in float64 without forming either product: the
    triangular factors of ``[A1, -A2]`` and ``[B1, B2]`` carry it, and the QR keeps its
    rounding relative to the difference's factors, not to the products' squares."""
    A = xp.concat([A1, -A2], axis=1).astype(xp.float64)
    B = xp.concat([B1, B2], axis=1).astype(xp.float64)
    return float(xp.linalg.norm(xp.linalg.qr(A).R @ xp.linalg.qr(B).R.T))


def _change_norm(xp, U1, s1, V1, U0, s0, V0):
    """``||U1 diag(s1) V1^T - U0 diag(s0) V0^T||_F`` (all four factors orthonormal) in
    float64, in O((m + n) k^2): split along the column space of ``U1``, the difference
    is ``U1 E`` plus ``(U0 - U1 C) diag(s0) V0^T`` with ``C = U1^T U0``, two orthogonal
    parts whose entries are formed directly (no squares of the iterates cancel)."""
    U1, V1, U0, V0 = (a.astype(xp.float64) for a in (U1, V1, U0, V0))
    s1, s0 = s1.astype(xp.float64), s0.astype(xp.float64)
    C = U1.T @ U0
    E = (V1 * s1).T - C @ (V0 * s0).T
    outside = (U0 - U1 @ C) * s0
    return math.sqrt(float(xp.sum(E * E)) + float(xp.sum(outside * outside)))


class SoftImputeSolver(StopsInStep):
    """init/step(_many)/check/result/detail for :func:`numopt._loop.run_solver`."""

    def __init__(self, xp, obs, rank, *, tol, seed, options):
        self.xp, self.obs, self.rank, self.tol = xp, obs, rank, tol
        self.rng = check_seed(seed)
        self.shrinkage = options["shrinkage"]
        self.decay = float(options["shrinkage_decay"])
        self.residual_kernel = get_kernel("completion.observed_residual", xp)
        rows = obs.by_row
        self._pattern = (rows.indices, rows.indptr)
        X = observed_csr(obs, xp)
        self._start = randomized_svd(lambda Y: X @ Y, lambda Y: X.T @ Y, obs.shape, rank,
                                     self.rng, obs.dtype, xp=xp, n_iter=2)
        self.sigma_max = float(self._start[1][0])    # of P_Omega(M), normalized units
        self.target = (self.sigma_max * DEFAULT_SHRINKAGE_FRACTION if self.shrinkage is None
                       else float(self.shrinkage) / obs.scale)
        # result and detail both read the final iterate's fixed-point residual, an SVD:
        # (state, residual) of the last iterate it was computed for outside step
        self._last_checked = (None, math.nan)

    def _sparse(self, values):
        return sparse_module(self.xp).csr_matrix((values, *self._pattern),
                                                 shape=self.obs.shape)

    def _residual(self, U, s, V):
        rows = self.obs.by_row
        return self.residual_kernel(self.xp, rows.indptr, rows.indices, rows.data,
                                    U * s, V)

    def init(self):
        U, _, Vt = self._start
        zero = self.xp.zeros(self.rank, dtype=self.obs.dtype)
        return _State(U=U.astype(self.obs.dtype), s=zero, V=Vt.T.astype(self.obs.dtype),
                      resid=self.obs.by_row.data.copy(), lam=self.shrinkage_at(-1))

    def shrinkage_at(self, t):
        """The shrinkage of step ``t``: a warm-started path from ``sigma_max`` down by
        ``shrinkage_decay`` per step to the target (or to the default shrinkage, if the
        target is below it), then the target from there on."""
        lam = self.sigma_max * self.decay ** (t + 1)
        floor = max(self.target, self.sigma_max * DEFAULT_SHRINKAGE_FRACTION)
        return lam if lam > floor else self.target

    def step(self, state):
        lam = self.shrinkage_at(state.t)
        R = self._sparse(state.resid)
        Us = state.U * state.s
        U, s, Vt = randomized_svd(
            lambda Y: R @ Y + Us @ (state.V.T @ Y),
            lambda Y: R.T @ Y + state.V @ (Us.T @ Y),
            self.obs.shape, self.rank, self.rng, self.obs.dtype, xp=self.xp, n_iter=0,
            start=state.V)
        s = self.xp.maximum(s - lam, 0.0).astype(self.obs.dtype)
        V = Vt.T
        resid = self._residual(U, s, V)
        change = _change_norm(self.xp, U, s, V, state.U, state.s, state.V) / self.obs.norm
        final = lam == self.target
        best, since = state.best_change, state.since_best
        if final and change < best:
            best, since = change, 0
        elif final:
            since += 1
        new = _State(U=U, s=s, V=V, resid=resid, lam=lam, change=change, best_change=best,
                     since_best=since, t=state.t + 1)
        stalled = self._stalled(best, since)
        if final and (change <= self.tol or stalled):
            new.checked = self.fixed_point_residual(new)
        if math.isnan(change):
            new.stop = Status.NONFINITE
        elif new.checked <= self.tol:
            new.stop = Status.SUCCESS
        elif stalled:
            new.stop = Status.STALLED
        return new

    def _stalled(self, best_change, since_best):
        floor = ROUNDING_FLOOR_ULPS * float(self.xp.finfo(self.obs.dtype).eps)
        patience = STALL_PATIENCE if best_change <= floor else 10 * STALL_PATIENCE
        return since_best >= patience

    def fixed_point_residual(self, state):
        """``||T(Z) - Z||_F / ||P_Omega(M)||_F`` for the returned ``Z = U (V diag(s))^T``
        (the product ``V diag(s)`` rounded as the result rounds it), with the exact
        SoftImpute map ``T`` at the target shrinkage (top-``k`` SVD of the filled matrix,
        singular values shrunk), all in float64."""
        obs, k = self.obs, self.rank
        m, n = obs.shape
        xp = self.xp
        left = state.U.astype(xp.float64)
        right = (state.V * state.s).astype(xp.float64)
        rows = obs.by_row
        gap = self.residual_kernel(self.xp, rows.indptr, rows.indices,
                                   rows.data.astype(xp.float64), left, right)
        G = self._sparse(gap)        # P_Omega(M - Z)
        if m * n <= DENSE_ENTRIES or min(m, n) <= 2 * k + 10:
            X = left @ right.T + G.toarray()
            P, sigma, Qt = xp.linalg.svd(X, full_matrices=False)
            P, sigma, Q = P[:, :k], sigma[:k], Qt[:k].T
        else:
            from scipy.sparse.linalg import LinearOperator, svds

            X = LinearOperator(
                (m, n), dtype=np.float64,
                matvec=lambda y: G @ y + left @ (right.T @ y),
                rmatvec=lambda y: G.T @ y + right @ (left.T @ y),
                matmat=lambda Y: G @ Y + left @ (right.T @ Y),
                rmatmat=lambda Y: G.T @ Y + right @ (left.T @ Y))
            start = np.random.default_rng(0).standard_normal(min(m, n))
            P, sigma, Qt = svds(X, k=k, tol=0, v0=start)
            Q = Qt.T
        shrunk = xp.maximum(sigma - self.target, 0.0)
        norm = obs.norm if obs.norm > 0 else 1.0
        return _difference_norm(xp, P * shrunk, Q, left, right) / norm

    def _checked(self, state):
        """The fixed-point residual of ``state``: computed by its step on a candidate
        stop, else here (once per state)."""
        if not math.isnan(state.checked):
            return state.checked
        if self._last_checked[0] is not state:
            self._last_checked = (state, self.fixed_point_residual(state))
        return self._last_checked[1]

    def result(self, state):
        checked = self._checked(state)
        # Singular vectors are defined up to sign: fix it (largest entry of each column
        # of V positive) so that the result does not depend on rounding.
        xp = self.xp
        pivot = state.V[xp.argmax(xp.abs(state.V), axis=0), xp.arange(self.rank)]
        flip = xp.where(pivot < 0, -1.0, 1.0).astype(self.obs.dtype)
        U, Vs = state.U * flip, (state.V * state.s) * flip   # the measures' rounding
        sq, rel = observed_misfit(self.obs, U, Vs, self.xp)
        scale = self.obs.scale          # back to M's units (a power of two: exact)
        fields = {"x": U, "U": U, "V": Vs * scale,
                  "singular_values": state.s * scale,
                  "rmse": scale * math.sqrt(sq / self.obs.n_observed),
                  "relative_residual": rel, "fixed_point_residual": checked,
                  "shrinkage": scale * self.target}
        return fields

    def detail(self, state, status):
        checked = self._checked(state)
        if status == Status.STALLED:
            return stall_detail("fixed-point residual", checked, self.tol, self.obs.dtype)
        return unmet_detail("fixed-point residual", checked, self.tol, state.t)
