"""Numba kernels for the per-row least-squares updates (NumPy input).

Each row ``i`` of a CSR structure ``(indptr, indices, data)`` is one problem
``min_x ||B[indices[p]] @ x - data[p]||`` over its observations ``p``; the design
matrix rows are gathered into a contiguous buffer so that the products run in BLAS
(single precision for the sketched solver's correction steps: see
:func:`numopt.completion._rows.sketched_rows` for why that loses no accuracy).
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
    """out = L^{-T} b for lower triangular L (back substitution).

    Column-oriented: once x_i is known, it is removed from the equations above it with
    row i of L, a contiguous axpy that vectorizes. The dot-product form reads column i
    of L with stride k, and took 11 us instead of 1.3 us at k = 100.
    """
    k = L.shape[0]
    for i in range(k):
        out[i] = b[i]
    for i in range(k - 1, -1, -1):
        xi = out[i] / L[i, i]
        out[i] = xi
        for t in range(i):
            out[t] -= L[i, t] * xi


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


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _refresh(indices, data, lo, B, x, r, A32, fill):
    """Working-precision residual ``r = b - A x`` of one row, read straight from ``B``;
    with ``fill`` also the single-precision copy ``A32`` of its design rows. Each
    observation is independent here (no running sum across them), so the loads of
    successive rows of ``B`` overlap."""
    k = B.shape[1]
    for t in range(r.shape[0]):
        j = indices[lo + t]
        acc = data[lo + t]
        for c in range(k):
            acc -= B[j, c] * x[c]
        r[t] = acc
        if fill:
            for c in range(k):
                A32[t, c] = B[j, c]


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _exact_gradient(indices, lo, B, r, x, reg, g):
    """``g = A^T r - reg x`` in working precision, read straight from ``B``."""
    k = B.shape[1]
    for c in range(k):
        g[c] = -reg * x[c]
    for t in range(r.shape[0]):
        j = indices[lo + t]
        rt = r[t]
        for c in range(k):
            g[c] += rt * B[j, c]


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _sketch_gram(A32, bucket, sign, lo, SA32, reg, L):
    """``L = (S A)^T (S A) + reg I`` for the CountSketch ``S`` of one row (its draws
    ``bucket``/``sign`` from ``lo`` on), accumulated and multiplied in single precision."""
    k = A32.shape[1]
    SA32[:, :] = 0.0
    for t in range(A32.shape[0]):
        row = bucket[lo + t]
        sg = np.float32(sign[lo + t])
        for c in range(k):
            SA32[row, c] += sg * A32[t, c]
    _shifted_copy(np.dot(SA32.T, SA32), reg, L)


@njit(cache=True, nogil=True)
def _shifted_copy(G32, reg, L):
    """``L = G32 + reg I`` in double precision (what the Cholesky factorization takes)."""
    k = G32.shape[0]
    for a in range(k):
        for c in range(k):
            L[a, c] = G32[a, c]
        L[a, a] += reg


@njit(cache=True, nogil=True)
def _sketched_rows(indptr, indices, data, B, C0, bucket, sign, sketch_size, inner_tol,
                   max_inner, reg, eps):
    n_rows = indptr.shape[0] - 1
    k = B.shape[1]
    dt = B.dtype
    C = np.zeros((n_rows, k), dtype=dt)
    A_buf, b_buf = _row_buffers(indptr, k, dt)
    A32_buf = np.empty(A_buf.shape, dtype=np.float32)
    r_buf = np.empty(b_buf.shape[0], dtype=np.float64)
    SA32 = np.empty((sketch_size, k), dtype=np.float32)
    L = np.empty((k, k), dtype=np.float64)
    tmp = np.empty(k, dtype=dt)
    x = np.empty(k, dtype=np.float64)
    g = np.empty(k, dtype=np.float64)
    s = np.empty(k, dtype=np.float64)
    p = np.empty(k, dtype=np.float64)
    z = np.empty(k, dtype=np.float64)
    z32 = np.empty(k, dtype=np.float32)
    xd = np.empty(k, dtype=dt)
    # The single-precision correction steps lose their meaning once the gradient has
    # shrunk by this much since it was last computed in working precision.
    eps32 = float(np.finfo(np.float32).eps)
    floor32 = (32.0 * eps32) ** 2
    sq = 0.0
    total_inner = 0
    for i in range(n_rows):
        lo, hi = indptr[i], indptr[i + 1]
        n_i = hi - lo
        if n_i == 0:
            continue
        A32 = A32_buf[:n_i]
        r = r_buf[:n_i]
        for c in range(k):
            x[c] = C0[i, c]
        _refresh(indices, data, lo, B, x, r, A32, True)
        _exact_gradient(indices, lo, B, r, x, reg, g)
        # Preconditioner: R with R^T R = (S A)^T (S A), S a CountSketch of sketch_size
        # rows (no sketch when the row is already that short).
        if n_i > sketch_size:
            _sketch_gram(A32, bucket, sign, lo, SA32, reg, L)
        else:
            _shifted_copy(np.dot(A32.T, A32), reg, L)
        if not _cholesky_inplace(L):
            # Rank-deficient row (fewer informative observations than the rank).
            A, b = _gather(indices, data, lo, hi, B, A_buf, b_buf)
            _normal_equation_solve(A, b, reg, xd, L, tmp)
            res = b - np.dot(A, xd)
            sq += np.dot(res, res)
            C[i] = xd
            continue
        # Preconditioned CGLS on min ||A x - b||^2 + reg ||x||^2 with y = L^T x, warm-
        # started at C0[i]; stop when the preconditioned gradient ||L^{-1} g|| has shrunk
        # by inner_tol (a relative accuracy, so the warm start keeps paying). The steps
        # solve for a correction and use the single-precision A32; r, g and x stay in
        # working precision and are recomputed from B whenever the correction has done
        # what single precision can do (mixed-precision iterative refinement), so the
        # answer is as accurate as an all-working-precision solve.
        bb = 0.0
        for t in range(n_i):
            bb += data[lo + t] * data[lo + t]
        _solve_lower(L, g, s)
        p[:] = s
        gamma = np.dot(s, s)
        gamma_ref = gamma
        stop = max(inner_tol * inner_tol * gamma, eps * eps * bb)
        # The single-precision updates of r and g are accurate to floor32 * gamma_ref:
        # a stop below that level is confirmed on a working-precision refresh.
        confirm = stop < 4.0 * floor32 * gamma_ref
        exact = True
        it = 0
        while True:
            if not exact and ((gamma <= stop and confirm) or gamma <= floor32 * gamma_ref):
                # What single precision can resolve is done: recompute r and g in
                # working precision (iterative refinement) and go on from there.
                _refresh(indices, data, lo, B, x, r, A32, False)
                _exact_gradient(indices, lo, B, r, x, reg, g)
                _solve_lower(L, g, s)
                p[:] = s
                gamma = np.dot(s, s)
                gamma_ref = gamma
                confirm = stop < 4.0 * floor32 * gamma_ref
                exact = True
            if gamma <= stop or it == max_inner:
                break
            it += 1
            _solve_lower_transposed(L, p, z)
            for c in range(k):
                z32[c] = z[c]
            q = np.dot(A32, z32)
            qq = 0.0
            for t in range(n_i):
                qq += np.float64(q[t]) * q[t]
            alpha = gamma / (qq + reg * np.dot(z, z))
            for c in range(k):
                x[c] += alpha * z[c]
            for t in range(n_i):
                r[t] -= alpha * q[t]
            # g is updated, not recomputed: A32^T r would carry rounding of the size of
            # eps32 ||A|| ||r||, A32^T q only of the size of this step.
            w = np.dot(A32.T, q)
            for c in range(k):
                g[c] -= alpha * (w[c] + reg * z[c])
            _solve_lower(L, g, s)
            gamma_new = np.dot(s, s)
            beta = gamma_new / gamma
            gamma = gamma_new
            for c in range(k):
                p[c] = s[c] + beta * p[c]
            exact = False
        total_inner += it
        sq += np.dot(r, r)  # recursive residual: off by ~1e-7 of the last correction
        for c in range(k):
            C[i, c] = x[c]
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
