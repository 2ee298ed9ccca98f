"""Numba kernel of the DCDM network: the 3x3 / 3x3x3 convolution with bias, ReLU and the
residual-block addition fused in.

The input is copied once into a zero-haloed workspace (kept per thread and shape, reused
across applications), so the inner loops carry no boundary tests. For one output row the
loops run: output channels two at a time, input channel, the 3 planes of the stencil
(3-D), then the contiguous last axis innermost, where the 9 taps of one plane feed both
output rows from the same 9 loads (a row of 16 channels x 9 input rows stays in L1). The
innermost loop vectorizes without reassociation, so no fastmath. Measured against the
other loop orders in the commit that introduced it (one output channel per pass, 27 taps
per pass, four output channels per pass: the last one does not vectorize).
``parallel=True`` over output rows did not pay on the shared 2-core machine (64^3: 191 ms
with one thread, 263 ms with two), so the kernel is serial.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _taps_one(row, r0, r1, r2, w):
    """``row[j] += sum_{a, b} w[a, b] * r_a[j + b]`` (rows of the haloed input)."""
    w00, w01, w02 = w[0, 0], w[0, 1], w[0, 2]
    w10, w11, w12 = w[1, 0], w[1, 1], w[1, 2]
    w20, w21, w22 = w[2, 0], w[2, 1], w[2, 2]
    for j in range(row.shape[0]):
        row[j] += (w00 * r0[j] + w01 * r0[j + 1] + w02 * r0[j + 2]
                   + w10 * r1[j] + w11 * r1[j + 1] + w12 * r1[j + 2]
                   + w20 * r2[j] + w21 * r2[j + 1] + w22 * r2[j + 2])


@njit(cache=True, nogil=True, inline="always")
def _taps_two(row0, row1, r0, r1, r2, w, v):
    """:func:`_taps_one` for two output rows (weights ``w`` and ``v``) sharing the loads."""
    w00, w01, w02 = w[0, 0], w[0, 1], w[0, 2]
    w10, w11, w12 = w[1, 0], w[1, 1], w[1, 2]
    w20, w21, w22 = w[2, 0], w[2, 1], w[2, 2]
    v00, v01, v02 = v[0, 0], v[0, 1], v[0, 2]
    v10, v11, v12 = v[1, 0], v[1, 1], v[1, 2]
    v20, v21, v22 = v[2, 0], v[2, 1], v[2, 2]
    for j in range(row0.shape[0]):
        p0, p1, p2 = r0[j], r0[j + 1], r0[j + 2]
        q0, q1, q2 = r1[j], r1[j + 1], r1[j + 2]
        s0, s1, s2 = r2[j], r2[j + 1], r2[j + 2]
        row0[j] += (w00 * p0 + w01 * p1 + w02 * p2 + w10 * q0 + w11 * q1 + w12 * q2
                    + w20 * s0 + w21 * s1 + w22 * s2)
        row1[j] += (v00 * p0 + v01 * p1 + v02 * p2 + v10 * q0 + v11 * q1 + v12 * q2
                    + v20 * s0 + v21 * s1 + v22 * s2)


@njit(cache=True, nogil=True, inline="always")
def _finish(out_row, acc, relu, residual_row, has_residual):
    """The epilogue of one output row: ReLU, then the residual block's addition (the
    accumulator is separate, so ``out`` may be the residual itself)."""
    for j in range(out_row.shape[0]):
        value = acc[j]
        if relu and value < 0:
            value = 0
        if has_residual:
            value += residual_row[j]
        out_row[j] = value


@njit(cache=True, nogil=True)
def _conv2d(xpad, w, b, relu, residual, has_residual, out):
    C, Hp, Wp = xpad.shape
    O = w.shape[0]
    acc = np.empty((2, Wp - 2), dtype=out.dtype)
    for i in range(Hp - 2):
        o = 0
        while o < O:
            if o + 1 < O:
                row0, row1 = acc[0], acc[1]
                row0[:] = b[o]
                row1[:] = b[o + 1]
                for c in range(C):
                    _taps_two(row0, row1, xpad[c, i], xpad[c, i + 1], xpad[c, i + 2],
                              w[o, c], w[o + 1, c])
                _finish(out[o, i], row0, relu, residual[o, i], has_residual)
                _finish(out[o + 1, i], row1, relu, residual[o + 1, i], has_residual)
                o += 2
            else:
                row = acc[0]
                row[:] = b[o]
                for c in range(C):
                    _taps_one(row, xpad[c, i], xpad[c, i + 1], xpad[c, i + 2], w[o, c])
                _finish(out[o, i], row, relu, residual[o, i], has_residual)
                o += 1
    return out


@njit(cache=True, nogil=True)
def _conv3d(xpad, w, b, relu, residual, has_residual, out):
    C, Dp, Hp, Wp = xpad.shape
    O = w.shape[0]
    acc = np.empty((2, Wp - 2), dtype=out.dtype)
    for k in range(Dp - 2):
        for i in range(Hp - 2):
            o = 0
            while o < O:
                if o + 1 < O:
                    row0, row1 = acc[0], acc[1]
                    row0[:] = b[o]
                    row1[:] = b[o + 1]
                    for c in range(C):
                        for dk in range(3):
                            plane = xpad[c, k + dk]
                            _taps_two(row0, row1, plane[i], plane[i + 1], plane[i + 2],
                                      w[o, c, dk], w[o + 1, c, dk])
                    _finish(out[o, k, i], row0, relu, residual[o, k, i], has_residual)
                    _finish(out[o + 1, k, i], row1, relu, residual[o + 1, k, i], has_residual)
                    o += 2
                else:
                    row = acc[0]
                    row[:] = b[o]
                    for c in range(C):
                        for dk in range(3):
                            plane = xpad[c, k + dk]
                            _taps_one(row, plane[i], plane[i + 1], plane[i + 2], w[o, c, dk])
                    _finish(out[o, k, i], row, relu, residual[o, k, i], has_residual)
                    o += 1
    return out


_workspaces = threading.local()


def _haloed(x):
    """``x`` copied into this thread's zero-haloed workspace of its shape (the halo is
    never written, so it stays zero across calls)."""
    shape = (x.shape[0],) + tuple(s + 2 for s in x.shape[1:])
    cache = getattr(_workspaces, "buffers", None)
    if cache is None:
        cache = _workspaces.buffers = {}
    key = (shape, x.dtype.str)
    buffer = cache.get(key)
    if buffer is None:
        buffer = cache[key] = np.zeros(shape, dtype=x.dtype)
    buffer[(slice(None),) + tuple(slice(1, s + 1) for s in x.shape[1:])] = x
    return buffer


def dcdm_conv(xp, x, weight, bias, relu, out, residual=None):
    """The Numba version of ``numopt.linalg._dcdm_model.dcdm_conv``; ``out`` may be
    ``residual`` itself (each output cell reads only its own residual cell)."""
    x = np.asarray(x)
    weight = np.ascontiguousarray(weight, dtype=x.dtype)
    bias = np.asarray(bias, dtype=x.dtype)
    has_residual = residual is not None
    if not has_residual:
        residual = out     # a placeholder of the right type, never read
    xpad = _haloed(x)
    if x.ndim == 3:
        return _conv2d(xpad, weight, bias, bool(relu), residual, has_residual, out)
    return _conv3d(xpad, weight, bias, bool(relu), residual, has_residual, out)
