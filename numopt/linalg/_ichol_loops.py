"""The loops of IC(0) (numopt.linalg._ichol): plain Python over CSR arrays, compiled by
Numba in ``_kernels_numba`` and run as they are under ``kernels="reference"``. A leaf
module (no numopt imports), so both can import it."""

import math


def _ichol0_rows(indptr, indices, data):
    """IC(0) of the lower triangle given as CSR with sorted columns, the diagonal last
    in each row; returns ``L``'s values on that pattern, or a negative row index
    ``-(i + 1)`` where a pivot is not positive (A is not SPD or IC(0) breaks down)."""
    values = data.copy()
    n = indptr.shape[0] - 1
    for i in range(n):
        start, diag = indptr[i], indptr[i + 1] - 1
        for kk in range(start, diag):
            k = indices[kk]
            # L_ik = (A_ik - sum_{j < k} L_ij L_kj) / L_kk, merging rows i and k
            total = values[kk]
            a, b = start, indptr[k]
            while a < kk and b < indptr[k + 1] - 1:
                ja, jb = indices[a], indices[b]
                if ja == jb:
                    total -= values[a] * values[b]
                    a += 1
                    b += 1
                elif ja < jb:
                    a += 1
                else:
                    b += 1
            values[kk] = total / values[indptr[k + 1] - 1]
        pivot = values[diag]
        for kk in range(start, diag):
            pivot -= values[kk] * values[kk]
        if not pivot > 0:
            return values, -(i + 1)
        values[diag] = math.sqrt(pivot)
    return values, 0


def _ichol0_apply(indptr, indices, values, r):
    """``(L L^T)^{-1} r``: forward substitution by rows, backward by columns of ``L``."""
    n = indptr.shape[0] - 1
    y = r.copy()
    for i in range(n):
        total = y[i]
        for kk in range(indptr[i], indptr[i + 1] - 1):
            total -= values[kk] * y[indices[kk]]
        y[i] = total / values[indptr[i + 1] - 1]
    for i in range(n - 1, -1, -1):
        y[i] = y[i] / values[indptr[i + 1] - 1]
        for kk in range(indptr[i], indptr[i + 1] - 1):
            y[indices[kk]] -= values[kk] * y[i]
    return y
