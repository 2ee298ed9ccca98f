"""Seeded perturbations regenerated from their key, never stored (MeZO's memory rule).

Entry ``i`` of the perturbation with key ``k`` is a function of ``(k, i)`` alone, a
counter-based generator: a SplitMix64 hash of ``k`` and ``i`` gives a uniform ``u`` in
(0, 1), and the standard normal quantile of ``u`` (Acklam's rational approximation,
relative error below 1.2e-9; a logarithm only in the 5% of tails) one standard normal
entry (``kind="gaussian"``), or its sign bit a Rademacher entry
(``kind="rademacher"``). The quantile is three times cheaper than Box-Muller's
logarithm and cosine per entry, which made the kernel compute-bound. With ``sparsity = p < 1`` an entry is non-zero with
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

__all__ = ["add_perturbation", "KINDS", "CHUNK", "MASK64", "GOLDEN", "MIX1", "MIX2",
           "ACKLAM_A", "ACKLAM_B", "ACKLAM_C", "ACKLAM_D", "ACKLAM_LOW"]

KINDS = {"gaussian": 0, "rademacher": 1}
CHUNK = 1 << 16
MASK64 = (1 << 64) - 1
GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_TWO_POW_53 = 2.0 ** -53
# Acklam's coefficients of the normal quantile: a rational function of (u - 1/2)^2 in
# the centre, of sqrt(-2 log u) in the tails below ACKLAM_LOW and above 1 - ACKLAM_LOW
ACKLAM_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
ACKLAM_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01)
ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00)
ACKLAM_LOW = 0.02425


def _horner(coefficients, t):
    out = coefficients[0]
    for c in coefficients[1:]:
        out = out * t + c
    return out


def _normal_quantile(xp, u):
    """Acklam's approximation of the standard normal quantile of ``u`` in (0, 1)."""
    q = u - 0.5
    r = q * q
    centre = _horner(ACKLAM_A, r) * q / (_horner(ACKLAM_B, r) * r + 1.0)
    tail_u = xp.where(u < 0.5, u, 1.0 - u)
    t = xp.sqrt(-2.0 * xp.log(tail_u))
    tail = _horner(ACKLAM_C, t) / (_horner(ACKLAM_D, t) * t + 1.0)
    tail = xp.where(u < 0.5, tail, -tail)
    return xp.where((u < ACKLAM_LOW) | (u > 1.0 - ACKLAM_LOW), tail, centre)


def _mix(xp, z):
    """SplitMix64's finalizer on a uint64 array (wrapping arithmetic)."""
    z = z + GOLDEN
    z = (z ^ (z >> 30)) * MIX1
    z = (z ^ (z >> 27)) * MIX2
    return z ^ (z >> 31)


def _entries(xp, key, lo, hi, kind, sparsity):
    """Entries ``lo:hi`` of the perturbation with ``key``, in float64."""
    i = xp.arange(lo, hi, dtype=xp.uint64)
    base = 3 * i + (key & MASK64)          # the value's and the support's streams
    a = _mix(xp, base)
    if kind == 0:
        u = (xp.astype(a >> 11, xp.float64) + 0.5) * _TWO_POW_53      # (0, 1)
        z = _normal_quantile(xp, u)
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
