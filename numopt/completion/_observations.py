"""The observed entries of ``M`` as row- and column-major index structures.

NumPy/SciPy input gives host structures, CuPy/cupyx input device structures, all built
by the same code against the one namespace ``xp`` of the input. For NumPy and CuPy,
``xp`` is array-api-compat's namespace, which also carries the library's functions
beyond the array API standard (``bincount``, ``ldexp``, ``linalg.lstsq``,
``linalg.norm``); only the sparse matrices come from a module of their own
(:func:`sparse_module`). The input checks that lead here are in
:mod:`numopt.completion._validation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .._backend import get_kernel, is_cupy, to_numpy
from .._units import binary_exponent
from . import _rows  # noqa: F401  (declares the kernels)

__all__ = ["Lines", "Observations", "build_observations", "sparse_module", "observed_csr",
           "observed_misfit", "identifiable_count", "add_sketch", "split"]


def sparse_module(xp):
    """``scipy.sparse`` for NumPy, ``cupyx.scipy.sparse`` for CuPy: the sparse matrices
    of the arrays' library, which the array API does not cover."""
    if is_cupy(xp):
        import cupyx.scipy.sparse as sparse
    else:
        import scipy.sparse as sparse
    return sparse


@dataclass
class Lines:
    """One CSR-like structure: line ``i`` owns ``indices/data[indptr[i]:indptr[i+1]]``;
    ``bucket``/``sign`` are the CountSketch of each entry (filled on demand)."""

    indptr: object
    indices: object
    data: object
    bucket: object = None
    sign: object = None

    def counts(self):
        """Observations per line, on the host."""
        return np.diff(to_numpy(self.indptr))


@dataclass
class Observations:
    shape: tuple
    rows: object          # COO triplets, row-major order
    cols: object
    values: object
    by_row: Lines
    by_col: Lines
    norm: float           # ||P_Omega(M)||_F
    dtype: object
    scale: float = 1.0    # the values above are M's observed entries divided by this

    @property
    def n_observed(self):
        return int(self.values.shape[0])

    def value_sums(self, xp):
        """``(row_sums, col_sums)``: the observed values of every row and of every
        column added up, in float64 and in ``M``'s units."""
        values = self.values.astype(xp.float64) * self.scale
        return (xp.bincount(self.rows, weights=values, minlength=self.shape[0]),
                xp.bincount(self.cols, weights=values, minlength=self.shape[1]))


def observed_csr(obs, xp):
    """The observed entries as a CSR matrix (scipy or cupyx, for the spectral
    products)."""
    return sparse_module(xp).csr_matrix(
        (obs.by_row.data, obs.by_row.indices, obs.by_row.indptr), shape=obs.shape)


def _structures(xp, rows, cols, values, shape):
    """Row-major and column-major index structures of COO triplets (rows sorted)."""
    m, n = shape
    row_ptr = xp.zeros(m + 1, dtype=xp.int64)
    row_ptr[1:] = xp.cumsum(xp.bincount(rows, minlength=m))
    # The keys are distinct, so any sort gives the column-major order with rows ascending.
    col_order = xp.argsort(cols * m + rows, stable=False)
    col_ptr = xp.zeros(n + 1, dtype=xp.int64)
    col_ptr[1:] = xp.cumsum(xp.bincount(cols, minlength=n))
    by_row = Lines(row_ptr, cols.astype(xp.int64), values)
    by_col = Lines(col_ptr, rows[col_order].astype(xp.int64), values[col_order])
    return by_row, by_col


def row_of_entries(xp, indptr, nnz):
    """The row of every stored entry of a CSR matrix."""
    if is_cupy(xp):   # CuPy's repeat takes no array of counts
        return xp.searchsorted(indptr[1:], xp.arange(nnz), side="right").astype(xp.int64)
    return xp.repeat(xp.arange(indptr.shape[0] - 1, dtype=xp.int64), xp.diff(indptr))


def _normalized(xp, values):
    """``values`` divided by the power of two just above their largest magnitude, and
    that power.

    The division is exact, and it makes the solvers unit-free: squared norms of data
    near 1e200 would overflow, data near 1e-200 would underflow, and the single-precision
    range finder of the spectral start covers only about 1e-38 to 1e38. Every row solve
    is linear in the data, so the solvers multiply the scale back into ``V`` alone.
    """
    exponent = binary_exponent(xp.max(xp.abs(values)))
    return xp.ldexp(values, -exponent), math.ldexp(1.0, exponent)


def build_observations(xp, rows, cols, values, shape, dtype):
    """The :class:`Observations` of the COO triplets ``(rows, cols, values)`` (row-major,
    already checked), in units scaled by a power of two."""
    values, scale = _normalized(xp, values)
    by_row, by_col = _structures(xp, rows, cols, values, shape)
    norm = float(xp.linalg.norm(values.astype(xp.float64)))
    return Observations(tuple(shape), rows, cols, values, by_row, by_col, norm, dtype, scale)


def observed_misfit(obs, U, V, xp):
    """``(sq, rel)``: the squared residual ``||P_Omega(U V^T - M)||^2`` and the relative
    residual ``||P_Omega(U V^T - M)|| / ||P_Omega(M)||``, recomputed in float64 from the
    factors (normalized units), whatever their dtype: success is decided on this figure,
    not on the one the solver's working precision accumulated."""
    rows = obs.by_row
    resid = get_kernel("completion.observed_residual", xp)(
        xp, rows.indptr, rows.indices, rows.data.astype(xp.float64, copy=False),
        U.astype(xp.float64, copy=False), V.astype(xp.float64, copy=False))
    sq = float(xp.dot(resid, resid))
    return sq, (math.sqrt(sq) / obs.norm if obs.norm > 0 else 0.0)


def identifiable_count(shape, rank):
    """``2 k (m + n - k)``: twice the degrees of freedom of a rank-``k`` ``m x n`` matrix,
    about the number of random observations below which its completion is not
    determined (the figure quoted in the warning)."""
    m, n = shape
    return 2 * rank * (m + n - rank)


def add_sketch(lines, sketch_size, rng, dtype):
    """``lines`` (sharing its arrays) with a CountSketch of every entry drawn from
    ``rng``: bucket and sign.

    Stored narrow (int32 bucket, int8 sign: 5 bytes per observation and side instead of
    16), since at 2e7 observations they are the largest arrays altmin adds."""
    nnz = lines.indices.shape[0]
    bucket = rng.integers(0, sketch_size, size=nnz, dtype=np.int32)
    sign = (2 * rng.integers(0, 2, size=nnz, dtype=np.int8) - 1).astype(np.int8)
    return replace(lines, bucket=bucket, sign=sign)


def split(obs, n_parts, rng, xp):
    """Partition the observations into ``n_parts`` random disjoint subsets
    (sample splitting): a list of ``(by_row, by_col, norm)``."""
    part = xp.asarray(rng.integers(0, n_parts, size=obs.n_observed))
    out = []
    for q in range(n_parts):
        keep = part == q
        by_row, by_col = _structures(xp, obs.rows[keep], obs.cols[keep], obs.values[keep],
                                     obs.shape)
        out.append((by_row, by_col,
                    float(xp.linalg.norm(obs.values[keep].astype(xp.float64)))))
    return out
