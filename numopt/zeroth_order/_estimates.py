"""The zeroth-order gradient estimates, written once for the solvers and the public
functions of ``_api.py``.

``value(y)`` below is always a function of an array the estimate built for that call
(a fresh copy of ``x``, perturbed), or of ``x`` itself in MeZO's in-place mode.
"""

from __future__ import annotations

import numpy as np

from .._backend import get_kernel

__all__ = ["draw_keys", "perturbed", "spsa_projections", "add_directions",
           "coordinate_differences", "central_difference_gradient", "rank_weights",
           "rank_estimate"]


def draw_keys(rng, n):
    """``n`` perturbation keys (Python ints below 2**64) from the generator ``rng``."""
    return [int(k) for k in rng.integers(0, 2 ** 64, size=n, dtype=np.uint64)]


def perturbed(xp, x, key, scale, kind, sparsity):
    """A fresh copy of ``x`` plus ``scale * z(key)`` (one kernel pass, no ``z`` kept)."""
    y = xp.asarray(x, copy=True)
    return get_kernel("zeroth_order.add_perturbation", xp)(xp, y, key, scale, kind,
                                                           sparsity)


def spsa_projections(xp, value, x, keys, eps, kind, sparsity, inplace):
    """``(f(x + eps z_k) - f(x - eps z_k)) / (2 eps)`` for each key: the directional
    derivatives of the two-point (SPSA) estimate ``g = mean_k proj_k z_k``.

    ``inplace`` is MeZO's Algorithm 1: ``x`` itself is moved to ``x + eps z``, to
    ``x - eps z`` and back, and handed to ``value`` each time (no copy of ``x``)."""
    add = get_kernel("zeroth_order.add_perturbation", xp)
    projections = []
    for key in keys:
        if inplace:
            f_plus = value(add(xp, x, key, eps, kind, sparsity))
            f_minus = value(add(xp, x, key, -2.0 * eps, kind, sparsity))
            add(xp, x, key, eps, kind, sparsity)
        else:
            f_plus = value(perturbed(xp, x, key, eps, kind, sparsity))
            f_minus = value(perturbed(xp, x, key, -eps, kind, sparsity))
        projections.append((f_plus - f_minus) / (2.0 * eps))
    return projections


def add_directions(xp, x, keys, coefficients, kind, sparsity):
    """``x <- x + sum_k c_k z(key_k)`` in place, regenerating each ``z`` (one pass each)."""
    add = get_kernel("zeroth_order.add_perturbation", xp)
    for key, c in zip(keys, coefficients):
        add(xp, x, key, c, kind, sparsity)
    return x


def coordinate_differences(xp, value, x, indices, eps):
    """``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for each coordinate ``i``."""
    out = []
    for i in indices:
        plus = xp.asarray(x, copy=True)
        plus[int(i)] = plus[int(i)] + eps
        minus = xp.asarray(x, copy=True)
        minus[int(i)] = minus[int(i)] - eps
        out.append((value(plus) - value(minus)) / (2.0 * eps))
    return out


def central_difference_gradient(xp, value, x):
    """The gradient by central differences, ``h_i = eps^(1/3) max(1, |x_i|)``
    (truncation and rounding balanced): ``2 d`` evaluations. It is the success
    measure of the zeroth-order methods, exact up to rounding on quadratics."""
    info = np.finfo(np.float32 if x.dtype == xp.float32 else np.float64)
    h0 = float(info.eps) ** (1.0 / 3.0)
    g = xp.zeros(x.shape, dtype=xp.float64)
    for i in range(x.shape[0]):
        h = h0 * max(1.0, abs(float(x[i])))
        plus = xp.asarray(x, copy=True)
        plus[i] = plus[i] + h
        minus = xp.asarray(x, copy=True)
        minus[i] = minus[i] - h
        # the step actually taken, after rounding x_i +- h to the dtype
        width = float(plus[i]) - float(minus[i])
        g[i] = (value(plus) - value(minus)) / width
    return g


def rank_weights(order, m):
    """The weights ``w`` of ``g = sum_i w_i xi_i`` for ZO-RankSGD's estimator.

    ``order`` lists the ``k`` best of the ``m`` queries, best first (an
    ``(m, k)``-ranking). The ranking graph has an edge ``(a, b)`` for every pair that
    the ranking orders, ``a`` better than ``b``: the ``k (k - 1) / 2`` pairs within the
    top ``k`` and the ``k (m - k)`` pairs of a ranked and an unranked query. The
    estimate is ``(1 / |E|) sum_{(a, b) in E} (xi_b - xi_a)`` (Tang, Rybin & Chang,
    ICLR 2024, eq. of the rank-based estimator): a query ranked ``r``-th (from 0) is
    better in ``m - 1 - r`` pairs and worse in ``r``, an unranked one worse in ``k``."""
    k = len(order)
    edges = k * (k - 1) // 2 + k * (m - k)
    w = np.full(m, float(k))
    for r, i in enumerate(order):
        w[i] = float(2 * r - (m - 1))
    return w / edges


def rank_estimate(xp, rank, x, keys, smoothing, top_k):
    """ZO-RankSGD's estimate at ``x`` from queries ``x + smoothing * xi_i``: ``rank``
    returns the ``top_k`` best of the stacked queries, best first. Returns the
    estimate (a ``d``-vector) and the queries' best index."""
    add = get_kernel("zeroth_order.add_perturbation", xp)
    queries = [perturbed(xp, x, key, smoothing, 0, 1.0) for key in keys]
    order = rank(queries, top_k)
    weights = rank_weights(order, len(keys))
    g = xp.zeros(x.shape, dtype=x.dtype)
    for key, w in zip(keys, weights.tolist()):
        if w != 0.0:
            add(xp, g, key, w, 0, 1.0)
    return g, order[0]

