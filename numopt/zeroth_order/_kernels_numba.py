"""Numba kernels: the perturbation update fused with its counter-based generator (one
pass over ``x``, no buffer; see ``_perturbation.py`` for the generator)."""

import math

import numpy as np
from numba import njit

from ._perturbation import GOLDEN, MIX1, MIX2

_GOLDEN, _MIX1, _MIX2 = np.uint64(GOLDEN), np.uint64(MIX1), np.uint64(MIX2)
_S11, _S27, _S30, _S31, _S63 = (np.uint64(s) for s in (11, 27, 30, 31, 63))
_ONE, _TWO, _THREE = np.uint64(1), np.uint64(2), np.uint64(3)
_TWO_POW_53 = 2.0 ** -53


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def _add(x, key, scale, kind, sparsity):
    inv_sqrt_p = 1.0 / math.sqrt(sparsity)
    for i in range(x.shape[0]):
        base = _THREE * np.uint64(i) + key
        a = _mix(base)
        if kind == 0:
            b = _mix(base + _ONE)
            u1 = (float(a >> _S11) + 1.0) * _TWO_POW_53
            u2 = float(b >> _S11) * _TWO_POW_53
            z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
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
