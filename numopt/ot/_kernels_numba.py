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


@njit(cache=True, nogil=True, inline="always")
def _carry_over(p, X, Y, X_new, Y_new):
    """A converged (inactive) problem p of a batch keeps its iterate."""
    X_new[p, :] = X[p, :]
    Y_new[p, :] = Y[p, :]


# error_model="numpy": a zero row sum gives inf/NaN, as in the NumPy reference (the solver
# reports it as a non-finite iterate), rather than Python's ZeroDivisionError.
@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
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
            _carry_over(p, U, V, U_new, V_new)
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
_SHIFT_BITS = int(np.array(_SHIFT).view(np.int64))


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


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _exp2_scaled(y, offset):
    """2**(y + K) for an integer K, y in [-1020 - K, 1020 - K], offset = _SHIFT_BITS - K.

    Arithmetic that LLVM vectorizes (math.exp does not): 2**y = 2**k * 2**r with
    k = round(y) and r = y - k exact, |r| <= 1/2, and 2**r = (2**(r/2))**2 with 2**(r/2)
    a degree-7 minimax polynomial in r (relative error 3.2e-13 after the squaring, far
    inside every tolerance the solvers use). That is 7 FMAs and a multiplication per
    entry where the degree-9 polynomial it replaces (4e-14) took 9 FMAs and a degree-8
    one 8 FMAs for 7.8e-13; the squaring halves the range the polynomial covers.
    2**(k + K) is added to the exponent bits of the result by an integer add instead of
    a multiplication: adding 1.5 * 2**52 to y rounds it (ties to even, like ``_rint``)
    into the low mantissa bits, and ``offset`` removes the bits of 1.5 * 2**52 and adds
    K, so a row shift by 2**K costs nothing per entry. Both changes take work off the
    two FMA/multiply pipes, which bound the log-domain step. k comes from ``_rint``, not
    from subtracting 1.5 * 2**52 back, so ``reassoc`` cannot fold the rounding away.
    Callers clamp y, so the exponent stays in [-1021, 1021]: an underflowing term reads
    about 9e-308 instead of 0, and callers only add such terms to sums far larger.
    """
    r = y - _rint(y)
    q = 1.1906262519194626e-07
    q = q * r + 2.409379677144064e-06
    q = q * r + 4.1667440581887175e-05
    q = q * r + 0.000601132667284647
    q = q * r + 0.006938013573026512
    q = q * r + 0.060056626759803305
    q = q * r + 0.34657359028030515
    q = q * r + 0.9999999999998445
    return _bits_float(_float_bits(q * q) + ((_float_bits(y + _SHIFT) - offset) << 52))


@njit(cache=True, nogil=True, fastmath=_FAST)
def _exp2(y):
    """2**y in float64 by :func:`_exp2_scaled` (relative error below 4e-13); y is clamped
    to [-1020, 1020] (two vmaxpd/vminpd, cheaper than compare-and-blend)."""
    return _exp2_scaled(min(max(y, -1020.0), 1020.0), _SHIFT_BITS)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _exp(x):
    """exp(x) = 2**(x log2 e) by :func:`_exp2` (relative error below 1e-12 for |x| < 700,
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
def _axpy(acc, c, x):
    for j in range(acc.shape[0]):
        acc[j] += c * x[j]


# The log-domain rows work in base 2 with the potentials pre-scaled: g2 = G log2(e) / reg,
# so the exponent of entry (i, j) is Mi[j] * minus_inv2 + g2[j] (one FMA) plus the row's
# shift K, an integer that :func:`_exp2_scaled` applies through the exponent bits.


@njit(cache=True, nogil=True, fastmath=_FAST)
def _row_exp2(g2, Mi, minus_inv2, K, out):
    """out[j] = 2**(Mi[j] minus_inv2 + g2[j] + K) (clamped to 2**[-1020, 1020]);
    returns sum(out)."""
    lo, hi = -1020.0 - K, 1020.0 - K
    offset = _SHIFT_BITS - np.int64(K)
    total = 0.0
    for j in range(Mi.shape[0]):
        e = _exp2_scaled(min(max(Mi[j] * minus_inv2 + g2[j], lo), hi), offset)
        out[j] = e
        total += e
    return total


@njit(cache=True, nogil=True, fastmath=_FAST)
def _row_exp2_acc(g2, Mi, minus_inv2, K, out, acc, coef, prev):
    """:func:`_row_exp2`, and acc += coef * prev in the same sweep.

    ``prev`` (the previous row, just written) and ``acc`` are still in L1, and the
    accumulation's loads and stores run beside the exp's FMAs (measured: 15% over the
    exp alone, no more than a separate pass over four buffered rows, with half the
    buffer).
    """
    lo, hi = -1020.0 - K, 1020.0 - K
    offset = _SHIFT_BITS - np.int64(K)
    total = 0.0
    for j in range(Mi.shape[0]):
        e = _exp2_scaled(min(max(Mi[j] * minus_inv2 + g2[j], lo), hi), offset)
        out[j] = e
        total += e
        acc[j] += coef * prev[j]
    return total


# beyond this the shift K no longer fits the exponent arithmetic of _exp2_scaled
_MAX_SHIFT = 2.0 ** 30


@njit(cache=True, nogil=True, fastmath=_FAST)
def _log_step(M, F, G, logA, A, logB, reg, active, F_new, G_new, err, safe, e, g2):
    # One exp per entry per iteration. Row i of the incoming plan,
    # e_j = exp((F_old_i + G_j - M_ij)/reg), is computed up to the factor 2**(K - fi2)
    # (fi2 = F_old_i log2(e) / reg, K its rounding: a shift that keeps the row sum near
    # a_i without any floating-point add per entry). The row update scales row i by
    # a_i / sum_j e_j, in which that factor cancels, so the column sums of the updated
    # plan are accumulated from the same e_j without a second exp, during the sweep of
    # the next row (two row buffers).
    n, m = M.shape
    B = F.shape[0]
    inv2 = _LOG2E / reg
    col = np.zeros(m)
    for p in range(B):
        err[p] = 0
        if not active[p]:
            _carry_over(p, F, G, F_new, G_new)
            continue
        for j in range(m):
            g2[j] = float(G[p, j]) * inv2
            col[j] = 0.0
            e[1, j] = 0.0  # read (times 0) as the "previous row" of row 0
        pending = 0.0  # a_i / s_i of the previous row, not yet added to col (0: none)
        for i in range(n):
            cur, prev = e[i % 2], e[(i + 1) % 2]
            la = float(logA[p, i])
            if la == -np.inf:  # zero weight: zero row
                F_new[p, i] = -np.inf
                if pending != 0.0:
                    _axpy(col, pending, prev)
                for j in range(m):
                    cur[j] = 0.0  # the next row adds nothing from this one
                pending = 0.0
                continue
            Mi = M[i]
            fi2 = float(F[p, i]) * inv2
            K = _rint(fi2)
            s = 0.0
            if abs(K) < _MAX_SHIFT:
                s = _row_exp2_acc(g2, Mi, -inv2, K, cur, col, pending, prev)
            elif pending != 0.0:
                _axpy(col, pending, prev)
            # (F_old + G - M)/reg <= log b <= 0 once G was computed from F_old, so this
            # shifted sum (the incoming plan's row marginal) cannot overflow.
            if not (s > safe and s < 1.0 / safe):
                # the shift was far off (first iteration, new epsilon, potentials from
                # elsewhere): shift by the exact maximum
                top = -np.inf
                for j in range(m):
                    top = max(top, float(Mi[j]) * -inv2 + g2[j])
                K = min(max(-_rint(top), -_MAX_SHIFT), _MAX_SHIFT)
                s = _row_exp2(g2, Mi, -inv2, K, cur)
            # the incoming plan's row sum is s 2**(fi2 - K); F_new = reg (log a - log
            # sum_j exp((G_j - M_ij)/reg)) = reg (log a - log s + K ln 2)
            err[p] += abs(s * math.exp((fi2 - K) / _LOG2E) - A[p, i])
            F_new[p, i] = reg * (la - math.log(s) + K / _LOG2E)
            pending = A[p, i] / s
        if pending != 0.0:
            _axpy(col, pending, e[(n - 1) % 2])
        for j in range(m):
            lb = float(logB[p, j])
            cs = col[j]  # = sum_i exp((F_new_i + G_j - M_ij)/reg)
            if lb == -np.inf:
                G_new[p, j] = -np.inf
            elif cs > safe:
                G_new[p, j] = reg * (lb - math.log(cs)) + float(G[p, j])
            else:  # too small to trust (or underflowed): exact column pass
                inv = 1.0 / reg
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
    logA = np.ascontiguousarray(logA)
    m = M.shape[1]
    # sums outside [1e-100, 1e100] are recomputed exactly: far from the 1e-308 that the
    # clamped exp returns for underflowing terms, so those never matter
    safe = 1e-100
    _log_step(M, np.ascontiguousarray(F), np.ascontiguousarray(G), logA,
              np.exp(logA.astype(np.float64)), np.ascontiguousarray(logB), float(reg),
              np.ascontiguousarray(active), F_new, G_new, err, safe, np.zeros((2, m)),
              np.empty(m))
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


@njit(cache=True, nogil=True, fastmath=_FAST)
def _log_plan(M, F, G, reg, P, g2):
    B, n = F.shape
    m = M.shape[1]
    inv2 = _LOG2E / reg
    for p in range(B):
        for j in range(m):
            g2[j] = float(G[p, j]) * inv2
        for i in range(n):
            fi2 = float(F[p, i]) * inv2
            Pi = P[p, i]
            if fi2 == -np.inf:
                for j in range(m):
                    Pi[j] = 0
                continue
            # the shifted row as in the step, then the exact factor 2**(fi2 - K)
            K = min(max(_rint(fi2), -_MAX_SHIFT), _MAX_SHIFT)
            scale = math.exp((fi2 - K) / _LOG2E)
            _row_exp2(g2, M[i], -inv2, K, Pi)
            for j in range(m):
                # the clamped exp gives about 9e-308 for underflow: write an exact zero
                Pi[j] = Pi[j] * scale if Pi[j] > 1e-300 else 0.0


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
        for i in range(n):
            z[i] = (alpha[i] + bj - row[i]) * s
        count = 0
        if 4 * k < n:  # small k: a cut-off, then insertion of the few candidates left
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
            for i in range(n):
                if z[i] >= low:
                    candidates[count] = i
                    count += 1
        if count < k:
            # large k, where a full sort beats insertion; or NaN in z (a diverged iterate:
            # no comparison holds, too few candidates), where the sort keeps indices valid
            order = np.argsort(-z)
            for q in range(k):
                topi[q] = order[q]
                topv[q] = z[order[q]]
        else:
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
