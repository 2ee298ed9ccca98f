"""``numopt.minimize``: SciPy's front door, extended with numopt's registered methods."""

from __future__ import annotations

import scipy.optimize

from ._registry import get_method, list_methods
from ._result import OptimizeResult

__all__ = ["minimize", "show_options", "SCIPY_MINIMIZE_METHODS"]

# Every method scipy.optimize.minimize accepts by name (lower case).
SCIPY_MINIMIZE_METHODS = (
    "nelder-mead", "powell", "cg", "bfgs", "newton-cg", "l-bfgs-b", "tnc", "cobyla",
    "cobyqa", "slsqp", "trust-constr", "dogleg", "trust-ncg", "trust-exact", "trust-krylov",
)


def _valid_method_names() -> list:
    own = [s.name for s in list_methods(solver="minimize")]
    return own + list(SCIPY_MINIMIZE_METHODS)


def minimize(fun, x0, args=(), method=None, jac=None, hess=None, hessp=None, bounds=None,
             constraints=(), tol=None, callback=None, options=None):
    """Minimize a scalar function, with SciPy's signature and semantics.

    numopt's own methods (see ``python -m numopt --list``) are looked up in the method
    registry; every other method, and ``method=None``, is handed unchanged to
    :func:`scipy.optimize.minimize`, so ``numopt.minimize`` is a drop-in superset of it.

    Parameters
    ----------
    fun, x0, args, method, jac, hess, hessp, bounds, constraints, tol, callback, options
        As in :func:`scipy.optimize.minimize`. A callback receives an
        ``OptimizeResult``; raising ``StopIteration`` ends the run with
        ``success=False``.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    ValueError
        If ``method`` is neither a numopt method nor a SciPy method; the message lists
        the valid names.
    """
    options = {} if options is None else dict(options)
    if isinstance(method, str):
        spec = get_method("minimize", method)
        if spec is not None:
            if not isinstance(args, tuple):
                args = (args,)
            return spec.func(fun, x0, args, jac=jac, hess=hess, hessp=hessp, bounds=bounds,
                             constraints=constraints, tol=tol, callback=callback, **options)
        if method.lower() not in SCIPY_MINIMIZE_METHODS:
            raise ValueError(
                f"Unknown method {method!r}. Valid methods: {', '.join(_valid_method_names())}"
            )
    res = scipy.optimize.minimize(fun, x0, args=args, method=method, jac=jac, hess=hess,
                                  hessp=hessp, bounds=bounds, constraints=constraints,
                                  tol=tol, callback=callback, options=options)
    return OptimizeResult(res)


def show_options(solver=None, method=None, disp=True):
    """Show the options of a solver method, like :func:`scipy.optimize.show_options`.

    ``solver`` is ``"minimize"`` or a numopt entry point (``"sinkhorn"``, ``"sor"``...);
    for ``solver="minimize"`` a SciPy method name shows SciPy's documentation.
    With ``disp=False`` the text is returned instead of printed.
    """
    solver = "minimize" if solver is None else solver
    if method is None:
        specs = list_methods(solver=solver)
        if not specs and solver == "minimize":
            return scipy.optimize.show_options("minimize", None, disp)
        text = "\n\n".join(s.describe() for s in specs)
    else:
        spec = get_method(solver, method)
        if spec is None:
            if solver in ("minimize", "minimize_scalar", "root", "root_scalar", "linprog",
                          "quadratic_assignment"):
                return scipy.optimize.show_options(solver, method, disp)
            names = [s.name for s in list_methods(solver=solver)]
            raise ValueError(
                f"Unknown method {method!r} for {solver!r}. Valid methods: {', '.join(names)}"
            )
        text = spec.describe()
    if disp:
        print(text)
        return None
    return text
