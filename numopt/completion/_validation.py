"""The input checks of :func:`~numopt.completion.complete`, built on
:mod:`numopt._validation`: the observations ``M``, the options, and the warnings about
what the observations cannot determine."""

from __future__ import annotations

import math

import numpy as np

from .._backend import is_cupy, is_numpy
from .._validation import check_choice, check_scalar, warn_caller
from ..exceptions import OptimizeWarning
from ._altmin import choose_row_solver
from ._observations import (build_observations, identifiable_count, row_of_entries,
                            sparse_module)

__all__ = ["observations_from", "validate_options", "ROW_SOLVERS", "warn_about_coverage",
           "warn_about_identifiability", "warn_about_unused_sketch_options"]

ROW_SOLVERS = ("auto", "sketched", "exact")


def observations_from(M, xp, name="M"):
    """Validate ``M`` and return its :class:`~numopt.completion._observations.Observations`:
    NumPy/SciPy input on the host, CuPy/cupyx input on the device (never densified,
    never moved).

    A sparse input's stored entries (explicit zeros included, duplicates summed as SciPy
    does) are the observations; a dense input marks missing entries with NaN."""
    if not (is_numpy(xp) or is_cupy(xp)):
        raise TypeError(f"{name} must be a NumPy or CuPy array or a scipy/cupyx sparse "
                        f"matrix, got {type(M).__name__}")
    sparse = sparse_module(xp)
    if sparse.issparse(M):
        if len(M.shape) != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {M.shape}")
        if not (np.issubdtype(M.dtype, np.floating) or np.issubdtype(M.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {M.dtype}")
        csr = sparse.csr_matrix(M, copy=True) if is_numpy(xp) else M.tocsr(copy=True)
        csr.sum_duplicates()  # scipy's convention: duplicate entries add up
        csr.sort_indices()
        shape = csr.shape
        dtype = np.float32 if csr.dtype == np.float32 else np.float64
        values = csr.data.astype(dtype, copy=False)
        cols = csr.indices.astype(xp.int64)
        rows = row_of_entries(xp, csr.indptr.astype(xp.int64), cols.shape[0])
        if not bool(xp.all(xp.isfinite(values))):
            kind = "NaN" if bool(xp.isnan(values).any()) else "inf"
            raise ValueError(f"{name} must have finite observed values, but its stored "
                             f"entries contain {kind} (a sparse input marks missing entries "
                             "by not storing them)")
    else:
        arr = xp.asarray(M)
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                     or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}")
        shape = arr.shape
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
        arr = arr.astype(dtype, copy=False)
        if bool(xp.isinf(arr).any()):
            raise ValueError(f"{name} must not contain inf (NaN marks a missing entry)")
        rows, cols = xp.nonzero(~xp.isnan(arr))      # row-major order
        rows, cols = rows.astype(xp.int64), cols.astype(xp.int64)
        values = arr[rows, cols]
    if math.prod(shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(shape)}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} has no observed entries")
    return build_observations(xp, rows, cols, values, shape, dtype)


def validate_options(method, opts, rank):
    """The method's options (merged with its defaults), checked, as Python numbers."""
    if "row_solver" in opts:
        check_choice(opts["row_solver"], "row_solver", ROW_SOLVERS)
    if "sketch_factor" in opts:
        opts["sketch_factor"] = check_scalar(opts["sketch_factor"], "sketch_factor", low=1.0)
        opts["inner_tol"] = check_scalar(opts["inner_tol"], "inner_tol", low=0.0, high=1.0,
                                         low_open=True, high_open=True)
        opts["max_inner"] = check_scalar(opts["max_inner"], "max_inner", low=1, integer=True)
    if "clip" in opts and opts["clip"] is not None:
        opts["clip"] = check_scalar(opts["clip"], "clip", low=1.0)
    if "sample_splits" in opts:
        opts["sample_splits"] = check_scalar(opts["sample_splits"], "sample_splits", low=1,
                                             integer=True)
    if "reg" in opts:
        opts["reg"] = check_scalar(opts["reg"], "reg", low=0.0)
    if "shrinkage" in opts:
        if opts["shrinkage"] is not None:
            opts["shrinkage"] = check_scalar(opts["shrinkage"], "shrinkage", low=0.0)
        # a decay of 1 would never leave sigma_max for the target shrinkage
        opts["shrinkage_decay"] = check_scalar(opts["shrinkage_decay"], "shrinkage_decay",
                                               low=0.0, high=1.0, high_open=True)
    return opts


def warn_about_unused_sketch_options(given, row_solver, rank):
    """The sketch's options do nothing when the rows are solved exactly: say so rather
    than ignore them."""
    unused = sorted(set(given) & {"sketch_factor", "inner_tol", "max_inner"})
    if unused and choose_row_solver(row_solver, rank) == "exact":
        why = "row_solver='exact'" if row_solver == "exact" else (
            f"row_solver='auto' solves the rows exactly at rank {rank}")
        warn_caller(f"{', '.join(unused)} have no effect: {why}; pass "
                    "row_solver='sketched' to use the sketched solve", OptimizeWarning)


def warn_about_coverage(obs, rank):
    """Rows or columns without observations, or with fewer than ``rank``."""
    counts_r, counts_c = obs.by_row.counts(), obs.by_col.counts()
    for what, counts, other in (("rows", counts_r, "column"), ("columns", counts_c, "row")):
        empty = int(np.sum(counts == 0))
        thin = int(np.sum((counts > 0) & (counts < rank)))
        if empty:
            warn_caller(
                f"M has {empty} {what} with no observation; their entries are filled with "
                f"the {other} means projected onto the fitted low-rank space",
                OptimizeWarning)
        if thin:
            warn_caller(
                f"M has {thin} {what} with fewer observations than rank={rank}; their "
                "least-squares problems are underdetermined and solved with a tiny ridge",
                OptimizeWarning)


def warn_about_identifiability(obs, rank, method, ridge):
    """Too few observations for a rank-``rank`` matrix: say so with the figure, and say
    what the method does about it."""
    needed = identifiable_count(obs.shape, rank)
    if obs.n_observed >= needed:
        return
    m, n = obs.shape
    if ridge:
        remedy = ("the row solves get a ridge proportional to the training residual, "
                  "which keeps the fill bounded and vanishes as the fit interpolates "
                  "(pass reg= to choose your own)")
    elif method == "softimpute":
        remedy = "the shrinkage, not the data, determines much of the fill"
    else:
        remedy = "with reg=0 the missing entries may be filled with values far beyond the data's"
    warn_caller(
        f"M has {obs.n_observed} observations, fewer than 2k(m+n-k) = {needed} (k={rank}, "
        f"m={m}, n={n}; twice the degrees of freedom of a rank-{rank} matrix): the "
        f"rank-{rank} completion is probably not determined by them; {remedy}",
        OptimizeWarning)
