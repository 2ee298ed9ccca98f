"""Optimal-transport gallery: random point clouds with a squared Euclidean cost."""

from __future__ import annotations

import numpy as np

from .._validation import check_scalar

__all__ = ["random_point_clouds", "random_ot_problem"]


def random_point_clouds(n, m=None, *, dim=2, seed=0):
    """Two clouds of ``n`` and ``m`` points drawn uniformly from the unit cube (seeded)."""
    n = check_scalar(n, "n", low=1, integer=True)
    if m is not None:
        m = check_scalar(m, "m", low=1, integer=True)
    dim = check_scalar(dim, "dim", low=1, integer=True)
    m = n if m is None else m
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, dim)), rng.uniform(size=(m, dim))


def random_ot_problem(n, m=None, *, dim=2, weights="uniform", seed=0, xp=None,
                      dtype=None):
    """A seeded OT problem ``(a, b, M)`` between two uniform random point clouds.

    ``M`` is the squared Euclidean cost scaled to a maximum of 1. ``weights`` is
    ``"uniform"`` or ``"random"`` (positive weights drawn uniformly from [0.5, 1.5],
    each histogram normalized to sum 1). Arrays are returned in namespace ``xp``
    (NumPy by default) with dtype ``dtype`` (float64 by default).
    """
    n = check_scalar(n, "n", low=1, integer=True)
    if m is not None:
        m = check_scalar(m, "m", low=1, integer=True)
    dim = check_scalar(dim, "dim", low=1, integer=True)
    m = n if m is None else m
    Xs, Xt = random_point_clouds(n, m, dim=dim, seed=seed)
    M = ((Xs[:, None, :] - Xt[None, :, :]) ** 2).sum(axis=-1)
    M /= M.max()
    if weights == "uniform":
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    elif weights == "random":
        rng = np.random.default_rng(seed + 1)
        a, b = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, m)
        a, b = a / a.sum(), b / b.sum()
    else:
        raise ValueError(f"weights must be 'uniform' or 'random'; got {weights!r}")
    if xp is None:
        dt = np.float64 if dtype is None else dtype
        return a.astype(dt), b.astype(dt), M.astype(dt)
    dt = xp.float64 if dtype is None else dtype
    return (xp.asarray(a, dtype=dt), xp.asarray(b, dtype=dt), xp.asarray(M, dtype=dt))
