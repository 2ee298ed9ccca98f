"""The marginals of a transport plan: how far a plan is from them, and weights of
equal mass."""

from __future__ import annotations

__all__ = ["equal_mass", "plan_marginal_error"]


def plan_marginal_error(xp, plan, a, b):
    """L1 error of both marginals: ||P 1 - a||_1 + ||P^T 1 - b||_1 (last axes)."""
    rows = xp.sum(xp.abs(xp.sum(plan, axis=-1) - a), axis=-1)
    cols = xp.sum(xp.abs(xp.sum(plan, axis=-2) - b), axis=-1)
    return rows + cols


def equal_mass(xp, a, b):
    """``b`` scaled to the mass of ``a`` (over the last axis; a factor of exactly 1 where
    the masses already agree). Masses that differ, if only by rounding, leave no plan
    whose L1 marginal error is below the gap, and a tol such as 1e-9 could never be met."""
    ratio = xp.sum(a, axis=-1) / xp.sum(b, axis=-1)
    return b * (xp.expand_dims(ratio, axis=-1) if ratio.ndim else ratio)
