"""Numba kernels for numopt.ot.

Each Sinkhorn kernel does a full iteration (row update then column update) in ONE pass
over the n×m matrix: row i is read once, first reduced against the column scalings
(the row update), then, while it is still in cache, accumulated into the column sums
with the fresh row scaling. Only O(B·m) scratch is allocated per call.

``fastmath`` is limited to ``reassoc`` and ``contract`` (reordering of sums, fused
multiply-add): it changes rounding only, never the handling of inf/NaN that the
log-domain code relies on.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def _kernel_step(K, U, V, A, Bw, active, U_new, V_new, err):
    # Rows go four at a time: one sweep over j computes four row sums (V read once),
    # a second sweep adds the four scaled rows to the column sums (col touched once).
    n, m = K.shape
    B = U.shape[0]
    zero = K[0, 0] * 0
    col = np.zeros((B, m), dtype=K.dtype)
    for p in range(B):
        err[p] = 0
    n4 = n - n % 4
    for i in range(0, n4, 4):
        K0, K1, K2, K3 = K[i], K[i + 1], K[i + 2], K[i + 3]
        for p in range(B):
            if not active[p]:
                continue
            Vp = V[p]
            s0 = s1 = s2 = s3 = zero
            for j in range(m):
                v = Vp[j]
                s0 += K0[j] * v
                s1 += K1[j] * v
                s2 += K2[j] * v
                s3 += K3[j] * v
            Ap, Up = A[p], U[p]
            err[p] += (abs(Up[i] * s0 - Ap[i]) + abs(Up[i + 1] * s1 - Ap[i + 1])
                       + abs(Up[i + 2] * s2 - Ap[i + 2]) + abs(Up[i + 3] * s3 - Ap[i + 3]))
            u0, u1 = Ap[i] / s0, Ap[i + 1] / s1
            u2, u3 = Ap[i + 2] / s2, Ap[i + 3] / s3
            U_new[p, i], U_new[p, i + 1], U_new[p, i + 2], U_new[p, i + 3] = u0, u1, u2, u3
            colp = col[p]
            for j in range(m):
                colp[j] += u0 * K0[j] + u1 * K1[j] + u2 * K2[j] + u3 * K3[j]
    for i in range(n4, n):
        Ki = K[i]
        for p in range(B):
            if not active[p]:
                continue
            Vp = V[p]
            s = zero
            for j in range(m):
                s += Ki[j] * Vp[j]
            err[p] += abs(U[p, i] * s - A[p, i])
            ui = A[p, i] / s
            U_new[p, i] = ui
            colp = col[p]
            for j in range(m):
                colp[j] += ui * Ki[j]
    for p in range(B):
        if not active[p]:
            for i in range(n):
                U_new[p, i] = U[p, i]
            for j in range(m):
                V_new[p, j] = V[p, j]
            continue
        for j in range(m):
            V_new[p, j] = Bw[p, j] / col[p, j]


def sinkhorn_kernel_step(xp, K, U, V, A, Bw, active):
    K = np.ascontiguousarray(K)
    U_new, V_new = np.empty_like(U), np.empty_like(V)
    err = np.empty(U.shape[0], dtype=U.dtype)
    _kernel_step(K, np.ascontiguousarray(U), np.ascontiguousarray(V), np.ascontiguousarray(A),
                 np.ascontiguousarray(Bw), np.ascontiguousarray(active), U_new, V_new, err)
    return U_new, V_new, err


_LOG2E = 1.4426950408889634
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_EXPONENT_OFFSET = int(np.array(_SHIFT).view(np.int64)) - 1023


@intrinsic
def _float_bits(typingctx, x):
    """The IEEE bits of a float64 as an int64 (a free bitcast, vectorizes)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, x):
    """The float64 whose IEEE bits are the int64 x."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


@intrinsic
def _rint(typingctx, x):
    """Round to nearest, ties to even (llvm.rint: one vroundpd, vectorizes)."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.rint.f64")
        return builder.call(fn, args)
    return types.float64(types.float64), codegen


@njit(cache=True, nogil=True, fastmath=_FAST)
def _exp2(y):
    """2**y in float64 from arithmetic LLVM vectorizes (math.exp does not).

    2**y = 2**k * 2**r with k = round(y) and r = y - k exact, |r| <= 1/2; 2**r by a
    degree-9 polynomial (a Chebyshev fit of (2**r - 1)/r, so 2**0 = 1 exactly; relative
    error below 4e-14 on [-1/2, 1/2], far inside every tolerance the solvers use, and
    one FMA fewer per entry than degree 10, which gives 3e-15); 2**k by writing k + 1023
    into the exponent bits: adding 1.5 * 2**52 to y rounds it (ties to even, like
    ``_rint``) into the low mantissa bits. Working in base 2 saves the two-part ln 2
    reduction and, where the caller folds log2(e) into its own scale factor, the
    multiplication by log2(e). k comes from ``_rint``, not from subtracting
    1.5 * 2**52 back, so ``reassoc`` cannot fold the rounding away and callers can
    reduce in the same (vectorized) loop. y is clamped to [-1020, 1020], so an
    underflowing term reads 9e-308 instead of 0; callers only add such terms to sums
    far larger.
    """
    y = min(max(y, -1020.0), 1020.0)  # two vmaxpd/vminpd; cheaper than compare-and-blend
    r = y - _rint(y)
    q = 1.0205916468930739e-07
    q = q * r + 1.3255225771718154e-06
    q = q * r + 1.5252672880171289e-05
    q = q * r + 0.00015403455847309123
    q = q * r + 0.001333355820065058
    q = q * r + 0.009618129159411336
    q = q * r + 0.05550410866466155
    q = q * r + 0.24022650695812955
    q = q * r + 0.6931471805599448
    q = q * r + 1.0
    return q * _bits_float((_float_bits(y + _SHIFT) - _EXPONENT_OFFSET) << 52)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _exp(x):
    """exp(x) = 2**(x log2 e) by :func:`_exp2` (relative error below 2e-13 for |x| < 700,
    the rounding of x log2 e included)."""
    return _exp2(x * _LOG2E)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _exp_into(t, add, out):
    """out[j] = exp(t[j] + add)."""
    for j in range(t.shape[0]):
        out[j] = _exp(t[j] + add)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _sum(x):
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j]
    return s


@njit(cache=True, nogil=True, fastmath=_FAST)
def _add_into(acc, x):
    for j in range(x.shape[0]):
        acc[j] += x[j]


@njit(cache=True, nogil=True, fastmath=_FAST)
def _row_exp(Gp, Mi, inv, shift, out):
    """out[j] = exp((Gp[j] - Mi[j]) * inv + shift); returns sum(out)."""
    inv2, shift2 = inv * _LOG2E, shift * _LOG2E  # base 2: one FMA per entry before exp2
    total = 0.0
    for j in range(Mi.shape[0]):
        e = _exp2((float(Gp[j]) - float(Mi[j])) * inv2 + shift2)
        out[j] = e
        total += e
    return total


@njit(cache=True, nogil=True, fastmath=_FAST)
def _add_rows(acc, coef, E, rows):
    """acc += sum_r coef[r] * E[r] over the first ``rows`` rows (col touched once)."""
    if rows == 4:
        c0, c1, c2, c3 = coef[0], coef[1], coef[2], coef[3]
        E0, E1, E2, E3 = E[0], E[1], E[2], E[3]
        for j in range(acc.shape[0]):
            acc[j] += c0 * E0[j] + c1 * E1[j] + c2 * E2[j] + c3 * E3[j]
    else:
        for r in range(rows):
            c = coef[r]
            Er = E[r]
            for j in range(acc.shape[0]):
                acc[j] += c * Er[j]


@njit(cache=True, nogil=True, fastmath=_FAST)
def _log_step(M, F, G, logA, logB, reg, active, F_new, G_new, err, safe, e):
    # One exp per entry per iteration. The row pass computes the incoming plan's row,
    # e_j = exp((F_old_i + G_j - M_ij)/reg); the row update multiplies row i of the plan
    # by a_i / sum_j e_j, so the column sums of the updated plan are accumulated from
    # the same e_j, scaled, without a second exp; four rows at a time, so the column
    # sums are read and written once per four rows. Everything runs in float64.
    n, m = M.shape
    B = F.shape[0]
    inv = 1.0 / reg
    col = np.zeros((B, m))
    for p in range(B):
        err[p] = 0
    coef = np.zeros(4)
    for i0 in range(0, n, 4):
        rows_here = min(4, n - i0)
        for p in range(B):
            if not active[p]:
                continue
            for r in range(rows_here):
                i = i0 + r
                Mi = M[i]
                coef[r] = 0.0
                la = float(logA[p, i])
                if la == -np.inf:
                    F_new[p, i] = -np.inf
                    continue
                # (F_old + G - M)/reg <= log b <= 0 once G was computed from F_old, so
                # this shifted sum (the incoming plan's row marginal) cannot overflow.
                shift = float(F[p, i]) * inv
                s = _row_exp(G[p], Mi, inv, shift, e[r])
                err[p] += abs(s - math.exp(la))
                if not (s > safe and s < 1.0 / safe):
                    # the shift was far off (first iteration, new epsilon): exact max
                    top = -np.inf
                    for j in range(m):
                        top = max(top, (float(G[p, j]) - float(Mi[j])) * inv)
                    shift = -top
                    s = _row_exp(G[p], Mi, inv, shift, e[r])
                # F_new = F_old + reg (log a - log s) in shifted terms: lse = log s - shift
                F_new[p, i] = reg * (la - (math.log(s) - shift))
                coef[r] = math.exp(la) / s
            _add_rows(col[p], coef, e, rows_here)
    for p in range(B):
        if not active[p]:
            for i in range(n):
                F_new[p, i] = F[p, i]
            for j in range(m):
                G_new[p, j] = G[p, j]
            continue
        for j in range(m):
            lb = float(logB[p, j])
            cs = col[p, j]  # = sum_i exp((F_new_i + G_j - M_ij)/reg)
            if lb == -np.inf:
                G_new[p, j] = -np.inf
            elif cs > safe:
                G_new[p, j] = reg * (lb - math.log(cs)) + float(G[p, j])
            else:  # too small to trust (or underflowed): exact column pass
                top = -np.inf
                for i in range(n):
                    top = max(top, (float(F_new[p, i]) - float(M[i, j])) * inv)
                s = 0.0
                for i in range(n):
                    s += math.exp((float(F_new[p, i]) - float(M[i, j])) * inv - top)
                G_new[p, j] = reg * (lb - top - math.log(s))


def sinkhorn_log_step(xp, M, F, G, logA, logB, reg, active):
    M = np.ascontiguousarray(M)
    F_new, G_new = np.empty_like(F), np.empty_like(G)
    err = np.empty(F.shape[0], dtype=F.dtype)
    # sums outside [1e-100, 1e100] are recomputed exactly: far from the 1e-308 that the
    # clamped exp returns for underflowing terms, so those never matter
    safe = 1e-100
    _log_step(M, np.ascontiguousarray(F), np.ascontiguousarray(G), np.ascontiguousarray(logA),
              np.ascontiguousarray(logB), float(reg), np.ascontiguousarray(active),
              F_new, G_new, err, safe, np.zeros((4, M.shape[1])))
    return F_new, G_new, err


@njit(cache=True, nogil=True, fastmath=_FAST)
def _sns_evaluate(M, f, g, reg, drop_tol, cap, rows, cols, indptr, indices, data, e):
    n, m = M.shape
    inv = 1.0 / reg
    t = np.empty(m)
    keep = np.empty(m, dtype=np.int64)
    for j in range(m):
        cols[j] = 0.0
    total = 0.0
    nnz = 0
    indptr[0] = 0
    for i in range(n):
        Mi = M[i]
        fi = f[i]
        for j in range(m):
            t[j] = (fi + g[j] - Mi[j]) * inv
        _exp_into(t, 0.0, e)
        s = _sum(e)
        rows[i] = s
        total += s
        _add_into(cols, e)
        # off-diagonal Hessian entries worth keeping: the largest of the row, at most cap
        threshold = drop_tol * s
        count = 0
        for j in range(m):
            if e[j] >= threshold:
                keep[count] = j
                count += 1
        if count > cap:  # keep the cap largest: a partial sort finds the cut-off value
            vals = np.empty(count)
            for q in range(count):
                vals[q] = e[keep[q]]
            cut = np.partition(vals, count - cap)[count - cap]
            kept = 0
            for q in range(count):
                if e[keep[q]] >= cut and kept < cap:
                    keep[kept] = keep[q]
                    kept += 1
            count = kept
        for q in range(count):
            indices[nnz + q] = keep[q]
            data[nnz + q] = e[keep[q]]
        nnz += count
        indptr[i + 1] = nnz
    return total, nnz


def sns_evaluate(xp, M, f, g, reg, drop_tol, cap):
    M = np.ascontiguousarray(M)
    n, m = M.shape
    cap = int(min(cap, m))
    rows, cols = np.empty(n), np.empty(m)
    indptr = np.empty(n + 1, dtype=np.int64)
    indices = np.empty(n * cap, dtype=np.int64)
    data = np.empty(n * cap)
    total, nnz = _sns_evaluate(M, np.ascontiguousarray(f, dtype=np.float64),
                               np.ascontiguousarray(g, dtype=np.float64), float(reg),
                               float(drop_tol), cap, rows, cols, indptr, indices, data,
                               np.empty(m))
    return total, rows, cols, (data[:nnz], indices[:nnz], indptr)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _sns_hessian_matvec(data, indices, indptr, rows, cols, top, bottom, out_top, out_bottom):
    # one pass over P's nonzeros for both P @ bottom (gather) and P^T @ top (scatter)
    for j in range(bottom.shape[0]):
        out_bottom[j] = cols[j] * bottom[j]
    for i in range(top.shape[0]):
        ti = top[i]
        s = 0.0
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            d = data[q]
            s += d * bottom[j]
            out_bottom[j] += d * ti
        out_top[i] = rows[i] * ti + s


def sns_hessian_matvec(xp, data, indices, indptr, rows, cols, x):
    n = rows.shape[0]
    out = np.empty(n + cols.shape[0])
    x = np.ascontiguousarray(x, dtype=np.float64)
    _sns_hessian_matvec(data, indices, indptr, rows, cols, x[:n], x[n:], out[:n], out[n:])
    return out


@njit(cache=True, nogil=True)
def _log_plan(M, F, G, reg, P, e):
    B, n = F.shape
    inv = 1.0 / reg
    for p in range(B):
        for i in range(n):
            fi = float(F[p, i])
            if fi == -np.inf:
                for j in range(M.shape[1]):
                    P[p, i, j] = 0
                continue
            _row_exp(G[p], M[i], inv, fi * inv, e)
            for j in range(M.shape[1]):
                # the clamped exp gives 9e-308 for underflow: write an exact zero
                P[p, i, j] = e[j] if e[j] > 1e-300 else 0.0


def log_plan(xp, M, F, G, reg):
    M = np.ascontiguousarray(M)
    B, n = F.shape
    m = M.shape[1]
    P = np.empty((B, n, m), dtype=M.dtype)
    _log_plan(M, np.ascontiguousarray(F), np.ascontiguousarray(G), float(reg), P, np.empty(m))
    return P


@njit(cache=True, nogil=True)
def _sparse_top_k(MT, alpha, beta, scale, k, simplex, idx, vals, theta):
    m, n = MT.shape
    z = np.empty(n)
    candidates = np.empty(n, dtype=np.int64)
    for j in range(m):
        row = MT[j]
        s = scale[j]
        bj = beta[j]
        topv = vals[j]
        topi = idx[j]
        if 4 * k >= n:  # large k: a full sort beats insertion
            for i in range(n):
                z[i] = (alpha[i] + bj - row[i]) * s
            order = np.argsort(-z)
            for q in range(k):
                topi[q] = order[q]
                topv[q] = z[order[q]]
        else:  # small k: a vectorized pass for z, a cut-off, then insertion of the few left
            for i in range(n):
                z[i] = (alpha[i] + bj - row[i]) * s
            # Each of k disjoint blocks holds an entry >= its maximum, so the smallest block
            # maximum is at most the k-th largest entry: entries below it are dropped in a
            # pass whose branch is rarely taken (well predicted), unlike a running cut-off.
            width = n // k
            low = np.inf
            for q in range(k):
                top = -np.inf
                for i in range(q * width, (q + 1) * width):
                    top = max(top, z[i])
                low = min(low, top)
            count = 0
            for i in range(n):
                if z[i] >= low:
                    candidates[count] = i
                    count += 1
            # insertion in index order, as a full scan would do (same ties kept)
            for c in range(k):
                i = candidates[c]
                zi = z[i]
                q = c
                while q > 0 and topv[q - 1] < zi:
                    topv[q] = topv[q - 1]
                    topi[q] = topi[q - 1]
                    q -= 1
                topv[q] = zi
                topi[q] = i
            cut = topv[k - 1]
            for c in range(k, count):
                i = candidates[c]
                zi = z[i]
                if zi <= cut:
                    continue
                q = k - 1
                while q > 0 and topv[q - 1] < zi:
                    topv[q] = topv[q - 1]
                    topi[q] = topi[q - 1]
                    q -= 1
                topv[q] = zi
                topi[q] = i
                cut = topv[k - 1]
        if simplex:  # threshold of the projection of the k kept values onto the simplex
            csum = 0.0
            th = 0.0
            for q in range(k):
                csum += topv[q]
                t = (csum - 1.0) / (q + 1)
                if topv[q] - t > 0:
                    th = t
            theta[j] = th


def sparse_top_k(xp, MT, alpha, beta, scale, k, simplex):
    m, n = MT.shape
    idx = np.empty((m, k), dtype=np.int64)
    vals = np.empty((m, k))
    theta = np.zeros(m)
    _sparse_top_k(np.ascontiguousarray(MT), np.ascontiguousarray(alpha),
                  np.ascontiguousarray(beta), np.ascontiguousarray(scale), int(k), bool(simplex),
                  idx, vals, theta)
    return idx, vals, theta


@njit(cache=True, nogil=True)
def _semi_dual_value(MT, alpha, b, gamma, k, idx, vals, theta, rows):
    """Semi-dual inner value sum_j b_j max_Omega_j and the plan's row sums, fused."""
    m, n = MT.shape
    scale = np.empty(m)
    for j in range(m):
        scale[j] = 1.0 / (gamma * b[j])
    _sparse_top_k(MT, alpha, np.zeros(m), scale, k, True, idx, vals, theta)
    for i in range(n):
        rows[i] = 0.0
    total = 0.0
    for j in range(m):
        gb = gamma * b[j]
        inner = 0.0
        sq = 0.0
        for q in range(k):
            y = vals[j, q] - theta[j]
            if y > 0:
                inner += vals[j, q] * gb * y
                sq += y * y
                rows[idx[j, q]] += b[j] * y
        total += b[j] * (inner - 0.5 * gb * sq)
    return total


def semi_dual_value(xp, MT, alpha, b, gamma, k):
    m, n = MT.shape
    idx = np.empty((m, k), dtype=np.int64)
    vals = np.empty((m, k))
    theta = np.zeros(m)
    rows = np.empty(n)
    total = _semi_dual_value(np.ascontiguousarray(MT), np.ascontiguousarray(alpha),
                             np.ascontiguousarray(b), float(gamma), int(k), idx, vals, theta,
                             rows)
    return total, rows
