"""A square matrix as CSR arrays in the caller's namespace: the form the SOR sweeps,
the SSOR preconditioner and the fused GPU CG read, with its greedy multicolouring."""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy

__all__ = ["CSRSystem"]


class CSRSystem:
    """A square matrix held as CSR arrays (``indptr``, ``indices``, ``data``) in the
    caller's namespace plus a fast ``matvec`` (SciPy/cupyx SpMV, or dense ``@`` for
    other array libraries)."""

    def __init__(self, xp, indptr, indices, data, n, native=None, dense=None):
        self.xp, self.indptr, self.indices, self.data, self.n = xp, indptr, indices, data, n
        self.native, self.dense = native, dense
        self.dtype = data.dtype

    def matvec(self, x):
        return (self.native if self.native is not None else self.dense) @ x

    def diagonal(self):
        xp = self.xp
        if self.native is not None:
            return self.native.diagonal()
        return xp.linalg.diagonal(self.dense)

    def coloring(self):
        """``(order, color_ptr)``: rows sorted by a greedy colour and the colour offsets."""
        # Greedy colouring is sequential: it runs on the host (structure only, once
        # per matrix); on a GPU only indptr/indices travel, never values.
        indptr, indices = to_numpy(self.indptr), to_numpy(self.indices)
        colors = _greedy_coloring_host(np.asarray(indptr, dtype=np.int64),
                                       np.asarray(indices, dtype=np.int64), self.n)
        order = np.argsort(colors, kind="stable")
        color_ptr = np.searchsorted(colors[order], np.arange(int(colors.max()) + 2))
        return self.xp.asarray(order), [int(c) for c in color_ptr]


def _greedy_coloring_host(indptr, indices, n):
    try:
        from ._kernels_numba import greedy_coloring
    except ImportError:  # pragma: no cover - numba is a core dependency
        greedy_coloring = None
    if greedy_coloring is not None:
        return greedy_coloring(indptr, indices, n)
    colors = np.full(n, -1)  # pragma: no cover
    for i in range(n):  # pragma: no cover
        used = {colors[j] for j in indices[indptr[i]:indptr[i + 1]] if j != i}
        colors[i] = next(c for c in range(n + 1) if c not in used)
    return colors  # pragma: no cover
