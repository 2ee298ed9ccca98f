"""Which block block coordinate descent moves next (Nutini et al., 2022).

A rule's ``select(state, partition)`` returns a :class:`~._bcd_partitions.Block`.
The non-greedy rules (cyclic, uniform random, Lipschitz sampling) walk a fixed
partition; the greedy ones score coordinates with the minimum-norm subgradient ``s``
(``s = g`` without an L1 term) and take the best fixed block (sums of the scores) or
hand the scores to the partition, which builds a variable or forest block.
"""

from __future__ import annotations

from .._backend import get_kernel, kernel, to_numpy
from ._bcd_updates import prox
from ._glm_objects import min_norm_subgradient

#: the rules that walk a fixed partition (the greedy ones also build variable blocks)
SAMPLING_RULES = ("cyclic", "random", "lipschitz")


@kernel("coordinate.greedy_scores", cupy="numopt.coordinate._kernels_cupy:greedy_scores")
def greedy_scores(xp, x, g, L, l1, positive, scaled):
    """Greedy score per coordinate: ``s^2`` (GS) or ``s^2 / L`` (GSL) with ``s`` the
    minimum-norm subgradient (reference version)."""
    s = min_norm_subgradient(xp, x, g, l1, positive)
    return s * s / L if scaled else s * s


def prox_progress(xp, x, g, L, l1, positive):
    """``-min_d g d + L/2 d^2 + l1 (|x + d| - |x|)`` per coordinate (the GS-q score)."""
    new = prox(xp, x - g / L, 1.0 / L, l1, positive)
    d = new - x
    pen = l1 * (xp.abs(new) - xp.abs(x)) if l1 else 0.0
    return -(g * d + 0.5 * L * d * d + pen)


class CyclicRule:
    def select(self, st, partition):
        return partition.block(st.nit % len(partition))


class RandomRule:
    def select(self, st, partition):
        return partition.block(int(st.rng.integers(len(partition))))


class LipschitzSamplingRule:
    """Blocks drawn with probability proportional to their Lipschitz constants."""

    def select(self, st, partition):
        p = to_numpy(partition.block_lipschitz)
        return partition.block(int(st.rng.choice(len(partition), p=p / p.sum())))


class _GreedyRule:
    """Best fixed block by :meth:`block_scores`, else the partition's block built from
    :meth:`coordinate_scores`."""

    def __init__(self, problem, coordinate_lipschitz):
        self.pb, self.xp, self.L = problem, problem.xp, coordinate_lipschitz

    def subgradient(self, st):
        pb = self.pb
        return min_norm_subgradient(self.xp, st.x, pb.grad(st), pb.l1, pb.positive)

    def select(self, st, partition):
        if partition.fixed:
            return partition.block(int(self.xp.argmax(self.block_scores(st, partition))))
        return partition.choose(self.coordinate_scores(st, partition))


class GaussSouthwellRule(_GreedyRule):
    """GS (``scaled=False``: ``s^2``) or GSL (``s^2 / L``; a fixed block's sum of
    ``s^2`` over its own constant ``L_b``)."""

    def __init__(self, problem, coordinate_lipschitz, scaled):
        super().__init__(problem, coordinate_lipschitz)
        self.scaled = scaled
        self.scores_kernel = get_kernel("coordinate.greedy_scores", self.xp)

    def coordinate_scores(self, st, partition):
        pb = self.pb
        return self.scores_kernel(self.xp, st.x, pb.grad(st), self.L, pb.l1, pb.positive,
                                  self.scaled)

    def block_scores(self, st, partition):
        if not self.scaled:
            return partition.block_sums(self.coordinate_scores(st, partition))
        s = self.subgradient(st)
        return partition.block_sums(s * s) / partition.block_lipschitz


class GershgorinRule(_GreedyRule):
    """GSD: ``s^2`` over the diagonal (Gershgorin) bound of the block's Hessian bound."""

    def coordinate_scores(self, st, partition):
        s = self.subgradient(st)
        if partition.fixed:
            return s * s / partition.gershgorin
        return s * s / (partition.block_size * self.L)

    def block_scores(self, st, partition):
        return partition.block_sums(self.coordinate_scores(st, partition))


class QuadraticBoundRule(_GreedyRule):
    """GSQ: ``s_b^T M_b^{-1} s_b`` with the block's bound ``M_b`` on fixed blocks; on
    variable blocks its diagonal (``s^2 / L``), or with an L1 term the proximal
    progress per coordinate (GS-q)."""

    def coordinate_scores(self, st, partition):
        xp, pb = self.xp, self.pb
        if pb.l1 or pb.positive:
            return prox_progress(xp, st.x, pb.grad(st), self.L, pb.l1, pb.positive)
        s = self.subgradient(st)
        return s * s / self.L

    def block_scores(self, st, partition):
        xp = self.xp
        G = partition.gather(self.subgradient(st))
        return xp.sum(G * xp.squeeze(partition.inverse_bounds @ G[:, :, None], axis=2),
                      axis=1)


_RULES = {
    "cyclic": lambda problem, L: CyclicRule(),
    "random": lambda problem, L: RandomRule(),
    "lipschitz": lambda problem, L: LipschitzSamplingRule(),
    "gs": lambda problem, L: GaussSouthwellRule(problem, L, scaled=False),
    "gsl": lambda problem, L: GaussSouthwellRule(problem, L, scaled=True),
    "gsd": GershgorinRule,
    "gsq": QuadraticBoundRule,
}

RULES = tuple(_RULES)


def make_rule(kind, problem, coordinate_lipschitz):
    return _RULES[kind](problem, coordinate_lipschitz)
