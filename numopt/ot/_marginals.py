"""How far a transport plan is from its marginals."""

from __future__ import annotations

__all__ = ["plan_marginal_error"]


def plan_marginal_error(xp, plan, a, b):
    """L1 error of both marginals: ||P 1 - a||_1 + ||P^T 1 - b||_1 (last axes)."""
    rows = xp.sum(xp.abs(xp.sum(plan, axis=-1) - a), axis=-1)
    cols = xp.sum(xp.abs(xp.sum(plan, axis=-2) - b), axis=-1)
    return rows + cols
