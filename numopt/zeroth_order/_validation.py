"""Input checks of the zeroth-order methods (on top of ``numopt/_validation.py``)."""

from __future__ import annotations

import numpy as np

from .._backend import float_dtype, get_namespace, to_numpy
from .._validation import as_array, check_scalar, check_seed
from ._objective import ValueObjective, check_batch_size

__all__ = ["check_problem", "check_common", "check_ranking", "check_order"]


def check_problem(fun, x0, args, n_samples):
    """``(xp, x0, objective)``: ``x0`` a finite 1-D float array, ``fun`` callable."""
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    xp = get_namespace(x0)
    x0 = as_array(x0, "x0", xp, ndim=1)
    x0 = xp.astype(x0, float_dtype(xp, x0), copy=False)   # init copies it
    return xp, x0, ValueObjective(fun, x0, args, xp, n_samples=n_samples)


def check_common(opts, objective, tol, d, evaluations_per_step):
    """The options every zeroth-order method shares, checked: a dict of ``lr``,
    ``gtol``, ``maxiter``, ``batch_size``, ``measure_every``, ``seed``."""
    lr = check_scalar(opts["lr"], "lr", low=0, low_open=True)
    gtol = check_scalar(tol if tol is not None else opts["gtol"], "gtol", low=0)
    maxiter = check_scalar(opts["maxiter"], "maxiter", low=0, integer=True,
                           integral_float=True)
    batch_size = check_batch_size(opts["batch_size"], "batch_size", objective.n_samples)
    measure_every = opts["measure_every"]
    if measure_every is None:
        # a measurement costs 2 d + 1 evaluations: spread it over steps that cost
        # about twice as much
        measure_every = max(1, -(-(4 * d) // evaluations_per_step))
    measure_every = check_scalar(measure_every, "measure_every", low=0, integer=True,
                                 integral_float=True)
    check_seed(opts["seed"])
    return {"lr": lr, "gtol": gtol, "maxiter": maxiter, "batch_size": batch_size,
            "measure_every": measure_every, "seed": opts["seed"]}


def check_ranking(ranking):
    if ranking is not None and not callable(ranking):
        raise TypeError(f"ranking must be callable (candidates -> indices, best first), "
                        f"got {type(ranking).__name__}")
    return ranking


def check_order(order, n, k):
    """The first ``k`` entries of a ranking oracle's answer, as distinct ints in
    ``[0, n)`` (a list, a NumPy or a CuPy array)."""
    try:
        order = [int(i) for i in np.asarray(to_numpy(order)).reshape(-1)[:k]]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ranking must return integer indices, got {order!r}") from exc
    if len(order) < k or len(set(order)) < k or not all(0 <= i < n for i in order):
        raise ValueError(f"ranking must return at least {k} distinct indices in "
                         f"[0, {n}), best first; got {order}")
    return order

