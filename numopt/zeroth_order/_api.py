"""Public functions of numopt.zeroth_order: the seeded perturbations and the gradient
estimates the methods ``zo-sgd`` (alias ``mezo``) and ``zo-ranksgd`` of
:func:`numopt.minimize` step with, as stand-alone estimates of ``grad f(x)``."""

from __future__ import annotations

from .._backend import get_namespace
from .._validation import check_choice, check_scalar, check_seed
from ._estimates import (add_directions, coordinate_differences, draw_keys, rank_estimate,
                         spsa_projections)
from ._minimize import minimize_ranksgd, minimize_zo_sgd
from ._perturbation import KINDS
from ._validation import check_order, check_problem

__all__ = ["perturbation", "spsa_gradient", "coordinate_gradient", "rank_gradient",
           "minimize_zo_sgd", "minimize_ranksgd"]


def _key(key):
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 2 ** 64:
        raise TypeError(f"key must be an integer in [0, 2**64), got {key!r}")
    return key


def perturbation(key, d, *, kind="gaussian", sparsity=1.0, dtype=None, like=None):
    """The perturbation ``z`` with ``key``, as a ``d``-vector (what the methods
    regenerate entry by entry instead of storing).

    Parameters
    ----------
    key : int in [0, 2**64)
    d : int
    kind : {"gaussian", "rademacher"}
    sparsity : float in (0, 1]
        Each entry is non-zero with this probability, scaled by ``1/sqrt(sparsity)``.
    dtype : dtype, optional
        float64 by default.
    like : array, optional
        An array of the namespace (and device) to build ``z`` in; NumPy by default.
    """
    import numpy as np

    xp = get_namespace(like) if like is not None else get_namespace(np.zeros(1))
    d = check_scalar(d, "d", low=1, integer=True)
    kind = KINDS[check_choice(kind, "kind", tuple(KINDS))]
    sparsity = check_scalar(sparsity, "sparsity", low=0, high=1, low_open=True)
    z = xp.zeros(d, dtype=xp.float64 if dtype is None else dtype)
    return add_directions(xp, z, [_key(key)], [1.0], kind, sparsity)


def spsa_gradient(fun, x, args=(), *, eps=1e-3, n_directions=1, kind="gaussian",
                  sparsity=1.0, seed=None):
    """The two-point (SPSA) estimate ``(1/q) sum_k (f(x + eps z_k) - f(x - eps z_k)) /
    (2 eps) z_k`` that ``method="zo-sgd"`` steps with (MeZO's estimate for
    ``n_directions=1``). Unbiased for ``grad f(x)`` when ``f`` is quadratic.
    ``seed`` seeds the keys of the ``z_k`` (a ``numpy.random.Generator`` too)."""
    xp, x, objective = check_problem(fun, x, args, None)
    eps = check_scalar(eps, "eps", low=0, low_open=True)
    q = check_scalar(n_directions, "n_directions", low=1, integer=True)
    kind = KINDS[check_choice(kind, "kind", tuple(KINDS))]
    sparsity = check_scalar(sparsity, "sparsity", low=0, high=1, low_open=True)
    keys = draw_keys(check_seed(seed), q)

    def value(y):
        return objective.value(y, owned=True)

    projections = spsa_projections(xp, value, x, keys, eps, kind, sparsity, False)
    g = xp.zeros(x.shape, dtype=x.dtype)
    return add_directions(xp, g, keys, [p / q for p in projections], kind, sparsity)


def coordinate_gradient(fun, x, args=(), *, eps=1e-3, n_coordinates=1, seed=None):
    """The coordinate-wise estimate ``(d/q) sum_{i in S} (f(x + eps e_i) - f(x - eps
    e_i)) / (2 eps) e_i`` over ``q = n_coordinates`` coordinates drawn without
    replacement (``estimator="coordinate"`` of ``zo-sgd``); unbiased on quadratics."""
    xp, x, objective = check_problem(fun, x, args, None)
    eps = check_scalar(eps, "eps", low=0, low_open=True)
    d = x.shape[0]
    q = check_scalar(n_coordinates, "n_coordinates", low=1, high=d, integer=True)
    indices = sorted(int(i) for i in check_seed(seed).choice(d, size=q, replace=False))

    def value(y):
        return objective.value(y, owned=True)

    g = xp.zeros(x.shape, dtype=x.dtype)
    for i, diff in zip(indices, coordinate_differences(xp, value, x, indices, eps)):
        g[i] = d / q * diff
    return g


def rank_gradient(fun, x, args=(), *, smoothing=1e-2, n_queries=10, top_k=5,
                  ranking=None, seed=None):
    """ZO-RankSGD's rank-based estimate at ``x`` from an ``(n_queries, top_k)``
    ranking of ``x + smoothing xi_i``: by ``fun`` values, or by
    ``ranking(points) -> indices`` (best first) when given. It points along ``grad f``
    (a positive multiple in expectation), not with its length."""
    xp, x, objective = check_problem(fun, x, args, None)
    smoothing = check_scalar(smoothing, "smoothing", low=0, low_open=True)
    m = check_scalar(n_queries, "n_queries", low=2, integer=True)
    k = check_scalar(top_k, "top_k", low=1, high=m, integer=True)
    keys = draw_keys(check_seed(seed), m)

    def rank(points, k):
        if ranking is not None:
            return check_order(ranking(xp.stack(points)), len(points), k)
        import numpy as np

        values = np.array([objective.value(p, owned=True) for p in points])
        return [int(i) for i in np.argsort(values, kind="stable")[:k]]

    return rank_estimate(xp, rank, x, keys, smoothing, k)[0]
