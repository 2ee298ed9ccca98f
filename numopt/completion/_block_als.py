"""Block ALS across Dask workers: ``complete(M, rank, method="als", client=client)``.

The observations live on the workers, twice: in contiguous blocks of rows (the ``U``
half-step solves every row given ``V``) and in contiguous blocks of columns (the ``V``
half-step). The driver holds only the factors (``m x k`` and ``n x k``) and per-line
counts; each half-step broadcasts the factor it solves against to every worker
(``client.scatter(..., broadcast=True)``), every block solves its lines with the
per-row kernel of the single-machine ALS (``completion.exact_rows``) where the block
lives, and the driver stacks the blocks and runs the same QR steps
(:class:`~numopt.completion._altmin.AlternatingSolver`). The iterates are therefore those
of the single-machine run; only the summed squared residual, added up block by block,
differs in its last bits, and it decides the stop alone (and the size of the
residual-scaled ridge of thinly observed matrices).

Bytes shipped per iteration (the block-ALS model, ``W`` workers, ``k`` the rank): the
``V`` half-step sends ``U`` (``m k`` numbers) to each worker and gathers ``V``
(``n k``), the ``U`` half-step sends ``Q_V`` (``n k``) to each worker and gathers ``U``
(``m k``): ``(W + 1)(m + n) k`` numbers. The observations never move after they are
placed.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from .._backend import get_kernel, get_namespace, is_cupy, to_numpy
from .._units import binary_exponent
from ..distributed._api import import_distributed
from . import _rows  # noqa: F401  (declares the kernels)
from ._altmin import AlternatingSolver
from ._observations import Lines
from ._validation import observations_from

__all__ = ["BlockObservations", "BlockALSSolver", "block_observations", "block_edges",
           "shipped_numbers"]

_FRAME_COLUMNS = ("row", "col", "value")


def is_dask_dataframe(M):
    # by module name: dask is optional and need not be imported to find out
    return type(M).__module__.startswith("dask.dataframe")


def shipped_numbers(shape, rank, n_workers):
    """Numbers sent and gathered per iteration by the block ALS: ``(W + 1)(m + n) k``."""
    return (n_workers + 1) * (shape[0] + shape[1]) * rank


@dataclass
class BlockLines:
    """One side of the observations in contiguous blocks of lines on the workers:
    ``blocks[b]`` (a future of :class:`~numopt.completion._observations.Lines`) holds
    lines ``edges[b]:edges[b + 1]``, renumbered from 0."""

    edges: np.ndarray
    blocks: list
    line_counts: np.ndarray

    def counts(self):
        """Observations per line, on the host."""
        return self.line_counts

    def spans(self):
        return list(zip(self.edges[:-1].tolist(), self.edges[1:].tolist()))


@dataclass
class BlockObservations:
    """What the driver knows of observations spread over the workers: the fields of
    :class:`~numopt.completion._observations.Observations` that the ALS and
    :func:`~numopt.completion.complete` read, with :class:`BlockLines` for the
    structures."""

    shape: tuple
    by_row: BlockLines
    by_col: BlockLines
    norm: float           # ||P_Omega(M)||_F in the normalized units
    dtype: object
    scale: float          # the blocks hold M's observed entries divided by this
    n_observed: int
    sums: tuple           # per-row and per-column sums of the normalized values

    def value_sums(self, xp):
        """``(row_sums, col_sums)`` in float64 and in ``M``'s units."""
        return tuple(xp.asarray(s * self.scale) for s in self.sums)


def block_edges(counts, n_blocks):
    """Edges of at most ``n_blocks`` contiguous blocks of lines holding about equal
    numbers of observations (each block at least one line)."""
    n_lines = counts.shape[0]
    n_blocks = max(1, min(int(n_blocks), n_lines))
    if n_blocks == 1:
        return np.array([0, n_lines])
    cum = np.cumsum(counts)
    inner = np.searchsorted(cum, cum[-1] * np.arange(1, n_blocks) / n_blocks) + 1
    return np.unique(np.concatenate([[0], np.clip(inner, 1, n_lines - 1), [n_lines]]))


def _workers(client):
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise ValueError("client has no workers: start the cluster's workers first")
    return workers


def block_observations(M, client):
    """``(obs, xp)``: the :class:`BlockObservations` of ``M`` (a scipy sparse matrix, a
    NumPy array with NaN for missing entries, or a dask dataframe of ``(row, col,
    value)`` triples) placed on ``client``'s workers, one row block and one column block
    per worker thread, and the NumPy namespace the driver works in."""
    distributed = import_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got "
                        f"{type(client).__name__}")
    workers = _workers(client)
    n_blocks = sum(client.nthreads().values()) or len(workers)
    if is_dask_dataframe(M):
        return _frame_observations(M, client, workers, n_blocks), get_namespace(np.zeros(0))
    xp = get_namespace(M)
    if is_cupy(xp):
        raise TypeError("client: the block ALS runs on NumPy/SciPy data on the Dask "
                        "workers, but M is on the GPU; pass M.get() or drop client")
    obs = observations_from(M, xp)
    sides = []
    for lines in (obs.by_row, obs.by_col):
        counts = lines.counts()
        edges = block_edges(counts, n_blocks)
        indptr = to_numpy(lines.indptr)
        futures = []
        for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            start, stop = indptr[lo], indptr[hi]
            block = Lines(indptr[lo:hi + 1] - start, lines.indices[start:stop].copy(),
                          lines.data[start:stop].copy())
            futures.append(client.scatter(block, workers=[workers[b % len(workers)]],
                                          hash=False))
        sides.append(BlockLines(edges, futures, counts))
    sums = tuple(np.asarray(s) / obs.scale for s in obs.value_sums(xp))
    return BlockObservations(obs.shape, sides[0], sides[1], obs.norm, obs.dtype, obs.scale,
                             obs.n_observed, sums), xp


def _frame_observations(frame, client, workers, n_blocks):
    """The block structures of a dask dataframe of ``(row, col, value)`` triples,
    shuffled into row and column blocks on the workers: the triples never pass through
    the driver. The shape is ``(max row + 1, max col + 1)``; duplicate entries add up,
    as in a scipy sparse matrix."""
    missing = [c for c in _FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"M (a dask dataframe of observed entries) must have the columns "
                         f"'row', 'col', 'value'; missing {missing}")
    kinds = {c: np.dtype(frame[c].dtype).kind for c in _FRAME_COLUMNS}
    if kinds["row"] not in "iu" or kinds["col"] not in "iu":
        raise TypeError(f"M: the 'row' and 'col' columns must hold integers, got "
                        f"{frame['row'].dtype} and {frame['col'].dtype}")
    if kinds["value"] not in "iuf":
        raise TypeError(f"M: the 'value' column must hold real numbers, got "
                        f"{frame['value'].dtype}")
    dtype = np.float32 if frame["value"].dtype == np.float32 else np.float64
    parts = client.compute(frame[list(_FRAME_COLUMNS)].to_delayed())
    extents = client.gather(client.map(_frame_extent, parts, pure=False))
    if sum(n for _, _, n in extents) == 0:
        raise ValueError("M has no observed entries")
    shape = (max(r for r, _, _ in extents) + 1, max(c for _, c, _ in extents) + 1)
    counts = client.gather(client.map(_frame_counts, parts, shape=shape, pure=False))
    edges = [block_edges(sum(c[side] for c in counts), n_blocks) for side in (0, 1)]
    splits = client.map(_split_frame, parts, edges=edges, dtype=dtype, pure=False)
    del parts
    raw = []
    for side in (0, 1):
        blocks = []
        for b, (lo, hi) in enumerate(zip(edges[side][:-1], edges[side][1:])):
            pieces = [client.submit(operator.getitem, s, (side, b), pure=False)
                      for s in splits]
            blocks.append(client.submit(_assemble_block, pieces, lo, hi,
                                        shape[1 - side], pure=False,
                                        workers=[workers[b % len(workers)]]))
        raw.append(blocks)
    del splits
    top = max(client.gather([client.submit(_block_max_abs, b, pure=False) for b in raw[0]]))
    exponent = binary_exponent(top)
    sides, sums, sumsq = [], [], 0.0
    for side in (0, 1):
        blocks = [client.submit(_scale_block, b, exponent, pure=False) for b in raw[side]]
        summary = client.gather([client.submit(_line_summary, b, pure=False)
                                 for b in blocks])
        sides.append(BlockLines(edges[side], blocks,
                                np.concatenate([c for c, _, _ in summary])))
        sums.append(np.concatenate([s for _, s, _ in summary]))
        if side == 0:
            sumsq = sum(q for _, _, q in summary)
    del raw
    return BlockObservations(shape, sides[0], sides[1], math.sqrt(sumsq), dtype,
                             math.ldexp(1.0, exponent), int(sides[0].line_counts.sum()),
                             tuple(sums))


# --- tasks that run on the workers -------------------------------------------------

def _frame_triples(frame):
    rows = frame["row"].to_numpy().astype(np.int64, copy=False)
    cols = frame["col"].to_numpy().astype(np.int64, copy=False)
    values = frame["value"].to_numpy()
    return rows, cols, values


def _frame_extent(frame):
    """``(max row, max col, count)`` of one partition, after the checks of its values."""
    rows, cols, values = _frame_triples(frame)
    if rows.size == 0:
        return -1, -1, 0
    if rows.min() < 0 or cols.min() < 0:
        raise ValueError("M: the 'row' and 'col' indices must be nonnegative")
    if not np.all(np.isfinite(values)):
        raise ValueError("M must have finite observed values, but its 'value' column "
                         "contains NaN or inf (a missing entry is a missing row)")
    return int(rows.max()), int(cols.max()), int(rows.size)


def _frame_counts(frame, shape):
    rows, cols, _ = _frame_triples(frame)
    return (np.bincount(rows, minlength=shape[0]), np.bincount(cols, minlength=shape[1]))


def _split_frame(frame, edges, dtype):
    """``{(side, b): (lines, others, values)}``: one partition's triples cut into the
    row blocks (side 0) and the column blocks (side 1)."""
    rows, cols, values = _frame_triples(frame)
    values = values.astype(dtype, copy=False)
    out = {}
    for side, (lines, others) in enumerate(((rows, cols), (cols, rows))):
        block_of = np.searchsorted(edges[side], lines, side="right") - 1
        for b in range(edges[side].shape[0] - 1):
            keep = block_of == b
            out[side, b] = (lines[keep] - edges[side][b], others[keep], values[keep])
    return out


def _assemble_block(pieces, lo, hi, n_other):
    """The :class:`Lines` of lines ``lo:hi`` from their triples (duplicates added)."""
    import scipy.sparse as sp

    lines = np.concatenate([p[0] for p in pieces])
    others = np.concatenate([p[1] for p in pieces])
    values = np.concatenate([p[2] for p in pieces])
    csr = sp.csr_matrix((values, (lines, others)), shape=(hi - lo, n_other))
    csr.sum_duplicates()
    csr.sort_indices()
    return Lines(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data)


def _block_max_abs(block):
    return float(np.max(np.abs(block.data))) if block.data.size else 0.0


def _scale_block(block, exponent):
    return Lines(block.indptr, block.indices, np.ldexp(block.data, -exponent))


def _line_summary(block):
    """``(counts, sums, sum of squares)`` of a block's lines, in float64."""
    counts = np.diff(block.indptr)
    data = block.data.astype(np.float64)
    line_of = np.repeat(np.arange(counts.shape[0]), counts)
    return counts, np.bincount(line_of, weights=data, minlength=counts.shape[0]), \
        float(np.dot(data, data))


def _solve_block(block, basis, reg):
    """The single-machine ALS's per-row solves on the lines of one block."""
    xp = get_namespace(basis)
    return get_kernel("completion.exact_rows", xp)(xp, block.indptr, block.indices,
                                                   block.data, basis, reg)


def _product_block(block, Y, dtype):
    """The block's rows of ``P_Omega(M) @ Y`` (or of its transpose, for a column
    block), in ``dtype``."""
    import scipy.sparse as sp

    csr = sp.csr_matrix((block.data.astype(dtype), block.indices, block.indptr),
                        shape=(block.indptr.shape[0] - 1, Y.shape[0]))
    return csr @ Y


def _misfit_block(block, factors, lo, hi):
    """The squared residual of the observations of rows ``lo:hi`` (the block) under
    ``U @ V.T``, ``(U, V) = factors``."""
    U, V = factors
    xp = get_namespace(V)
    resid = get_kernel("completion.observed_residual", xp)(
        xp, block.indptr, block.indices, block.data.astype(np.float64), U[lo:hi], V)
    return float(np.dot(resid, resid))


# --- the driver ---------------------------------------------------------------------

class _BlockProducts:
    """The products with ``P_Omega(M)`` of the spectral start, row by row block and
    column by column block: the same sums in the same order as
    :class:`~numopt.completion._spectral.LocalProducts`."""

    def __init__(self, solver):
        self.solver = solver

    def matmat32(self, Y):
        return self.solver.on_blocks(self.solver.obs.by_row, _product_block, Y,
                                     np.float32, stack=True)

    def rmatmat32(self, Y):
        return self.solver.on_blocks(self.solver.obs.by_col, _product_block, Y,
                                     np.float32, stack=True)

    def rmatmat(self, Y):
        return self.solver.on_blocks(self.solver.obs.by_col, _product_block, Y,
                                     self.solver.obs.dtype, stack=True)


class BlockALSSolver(AlternatingSolver):
    """Exact ALS whose per-line solves, products and residuals run on the blocks of a
    :class:`BlockObservations`; everything else is the single-machine solver's."""

    def __init__(self, client, obs, rank, *, tol, seed, options, auto_ridge=False):
        super().__init__(get_namespace(np.zeros(0)), obs, rank, exact=True, tol=tol,
                         seed=seed, options=options, auto_ridge=auto_ridge)
        self.client = client

    def on_blocks(self, lines, task, shared, *args, spans=False, stack=False):
        """``task(block, shared, *args)`` on every block of ``lines``, where the block
        lives, with the block's first and last line appended when ``spans``; ``shared``
        (an array or a tuple of arrays) is broadcast to every worker once."""
        shared = self.client.scatter(shared, broadcast=True, hash=False)
        extra = lines.spans() if spans else [()] * len(lines.blocks)
        futures = [self.client.submit(task, block, shared, *args, *more, pure=False)
                   for block, more in zip(lines.blocks, extra)]
        out = self.client.gather(futures)
        return np.concatenate(out) if stack else out

    def _solve(self, lines, basis, warm, reg):
        solved = self.on_blocks(lines, _solve_block, basis, reg)
        return np.concatenate([C for C, _ in solved]), sum(sq for _, sq in solved), 0

    def _products(self):
        return _BlockProducts(self)

    def _misfit(self, U, V):
        # both factors broadcast: a slice of U passed with each task would travel
        # through the scheduler (0.4 s against 0.2 s locally at 20000 x 20000, k = 20)
        sq = sum(self.on_blocks(self.obs.by_row, _misfit_block,
                                (U.astype(np.float64), V.astype(np.float64)), spans=True))
        return sq, (math.sqrt(sq) / self.obs.norm if self.obs.norm > 0 else 0.0)
