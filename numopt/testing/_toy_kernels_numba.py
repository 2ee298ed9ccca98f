"""Numba version of the toy Jacobi step (one fused pass over A, no temporaries)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _jacobi_step(A, b, x, damping):
    n = A.shape[0]
    out = np.empty_like(x)
    for i in range(n):
        acc = b[i]
        for j in range(n):
            acc -= A[i, j] * x[j]
        out[i] = x[i] + damping * acc / A[i, i]
    return out


def jacobi_step(xp, A, b, x, damping):
    return _jacobi_step(A, b, x, x.dtype.type(damping))
