"""Input checks of numopt.bilevel (built on :mod:`numopt._validation`)."""

from __future__ import annotations

import numpy as np

from .._validation import as_array, check_choice, check_scalar
from ._implicit import check_implicit_solver
from ._problem import BilevelProblem, MultiBlockBilevel

__all__ = ["check_problem", "check_start", "check_batch_size", "validate_options"]


def check_problem(problem, method):
    if not isinstance(problem, BilevelProblem):
        raise TypeError("problem must be a numopt.bilevel.BilevelProblem, got "
                        f"{type(problem).__name__}")
    if method == "bsvrb" and not isinstance(problem, MultiBlockBilevel):
        raise TypeError("problem must be a numopt.bilevel.MultiBlockBilevel for "
                        f"method='bsvrb', got {type(problem).__name__}")
    return problem


def check_start(x0, y0, problem):
    """``(x0, y0, dtype)``: 1-D finite float arrays of the problem's dimensions."""
    x0 = as_array(x0, "x0", np, ndim=1)
    if x0.shape != (problem.dim_x,):
        raise ValueError(f"x0 has shape {x0.shape}, expected ({problem.dim_x},) to match "
                         "problem.dim_x")
    dtype = x0.dtype if x0.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if y0 is None:
        y0 = np.zeros(problem.dim_y)
    y0 = as_array(y0, "y0", np, ndim=1)
    if y0.shape != (problem.dim_y,):
        raise ValueError(f"y0 has shape {y0.shape}, expected ({problem.dim_y},) to match "
                         "problem.dim_y")
    return x0.astype(float), y0.astype(float), dtype


def check_batch_size(batch_size):
    if batch_size is None:
        return None
    return check_scalar(batch_size, "batch_size", low=1, integer=True)


def _bounds(bounds, dim):
    if bounds is None:
        return None
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise TypeError("bounds must be None or a pair (lower, upper) of scalars or "
                        f"arrays, got {bounds!r}") from None
    lo = np.broadcast_to(as_array(-np.inf if lo is None else lo, "bounds", np, ndim=(0, 1),
                                  finite=False), (dim,)).astype(float)
    hi = np.broadcast_to(as_array(np.inf if hi is None else hi, "bounds", np, ndim=(0, 1),
                                  finite=False), (dim,)).astype(float)
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > hi):
        raise ValueError("bounds must satisfy lower <= upper without NaN")
    return lo, hi


def _vector(value, name, dim):
    if value is None:
        return None
    arr = as_array(value, name, np, ndim=1).astype(float)
    if arr.shape != (dim,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({dim},)")
    return arr


_POSITIVE = ("inner_step", "outer_step", "penalty", "penalty_start", "z_step")
_COUNTS = ("inner_steps", "implicit_maxiter", "inner_maxiter", "refine_steps", "period",
           "period_steps", "certify_every", "blocks_per_iter")
_FRACTIONS = ("momentum", "msvr_weight", "outer_step_decay")


def validate_options(opts, problem):
    """The merged options, checked (each error names its option)."""
    for name in _POSITIVE:
        if opts.get(name) is not None:
            opts[name] = check_scalar(opts[name], name, low=0.0, low_open=True)
    for name in _COUNTS:
        if opts.get(name) is not None:
            opts[name] = check_scalar(opts[name], name, low=1 if name != "refine_steps"
                                      else 0, integer=True)
    for name in _FRACTIONS:
        if name in opts:
            opts[name] = check_scalar(opts[name], name, low=0.0, high=1.0,
                                      low_open=name != "momentum")
    for name in ("implicit_tol", "inner_tol", "penalty_growth"):
        if opts.get(name) is not None:
            opts[name] = check_scalar(opts[name], name, low=0.0)
    if "z_radius" in opts:
        opts["z_radius"] = check_scalar(opts["z_radius"], "z_radius", low=0.0,
                                        low_open=True) if np.isfinite(opts["z_radius"]) \
            else np.inf
    if "implicit_solver" in opts:
        check_implicit_solver(opts["implicit_solver"])
    if "inner_solver" in opts:
        check_choice(opts["inner_solver"], "inner_solver", ("gd", "newton"))
    if "hessian" in opts:
        check_choice(opts["hessian"], "hessian", ("matrix", "hvp"))
    opts["bounds"] = _bounds(opts["bounds"], problem.dim_x)
    for name, dim in (("v0", problem.dim_y), ("z0", problem.dim_y)):
        if name in opts:
            opts[name] = _vector(opts[name], name, dim)
    return opts
