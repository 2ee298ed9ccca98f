"""CuPy kernels: the perturbation update fused with its counter-based generator, one
ElementwiseKernel over ``x`` (the same SplitMix64 hashes and normal quantile as
``_perturbation.py``; compiled once per dtype)."""

import cupy

from ._perturbation import (ACKLAM_A, ACKLAM_B, ACKLAM_C, ACKLAM_D, ACKLAM_LOW, GOLDEN,
                            MIX1, MIX2)


def _horner(coefficients, t):
    text = repr(coefficients[0])
    for c in coefficients[1:]:
        text = f"({text} * {t} + {c!r})"
    return text


_PREAMBLE = f"""
__device__ unsigned long long numopt_mix(unsigned long long z) {{
    z += {GOLDEN}ULL;
    z = (z ^ (z >> 30)) * {MIX1}ULL;
    z = (z ^ (z >> 27)) * {MIX2}ULL;
    return z ^ (z >> 31);
}}
__device__ double numopt_normal_quantile(double u) {{
    if (u < {ACKLAM_LOW!r} || u > 1.0 - {ACKLAM_LOW!r}) {{
        const double t = sqrt(-2.0 * log(u < 0.5 ? u : 1.0 - u));
        const double tail = {_horner(ACKLAM_C, "t")} / ({_horner(ACKLAM_D, "t")} * t + 1.0);
        return u < 0.5 ? tail : -tail;
    }}
    const double q = u - 0.5, r = q * q;
    return {_horner(ACKLAM_A, "r")} * q / ({_horner(ACKLAM_B, "r")} * r + 1.0);
}}
"""

_ADD = cupy.ElementwiseKernel(
    "uint64 key, float64 scale, int32 kind, float64 sparsity", "T x",
    r"""
    const unsigned long long base = 3ULL * (unsigned long long)i + key;
    const unsigned long long a = numopt_mix(base);
    double z;
    if (kind == 0) {
        z = numopt_normal_quantile(((double)(a >> 11) + 0.5) * 1.1102230246251565e-16);
    } else {
        z = (a >> 63) == 0ULL ? 1.0 : -1.0;
    }
    bool keep = true;
    if (sparsity < 1.0) {
        const double u3 = (double)(numopt_mix(base + 2ULL) >> 11) * 1.1102230246251565e-16;
        keep = u3 < sparsity;
        z /= sqrt(sparsity);
    }
    if (keep) x = (T)((double)x + scale * z);
    """,
    "numopt_zo_add_perturbation", preamble=_PREAMBLE)


def add_perturbation(xp, x, key, scale, kind, sparsity):
    _ADD(cupy.uint64(key), float(scale), cupy.int32(kind), float(sparsity), x)
    return x
