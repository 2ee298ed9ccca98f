"""Seeded perturbations regenerated from their key, never stored (MeZO's memory rule).

Entry ``i`` of the perturbation with key ``k`` is a function of ``(k, i)`` alone, a
counter-based generator: two SplitMix64 hashes of ``k`` and ``i`` give two uniforms,
Box-Muller one standard normal (``kind="gaussian"``) or the sign bit a Rademacher
entry (``kind="rademacher"``). With ``sparsity = p < 1`` an entry is non-zero with
probability ``p`` (a third hash) and scaled by ``1/sqrt(p)``, so ``E[z z^T] = I``
whatever ``p``: the two-point estimates stay unbiased.

So ``x + scale * z`` is one pass over ``x`` with no ``d``-vector of ``z`` ever held:
Numba and CuPy kernels fuse the hash into the update, the array-API reference computes
it in chunks of :data:`CHUNK` entries. The same key gives the same ``z`` on every
backend (up to the last bit of ``log``/``cos``), so the update regenerates exactly the
perturbation that was evaluated.
"""

from __future__ import annotations

import math

from .._backend import kernel

__all__ = ["add_perturbation", "KINDS", "CHUNK", "MASK64", "GOLDEN", "MIX1", "MIX2"]

KINDS = {"gaussian": 0, "rademacher": 1}
CHUNK = 1 << 16
MASK64 = (1 << 64) - 1
GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_TWO_POW_53 = 2.0 ** -53


def _mix(xp, z):
    """SplitMix64's finalizer on a uint64 array (wrapping arithmetic)."""
    z = z + GOLDEN
    z = (z ^ (z >> 30)) * MIX1
    z = (z ^ (z >> 27)) * MIX2
    return z ^ (z >> 31)


def _entries(xp, key, lo, hi, kind, sparsity):
    """Entries ``lo:hi`` of the perturbation with ``key``, in float64."""
    i = xp.arange(lo, hi, dtype=xp.uint64)
    base = 3 * i + (key & MASK64)          # three independent streams per entry
    a, b = _mix(xp, base), _mix(xp, base + 1)
    if kind == 0:
        u1 = (xp.astype(a >> 11, xp.float64) + 1.0) * _TWO_POW_53   # (0, 1]
        u2 = xp.astype(b >> 11, xp.float64) * _TWO_POW_53           # [0, 1)
        z = xp.sqrt(-2.0 * xp.log(u1)) * xp.cos((2.0 * math.pi) * u2)
    else:
        z = xp.where((a >> 63) == 0, 1.0, -1.0)
        z = xp.astype(z, xp.float64)
    if sparsity < 1.0:
        u3 = xp.astype(_mix(xp, base + 2) >> 11, xp.float64) * _TWO_POW_53
        z = xp.where(u3 < sparsity, z / math.sqrt(sparsity), 0.0)
    return z


@kernel("zeroth_order.add_perturbation",
        numba="numopt.zeroth_order._kernels_numba:add_perturbation",
        cupy="numopt.zeroth_order._kernels_cupy:add_perturbation")
def add_perturbation(xp, x, key, scale, kind, sparsity):
    """``x <- x + scale * z(key)`` in place, entry by entry in float64 then rounded to
    ``x``'s dtype. ``kind`` is 0 (Gaussian) or 1 (Rademacher), ``sparsity`` in (0, 1]."""
    d, scale = x.shape[0], float(scale)
    for lo in range(0, d, CHUNK):
        hi = min(d, lo + CHUNK)
        z = _entries(xp, key, lo, hi, kind, sparsity)
        x[lo:hi] = xp.astype(xp.astype(x[lo:hi], xp.float64) + scale * z, x.dtype)
    return x
