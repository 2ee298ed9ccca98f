"""The implicit system ``(d^2 g/dy dy) v = df/dy`` and its pluggable solvers.

``"cg"`` (conjugate gradient, warm-started), ``"direct"`` (Cholesky of the dense lower
Hessian, one ``hessian_g`` call: for small lower dimensions), ``"neumann"`` (truncated
Neumann series
``step * sum_k (I - step H)^k b``, Ghadimi and Wang 2018), ``"sgd"`` (stochastic gradient
steps on ``1/2 v^T H v - b^T v`` with minibatch Hessian-vector products, stocBiO-style),
a :class:`scipy.sparse.linalg.LinearOperator` taken as an approximate inverse of the
lower Hessian (``v = op @ b``), or a callable ``solver(hvp, b, v0) -> v`` where
``hvp(v)`` is the counted full-batch product.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .._validation import is_linear_operator
from ._problem import conjugate_gradient

__all__ = ["IMPLICIT_SOLVERS", "check_implicit_solver", "solve_implicit"]

IMPLICIT_SOLVERS = ("cg", "neumann", "sgd", "direct")


def check_implicit_solver(solver):
    if isinstance(solver, str):
        if solver not in IMPLICIT_SOLVERS:
            raise ValueError(f"implicit_solver must be one of {', '.join(IMPLICIT_SOLVERS)}, "
                             f"a LinearOperator or a callable; got {solver!r}")
    elif not (is_linear_operator(solver) or callable(solver)):
        raise TypeError("implicit_solver must be 'cg', 'direct', 'neumann', 'sgd', a "
                        f"LinearOperator or a callable, got {type(solver).__name__}")
    return solver


def solve_implicit(solver, hvp, b, v0, *, maxiter, tol, step, sample, hessian=None):
    """``v ~ H^{-1} b``. ``hvp(v, batch)`` is the counted product (``batch=None``: all
    samples); ``sample()`` draws a batch for ``"sgd"``; ``hessian()`` is the counted
    dense Hessian for ``"direct"``."""
    if isinstance(solver, str):
        if solver == "direct":
            return scipy.linalg.cho_solve(scipy.linalg.cho_factor(hessian()), b)
        if solver == "cg":
            return conjugate_gradient(lambda v: hvp(v, None), b, v0, rtol=tol,
                                      maxiter=maxiter)[0]
        if solver == "neumann":
            term, v = b.copy(), step * b
            for _ in range(maxiter - 1):
                term = term - step * hvp(term, None)
                v = v + step * term
            return v
        v = np.zeros_like(b) if v0 is None else v0.copy()
        for _ in range(maxiter):
            v = v - step * (hvp(v, sample()) - b)
        return v
    if is_linear_operator(solver):
        return np.asarray(solver.matvec(b), dtype=float).reshape(b.shape)
    v = np.asarray(solver(lambda u: hvp(np.asarray(u, dtype=float), None), b,
                          None if v0 is None else v0.copy()), dtype=float)
    if v.shape != b.shape:
        raise ValueError(f"implicit_solver returned shape {v.shape}, expected {b.shape}")
    return v
