"""Datafits and penalties of the sparse GLMs, in skglm's shape (Bertrand et al., 2022).

A datafit is a sum over samples, ``F(z) = sum_i s_i f(z_i, y_i)`` of the linear
predictor ``z = Xw + b`` (``s`` the sample weights, all 1 when none are given); the
solvers keep a *state* vector per sample (the signed residual ``z - y`` for the
quadratic and Huber datafits, ``z`` for the logistic one). A penalty is separable,
``sum_j l1_j |w_j| + l2 / 2 * w_j^2`` (plus ``w >= 0`` when ``positive``), in the
same sum scaling: ``L1``, ``WeightedL1``, ``ElasticNet`` and ``NonNegativeL1`` are
that one penalty with other ``l1_j`` and ``l2`` (:meth:`scaled`), so one prox, one
subdifferential distance and one conjugate serve all four.

These classes are the reference (array-API) versions; ``_glm_numba`` lowers them to
Numba structrefs (``as_numba``) with the same methods for the compiled kernels. Each
formula is written once per engine.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Quadratic", "Logistic", "Huber", "Multinomial", "L1", "WeightedL1",
           "ElasticNet", "NonNegativeL1", "L1L2", "GroupL1", "RowL1", "logistic_loss", "logistic_derivative",
           "logistic_curvature", "min_norm_subgradient"]


def logistic_loss(xp, margin):
    """``log(1 + exp(-margin))`` without overflow."""
    return xp.where(margin > 0, xp.log1p(xp.exp(-xp.abs(margin))),
                    -margin + xp.log1p(xp.exp(-xp.abs(margin))))


def logistic_derivative(xp, y, z):
    """``d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z))`` without overflow."""
    t = y * z
    e = xp.exp(-xp.abs(t))
    return xp.where(t > 0, -y * e / (1.0 + e), -y / (1.0 + e))


def logistic_curvature(xp, y, z):
    """``d^2/dz^2 log(1 + exp(-y z)) = sigma(y z) (1 - sigma(y z))`` (``y = +-1``)."""
    e = xp.exp(-xp.abs(y * z))
    return e / ((1.0 + e) * (1.0 + e))


def min_norm_subgradient(xp, w, g, l1, positive, l2=0.0):
    """The element of smallest magnitude of ``g + l2 w + d(l1 |w| (+ indicator w >= 0))``
    per coordinate: its absolute value is the distance of ``-g`` to the penalty's
    subdifferential (zero exactly at the coordinates that satisfy the KKT conditions)."""
    if not positive and isinstance(l1, (int, float)) and not l1:
        return g + l2 * w if l2 else g
    g = g + l2 * w if l2 else g
    if positive:
        return xp.where(w > 0, g + l1, xp.minimum(g + l1, 0.0))
    at_zero = xp.sign(g) * xp.maximum(xp.abs(g) - l1, 0.0)
    return xp.where(w > 0, g + l1, xp.where(w < 0, g - l1, at_zero))


class _Datafit:
    """Shared plumbing: optional sample weights (``None``: all 1)."""

    #: a bound on ``f''`` (the coordinate Lipschitz constants are ``curvature * ||X_j||_s^2``)
    curvature = 1.0
    #: the state is the residual ``z - y`` (else the linear predictor ``z``)
    residual_state = True
    #: the quadratic datafit's duality gap is the certificate (else the KKT violation)
    has_dual_gap = False

    def __init__(self, sample_weight=None):
        self.sample_weight = sample_weight

    def _weigh(self, v):
        return v if self.sample_weight is None else v * self.sample_weight

    def state_of(self, y, lin):
        return lin - y if self.residual_state else lin

    def intercept_lipschitz(self, n_samples):
        total = n_samples if self.sample_weight is None else float(np.sum(self.sample_weight))
        return self.curvature * total

    def value(self, xp, y, state):
        """``sum_i s_i f_i``."""
        return float(xp.sum(self._weigh(self._losses(xp, y, state))))

    def sample_grad(self, xp, y, state):
        """``s_i f'(z_i)``: ``X^T`` of it is the gradient in ``w``."""
        return self._weigh(self._derivatives(xp, y, state))

    def value_changes(self, xp, y, state, change):
        """``s_i (f(z_i + dz_i) - f(z_i))`` per sample for a change ``dz`` of the
        linear predictor (block coordinate descent's line searches)."""
        return self._weigh(self._loss_changes(xp, y, state, change))

    def _loss_changes(self, xp, y, state, change):
        return self._losses(xp, y, state + change) - self._losses(xp, y, state)


class Quadratic(_Datafit):
    """``1/2 sum_i s_i (x_i^T w + b - y_i)^2``."""

    has_dual_gap = True

    def _losses(self, xp, y, state):
        return 0.5 * state * state

    def _derivatives(self, xp, y, state):
        return state

    def _loss_changes(self, xp, y, state, change):
        return change * state + 0.5 * change * change    # exact: no cancellation

    def hessian_weights(self, xp, y, state):
        """``s_i f''(z_i)``."""
        return self._weigh(xp.ones_like(state))


class Huber(_Datafit):
    """``sum_i s_i h(x_i^T w + b - y_i)``, ``h(r) = r^2 / 2`` for ``|r| <= delta``, else
    ``delta |r| - delta^2 / 2``."""

    def __init__(self, delta=1.0, sample_weight=None):
        super().__init__(sample_weight)
        self.delta = float(delta)

    def _losses(self, xp, y, state):
        a = xp.abs(state)
        return xp.where(a <= self.delta, 0.5 * state * state,
                        self.delta * a - 0.5 * self.delta ** 2)

    def _derivatives(self, xp, y, state):
        return xp.clip(state, -self.delta, self.delta)


class Logistic(_Datafit):
    """``sum_i s_i log(1 + exp(-y_i (x_i^T w + b)))`` with labels in {-1, 1}."""

    curvature = 0.25
    residual_state = False

    def _losses(self, xp, y, state):
        return logistic_loss(xp, y * state)

    def _derivatives(self, xp, y, state):
        return logistic_derivative(xp, y, state)

    def _loss_changes(self, xp, y, state, change):
        # softplus(a + h) - softplus(a) = log1p(sigmoid(a) expm1(h)) with a = -y z,
        # h = -y dz keeps small changes exact; for a large h > 0 the expm1 could
        # overflow, so the plain difference is taken there
        sig = 1.0 / (1.0 + xp.exp(y * state))
        h = -y * change
        safe = h < 30.0
        stable = xp.log1p(sig * xp.expm1(xp.where(safe, h, 0.0)))
        plain = self._losses(xp, y, state + change) - self._losses(xp, y, state)
        return xp.where(safe, stable, plain)

    def hessian_weights(self, xp, y, state):
        """``s_i f''(z_i)``."""
        return self._weigh(logistic_curvature(xp, y, state))


class Multinomial(_Datafit):
    """Softmax cross-entropy ``sum_i s_i (logsumexp(z_i) - y_i^T z_i)`` of the linear
    predictor ``Z = X W + b`` (``W``: ``(n_features, n_classes)``, one row per feature)
    with one-hot (or probability) rows ``y_i``.

    The Hessian of ``logsumexp`` is ``diag(p) - p p^T``, whose largest eigenvalue is at
    most 1/2 (Bohning, 1992): the block of feature ``j`` is ``curvature * ||X_j||_s^2``
    Lipschitz, the bound the block coordinate steps use.
    """

    curvature = 0.5
    residual_state = False

    def _weigh(self, v):
        if self.sample_weight is None:
            return v
        return v * (self.sample_weight[:, None] if v.ndim == 2 else self.sample_weight)

    def _losses(self, xp, y, state):
        top = xp.max(state, axis=1, keepdims=True)
        lse = top[:, 0] + xp.log(xp.sum(xp.exp(state - top), axis=1))
        return lse - xp.sum(y * state, axis=1)

    def _derivatives(self, xp, y, state):
        return softmax(xp, state) - y


def softmax(xp, Z):
    """Row-wise ``exp(z_i) / sum exp(z_i)`` without overflow."""
    e = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


class RowL1:
    """``sum_j l1_j ||W_j||_2`` over the rows of a coefficient matrix (group L1 with
    one group per feature) in the sum scaling of the datafit: the block penalty the
    block coordinate solver runs on."""

    l2 = 0.0
    positive = False

    def __init__(self, l1):
        self.l1 = l1

    def value(self, xp, W, idx=None):
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        return float(xp.sum(l1 * xp.linalg.vector_norm(W, axis=1)))

    def prox(self, z, lipschitz, j):
        """Minimiser of ``L/2 ||x - z||^2 + l1_j ||x||`` (block soft-thresholding of the
        row ``z``)."""
        norm = float(np.linalg.norm(z))
        t = float(self.l1[j]) / lipschitz
        return z * (max(norm - t, 0.0) / norm) if norm > t else 0.0 * z

    def subdiff_distance(self, xp, W, G, idx=None):
        """Per row: the distance of ``-G_j`` to ``l1_j d||W_j||`` (the ball of radius
        ``l1_j`` at a zero row, ``l1_j W_j / ||W_j||`` elsewhere)."""
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        norms = xp.linalg.vector_norm(W, axis=1)
        safe = xp.where(norms > 0, norms, 1.0)
        at_nonzero = xp.linalg.vector_norm(G + (l1 / safe)[:, None] * W, axis=1)
        at_zero = xp.maximum(xp.linalg.vector_norm(G, axis=1) - l1, 0.0)
        return xp.where(norms > 0, at_nonzero, at_zero)


class GroupL1:
    """``alpha * sum_j ||W_j||_2`` over the rows of the ``(n_features, n_classes)``
    coefficients of :class:`Multinomial` (mean scaling): a feature is kept or dropped
    for every class at once."""

    positive = False

    def __init__(self, alpha):
        self.alpha = alpha

    def scaled(self, xp, n_samples, n_features, dtype):
        """The :class:`RowL1` of the sum-of-samples objective."""
        return RowL1(xp.full(n_features, self.alpha * n_samples, dtype=dtype))


class L1L2:
    """``sum_j l1_j |w_j| + l2 / 2 ||w||^2`` (``w >= 0`` when ``positive``) in the sum
    scaling of the datafit: the one penalty the solvers run on."""

    def __init__(self, l1, l2, positive):
        self.l1, self.l2, self.positive = l1, float(l2), bool(positive)

    def value(self, xp, w, idx=None):
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        return float(xp.sum(l1 * xp.abs(w))) + 0.5 * self.l2 * float(xp.sum(w * w))

    def prox(self, z, lipschitz, j):
        """Minimiser of ``L/2 (x - z)^2 + l1_j |x| + l2/2 x^2`` (scalar)."""
        t = float(self.l1[j]) / lipschitz
        x = math.copysign(max(abs(z) - t, 0.0), z) / (1.0 + self.l2 / lipschitz)
        return max(x, 0.0) if self.positive else x

    def subdiff_distance(self, xp, w, grad, idx=None):
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        return xp.abs(min_norm_subgradient(xp, w, grad, l1, self.positive, self.l2))

    def dual_scale(self, xp, corr, idx=None):
        """The largest ``c <= 1`` with ``c * corr`` in the domain of the conjugate
        (``|corr_j| <= l1_j`` without an l2 term; every ``c`` with one)."""
        if self.l2 > 0:
            return 1.0
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        pos = corr if self.positive else xp.abs(corr)
        over = pos > l1
        if not bool(xp.any(over)):
            return 1.0
        return float(xp.min(xp.where(over, l1 / xp.where(over, pos, 1.0), 1.0)))

    def conjugate(self, xp, corr, idx=None):
        """``sum_j h_j^*(corr_j)`` of the coordinate penalties ``h_j`` (finite: after
        ``dual_scale``)."""
        if self.l2 == 0:
            return 0.0
        l1 = self.l1 if idx is None else xp.take(self.l1, idx)
        pos = corr if self.positive else xp.abs(corr)
        excess = xp.maximum(pos - l1, 0.0)
        return float(xp.sum(excess * excess)) / (2.0 * self.l2)


class WeightedL1:
    """``alpha * sum_j weights_j |w_j|`` (mean scaling, scikit-learn's ``alpha``)."""

    def __init__(self, alpha, weights, positive=False):
        self.alpha, self.weights, self.positive = alpha, weights, positive

    def scaled(self, xp, n_samples, n_features, dtype):
        """The :class:`L1L2` of the sum-of-samples objective."""
        l1 = xp.asarray(self.weights, dtype=dtype) * (self.alpha * n_samples)
        return L1L2(l1, 0.0, self.positive)


class L1(WeightedL1):
    """``alpha ||w||_1``."""

    def __init__(self, alpha, positive=False):
        super().__init__(alpha, None, positive)

    def scaled(self, xp, n_samples, n_features, dtype):
        return L1L2(xp.full(n_features, self.alpha * n_samples, dtype=dtype), 0.0,
                    self.positive)


class NonNegativeL1(L1):
    """``alpha ||w||_1`` with ``w >= 0``."""

    def __init__(self, alpha):
        super().__init__(alpha, positive=True)


class ElasticNet(WeightedL1):
    """``alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)`` (scikit-learn's)."""

    def __init__(self, alpha, l1_ratio=0.5, positive=False):
        super().__init__(alpha, None, positive)
        self.l1_ratio = l1_ratio

    def scaled(self, xp, n_samples, n_features, dtype):
        a = self.alpha * n_samples
        return L1L2(xp.full(n_features, a * self.l1_ratio, dtype=dtype),
                    a * (1.0 - self.l1_ratio), self.positive)
