"""Bandit policies over a grid of relaxation parameters, fed only solver costs
(iteration counts), after Khodak, Chow, Balcan & Talwalkar, "Learning to Relax"
(ICLR 2024). Plain NumPy: the learning side is a few dozen numbers."""

from __future__ import annotations

import math

import numpy as np


class TsallisINF:
    """Tsallis-INF (Zimmert & Seldin, JMLR 2021) with the 1/2-Tsallis regulariser, as
    analysed there for the reduced-variance estimator: anytime rate ``eta_t = 4 / sqrt(t)``
    and baseline ``B_t(i) = 1/2`` for the arms with ``p_i >= eta_t^2`` (0 for the rarer
    ones, whose plain importance-weighted estimate stays non-negative): the played arm
    gets ``B + (loss - B) / p``, every other arm ``B``.

    The analysis is for losses in [0, 1]; iteration counts have an unknown offset (the
    best achievable count) and unit. Both are estimated on line and shared by all arms:
    ``loss = (cost - m) / s`` with ``m`` the smallest cost seen and ``s`` the mean excess
    ``mean(cost) - m`` (at least one iteration), so the learner is invariant to affine
    changes of the costs. The cumulative estimates are kept in cost units and divided by
    the current ``s`` when sampling (as in the paper's code), so every past round is
    measured in today's unit. Only converged runs enter ``m`` and ``s``: a run that hit
    its iteration cap is charged the cap, which then reads as a large loss instead of
    inflating the unit for every arm.
    """

    baseline = 0.5

    def __init__(self, n_arms, rng):
        self.n_arms, self.rng = int(n_arms), rng
        self.cumulative = np.zeros(self.n_arms)  # importance-weighted costs, cost units
        self.t = 1
        self.n_converged, self.cost_sum, self.cost_min = 0, 0.0, math.inf
        self.arm = None
        self.probs = None

    @property
    def eta(self):
        return 4.0 / math.sqrt(self.t)

    def _offset_and_unit(self):
        if self.n_converged == 0:
            return 0.0, 1.0
        return self.cost_min, max(self.cost_sum / self.n_converged - self.cost_min, 1.0)

    def probabilities(self):
        eta = self.eta
        losses = self.cumulative / self._offset_and_unit()[1]
        # p_i = 4 / (eta (L_i - x))^2 with x fixed by sum(p) = 1: Newton from the right
        # of the root (x = min L - 2/eta gives sum(p) >= 1), where it converges monotonically.
        x = losses.min() - 2.0 / eta
        for _ in range(60):
            probs = 4.0 / (eta * (losses - x)) ** 2
            total = probs.sum()
            x -= (total - 1.0) / (eta * np.sum(probs ** 1.5))
            if abs(total - 1.0) < 1e-12:
                break
        return probs / probs.sum()

    def select(self, context=None):
        self.probs = self.probabilities()
        self.arm = int(self.rng.choice(self.n_arms, p=self.probs))
        return self.arm

    def update(self, cost, converged=True):
        if converged:
            self.n_converged += 1
            self.cost_sum += cost
            self.cost_min = min(self.cost_min, cost)
        offset, unit = self._offset_and_unit()
        baseline = self.baseline * (self.probs >= self.eta ** 2)
        estimate = baseline.copy()
        p = self.probs[self.arm]
        estimate[self.arm] += ((cost - offset) / unit - baseline[self.arm]) / p
        self.cumulative += estimate * unit
        self.t += 1


class BinnedTsallisINF:
    """Contextual Tsallis-INF: the context interval is cut into ``n_bins`` equal bins
    and an independent Tsallis-INF runs in each (the paper's Tsallis-INF-CB)."""

    def __init__(self, n_arms, rng, context_range, n_bins=5):
        low, high = context_range
        self.centers = low + (high - low) * (np.arange(n_bins) + 0.5) / n_bins
        self.learners = [TsallisINF(n_arms, rng) for _ in range(n_bins)]
        self.current = None

    def select(self, context):
        self.current = self.learners[int(np.argmin(np.abs(self.centers - context)))]
        return self.current.select()

    def update(self, cost, converged=True):
        self.current.update(cost, converged)


class ChebyshevCB:
    """ChebCB: a regression-oracle contextual bandit (inverse-gap weighting, Foster &
    Rakhlin's SquareCB) whose per-arm cost model is a degree ``degree - 1`` Chebyshev
    expansion in the context, fitted by bounded least squares; the schedule of the
    exploration rate and the coefficient bounds follow the paper's implementation."""

    def __init__(self, n_arms, rng, context_range, degree=6):
        self.n_arms, self.rng, self.m = int(n_arms), rng, int(degree)
        self.low, self.width = float(context_range[0]), float(context_range[1] - context_range[0])
        self.theta = np.zeros((self.n_arms, self.m))
        self.features, self.costs, self.arms, self.predicted = [], [], [], []
        self.eta = 0.0
        self.scale = 0.0
        self.arm = None

    def _feature(self, context):
        u = float(np.clip(2.0 * (context - self.low) / self.width - 1.0, -1.0, 1.0))
        return np.polynomial.chebyshev.chebvander(np.array([u]), self.m - 1)[0]

    def select(self, context):
        feature = self._feature(context)
        yhat = self.theta @ feature
        best = int(np.argmin(yhat))
        probs = 1.0 / (self.n_arms + self.eta * (yhat - yhat[best]))
        probs[best] = 0.0
        probs[best] = max(1.0 - probs.sum(), 0.0)
        probs /= probs.sum()
        self.arm = int(self.rng.choice(self.n_arms, p=probs))
        self.features.append(feature)
        self.arms.append(self.arm)
        self.predicted.append(float(self.theta[self.arm] @ feature))
        return self.arm

    def _fit(self, arm, F, y, bound):
        from scipy.optimize import lsq_linear

        rows = np.asarray(self.arms) == arm
        if not rows.any():
            return 0.0
        theta = np.linalg.lstsq(F[rows], y[rows], rcond=None)[0]
        residual = 0.0
        if np.any(np.abs(theta) > bound):
            fit = lsq_linear(F[rows], y[rows], bounds=(-bound, bound))
            theta, residual = fit.x, 2.0 * fit.cost
        self.theta[arm] = theta
        return residual

    def update(self, cost, converged=True):
        self.costs.append(float(cost))
        costs = np.asarray(self.costs)
        t = len(costs)
        K = costs.max()
        lip = (costs.max() - costs.min()) / self.width
        N = 2.0 + 4.0 * self.width * lip / K * (1.0 + math.log(self.m))
        refit_all = self.scale != K * N
        self.scale = K * N
        bound = np.concatenate([[1.0 / N],
                                2.0 * self.width * lip / self.scale / np.arange(1, self.m)])
        bound = np.maximum(bound, 1e-12)
        F = np.asarray(self.features)
        y = (costs - 1.0) / self.scale
        residual = 0.0
        for arm in range(self.n_arms) if refit_all else [self.arm]:
            residual = self._fit(arm, F, y, bound)
        alpha = ((math.pi + 2.0 / math.pi * math.log(2.0 * self.m + 1.0))
                 / (2.0 * self.scale * (self.m + 1.0)) * self.width * lip)
        R = float(np.sum((np.asarray(self.predicted) - y) ** 2))
        denom = max(R - residual + 2.0 * alpha ** 2 * t, 1e-12)
        self.eta = 2.0 * t * math.sqrt(self.n_arms * t / denom)


class UnimodalUCB:
    """A stochastic bandit for short, stationary sequences: lower-confidence-bound
    indices on the mean cost of each arm, optionally restricted to the neighbours of the
    empirical leader on a unimodal grid (OSUB, Combes & Proutiere, ICML 2014).

    Each arm's index is ``mean_i - s sqrt(c log(t) / n_i)`` (the cost is minimised), with
    ``s`` the same online loss scale as :class:`TsallisINF` (mean excess of the converged
    costs over the smallest one, at least one iteration), so the choices are invariant to
    affine changes of the costs. Unplayed arms come first (in grid order from the
    middle outward): the policy draws no random numbers.

    ``unimodal=False`` is UCB1 over all arms (``t`` the round). ``unimodal=True``
    exploits a cost that is unimodal along the grid, as the SSOR-PCG iteration count is in
    ``log(2 - omega)``: only the leader (the arm of least mean cost) and its two grid
    neighbours are candidates, ``t`` is the number of rounds the current leader has led,
    and every third round of a leadership goes to the leader (OSUB's forced
    exploitation). Arms far from the optimum are then never played, which is what pays
    on sequences of a hundred systems; the regret no longer grows with the grid size.
    Ties in the index go to the arm played more often (the better-known one).
    """

    def __init__(self, n_arms, *, unimodal=True, exploration=2.0):
        self.n_arms = int(n_arms)
        self.unimodal, self.exploration = bool(unimodal), float(exploration)
        self.counts = np.zeros(self.n_arms, dtype=np.int64)
        self.sums = np.zeros(self.n_arms)
        self.led = np.zeros(self.n_arms, dtype=np.int64)
        self.t = 0
        self.n_converged, self.cost_sum, self.cost_min = 0, 0.0, math.inf
        self.arm = None

    def _unit(self):
        if self.n_converged == 0:
            return 1.0
        return max(self.cost_sum / self.n_converged - self.cost_min, 1.0)

    def _first_unplayed(self, candidates):
        for arm in candidates:
            if self.counts[arm] == 0:
                return int(arm)
        return None

    def _lower_bound(self, candidates, log_t):
        candidates = np.asarray(candidates)
        n = self.counts[candidates]
        index = (self.sums[candidates] / n
                 - self._unit() * np.sqrt(self.exploration * log_t / n))
        # least index first, then the most played arm
        return int(candidates[np.lexsort((-n, index))[0]])

    def select(self, context=None):
        self.t += 1
        middle_out = np.argsort(np.abs(np.arange(self.n_arms) - (self.n_arms - 1) / 2),
                                kind="stable")
        if not self.unimodal:
            arm = self._first_unplayed(middle_out)
            if arm is None:
                arm = self._lower_bound(np.arange(self.n_arms), math.log(self.t))
        elif not self.counts.any():
            arm = int(middle_out[0])
        else:
            played = np.flatnonzero(self.counts)
            means = self.sums[played] / self.counts[played]
            leader = int(played[np.lexsort((-self.counts[played], means))[0]])
            self.led[leader] += 1
            neighbours = [a for a in (leader - 1, leader + 1) if 0 <= a < self.n_arms]
            arm = self._first_unplayed(neighbours)
            if arm is None:
                if (self.led[leader] - 1) % 3 == 0:
                    arm = leader
                else:
                    arm = self._lower_bound([leader] + neighbours,
                                            math.log(self.led[leader]))
        self.arm = arm
        return arm

    def update(self, cost, converged=True):
        if converged:
            self.n_converged += 1
            self.cost_sum += cost
            self.cost_min = min(self.cost_min, cost)
        self.counts[self.arm] += 1
        self.sums[self.arm] += cost
