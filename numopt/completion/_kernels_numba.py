"""Numba kernels for the per-row least-squares updates (NumPy input).

Each row ``i`` of a CSR structure ``(indptr, indices, data)`` is one problem
``min_x ||B[indices[p]] @ x - data[p]||`` over its observations ``p``; the design
matrix rows are gathered into a contiguous buffer so that the products run in BLAS.
"""

import numpy as np
from numba import njit

# Reassociation lets the dot-product loops of the k x k factorizations vectorize; it
# changes only the summation order (as BLAS does), never NaN/inf semantics.
_REASSOC = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _cholesky_inplace(G):
    """Lower Cholesky factor of the SPD matrix ``G`` in place; False if a pivot fails."""
    k = G.shape[0]
    for j in range(k):
        d = G[j, j]
        for t in range(j):
            d -= G[j, t] * G[j, t]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        G[j, j] = d
        for i in range(j + 1, k):
            acc = G[i, j]
            for t in range(j):
                acc -= G[i, t] * G[j, t]
            G[i, j] = acc / d
    return True


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _solve_lower(L, b, out):
    """out = L^{-1} b for lower triangular L."""
    k = L.shape[0]
    for i in range(k):
        acc = b[i]
        for t in range(i):
            acc -= L[i, t] * out[t]
        out[i] = acc / L[i, i]


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _solve_lower_transposed(L, b, out):
    """out = L^{-T} b for lower triangular L (back substitution)."""
    k = L.shape[0]
    for i in range(k - 1, -1, -1):
        acc = b[i]
        for t in range(i + 1, k):
            acc -= L[t, i] * out[t]
        out[i] = acc / L[i, i]


@njit(cache=True, nogil=True)
def _gather(indices, data, lo, hi, B, A, b):
    n_i = hi - lo
    for t in range(n_i):
        j = indices[lo + t]
        for c in range(B.shape[1]):
            A[t, c] = B[j, c]
        b[t] = data[lo + t]
    return A[:n_i], b[:n_i]


@njit(cache=True, nogil=True)
def _normal_equation_solve(A, b, reg, x, L, tmp):
    """x = argmin ||A x - b||^2 + reg ||x||^2 by Cholesky of the Gram matrix; a tiny
    ridge is added when the Gram matrix is singular (fewer observations than rank)."""
    k = A.shape[1]
    G = np.dot(A.T, A)
    rhs = np.dot(A.T, b)
    trace = 0.0
    for c in range(k):
        trace += G[c, c]
    jitter = reg
    for attempt in range(8):
        for i in range(k):
            for j in range(k):
                L[i, j] = G[i, j]
            L[i, i] += jitter
        if _cholesky_inplace(L):
            _solve_lower(L, rhs, tmp)
            _solve_lower_transposed(L, tmp, x)
            return
        jitter = max(jitter * 100.0, 1e-12 * (trace / k + 1e-300))
    x[:] = 0.0


@njit(cache=True, nogil=True)
def _row_buffers(indptr, k, dt):
    """Work arrays long enough for the row with the most observations."""
    max_len = 1
    for i in range(indptr.shape[0] - 1):
        max_len = max(max_len, indptr[i + 1] - indptr[i])
    return np.empty((max_len, k), dtype=dt), np.empty(max_len, dtype=dt)


@njit(cache=True, nogil=True)
def _exact_rows(indptr, indices, data, B, reg):
    n_rows = indptr.shape[0] - 1
    k = B.shape[1]
    dt = B.dtype
    C = np.zeros((n_rows, k), dtype=dt)
    A_buf, b_buf = _row_buffers(indptr, k, dt)
    L = np.empty((k, k), dtype=dt)
    tmp = np.empty(k, dtype=dt)
    x = np.empty(k, dtype=dt)
    sq = 0.0
    for i in range(n_rows):
        lo, hi = indptr[i], indptr[i + 1]
        if hi == lo:
            continue
        A, b = _gather(indices, data, lo, hi, B, A_buf, b_buf)
        _normal_equation_solve(A, b, reg, x, L, tmp)
        r = b - np.dot(A, x)
        sq += np.dot(r, r)
        C[i] = x
    return C, sq


@njit(cache=True, nogil=True)
def _sketched_rows(indptr, indices, data, B, C0, bucket, sign, sketch_size, inner_tol,
                   max_inner, reg, eps):
    n_rows = indptr.shape[0] - 1
    k = B.shape[1]
    dt = B.dtype
    C = np.zeros((n_rows, k), dtype=dt)
    A_buf, b_buf = _row_buffers(indptr, k, dt)
    SA = np.empty((sketch_size, k), dtype=dt)
    SA32 = np.empty((sketch_size, k), dtype=np.float32)
    L = np.empty((k, k), dtype=dt)
    tmp = np.empty(k, dtype=dt)
    x = np.empty(k, dtype=dt)
    s = np.empty(k, dtype=dt)
    p = np.empty(k, dtype=dt)
    z = np.empty(k, dtype=dt)
    sq = 0.0
    total_inner = 0
    for i in range(n_rows):
        lo, hi = indptr[i], indptr[i + 1]
        n_i = hi - lo
        if n_i == 0:
            continue
        A, b = _gather(indices, data, lo, hi, B, A_buf, b_buf)
        # Preconditioner: R with R^T R = (S A)^T (S A), S a CountSketch of sketch_size
        # rows (no sketch when the row is already that short). Its Gram matrix is formed
        # in single precision (sgemm, half the time of the dominant product): the sketch
        # distorts by ~sqrt(k / sketch_size) anyway, and CG below works on the exact A.
        if n_i > sketch_size:
            SA[:, :] = 0.0
            for t in range(n_i):
                row = bucket[lo + t]
                sg = sign[lo + t]
                for c in range(k):
                    SA[row, c] += sg * A[t, c]
            for a in range(sketch_size):
                for c in range(k):
                    SA32[a, c] = SA[a, c]
            G32 = np.dot(SA32.T, SA32)
            for a in range(k):
                for c in range(k):
                    L[a, c] = G32[a, c]
        else:
            G = np.dot(A.T, A)
            for a in range(k):
                for c in range(k):
                    L[a, c] = G[a, c]
        for a in range(k):
            L[a, a] += reg
        if not _cholesky_inplace(L):
            # Rank-deficient row (fewer informative observations than the rank).
            _normal_equation_solve(A, b, reg, x, L, tmp)
            r = b - np.dot(A, x)
            sq += np.dot(r, r)
            C[i] = x
            continue
        # Preconditioned CGLS on min ||A x - b||^2 + reg ||x||^2 with y = L^T x,
        # warm-started at C0[i]; stop when the preconditioned gradient ||L^{-1} A^T r||
        # has shrunk by inner_tol (a relative accuracy, so the warm start keeps paying).
        x[:] = C0[i]
        r = b - np.dot(A, x)
        g = np.dot(A.T, r)
        for c in range(k):
            g[c] -= reg * x[c]
        _solve_lower(L, g, s)
        p[:] = s
        gamma = np.dot(s, s)
        # Relative decrease, floored at rounding level (a warm start may already be exact).
        stop = max(inner_tol * inner_tol * gamma, eps * eps * np.dot(b, b))
        for it in range(max_inner):
            if gamma <= stop:
                break
            total_inner += 1
            _solve_lower_transposed(L, p, z)
            q = np.dot(A, z)
            alpha = gamma / (np.dot(q, q) + reg * np.dot(z, z))
            for c in range(k):
                x[c] += alpha * z[c]
            for t in range(n_i):
                r[t] -= alpha * q[t]
            g = np.dot(A.T, r)
            for c in range(k):
                g[c] -= reg * x[c]
            _solve_lower(L, g, s)
            gamma_new = np.dot(s, s)
            beta = gamma_new / gamma
            gamma = gamma_new
            for c in range(k):
                p[c] = s[c] + beta * p[c]
        sq += np.dot(r, r)  # recursive residual: its drift over <= max_inner steps is ~eps
        C[i] = x
    return C, sq, total_inner


@njit(cache=True, nogil=True)
def _observed_residual(indptr, indices, data, C, B):
    out = np.empty(data.shape[0], dtype=data.dtype)
    k = B.shape[1]
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            acc = data[p]
            for c in range(k):
                acc -= C[i, c] * B[j, c]
            out[p] = acc
    return out


def exact_rows(xp, indptr, indices, data, B, reg):
    C, sq = _exact_rows(indptr, indices, data, B, float(reg))
    return C, float(sq)


def sketched_rows(xp, indptr, indices, data, B, C0, bucket, sign, sketch_size, inner_tol,
                  max_inner, reg):
    C, sq, inner = _sketched_rows(indptr, indices, data, B, C0, bucket, sign,
                                  int(sketch_size), float(inner_tol), int(max_inner),
                                  float(reg), 64.0 * float(np.finfo(B.dtype).eps))
    return C, float(sq), int(inner)


def observed_residual(xp, indptr, indices, data, C, B):
    return _observed_residual(indptr, indices, data, C, B)
