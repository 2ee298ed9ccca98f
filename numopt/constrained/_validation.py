"""The input checks of :mod:`numopt.constrained`, built on :mod:`numopt._validation`:
SciPy's constraint forms read into equality blocks, shapes checked against ``x0``, and
every user function wrapped so that a NaN it returns is reported under its own name."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse

from .._validation import _is_sparse, is_linear_operator

__all__ = ["EqualityBlock", "equality_blocks", "UserFunctionError", "checked_vector",
           "checked_matrix", "FD_JACOBIANS"]

FD_JACOBIANS = ("2-point", "3-point", "cs")


class UserFunctionError(ArithmeticError):
    """A user function returned NaN or inf at an iterate (``name`` says which)."""

    def __init__(self, name, what="NaN or inf"):
        super().__init__(f"{name} returned {what}")
        self.name = name


class EqualityBlock:
    """One constraint of the caller's list as ``c(x) = 0``: ``fun(x) -> (m_i,)``,
    ``jac(x) -> (m_i, n)`` (dense or sparse), ``hess(x, v)`` the matrix
    ``sum_i v_i hess c_i(x)`` or ``None`` (then finite differences of ``J^T v``)."""

    def __init__(self, name, fun, jac, hess, args=(), offset=None, linear=False):
        self.name, self._fun, self._jac, self._hess = name, fun, jac, hess
        self.args, self.offset, self.linear = tuple(args), offset, linear

    def fun(self, x):
        value = np.atleast_1d(np.asarray(self._fun(np.array(x), *self.args), dtype=float))
        if value.ndim != 1:
            raise ValueError(f"{self.name} fun must return a 1-D array, got shape "
                             f"{value.shape}")
        return value if self.offset is None else value - self.offset

    def jac(self, x, m):
        if callable(self._jac):
            J = self._jac(np.array(x), *self.args)
        else:  # SciPy's finite differences ("2-point", "3-point", "cs")
            from scipy.optimize._numdiff import approx_derivative

            method = self._jac if self._jac in FD_JACOBIANS else "2-point"
            J = approx_derivative(self.fun, np.asarray(x, dtype=float), method=method)
        if _is_sparse(J):
            J = scipy.sparse.csr_array(J, dtype=float)
        else:
            J = np.asarray(J, dtype=float)
            if J.ndim == 1 and m == 1:
                J = J[None, :]
        return J

    def hess(self, x, v):
        return None if self._hess is None else self._hess(np.array(x), np.array(v))


def _is_eq_bounds(lb, ub):
    lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
    return lb.shape == ub.shape and np.all(lb == ub) and np.all(np.isfinite(lb)), lb


def equality_blocks(constraints):
    """SciPy's constraint forms as a list of :class:`EqualityBlock`: a dict
    ``{"type": "eq", "fun": c, "jac": J, "args": ()}``, a
    :class:`scipy.optimize.NonlinearConstraint` or :class:`~scipy.optimize.LinearConstraint`
    with ``lb == ub``, or a list or tuple of them. Inequalities are rejected."""
    from scipy.optimize import HessianUpdateStrategy, LinearConstraint, NonlinearConstraint

    if constraints is None:
        raise TypeError("constraints must be given: a dict {'type': 'eq', 'fun': ...}, a "
                        "NonlinearConstraint with lb == ub, or a list of them")
    items = [constraints] if isinstance(
        constraints, (dict, NonlinearConstraint, LinearConstraint)) else list(constraints)
    if not items:
        raise ValueError("constraints is empty: newton-sketch needs at least one equality "
                         "constraint (use an unconstrained method otherwise)")
    blocks = []
    for i, item in enumerate(items):
        name = f"constraints[{i}]" if len(items) > 1 else "constraints"
        if isinstance(item, dict):
            kind = item.get("type")
            if kind != "eq":
                raise ValueError(
                    f"{name} has type {kind!r}: newton-sketch handles equality constraints "
                    "only ('eq'); inequalities ('ineq') need SLSQP or trust-constr")
            if not callable(item.get("fun")):
                raise TypeError(f"{name}['fun'] must be callable")
            unknown = set(item) - {"type", "fun", "jac", "args"}
            if unknown:
                raise ValueError(f"{name} has unknown keys {sorted(unknown)}")
            jac = item.get("jac")
            if not (jac is None or callable(jac) or jac in FD_JACOBIANS):
                raise TypeError(f"{name}['jac'] must be callable or one of {FD_JACOBIANS}")
            args = item.get("args", ())
            blocks.append(EqualityBlock(name, item["fun"], jac, None,
                                        args if isinstance(args, tuple) else (args,)))
        elif isinstance(item, NonlinearConstraint):
            ok, lb = _is_eq_bounds(item.lb, item.ub)
            if not ok:
                raise ValueError(f"{name} is an inequality (lb != ub): newton-sketch handles "
                                 "equality constraints only (NonlinearConstraint(c, v, v))")
            hess = None if isinstance(item.hess, HessianUpdateStrategy) or item.hess is None \
                else item.hess
            if hess is not None and not callable(hess):
                raise TypeError(f"{name}.hess must be callable (or a HessianUpdateStrategy, "
                                "which is replaced by finite differences)")
            blocks.append(EqualityBlock(name, item.fun, item.jac, hess,
                                        offset=lb if np.any(lb) else None))
        elif isinstance(item, LinearConstraint):
            ok, lb = _is_eq_bounds(item.lb, item.ub)
            if not ok:
                raise ValueError(f"{name} is an inequality (lb != ub): newton-sketch handles "
                                 "equality constraints only")
            A = item.A
            if not _is_sparse(A):
                A = np.atleast_2d(np.asarray(A, dtype=float))
            blocks.append(EqualityBlock(name, lambda x, A=A: A @ x, lambda x, A=A: A, None,
                                        offset=lb, linear=True))
        else:
            raise TypeError(f"{name} must be a dict, NonlinearConstraint or "
                            f"LinearConstraint, got {type(item).__name__}")
    return blocks


def checked_vector(value, name, shape):
    """``value`` as a float64 vector of ``shape``; non-finite entries raise
    :class:`UserFunctionError` naming ``name``."""
    value = np.asarray(value, dtype=float)
    if value.shape != shape:
        raise ValueError(f"{name} returned shape {value.shape}, expected {shape} "
                         f"(from the shape of x0)")
    if not np.all(np.isfinite(value)):
        raise UserFunctionError(name)
    return value


def checked_matrix(value, name, shape):
    """A dense, sparse or operator ``value`` of ``shape``, finite (dense and sparse)."""
    if is_linear_operator(value):
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} returned shape {tuple(value.shape)}, expected {shape} "
                             "(from the shape of x0)")
        return value
    if _is_sparse(value):
        value = scipy.sparse.csr_array(value, dtype=float)
        data = value.data
    else:
        value = np.asarray(value, dtype=float)
        data = value
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} returned shape {tuple(value.shape)}, expected {shape} "
                         "(from the shape of x0)")
    if not np.all(np.isfinite(data)):
        raise UserFunctionError(name)
    return value


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
