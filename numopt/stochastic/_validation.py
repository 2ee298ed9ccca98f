"""The input checks of :mod:`numopt.stochastic`, built on :mod:`numopt._validation`."""

from __future__ import annotations

import math

from .._backend import float_dtype, get_namespace
from .._validation import as_array, check_options, check_scalar
from ._objective import StochasticObjective, check_batch_size

__all__ = ["COMMON_DEFAULTS", "prepare", "check_beta"]

# the options every method of the package takes
COMMON_DEFAULTS = {"n_samples": None, "batch_size": None, "seed": 0, "maxiter": 10_000,
                   "gtol": 1e-5, "check_every": None}


def check_beta(value, name):
    return check_scalar(value, name, low=0.0, high=1.0, high_open=True)


def prepare(method, defaults, fun, x0, args, jac, hessp, tol, options, *,
            default_batch_size=32):
    """``(opts, objective, x0, xp, dtype, settings)`` for a method of the package:
    the merged options (unknown ones warn ``OptimizeWarning``), the objective, ``x0``
    copied in its float dtype and the common settings checked (``lr``, ``batch_size``,
    ``maxiter``, ``gtol``, ``check_every``)."""
    opts = check_options(options, {**COMMON_DEFAULTS, **defaults}, method)
    xp = get_namespace(x0)
    x0 = as_array(x0, "x0", xp, ndim=1)
    dtype = float_dtype(xp, x0)
    x0 = xp.astype(x0, dtype)
    objective = StochasticObjective(fun, x0, args, jac, hessp, xp,
                                    n_samples=opts["n_samples"])
    n = objective.n_samples
    if opts["batch_size"] is None:
        batch_size = None if n is None else min(default_batch_size, n)
    else:
        if n is None:
            raise ValueError("batch_size needs n_samples (the number of samples of the "
                             "finite sum the batches are drawn from)")
        batch_size = check_batch_size(opts["batch_size"], "batch_size", n)
    maxiter = check_scalar(opts["maxiter"], "maxiter", low=0, integer=True,
                           integral_float=True)
    gtol = check_scalar(tol if tol is not None else opts["gtol"], "gtol", low=0.0,
                        low_open=True)
    lr = check_scalar(opts["lr"], "lr", low=0.0, low_open=True)
    check_every = opts["check_every"]
    if check_every is None and n is not None:
        # one full gradient per epoch: checking costs as much as the epoch itself
        check_every = max(1, math.ceil(n / batch_size))
    return opts, objective, x0, xp, dtype, {
        "lr": lr, "batch_size": batch_size, "maxiter": maxiter, "gtol": gtol,
        "check_every": check_every, "seed": opts["seed"]}
