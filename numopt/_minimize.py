"""``numopt.minimize``: SciPy's front door, extended with numopt's registered methods."""

from __future__ import annotations

import scipy.optimize

from ._registry import get_method, list_methods
from ._result import OptimizeResult

__all__ = ["minimize", "show_options", "SCIPY_MINIMIZE_METHODS", "SCIPY_SOLVERS"]

# The solvers scipy.optimize.show_options documents.
SCIPY_SOLVERS = ("minimize", "minimize_scalar", "root", "root_scalar", "linprog",
                 "quadratic_assignment")

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
        As in :func:`scipy.optimize.minimize`, for numopt's methods too: a scalar
        ``x0`` is a vector of one; ``jac`` may be a callable, ``True`` (``fun``
        returns the value and the gradient), ``"2-point"``, ``"3-point"``, ``"cs"``
        or ``None`` (SciPy's finite differences); ``fun`` and ``jac`` receive a copy of
        ``x``; a ``hess``, ``hessp``, ``bounds`` or ``constraints`` the method does not
        use warns ``RuntimeWarning`` and is ignored. ``callback(intermediate_result)``
        (a lone parameter of that name) receives an ``OptimizeResult``, any other
        callable ``callback(xk)``; raising ``StopIteration`` ends the run with
        ``success=False``. Every method takes the options ``disp`` and ``maxiter``
        (an integer, or a float with an integer value).

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
            return _minimize_registered(spec, method, fun, x0, args, jac, hess, hessp,
                                        bounds, constraints, tol, callback, options)
        if method.lower() not in SCIPY_MINIMIZE_METHODS:
            raise ValueError(
                f"Unknown method {method!r}. Valid methods: {', '.join(_valid_method_names())}"
            )
    # (SciPy's warnings keep SciPy's stacklevel, which counts to this line: moving them
    # to the caller's would take warnings.catch_warnings, which is not thread-safe
    # before Python 3.14 and swallows "once" warnings; see docs/differences.rst)
    res = scipy.optimize.minimize(fun, x0, args=args, method=method, jac=jac, hess=hess,
                                  hessp=hessp, bounds=bounds, constraints=constraints,
                                  tol=tol, callback=callback, options=options)
    return OptimizeResult(res)


def _minimize_registered(spec, method, fun, x0, args, jac, hess, hessp, bounds,
                         constraints, tol, callback, options):
    """SciPy's preamble of ``scipy.optimize.minimize``, then the registered method."""
    import numpy as np

    from ._backend import get_namespace
    from ._validation import warn_caller

    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    xp = get_namespace(x0)
    x0 = xp.asarray(x0)
    if x0.ndim == 0:
        x0 = xp.reshape(x0, (1,))
    if x0.ndim != 1:
        raise ValueError("'x0' must only have one dimension.")
    if xp.isdtype(x0.dtype, "integral"):
        x0 = xp.astype(x0, xp.float64)
    if not isinstance(args, tuple):
        args = (args,)
    # SciPy's warnings for what a method ignores (RuntimeWarning, message for message)
    ignored = []
    if "jac" not in spec.uses and bool(jac):
        ignored.append(f"Method {method} does not use gradient information (jac).")
        jac = None
    if "hess" not in spec.uses and hess is not None:
        ignored.append(f"Method {method} does not use Hessian information (hess).")
        hess = None
    if "hessp" not in spec.uses and hessp is not None:
        ignored.append(f"Method {method} does not use Hessian-vector product information "
                       "(hessp).")
        hessp = None
    if "constraints" not in spec.uses and np.any(constraints):
        ignored.append(f"Method {method} cannot handle constraints.")
        constraints = ()
    if "bounds" not in spec.uses and bounds is not None:
        ignored.append(f"Method {method} cannot handle bounds.")
        bounds = None
    for message in ignored:
        warn_caller(message, RuntimeWarning)
    # a jac SciPy does not understand means finite differences (SciPy's rule)
    if not (callable(jac) or jac is True or jac in ("2-point", "3-point", "cs")):
        jac = None
    return spec.func(fun, x0, args, jac=jac, hess=hess, hessp=hessp, bounds=bounds,
                     constraints=constraints, tol=tol, callback=callback, **options)


def _heading(name, rule="="):
    return f"\n\n{name}\n{rule * len(name)}\n\n"


def _numopt_methods_text(solver):
    """numopt's methods of ``solver`` in the layout SciPy gives its own."""
    return "".join(_heading(s.name) + s.describe() for s in list_methods(solver=solver))


def _numopt_solvers():
    return sorted({s.solver for s in list_methods()} - {"minimize"})


def show_options(solver=None, method=None, disp=True):
    """Show the options of solver methods, as :func:`scipy.optimize.show_options` does,
    with numopt's methods added.

    ``show_options()`` gives SciPy's text for all its solvers, numopt's ``minimize``
    methods in the ``minimize`` section, then numopt's own solvers (``"sinkhorn"``,
    ``"sor"``, ...). ``show_options("minimize")`` gives SciPy's ``minimize`` methods
    and numopt's; a method name gives that method alone. With ``disp=False`` the text
    is returned instead of printed.

    Raises
    ------
    ValueError
        For an unknown solver or method; the message lists the valid names.
    """
    if solver is None:
        if method is not None:
            raise ValueError("method needs a solver: show_options(solver, method)")
        text = scipy.optimize.show_options(None, None, disp=False)
        # SciPy's text is its minimize section, then the others: numopt's minimize
        # methods close the first
        marker = "\n\n===============\nminimize_scalar\n"
        cut = text.index(marker)
        text = text[:cut] + _numopt_methods_text("minimize") + text[cut:]
        for name in _numopt_solvers():
            rule = "=" * len(name)
            text += f"\n\n\n{rule}\n{name}\n{rule}\n" + _numopt_methods_text(name)
    else:
        solver = solver.lower()
        own = {s.solver for s in list_methods()}
        if solver not in SCIPY_SOLVERS and solver not in own:
            valid = ", ".join(sorted(set(SCIPY_SOLVERS) | own))
            raise ValueError(f"Unknown solver {solver!r}. Valid solvers: {valid}")
        if method is None:
            text = _numopt_methods_text(solver)
            if solver in SCIPY_SOLVERS:
                text = scipy.optimize.show_options(solver, None, disp=False) + text
        else:
            spec = get_method(solver, method)
            if spec is not None:
                text = spec.describe()
            elif solver in SCIPY_SOLVERS and solver != "minimize" or (
                    solver == "minimize" and method.lower() in SCIPY_MINIMIZE_METHODS):
                text = scipy.optimize.show_options(solver, method, disp=False)
            else:
                names = [s.name for s in list_methods(solver=solver)]
                if solver == "minimize":
                    names += list(SCIPY_MINIMIZE_METHODS)
                raise ValueError(f"Unknown method {method!r} for {solver!r}. Valid "
                                 f"methods: {', '.join(names)}")
    if disp:
        print(text)
        return None
    return text
