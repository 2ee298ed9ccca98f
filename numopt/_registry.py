"""The method registry: every numopt solver declares itself here once.

The registry drives ``numopt.minimize`` (no if/elif chain of names), ``show_options``,
``python -m numopt --list`` and the generic test table in ``numopt.testing``.
Problem packages register on import; :func:`load_all` imports them all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["MethodSpec", "Option", "Example", "register_method", "get_method",
           "list_methods", "load_all", "PROBLEM_PACKAGES"]

# Subpackages that register methods; imported lazily by load_all().
PROBLEM_PACKAGES = ("linalg", "ot", "coordinate", "completion", "constrained")


@dataclass(frozen=True)
class Option:
    """One solver option: its default and a one-line description."""

    default: object
    doc: str


@dataclass
class Example:
    """A small problem a method solves, used by the generic tests.

    ``args``/``kwargs`` call the method's function (for ``solver="minimize"``:
    ``numopt.minimize(*args, method=name, **kwargs)``). ``arg_names`` names the
    positional arguments, so the tests can corrupt one and expect the error message
    to name it. ``array_args`` lists the positions of array arguments. ``check(result)``
    asserts the answer against an oracle. ``rtol`` is the tolerance for kernel vs
    reference agreement on ``compare_fields``. ``nan_allowed`` lists array arguments in
    which NaN is data (a missing entry), so only inf must be rejected there;
    ``shape_free`` lists array arguments whose shape no other argument constrains (a
    smaller one is a valid, smaller problem).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    arg_names: tuple = ()
    array_args: tuple = (0,)
    check: Callable | None = None
    rtol: float = 1e-6
    compare_fields: tuple = ("x",)
    dtype_fields: tuple = ("x",)
    nan_allowed: tuple = ()
    shape_free: tuple = ()


@dataclass
class MethodSpec:
    """A registered solver.

    Parameters
    ----------
    solver : str
        The entry point it belongs to (``"minimize"``, ``"sinkhorn"``, ``"sor"``...).
    name : str
        The method name within that entry point.
    func : callable
        The function that runs it. For ``solver="minimize"`` it is called as
        ``func(fun, x0, args, jac=..., hess=..., hessp=..., bounds=..., constraints=...,
        tol=..., callback=..., **options)``.
    problem_class : str
        ``"linalg"``, ``"ot"``, ``"coordinate"``, ``"completion"``...
    summary : str
        One line for ``--list`` and the README table.
    options : dict of str -> Option
    example : callable(xp, dtype) -> Example, optional
        Joins the method to the generic test table.
    has_kernels : bool
        Whether it dispatches to Numba/CuPy kernels (then the generic tests compare
        them with the reference path).
    supports_callback : bool
    reference : str
        The paper or the classic it implements.
    namespaces : tuple of str
        Array libraries the generic tests run it on (``"numpy"``,
        ``"array_api_strict"``, ``"cupy"``).
    uses : tuple of str
        For ``solver="minimize"``: which of ``"jac"``, ``"hess"``, ``"hessp"``,
        ``"bounds"``, ``"constraints"`` the method uses. ``numopt.minimize`` warns, as
        SciPy does, when it is given one the method ignores, and does not pass it on.
    """

    solver: str
    name: str
    func: Callable
    problem_class: str
    summary: str
    options: dict = field(default_factory=dict)
    example: Callable | None = None
    has_kernels: bool = False
    supports_callback: bool = True
    reference: str = ""
    namespaces: tuple = ("numpy", "array_api_strict", "cupy")
    uses: tuple = ()

    @property
    def key(self) -> tuple:
        return (self.solver, self.name.lower())

    def option_defaults(self) -> dict:
        return {k: o.default for k, o in self.options.items()}

    def describe(self) -> str:
        lines = [f"{self.solver}(method={self.name!r}): {self.summary}"]
        if self.reference:
            lines.append(f"Reference: {self.reference}")
        lines.append("")
        lines.append("Options")
        lines.append("-------")
        for k, o in {**self.options, **LOOP_OPTION_DOCS}.items():
            lines.append(f"{k} : default {o.default!r}")
            lines.append(f"    {o.doc}")
        return "\n".join(lines)


# the options every method takes (numopt._validation.LOOP_OPTIONS), documented once
LOOP_OPTION_DOCS = {
    "disp": Option(False, "Set to True to print a progress table and a closing summary "
                          "(a failed run warns OptimizeWarning, as SciPy's methods do)."),
}

_METHODS: dict[tuple, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (re-registering the same function is a no-op)."""
    existing = _METHODS.get(spec.key)
    if existing is not None and existing.func is not spec.func:
        raise ValueError(f"method {spec.name!r} is already registered for {spec.solver!r}")
    _METHODS[spec.key] = spec
    return spec


def load_all() -> None:
    """Import every problem package so that all methods are registered."""
    for name in PROBLEM_PACKAGES:
        try:
            importlib.import_module(f"numopt.{name}")
        except ModuleNotFoundError as exc:
            # A problem package that has not landed yet is simply absent.
            if exc.name != f"numopt.{name}":
                raise


def get_method(solver: str, name: str) -> MethodSpec | None:
    """The spec registered as ``solver``/``name`` (case-insensitive), or ``None``."""
    key = (solver, name.lower())
    if key not in _METHODS:
        load_all()
    return _METHODS.get(key)


def list_methods(solver: str | None = None, problem_class: str | None = None) -> list:
    """All registered specs, optionally filtered, in a stable order."""
    load_all()
    specs = [
        s for s in _METHODS.values()
        if (solver is None or s.solver == solver)
        and (problem_class is None or s.problem_class == problem_class)
    ]
    return sorted(specs, key=lambda s: (s.problem_class, s.solver, s.name))
