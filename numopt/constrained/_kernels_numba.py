"""No Numba kernels: the inner loop of numopt.constrained is the sketch solver of
:mod:`numopt.linalg` (its per-step work is BLAS on the sampled rows), and the outer
Newton loop evaluates the user's functions, which no kernel can fuse."""
