"""How block coordinate descent groups coordinates into blocks (Nutini et al., 2022).

A partition answers three questions for the other two strategies of
:class:`~numopt.coordinate._bcd.BCDSolver`: which blocks exist (fixed partitions) or
how a block is built from per-coordinate scores (variable and forest blocks), and, for
a chosen :class:`Block`, its Lipschitz constant and its diagonal (Gershgorin) bound.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np

from .._backend import is_numpy, to_numpy

FIXED_PARTITIONS = ("order", "sorted", "averaged")
PARTITIONS = FIXED_PARTITIONS + ("variable", "forest")


class Block(NamedTuple):
    """The coordinates of one iteration; ``position`` is the block's number in a fixed
    partition (None for blocks built from scores)."""

    indices: object
    position: int | None = None


def _chunks(order, size):
    return [order[i:i + size] for i in range(0, order.shape[0], size)]


def fixed_partition(kind, lipschitz, block_size):
    """Blocks as a list of int arrays: in index order, sorted by Lipschitz constant, or
    'averaged' (sorted coordinates dealt round-robin, so every block's mean constant is
    close to the global mean)."""
    L = to_numpy(lipschitz)
    n = L.shape[0]
    if kind == "order":
        return _chunks(np.arange(n), block_size)
    order = np.argsort(L, kind="stable")
    if kind == "sorted":
        return _chunks(order, block_size)
    n_blocks = -(-n // block_size)
    return [np.sort(order[b::n_blocks]) for b in range(n_blocks)]


def positive_scores(scores, top, xp=np):
    """The block ``top`` without its zero-score coordinates (sorted), which would not
    move but would raise the block's Lipschitz constant; at least one is kept."""
    keep = xp.take(scores, top) > 0
    if bool(xp.any(keep)):
        top = top[keep]
    else:
        top = top[:1]
    return xp.sort(top)


def forest_block(scores, graph, block_size, candidates=None):
    """Greedy forest-structured block: take coordinates by decreasing score and keep one
    only if the subgraph of ``graph`` induced by the block stays acyclic."""
    order = np.argsort(-scores, kind="stable")
    if candidates is not None:
        order = order[:candidates]
    parent = {}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    chosen = []
    if isinstance(graph, tuple):           # (indptr list, indices list), prepared once
        indptr, indices = graph
    else:
        indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
    positive = (scores[order] > 0).tolist()
    for i, pos in zip(order.tolist(), positive):
        if not pos and chosen:
            break
        roots = []
        ok = True
        for j in indices[indptr[i]:indptr[i + 1]]:
            if j != i and j in parent:
                r = find(j)
                if r in roots:
                    ok = False
                    break
                roots.append(r)
        if not ok:
            continue
        parent[i] = i
        for r in roots:
            parent[r] = i
        chosen.append(i)
        if len(chosen) == block_size:
            break
    return np.sort(np.asarray(chosen, dtype=np.int64))


class FixedPartition:
    """``"order"``, ``"sorted"`` or ``"averaged"`` blocks of ``block_size``, with their
    Lipschitz constants; the Gershgorin diagonals and the inverse bounds are computed
    on first use (only the GSD and GSQ rules and the diagonal update need them)."""

    fixed = True

    def __init__(self, problem, kind, block_size):
        xp = problem.xp
        self.pb, self.xp, self.block_size = problem, xp, block_size
        self.blocks = [xp.asarray(b, dtype=xp.int64)
                       for b in fixed_partition(kind, problem.lipschitz, block_size)]
        n, nb = problem.n, len(self.blocks)
        index = np.full((nb, block_size), n, dtype=np.int64)   # padded with n
        for k, b in enumerate(self.blocks):
            index[k, :b.shape[0]] = to_numpy(b)
        self.index = xp.asarray(index)
        self.block_lipschitz = xp.asarray([problem.block_lipschitz(b) for b in self.blocks],
                                          dtype=problem.dtype)

    def __len__(self):
        return len(self.blocks)

    def block(self, position):
        return Block(self.blocks[position], position)

    def gather(self, values):
        """Per-coordinate ``values`` as an ``(n_blocks, block_size)`` array (zero
        padded)."""
        xp = self.xp
        padded = xp.concat([values, xp.zeros(1, dtype=values.dtype)])
        return xp.reshape(xp.take(padded, xp.reshape(self.index, (-1,))), self.index.shape)

    def block_sums(self, values):
        return self.xp.sum(self.gather(values), axis=1)

    @cached_property
    def bounds(self):
        return [self.pb.block_bound(b) for b in self.blocks]

    @cached_property
    def diagonals(self):
        """Row sums of ``|bound|`` per block (Gershgorin: ``diag`` of them bounds it)."""
        return [self.xp.sum(self.xp.abs(B), axis=1) for B in self.bounds]

    @cached_property
    def gershgorin(self):
        """The block diagonals as one per-coordinate vector."""
        d = self.xp.ones(self.pb.n, dtype=self.pb.dtype)
        for b, dd in zip(self.blocks, self.diagonals):
            d[b] = dd
        return d

    @cached_property
    def inverse_bounds(self):
        """Pseudo-inverses of the bounds, ``(n_blocks, block_size, block_size)``."""
        inv = np.zeros((len(self.blocks), self.block_size, self.block_size))
        for k, B in enumerate(self.bounds):
            m = B.shape[0]
            inv[k, :m, :m] = np.linalg.pinv(to_numpy(B))
        return self.xp.asarray(inv, dtype=self.pb.dtype)

    def lipschitz(self, block):
        return float(self.block_lipschitz[block.position])

    def diagonal(self, block):
        return self.diagonals[block.position]


class VariablePartition:
    """Each iteration's block is the ``block_size`` coordinates of largest score,
    without those whose score is zero."""

    fixed = False

    def __init__(self, problem, block_size, coordinate_lipschitz):
        self.pb, self.xp, self.block_size = problem, problem.xp, block_size
        self.L = coordinate_lipschitz

    def choose(self, scores):
        xp, n = self.xp, self.pb.n
        k = min(self.block_size, n)
        if is_numpy(xp) and k < n:
            top = np.argpartition(-scores, k - 1)[:k]    # O(n), not a full sort
        else:
            top = xp.argsort(-scores, stable=False)[:k]
        return Block(positive_scores(scores, top, xp))

    def lipschitz(self, block):
        return self.pb.block_lipschitz(block.indices)

    def diagonal(self, block):
        return self.block_size * self.xp.take(self.L, block.indices)


class ForestPartition(VariablePartition):
    """Blocks grown greedily by score while their subgraph in the Hessian's sparsity
    graph stays a forest (quadratic problems)."""

    def __init__(self, problem, block_size, coordinate_lipschitz):
        super().__init__(problem, block_size, coordinate_lipschitz)
        graph = problem.hessian_graph()
        self.graph = (graph.indptr.tolist(), graph.indices.tolist())

    def choose(self, scores):
        # scanning 8x the block size of best candidates is plenty on sparse graphs
        block = forest_block(to_numpy(scores), self.graph, self.block_size,
                             candidates=8 * self.block_size)
        return Block(self.xp.asarray(block, dtype=self.xp.int64))


def make_partition(problem, kind, block_size, coordinate_lipschitz):
    if kind in FIXED_PARTITIONS:
        return FixedPartition(problem, kind, block_size)
    cls = ForestPartition if kind == "forest" else VariablePartition
    return cls(problem, block_size, coordinate_lipschitz)
