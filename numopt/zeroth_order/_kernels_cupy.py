"""CuPy kernels: the perturbation update fused with its counter-based generator, one
ElementwiseKernel over ``x`` (the same SplitMix64 hashes and Box-Muller transform as
``_perturbation.py``; compiled once per dtype)."""

import cupy

from ._perturbation import GOLDEN, MIX1, MIX2

_PREAMBLE = f"""
__device__ unsigned long long numopt_mix(unsigned long long z) {{
    z += {GOLDEN}ULL;
    z = (z ^ (z >> 30)) * {MIX1}ULL;
    z = (z ^ (z >> 27)) * {MIX2}ULL;
    return z ^ (z >> 31);
}}
"""

_ADD = cupy.ElementwiseKernel(
    "uint64 key, float64 scale, int32 kind, float64 sparsity", "T x",
    r"""
    const unsigned long long base = 3ULL * (unsigned long long)i + key;
    const unsigned long long a = numopt_mix(base);
    double z;
    if (kind == 0) {
        const unsigned long long b = numopt_mix(base + 1ULL);
        const double u1 = ((double)(a >> 11) + 1.0) * 1.1102230246251565e-16;
        const double u2 = (double)(b >> 11) * 1.1102230246251565e-16;
        z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
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
