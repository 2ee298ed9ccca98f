"""Batches of Sinkhorn problems: stacking the weights, splitting a batched result."""

from __future__ import annotations

import numbers

from .._backend import get_namespace
from .._result import OptimizeResult, Status

__all__ = ["stack_weights", "solve_sinkhorn_batch"]


def _as_weights(x, name):
    """None, a 1-D array (shared by every problem) or a 2-D array (one row per problem);
    a sequence of 1-D arrays is stacked into rows."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)) and x and not all(isinstance(v, numbers.Real) for v in x):
        xp = get_namespace(*x)
        rows = [xp.asarray(v) for v in x]
        if any(r.ndim != 1 for r in rows) or len({r.shape for r in rows}) != 1:
            shapes = sorted({tuple(r.shape) for r in rows})
            raise ValueError(f"{name} must be a sequence of 1-D weight vectors of one length "
                             f"(problems sharing M), got shapes {shapes}")
        return xp.stack(rows)
    x = get_namespace(x).asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (shared by every problem) or 2-D (one row per "
                         f"problem), got shape {tuple(x.shape)}")
    return x


def stack_weights(a, b):
    """``(a, b, N)``: the weights as arrays (1-D shared, 2-D per problem) and N problems."""
    a, b = _as_weights(a, "a"), _as_weights(b, "b")
    counts = {name: x.shape[0] for name, x in (("a", a), ("b", b))
              if x is not None and x.ndim == 2}
    if not counts:
        raise ValueError("a or b must hold several problems (2-D, or a sequence of weight "
                         "vectors); for one problem call numopt.ot.sinkhorn")
    if len(set(counts.values())) > 1:
        raise ValueError(f"a and b must hold the same number of problems, got "
                         f"{counts['a']} and {counts['b']}")
    return a, b, next(iter(counts.values()))


def _row(weights, i):
    return weights if weights is None or weights.ndim == 1 else weights[i]


def solve_sinkhorn_batch(a, b, M, reg, tol, kwargs):
    """The problems of one batch (rows of ``a`` / ``b``), one result each."""
    from ..ot import sinkhorn

    count = (a if a is not None and a.ndim == 2 else b).shape[0]
    if kwargs.get("method") == "sns":  # no batched form
        return [sinkhorn(_row(a, i), _row(b, i), M, reg, **kwargs) for i in range(count)]
    return split_batch(sinkhorn(a, b, M, reg, **kwargs), a, tol)


def split_batch(res, a, tol):
    """One single-problem result per problem of a batched Sinkhorn result.

    A problem succeeds when the batch did, or when it converged and its returned plan
    meets ``tol`` (relative to its mass, as in the solver) in a batch that stopped for
    another problem's sake; otherwise it carries the batch's status.
    """
    batch_status = Status(res.status)
    count = res.plan.shape[0]
    shared = {k: v for k, v in res.items() if k not in _PER_PROBLEM}
    results = []
    for i in range(count):
        error = float(res.marginal_error[i])
        mass = 1.0 if a is None else float(a.sum() if a.ndim == 1 else a[i].sum())
        if batch_status is Status.SUCCESS:
            status, message = batch_status, res.message
        elif batch_status is not Status.NONFINITE and bool(res.converged[i]) and (
                error <= tol * mass):
            status = Status.SUCCESS
            message = (f"{status.message} (Solved in a batch of {count} that ended: "
                       f"{res.message})")
        else:
            status = batch_status
            message = (f"{status.message} The L1 marginal error is {error / mass:.3g} times "
                       f"the mass (tol = {tol:.3g}). (Solved in a batch of {count}: "
                       f"{res.message})")
        results.append(OptimizeResult(
            **shared, x=res.plan[i], plan=res.plan[i], cost=float(res.cost[i]),
            fun=float(res.fun[i]), f=res.f[i], g=res.g[i], marginal_error=error,
            nit=int(res.nit_per_problem[i]), success=status is Status.SUCCESS,
            status=int(status), message=message))
    return results


_PER_PROBLEM = frozenset({"x", "plan", "cost", "fun", "f", "g", "marginal_error", "nit",
                          "converged", "nit_per_problem", "success", "status", "message"})
