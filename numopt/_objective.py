"""The user's objective for numopt's ``minimize`` methods, evaluated as SciPy does.

On NumPy input it is SciPy's own :class:`~scipy.optimize._differentiable_functions.
ScalarFunction` (built by ``scipy.optimize._optimize._prepare_scalar_function``, the
helper BFGS and CG use): ``fun`` and ``jac`` receive a copy of ``x``, a ``fun``
returning shape ``(1,)`` counts as a scalar, ``jac=True`` goes through ``MemoizeJac``,
and ``jac`` in ``"2-point"``, ``"3-point"``, ``"cs"`` or ``None`` is SciPy's
finite-difference gradient (relative steps for the strings, an absolute step of
``sqrt(eps)`` for ``None``, as BFGS). Other array libraries (CuPy) get the same copy
and scalar rules; their finite differences are not available (SciPy's are NumPy-only).
"""

from __future__ import annotations

__all__ = ["FD_METHODS", "scalar_function"]

FD_METHODS = ("2-point", "3-point", "cs")


def scalar_function(fun, x0, args, jac, xp):
    """An object with ``fun_and_grad(x) -> (float, array)`` and counters ``nfev`` and
    ``ngev``, for ``fun(x, *args)`` and ``jac`` as :func:`scipy.optimize.minimize`
    takes them."""
    from ._backend import is_numpy

    if is_numpy(xp):
        from scipy.optimize._optimize import MemoizeJac, _epsilon, _prepare_scalar_function

        if jac is True:
            fun = MemoizeJac(fun)
            jac = fun.derivative
        elif jac is False:
            jac = None
        return _prepare_scalar_function(fun, x0, jac=jac, args=args, epsilon=_epsilon)
    if not (jac is True or callable(jac)):
        raise TypeError(f"jac={jac!r} asks for SciPy's finite differences, which need "
                        f"NumPy input; x0 is a {type(x0).__module__.split('.')[0]} array: "
                        "pass jac=callable or jac=True")
    return _ArrayFunction(fun, args, jac, xp)


class _ArrayFunction:
    """``ScalarFunction``'s copy and scalar rules for non-NumPy arrays."""

    def __init__(self, fun, args, jac, xp):
        self.fun, self.args, self.jac, self.xp = fun, args, jac, xp
        self.nfev = self.ngev = 0

    def _scalar(self, f):
        if getattr(f, "shape", ()) not in ((), (1,)):
            raise ValueError("The user-provided objective function must return a scalar "
                             f"value, got an array of shape {tuple(f.shape)}.")
        return float(self.xp.reshape(f, ())) if hasattr(f, "shape") else float(f)

    def fun_and_grad(self, x):
        xp = self.xp
        self.nfev += 1
        self.ngev += 1
        if self.jac is True:
            f, g = self.fun(xp.asarray(x, copy=True), *self.args)
        else:
            f = self.fun(xp.asarray(x, copy=True), *self.args)
            g = self.jac(xp.asarray(x, copy=True), *self.args)
        return self._scalar(f), xp.reshape(xp.asarray(g), (-1,))
