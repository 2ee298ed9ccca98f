"""CuPy kernels: the dense-game path.

The deterministic methods run on CuPy arrays through the array API (``F`` is two dense
GEMVs; the iterates never leave the device). What does not vectorize in the array API
is the simplex projection's threshold search; here it is one sort, one cumulative sum
and one reduction on the device, with no host round trip (the reference version reads
the threshold's index back to the host). Not yet run on a GPU.
"""

import cupy


def project_simplex(xp, z, radius):
    d = z.shape[0]
    u = cupy.sort(z)[::-1]
    css = cupy.cumsum(u) - radius
    j = cupy.arange(1, d + 1, dtype=z.dtype)
    positive = (u - css / j) > 0
    rho = d - 1 - cupy.argmax(positive[::-1])   # the last positive index, on the device
    tau = css[rho] / (rho + 1).astype(z.dtype)
    return cupy.maximum(z - tau, 0)
