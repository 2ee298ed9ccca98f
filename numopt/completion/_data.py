"""The observed entries of ``M`` as row- and column-major index structures.

A sparse input is never densified: its stored entries (explicit zeros included) are the
observations. A dense input marks missing entries with NaN. NumPy/SciPy input gives host
structures, CuPy/cupyx input device structures: the same code builds both through
:func:`array_module` (``numpy`` or ``cupy``) and :func:`sparse_module`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._backend import is_cupy, is_numpy, to_numpy
from .._units import binary_exponent

__all__ = ["Observations", "observations_from", "array_module", "sparse_module"]


def array_module(xp):
    """The array library behind ``xp`` (``numpy`` or ``cupy``): QR, SVD, bincount and
    sparse products go beyond the array API."""
    if is_cupy(xp):
        import cupy

        return cupy
    return np


def sparse_module(lib):
    """``scipy.sparse`` for NumPy, ``cupyx.scipy.sparse`` for CuPy."""
    if lib is np:
        import scipy.sparse as sparse
    else:
        import cupyx.scipy.sparse as sparse
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
    rows: np.ndarray      # COO triplets, row-major order
    cols: np.ndarray
    values: object
    by_row: Lines
    by_col: Lines
    norm: float           # ||P_Omega(M)||_F
    dtype: object
    lib: object = np      # numpy or cupy: where the structures live
    scale: float = 1.0    # the values above are M's observed entries divided by this

    @property
    def n_observed(self):
        return int(self.values.shape[0])

    def sparse(self):
        """The observed entries as a CSR matrix (scipy or cupyx, for the spectral
        products)."""
        return sparse_module(self.lib).csr_matrix(
            (self.by_row.data, self.by_row.indices, self.by_row.indptr), shape=self.shape)


def _structures(lib, rows, cols, values, shape):
    """Row-major and column-major index structures of COO triplets (rows sorted)."""
    m, n = shape
    row_ptr = lib.zeros(m + 1, dtype=lib.int64)
    row_ptr[1:] = lib.cumsum(lib.bincount(rows, minlength=m))
    # The keys are distinct, so any sort gives the column-major order with rows ascending.
    col_order = lib.argsort(cols * m + rows)
    col_ptr = lib.zeros(n + 1, dtype=lib.int64)
    col_ptr[1:] = lib.cumsum(lib.bincount(cols, minlength=n))
    by_row = Lines(row_ptr, cols.astype(lib.int64), values)
    by_col = Lines(col_ptr, rows[col_order].astype(lib.int64), values[col_order])
    return by_row, by_col


def _row_of(lib, indptr, nnz):
    """The row of every stored entry of a CSR matrix."""
    if lib is np:
        return np.repeat(np.arange(indptr.shape[0] - 1, dtype=np.int64), np.diff(indptr))
    return lib.searchsorted(indptr[1:], lib.arange(nnz), side="right").astype(lib.int64)


def observations_from(M, xp, name="M"):
    """Validate ``M`` and return its :class:`Observations`: NumPy/SciPy input on the
    host, CuPy/cupyx input on the device (never densified, never moved)."""
    lib = array_module(xp)
    if not (is_numpy(xp) or lib is not np):
        raise TypeError(f"{name} must be a NumPy or CuPy array or a scipy/cupyx sparse "
                        f"matrix, got {type(M).__name__}")
    sparse = sparse_module(lib)
    if sparse.issparse(M):
        if len(M.shape) != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {M.shape}")
        if not (np.issubdtype(M.dtype, np.floating) or np.issubdtype(M.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {M.dtype}")
        csr = sparse.csr_matrix(M, copy=True) if lib is np else M.tocsr(copy=True)
        csr.sum_duplicates()  # scipy's convention: duplicate entries add up
        csr.sort_indices()
        shape = csr.shape
        dtype = np.float32 if csr.dtype == np.float32 else np.float64
        values = csr.data.astype(dtype, copy=False)
        cols = csr.indices.astype(lib.int64)
        rows = _row_of(lib, csr.indptr.astype(lib.int64), cols.shape[0])
        if not bool(lib.all(lib.isfinite(values))):
            kind = "NaN" if bool(lib.isnan(values).any()) else "inf"
            raise ValueError(f"{name} must have finite observed values, but its stored "
                             f"entries contain {kind} (a sparse input marks missing entries "
                             "by not storing them)")
    else:
        arr = lib.asarray(M)
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                     or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}")
        shape = arr.shape
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
        arr = arr.astype(dtype, copy=False)
        if bool(lib.isinf(arr).any()):
            raise ValueError(f"{name} must not contain inf (NaN marks a missing entry)")
        rows, cols = lib.nonzero(~lib.isnan(arr))      # row-major order
        rows, cols = rows.astype(lib.int64), cols.astype(lib.int64)
        values = arr[rows, cols]
    if math.prod(shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(shape)}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} has no observed entries")
    values, scale = _normalized(lib, values)
    by_row, by_col = _structures(lib, rows, cols, values, shape)
    norm = float(lib.linalg.norm(values.astype(lib.float64)))
    return Observations(tuple(shape), rows, cols, values, by_row, by_col, norm, dtype, lib,
                        scale)


def _normalized(lib, values):
    """``values`` divided by the power of two just above their largest magnitude, and
    that power.

    The division is exact, and it makes the solvers unit-free: squared norms of data
    near 1e200 would overflow, data near 1e-200 would underflow, and the single-precision
    range finder of the spectral start covers only about 1e-38 to 1e38. Every row solve
    is linear in the data, so the solvers multiply the scale back into ``V`` alone.
    """
    exponent = binary_exponent(lib.max(lib.abs(values)))
    return lib.ldexp(values, -exponent), math.ldexp(1.0, exponent)


def residual_stalled(rel, prev_rel, tol, dtype, *, monotone):
    """Whether the relative training residual, moving from ``prev_rel`` to ``rel``, has
    stopped improving: it fell by at most ``tol`` relatively, reached the rounding floor
    of ``dtype`` (four unit roundoffs), or rose where only rounding can raise it (anywhere
    for a ``monotone`` method; below sqrt(eps) otherwise). A float32 fit ends near 1e-6
    and wanders there, never settling to a relative change below a tol such as 1e-8.

    A stalled fit is a success only where its measure meets ``tol``; otherwise the run
    ends ``Status.STALLED``."""
    eps = float(np.finfo(dtype).eps)
    if rel <= 4 * eps:
        return True
    if not math.isfinite(prev_rel):
        return False
    if rel > prev_rel:
        return monotone or rel <= math.sqrt(eps)
    return prev_rel - rel <= tol * prev_rel


# A float32 fit recomputed in float64 from its factors ends at a few unit roundoffs
# (2e-7 to 5e-7 measured on exactly low-rank data; 1e-5 to 1.6e-5, about 100 units,
# with altmin's sketched row solve); below this many the stall is rounding, and the
# message says which tolerances the dtype can meet.
ROUNDING_FLOOR_ULPS = 256


def stall_detail(measure, value, tol, dtype):
    """The message detail of a run that ended ``STALLED`` at ``value`` > ``tol``."""
    eps = float(np.finfo(dtype).eps)
    name = np.dtype(dtype).name
    if value <= ROUNDING_FLOOR_ULPS * eps:
        why = (f"the rounding floor of {name}: a tol below about {value:.1g} cannot be met "
               f"in {name}")
    else:
        why = ("a stationary fit: noisy data, a rank below the data's, too few "
               "observations or a local minimum")
    return f"The {measure} stopped decreasing at {value:.3g} (> tol={tol:.3g}): {why}."


def unmet_detail(measure, value, tol, nit):
    """The message detail of a run stopped early (maxiter, callback) at ``value``, or
    None where ``value`` meets ``tol``."""
    if value <= tol:
        return None
    still = " and still decreasing" if nit > 0 else ""
    return f"{measure[0].upper()}{measure[1:]} {value:.3g} > tol={tol:.3g}{still}."


def observed_misfit(obs, U, V, xp):
    """``(sq, rel)``: the squared residual ``||P_Omega(U V^T - M)||^2`` and the relative
    residual ``||P_Omega(U V^T - M)|| / ||P_Omega(M)||``, recomputed in float64 from the
    factors (normalized units), whatever their dtype: success is decided on this figure,
    not on the one the solver's working precision accumulated."""
    from .._backend import get_kernel
    from . import _rows  # noqa: F401  (declares the kernel)

    lib = obs.lib
    rows = obs.by_row
    resid = get_kernel("completion.observed_residual", xp)(
        xp, rows.indptr, rows.indices, rows.data.astype(lib.float64, copy=False),
        U.astype(lib.float64, copy=False), V.astype(lib.float64, copy=False))
    sq = float(lib.dot(resid, resid))
    return sq, (math.sqrt(sq) / obs.norm if obs.norm > 0 else 0.0)


def identifiable_count(shape, rank):
    """``2 k (m + n - k)``: twice the degrees of freedom of a rank-``k`` ``m x n`` matrix,
    about the number of random observations below which its completion is not
    determined (the figure quoted in the warning)."""
    m, n = shape
    return 2 * rank * (m + n - rank)


def add_sketch(lines, sketch_size, rng, dtype):
    """Draw the CountSketch of every entry of ``lines`` (bucket and sign).

    Stored narrow (int32 bucket, int8 sign: 5 bytes per observation and side instead of
    16), since at 2e7 observations they are the largest arrays altmin adds."""
    nnz = lines.indices.shape[0]
    lines.bucket = rng.integers(0, sketch_size, size=nnz, dtype=np.int32)
    lines.sign = (2 * rng.integers(0, 2, size=nnz, dtype=np.int8) - 1).astype(np.int8)
    return lines


def split(obs, n_parts, rng):
    """Partition the observations into ``n_parts`` random disjoint subsets
    (sample splitting): a list of ``(by_row, by_col, norm)``."""
    lib = obs.lib
    part = lib.asarray(rng.integers(0, n_parts, size=obs.n_observed))
    out = []
    for q in range(n_parts):
        keep = part == q
        by_row, by_col = _structures(lib, obs.rows[keep], obs.cols[keep], obs.values[keep],
                                     obs.shape)
        out.append((by_row, by_col,
                    float(lib.linalg.norm(obs.values[keep].astype(lib.float64)))))
    return out
