"""Numba kernels of numopt.linalg (NumPy input). Loaded lazily through ``get_kernel``.

The SOR row update is PyAMG's C++ one (``amg_core`` ``sor_gauss_seidel``, and
``gauss_seidel`` for ``omega == 1``) operation for operation: the off-diagonal sum over
the stored entries in stored order, then ``omega * ((b_i - sum) / a_ii) + (1 - omega)
x_i`` (``(b_i - sum) / a_ii`` for ``omega == 1``), all in the dtype of the matrix (float32
sums in float32, as PyAMG's template does). Each operation is one correctly rounded
IEEE operation (no fastmath, so no fused multiply-adds), hence forward and backward
sweeps reproduce PyAMG's iterates wherever PyAMG's C++ was also compiled without
contracting multiply-adds.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _relax_row(indptr, indices, data, b, x, omega, one_minus_omega, i):
    rsum = data.dtype.type(0)
    diag = data.dtype.type(0)
    for jj in range(indptr[i], indptr[i + 1]):
        j = indices[jj]
        if j == i:
            diag = data[jj]
        else:
            rsum += data[jj] * x[j]
    if omega == 1:
        x[i] = (b[i] - rsum) / diag
    else:
        x[i] = omega * ((b[i] - rsum) / diag) + one_minus_omega * x[i]


def _omegas(data, omega):
    """``omega`` and ``1 - omega`` in the matrix's dtype, as PyAMG's ``F omega``."""
    omega = data.dtype.type(omega)
    return omega, data.dtype.type(1) - omega


@njit(cache=True, nogil=True)
def _sor_natural(indptr, indices, data, b, x, omega, one_minus_omega, reverse):
    n = b.shape[0]
    for k in range(n):
        i = n - 1 - k if reverse else k
        _relax_row(indptr, indices, data, b, x, omega, one_minus_omega, i)


@njit(cache=True, nogil=True)
def _sor_ordered(indptr, indices, data, b, x, omega, one_minus_omega, order, reverse):
    n = order.shape[0]
    for k in range(n):
        i = order[n - 1 - k] if reverse else order[k]
        _relax_row(indptr, indices, data, b, x, omega, one_minus_omega, i)


def sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, reverse):
    omega, one_minus_omega = _omegas(data, omega)
    if order is None:
        _sor_natural(indptr, indices, data, b, x, omega, one_minus_omega, bool(reverse))
    else:
        _sor_ordered(indptr, indices, data, b, x, omega, one_minus_omega, order,
                     bool(reverse))
    return x


@njit(cache=True, nogil=True)
def _ssor_apply_natural(indptr, indices, data, r, omega, out):
    # forward solve (D/omega + L) y = r, then backward solve
    # (D/omega + U) z = (2 - omega)/omega D y; ``out`` holds y and then z. The factor
    # omega / a_ii does not depend on the previous row, so the division stays off the
    # row-to-row dependency chain (the sweep's latency bound).
    n = r.shape[0]
    two_minus_omega = 2.0 - omega
    for i in range(n):
        acc = r[i]
        diag = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            if j < i:
                acc -= data[jj] * out[j]
            elif j == i:
                diag = data[jj]
        out[i] = (omega / diag) * acc
    for i in range(n - 1, -1, -1):
        diag = 0.0
        upper = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            if j > i:
                upper += data[jj] * out[j]
            elif j == i:
                diag = data[jj]
        out[i] = two_minus_omega * out[i] - (omega / diag) * upper
    return out


def ssor_apply(xp, indptr, indices, data, r, omega, order, color_ptr):
    out = np.zeros_like(r)
    if order is None:
        return _ssor_apply_natural(indptr, indices, data, r, float(omega), out)
    # a coloured ordering: M^{-1} r is one symmetric sweep from zero in that order
    omega, one_minus_omega = _omegas(data, omega)
    _sor_ordered(indptr, indices, data, r, out, omega, one_minus_omega, order, False)
    _sor_ordered(indptr, indices, data, r, out, omega, one_minus_omega, order, True)
    return out


@njit(cache=True, nogil=True)
def greedy_coloring(indptr, indices, n):
    """Colour rows so that no two coupled rows share a colour (first-fit, natural
    order: a red-black colouring for 5- and 7-point stencils)."""
    colors = np.full(n, -1, dtype=np.int64)
    mark = np.full(n + 1, -1, dtype=np.int64)
    for i in range(n):
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            if j != i and colors[j] >= 0:
                mark[colors[j]] = i
        c = 0
        while mark[c] == i:
            c += 1
        colors[i] = c
    return colors


@njit(cache=True, nogil=True)
def _cg_update(x, r, p, q, alpha):
    # four partial sums: a single running sum is a chain of dependent additions
    # (latency-bound, ~4 cycles per entry); four chains run in parallel
    n = x.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        x[i] += alpha * p[i]
        x[i + 1] += alpha * p[i + 1]
        x[i + 2] += alpha * p[i + 2]
        x[i + 3] += alpha * p[i + 3]
        r0 = r[i] - alpha * q[i]
        r1 = r[i + 1] - alpha * q[i + 1]
        r2 = r[i + 2] - alpha * q[i + 2]
        r3 = r[i + 3] - alpha * q[i + 3]
        r[i] = r0
        r[i + 1] = r1
        r[i + 2] = r2
        r[i + 3] = r3
        s0 += r0 * r0
        s1 += r1 * r1
        s2 += r2 * r2
        s3 += r3 * r3
    for i in range(m, n):
        x[i] += alpha * p[i]
        ri = r[i] - alpha * q[i]
        r[i] = ri
        s0 += ri * ri
    return (s0 + s1) + (s2 + s3)


def cg_update(xp, x, r, p, q, alpha):
    return _cg_update(x, r, p, q, x.dtype.type(alpha))


@njit(cache=True, nogil=True)
def _cg_direction(p, z, beta):
    for i in range(p.shape[0]):
        p[i] = z[i] + beta * p[i]


def cg_direction(xp, p, z, beta):
    _cg_direction(p, z, p.dtype.type(beta))
    return p


@njit(cache=True, nogil=True)
def _residual_sq(indptr, indices, data, b, x):
    total = 0.0
    for i in range(b.shape[0]):
        acc = b[i]
        for jj in range(indptr[i], indptr[i + 1]):
            acc -= data[jj] * x[indices[jj]]
        total += acc * acc
    return total


@njit(cache=True, nogil=True)
def _sor_iteration_natural(indptr, indices, data, b, x, omega, one_minus_omega, symmetric):
    _sor_natural(indptr, indices, data, b, x, omega, one_minus_omega, False)
    if symmetric:
        _sor_natural(indptr, indices, data, b, x, omega, one_minus_omega, True)
    return _residual_sq(indptr, indices, data, b, x)


@njit(cache=True, nogil=True)
def _sor_iteration_ordered(indptr, indices, data, b, x, omega, one_minus_omega, order,
                           symmetric):
    _sor_ordered(indptr, indices, data, b, x, omega, one_minus_omega, order, False)
    if symmetric:
        _sor_ordered(indptr, indices, data, b, x, omega, one_minus_omega, order, True)
    return _residual_sq(indptr, indices, data, b, x)


def sor_iteration(xp, indptr, indices, data, b, x, omega, order, color_ptr, symmetric,
                  matvec):
    omega, one_minus_omega = _omegas(data, omega)
    if order is None:
        rr = _sor_iteration_natural(indptr, indices, data, b, x, omega, one_minus_omega,
                                    bool(symmetric))
    else:
        rr = _sor_iteration_ordered(indptr, indices, data, b, x, omega, one_minus_omega,
                                    order, bool(symmetric))
    return rr ** 0.5


def _ichol0_kernels():
    from ._ichol_loops import _ichol0_apply, _ichol0_rows

    return (njit(cache=True, nogil=True)(_ichol0_rows),
            njit(cache=True, nogil=True)(_ichol0_apply))


# IC(0): the loops of numopt.linalg._ichol compiled (one implementation, two engines)
_ichol0_factor, _ichol0_solve = _ichol0_kernels()


def ichol0_factor(xp, indptr, indices, data):
    return _ichol0_factor(indptr, indices, data)


def ichol0_solve(xp, indptr, indices, values, r):
    return _ichol0_solve(indptr, indices, values, r)
