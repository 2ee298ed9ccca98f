"""Numba kernels: the perturbation update fused with its counter-based generator (one
pass over ``x``, no buffer; see ``_perturbation.py`` for the generator)."""

import math

import numpy as np
from numba import njit

from ._perturbation import (ACKLAM_A, ACKLAM_B, ACKLAM_C, ACKLAM_D, ACKLAM_LOW, GOLDEN,
                            MIX1, MIX2)

_GOLDEN, _MIX1, _MIX2 = np.uint64(GOLDEN), np.uint64(MIX1), np.uint64(MIX2)
_S11, _S27, _S30, _S31, _S63 = (np.uint64(s) for s in (11, 27, 30, 31, 63))
_TWO, _THREE = np.uint64(2), np.uint64(3)
_TWO_POW_53 = 2.0 ** -53
_A0, _A1, _A2, _A3, _A4, _A5 = ACKLAM_A
_B0, _B1, _B2, _B3, _B4 = ACKLAM_B
_C0, _C1, _C2, _C3, _C4, _C5 = ACKLAM_C
_D0, _D1, _D2, _D3 = ACKLAM_D


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _normal_quantile(u):
    if u < ACKLAM_LOW or u > 1.0 - ACKLAM_LOW:
        t = math.sqrt(-2.0 * math.log(u if u < 0.5 else 1.0 - u))
        tail = ((((((_C0 * t + _C1) * t + _C2) * t + _C3) * t + _C4) * t + _C5)
                / (((((_D0 * t + _D1) * t + _D2) * t + _D3) * t) + 1.0))
        return tail if u < 0.5 else -tail
    q = u - 0.5
    r = q * q
    return ((((((_A0 * r + _A1) * r + _A2) * r + _A3) * r + _A4) * r + _A5) * q
            / ((((((_B0 * r + _B1) * r + _B2) * r + _B3) * r + _B4) * r) + 1.0))


@njit(cache=True, nogil=True)
def _add(x, key, scale, kind, sparsity):
    inv_sqrt_p = 1.0 / math.sqrt(sparsity)
    for i in range(x.shape[0]):
        base = _THREE * np.uint64(i) + key
        a = _mix(base)
        if kind == 0:
            z = _normal_quantile((float(a >> _S11) + 0.5) * _TWO_POW_53)
        else:
            z = 1.0 if (a >> _S63) == np.uint64(0) else -1.0
        if sparsity < 1.0:
            u3 = float(_mix(base + _TWO) >> _S11) * _TWO_POW_53
            if u3 >= sparsity:
                continue
            z *= inv_sqrt_p
        x[i] = x[i] + scale * z


def add_perturbation(xp, x, key, scale, kind, sparsity):
    _add(x, np.uint64(key), float(scale), int(kind), float(sparsity))
    return x
