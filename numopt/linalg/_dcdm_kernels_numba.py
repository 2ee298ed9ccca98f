"""Numba kernel of the DCDM network: the 3x3 / 3x3x3 convolution with bias and ReLU.

Loop order: output channel, output row, input channel, stencil offset, and the
contiguous last axis innermost (it vectorizes without reassociation, so no fastmath).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _add_taps(row, src, taps):
    """``row[j] += sum_d taps[d] * src[j + d - 1]`` over the 3 taps of one stencil row,
    zero outside ``src``."""
    W = row.shape[0]
    for dj in range(3):
        wv = taps[dj]
        lo = 1 - dj if dj < 1 else 0
        hi = W - 1 if dj == 2 else W
        for j in range(lo, hi):
            row[j] += wv * src[j + dj - 1]


@njit(cache=True, nogil=True, inline="always")
def _relu(row):
    for j in range(row.shape[0]):
        if row[j] < 0:
            row[j] = 0


@njit(cache=True, nogil=True)
def _conv2d(x, w, b, relu, out):
    C, H, W = x.shape
    O = w.shape[0]
    for o in range(O):
        for i in range(H):
            row = out[o, i]
            for j in range(W):
                row[j] = b[o]
            for c in range(C):
                for di in range(3):
                    ii = i + di - 1
                    if ii < 0 or ii >= H:
                        continue
                    _add_taps(row, x[c, ii], w[o, c, di])
            if relu:
                _relu(row)
    return out


@njit(cache=True, nogil=True)
def _conv3d(x, w, b, relu, out):
    C, D, H, W = x.shape
    O = w.shape[0]
    for o in range(O):
        for k in range(D):
            for i in range(H):
                row = out[o, k, i]
                for j in range(W):
                    row[j] = b[o]
                for c in range(C):
                    for dk in range(3):
                        kk = k + dk - 1
                        if kk < 0 or kk >= D:
                            continue
                        for di in range(3):
                            ii = i + di - 1
                            if ii < 0 or ii >= H:
                                continue
                            _add_taps(row, x[c, kk, ii], w[o, c, dk, di])
                if relu:
                    _relu(row)
    return out


def dcdm_conv(xp, x, weight, bias, relu, out):
    """The Numba version of ``numopt.linalg._dcdm_model.dcdm_conv``."""
    import numpy as np

    x = np.ascontiguousarray(x)
    weight = np.asarray(weight, dtype=x.dtype)
    bias = np.asarray(bias, dtype=x.dtype)
    if x.ndim == 3:
        return _conv2d(x, weight, bias, bool(relu), out)
    return _conv3d(x, weight, bias, bool(relu), out)
