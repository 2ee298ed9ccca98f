"""The observed entries of ``M`` as row- and column-major index structures.

A sparse input is never densified: its stored entries (explicit zeros included) are the
observations. A dense input marks missing entries with NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._backend import is_numpy

__all__ = ["Observations", "observations_from"]


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
        return np.diff(np.asarray(self.indptr))


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

    @property
    def n_observed(self):
        return int(self.values.shape[0])

    def sparse(self):
        """The observed entries as a scipy CSR matrix (for the spectral products)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.by_row.data, self.by_row.indices, self.by_row.indptr),
                             shape=self.shape)


def _structures(rows, cols, values, shape):
    """Row-major and column-major index structures of COO triplets (rows sorted)."""
    m, n = shape
    row_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=row_ptr[1:])
    col_order = np.argsort(cols, kind="stable")
    col_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n), out=col_ptr[1:])
    by_row = Lines(row_ptr, cols.astype(np.int64), values)
    by_col = Lines(col_ptr, rows[col_order].astype(np.int64), values[col_order])
    return by_row, by_col


def observations_from(M, xp, name="M"):
    """Validate ``M`` and return its :class:`Observations` (NumPy/SciPy input)."""
    import scipy.sparse as sp

    if not is_numpy(xp):
        raise TypeError(f"{name} must be a NumPy array or a scipy.sparse matrix for now")
    if sp.issparse(M):
        if M.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {M.shape}")
        if not (np.issubdtype(M.dtype, np.floating) or np.issubdtype(M.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {M.dtype}")
        csr = sp.csr_matrix(M, copy=True)
        csr.sum_duplicates()  # scipy's convention: duplicate entries add up
        csr.sort_indices()
        shape = csr.shape
        dtype = np.float32 if csr.dtype == np.float32 else np.float64
        values = np.asarray(csr.data, dtype=dtype)
        rows = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(csr.indptr))
        cols = csr.indices.astype(np.int64)
        if not np.all(np.isfinite(values)):
            kind = "NaN" if np.isnan(values).any() else "inf"
            raise ValueError(f"{name} must have finite observed values, but its stored "
                             f"entries contain {kind} (a sparse input marks missing entries "
                             "by not storing them)")
    else:
        arr = np.asarray(M)
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                     or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}")
        shape = arr.shape
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
        arr = arr.astype(dtype, copy=False)
        if np.isinf(arr).any():
            raise ValueError(f"{name} must not contain inf (NaN marks a missing entry)")
        rows, cols = np.nonzero(~np.isnan(arr))
        rows, cols = rows.astype(np.int64), cols.astype(np.int64)
        values = arr[rows, cols]
    if math.prod(shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(shape)}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} has no observed entries")
    by_row, by_col = _structures(rows, cols, values, shape)
    norm = float(np.linalg.norm(values.astype(np.float64)))
    return Observations(tuple(shape), rows, cols, values, by_row, by_col, norm, dtype)


def add_sketch(lines, sketch_size, rng, dtype):
    """Draw the CountSketch of every entry of ``lines`` (bucket and sign)."""
    nnz = lines.indices.shape[0]
    lines.bucket = rng.integers(0, sketch_size, size=nnz, dtype=np.int64)
    lines.sign = (2.0 * rng.integers(0, 2, size=nnz) - 1.0).astype(dtype)
    return lines


def split(obs, n_parts, rng):
    """Partition the observations into ``n_parts`` random disjoint subsets
    (sample splitting): a list of ``(by_row, by_col, norm)``."""
    part = rng.integers(0, n_parts, size=obs.n_observed)
    out = []
    for q in range(n_parts):
        keep = part == q
        by_row, by_col = _structures(obs.rows[keep], obs.cols[keep], obs.values[keep], obs.shape)
        out.append((by_row, by_col, float(np.linalg.norm(obs.values[keep].astype(np.float64)))))
    return out
