"""Numba kernels: the per-sample loops of the variance-reduced methods for the matrix
operators (NumPy input). Each is the reference loop of
:mod:`numopt.monotone._variance_reduced` without the Python overhead: one component
difference touches one block of columns of ``M`` (or one row of a game's ``A``), and the
projection runs in place.

Operator kinds (``numopt.monotone._operators.OPERATOR_KINDS``): 0, ``F(z) = M z + q``
split by column blocks (the kernels get ``M^T`` in C order, so that a column of ``M`` is
a contiguous row); 1, the
game ``F(x, y) = (A^T y, -A x) + q`` split by the rows of ``A``.
"""

import math

import numpy as np
from numba import njit

from ._variance_reduced import page_probability


@njit(cache=True, nogil=True)
def _project_simplex(v, radius, candidates):
    """In place; returns the threshold."""
    tau = _simplex_threshold(v, radius, candidates)
    for j in range(v.shape[0]):
        v[j] = max(v[j] - tau, 0.0)
    return tau


@njit(cache=True, nogil=True)
def _simplex_threshold(v, radius, candidates):
    """The threshold ``tau`` of the projection onto the simplex (the projection is
    ``max(v - tau, 0)``): Michelot's fixed point on a filtered candidate set, no sort. The
    threshold ``tau`` of the projection is at least ``max(v) - radius`` (the largest
    entry keeps at most ``radius``), so only the entries above that bound can stay
    active: one pass collects them, and Michelot's sweeps (``tau`` = mean excess of the
    candidates; drop those at or below it; repeat until none drops) run on that short
    list. Each sweep only raises ``tau`` and shrinks the list, and it ends at the exact
    threshold. At d = 500, on the Policeman-Burglar game's iterates (medians, loaded
    2-core machine): near its sparse equilibrium (8 active entries) 6-8 us instead of
    24 us for Condat's algorithm, at the uniform start (all active) 6-8 us instead of
    14-16 us.

    The first pass also sums the entries and finds the smallest: when every entry lies
    above ``(sum - radius) / d`` the whole vector is active and that is ``tau`` (the
    value Michelot's first sweep computes, bit for bit), so one subtraction pass ends
    it (VR-FoRB's inner iterates on the game at n = 500 are all active: 3.3 -> 2.4 us
    per inner step)."""
    d = v.shape[0]
    vmax = v[0]
    vmin = v[0]
    total = 0.0
    for j in range(d):
        y = v[j]
        total += y
        if y > vmax:
            vmax = y
        if y < vmin:
            vmin = y
    tau = (total - radius) / d
    if vmin > tau:
        return tau
    bound = vmax - radius
    count = 0
    total = 0.0
    for j in range(d):
        if v[j] > bound:
            candidates[count] = v[j]
            total += v[j]
            count += 1
    tau = (total - radius) / count
    for _ in range(d):
        kept = 0
        total = 0.0
        for t in range(count):
            y = candidates[t]
            if y > tau:
                candidates[kept] = y
                total += y
                kept += 1
        if kept == count:
            break
        count = kept
        tau = (total - radius) / count
    return tau


@njit(cache=True, nogil=True)
def _simplex_threshold_from(v, radius, tau):
    """The same threshold by Michelot's sweeps over the whole vector started from a
    guess (the threshold of the previous projection in a per-sample loop, whose
    iterates move little from step to step). A sweep replaces ``tau`` with the mean
    excess ``(sum_{v_j > tau} v_j - radius) / #{v_j > tau}``: from above the threshold
    one sweep lands at or below it, from below the sweeps rise to it, and it stops when a
    sweep keeps the same entries, so the value is the cold routine's, bit for bit (the
    same entries summed in the same order). NaN when it has not settled in eight sweeps
    or no entry lies above the guess: the caller then runs the cold routine."""
    d = v.shape[0]
    for _ in range(8):
        total = 0.0
        count = 0
        for j in range(d):
            if v[j] > tau:
                total += v[j]
                count += 1
        if count == 0:
            return np.nan
        new = (total - radius) / count
        if new == tau:
            return tau
        tau = new
    return np.nan


@njit(cache=True, nogil=True)
def _project(kinds, starts, stops, pa, pb, z, work, taus):
    """In place, block by block; ``work`` is scratch of ``z``'s length and ``taus``
    holds each simplex block's last threshold (NaN: none yet), the warm start of the
    next projection."""
    for blk in range(kinds.shape[0]):
        kind = kinds[blk]
        part = z[starts[blk]:stops[blk]]
        if kind == 1:
            tau = np.nan
            if not math.isnan(taus[blk]):
                tau = _simplex_threshold_from(part, pa[blk], taus[blk])
            if math.isnan(tau):
                tau = _simplex_threshold(part, pa[blk], work)
            taus[blk] = tau
            for j in range(part.shape[0]):
                part[j] = max(part[j] - tau, 0.0)
        elif kind == 2:
            for j in range(part.shape[0]):
                part[j] = min(max(part[j], pa[blk]), pb[blk])
        elif kind == 3:
            norm = math.sqrt(np.sum(part * part))
            if norm > pa[blk]:
                part *= pa[blk] / norm


@njit(cache=True, nogil=True)
def _full(kind, M, q, z, out):
    """``out = F(z)``; ``M`` is the kernel data's matrix (``M^T`` for kind 0). Plain
    loops over the rows of the C-ordered matrix, not ``@``: Numba's matrix product
    compiles BLAS bindings into every kernel that calls this (seconds per kernel and
    dtype), and a snapshot comes once per ``1/p`` steps."""
    if kind == 0:
        for r in range(out.shape[0]):
            out[r] = q[r]
        for j in range(M.shape[0]):
            zj = z[j]
            for r in range(M.shape[1]):
                out[r] += zj * M[j, r]
    else:
        rows, c = M.shape
        for r in range(c):
            out[r] = q[r]
        for i in range(rows):
            yi = z[c + i]
            dot = 0.0
            for r in range(c):
                out[r] += yi * M[i, r]
                dot += M[i, r] * z[r]
            out[c + i] = q[c + i] - dot


@njit(cache=True, nogil=True)
def _add_difference(kind, M, ptr, cols, i, scale, z, w, out):
    """out += scale * (F_i(z) - F_i(w)), F_i = n * (component i of M); kind 0 reads
    column ``j`` of ``M`` as row ``j`` of the kernel data's ``M^T``."""
    n = ptr.shape[0] - 1
    s = scale * n
    if kind == 0:
        d = M.shape[1]
        for p in range(ptr[i], ptr[i + 1]):
            j = cols[p]
            dj = s * (z[j] - w[j])
            if dj != 0.0:
                for r in range(d):
                    out[r] += dj * M[j, r]
    else:
        c = M.shape[1]
        dy = s * (z[c + i] - w[c + i])
        dx = 0.0
        for r in range(c):
            out[r] += dy * M[i, r]
            dx += M[i, r] * (z[r] - w[r])
        out[c + i] -= s * dx


@njit(cache=True, nogil=True)
def _vr_eg(kind, M, q, ptr, cols, kinds, starts, stops, pa, pb,
           z, w, Fw, alpha, gamma, p, coins, indices):
    n = ptr.shape[0] - 1
    d = z.shape[0]
    zbar = np.empty(d, z.dtype)
    zh = np.empty(d, z.dtype)
    g = np.empty(d, z.dtype)
    work = np.empty(d, z.dtype)
    taus = np.full(kinds.shape[0], np.nan)
    calls = 0
    for t in range(coins.shape[0]):
        for r in range(d):
            zbar[r] = alpha * z[r] + (1.0 - alpha) * w[r]
            zh[r] = zbar[r] - gamma * Fw[r]
        _project(kinds, starts, stops, pa, pb, zh, work, taus)
        g[:] = Fw
        _add_difference(kind, M, ptr, cols, indices[t], 1.0, zh, w, g)
        for r in range(d):
            z[r] = zbar[r] - gamma * g[r]
        _project(kinds, starts, stops, pa, pb, z, work, taus)
        calls += 2
        if coins[t] < p:
            w[:] = z
            _full(kind, M, q, w, Fw)
            calls += n
    return calls


def _prox_arrays(prox, dim):
    return prox.blocks(dim)


def vr_eg_round(xp, op, prox, z, w, Fw, alpha, gamma, p, coins, indices):
    kind, M, q, ptr, cols = op.kernel_data
    calls = _vr_eg(kind, M, q, ptr, cols, *_prox_arrays(prox, z.shape[0]), z, w, Fw,
                   alpha, gamma, p, coins, indices)
    return z, w, Fw, calls


# the schedule is written once, in the reference module, and compiled here
_page_probability = njit(cache=True, nogil=True)(page_probability)


@njit(cache=True, nogil=True)
def _halpern_page(kind, M, q, ptr, cols, kinds, starts, stops, pa, pb,
                  u0, u, u_prev, Ft, T, k0, eta, coins, indices):
    """In place on ``u``, ``u_prev``, ``Ft`` and ``T`` (the last forward-backward
    point)."""
    n = ptr.shape[0] - 1
    d = u.shape[0]
    b = indices.shape[1]
    work = np.empty(d, u.dtype)
    taus = np.full(kinds.shape[0], np.nan)
    calls = 0
    for t in range(coins.shape[0]):
        k = k0 + t
        if coins[t] < _page_probability(k, n):
            _full(kind, M, q, u, Ft)
            calls += n
        else:
            for j in range(b):
                _add_difference(kind, M, ptr, cols, indices[t, j], 1.0 / b, u, u_prev, Ft)
            calls += 2 * b
        lam = 2.0 / (k + 4)
        for r in range(d):
            u_prev[r] = u[r]
            T[r] = u[r] - eta * Ft[r]
        _project(kinds, starts, stops, pa, pb, T, work, taus)
        for r in range(d):
            u[r] = lam * u0[r] + (1.0 - lam) * T[r]
    return calls


def halpern_page_round(xp, op, prox, u0, u, u_prev, Ft, k0, eta, coins, indices):
    kind, M, q, ptr, cols = op.kernel_data
    T = u.copy()
    calls = _halpern_page(kind, M, q, ptr, cols, *_prox_arrays(prox, u.shape[0]), u0, u,
                          u_prev, Ft, T, k0, eta, coins, indices)
    return T, u, u_prev, Ft, calls


@njit(cache=True, nogil=True)
def _forb_game_update(A, n, i, c, gamma, alpha, v, w, wp, Fhat_w):
    """One VR-FoRB step on the game (kind 1) before the projection, in place on ``v``:
    ``v = alpha v + (1 - alpha) w - gamma g`` with ``g = Fhat(w) + (v - wp) + c (F_i(v) -
    F_i(wp))``, in one pass over ``z`` instead of three (``g`` built, the component
    difference added, ``v`` updated); the same operations in the same order, so the same
    rounding as the generic path."""
    cols = A.shape[1]
    s = c * n
    dy = s * (v[cols + i] - wp[cols + i])
    dx = 0.0
    for r in range(cols):
        dx += A[i, r] * (v[r] - wp[r])
    for r in range(cols):
        g = (Fhat_w[r] + (v[r] - wp[r])) + dy * A[i, r]
        v[r] = alpha * v[r] + (1.0 - alpha) * w[r] - gamma * g
    j = cols + i
    g_j = (Fhat_w[j] + (v[j] - wp[j])) - s * dx
    v_j = alpha * v[j] + (1.0 - alpha) * w[j] - gamma * g_j
    for r in range(cols, v.shape[0]):
        g = Fhat_w[r] + (v[r] - wp[r])
        v[r] = alpha * v[r] + (1.0 - alpha) * w[r] - gamma * g
    v[j] = v_j


@njit(cache=True, nogil=True)
def _forb(kind, M, q, ptr, cols, kinds, starts, stops, pa, pb,
          u, Fu, c, gamma, alpha, p, coins, indices):
    n = ptr.shape[0] - 1
    d = u.shape[0]
    v = u.copy()
    w = u.copy()
    # w_prev, the snapshot one step back, differs from w only on the step after a new
    # snapshot: ``lagging`` says so, and w_prev is copied then rather than every step
    w_prev = u.copy()
    lagging = False
    Fhat_w = c * Fu
    g = np.empty(d, u.dtype)
    work = np.empty(d, u.dtype)
    taus = np.full(kinds.shape[0], np.nan)
    calls = n
    for t in range(coins.shape[0]):
        wp = w_prev if lagging else w
        if kind == 1:
            _forb_game_update(M, n, indices[t], c, gamma, alpha, v, w, wp, Fhat_w)
        else:
            for r in range(d):
                g[r] = Fhat_w[r] + (v[r] - wp[r])
            _add_difference(kind, M, ptr, cols, indices[t], c, v, wp, g)
            for r in range(d):
                v[r] = alpha * v[r] + (1.0 - alpha) * w[r] - gamma * g[r]
        _project(kinds, starts, stops, pa, pb, v, work, taus)
        calls += 2
        lagging = False
        if coins[t] < p:
            w_prev[:] = w
            lagging = True
            w[:] = v
            _full(kind, M, q, w, Fhat_w)
            for r in range(d):
                Fhat_w[r] = c * Fhat_w[r] + (w[r] - u[r])
            calls += n
    return v, calls


def forb_resolvent(xp, op, prox, u, Fu, c, gamma, alpha, p, coins, indices):
    kind, M, q, ptr, cols = op.kernel_data
    return _forb(kind, M, q, ptr, cols, *_prox_arrays(prox, u.shape[0]), u, Fu, c, gamma,
                 alpha, p, coins, indices)


def project_simplex(xp, z, radius):
    out = z.copy()
    _project_simplex(out, radius, np.empty_like(out))
    return out
