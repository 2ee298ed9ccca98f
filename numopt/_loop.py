"""The one iteration loop every iterative solver runs through, and its contract.

A solver is a small object built with all its settings, which it never changes
afterwards (no module sets a solver's attribute after construction). Its methods:

``init() -> state``
    The starting state (any object).
``step(state) -> state``
    One iteration.
``step_many(state, budget) -> (state, ran)`` (optional)
    For a solver whose iterations run fused in one compiled or GPU call, or that
    decides its stop inside the step: up to ``budget`` iterations (``budget >= 1``),
    returning how many ran (``1 <= ran <= budget``). Fewer means "check now": the
    solver decided to stop (a GPU loop that met its test on the device, a stall rule)
    or ended a unit of work the caller should see (a Newton step). When present the loop calls it instead of ``step``, with the
    iterations left until the next check or ``maxiter``; ``nit`` and ``maxiter`` count
    iterations whatever a step does.
``check(state) -> Status | None``
    ``Status.SUCCESS`` when converged, another ``Status`` to stop early with a failure,
    ``None`` to go on. It has no side effects: results do not depend on how often the
    loop checks, beyond when it notices a stop. Called every ``check_every``
    iterations (on a GPU each check is a device-to-host sync).
``result(state) -> dict``
    The public fields of the result; it must contain ``x``. An optional ``stats``
    mapping (function evaluations, inner iterations, restarts) is merged into the
    result. The loop adds ``nit``, ``success``, ``status``, ``message`` and turns a
    non-finite ``x`` into ``Status.NONFINITE``.
``detail(state, status) -> str`` (optional)
    What to append to the status message: say which criterion failed and by how much.

The loop alone owns ``nit``, ``maxiter``, the callback (SciPy's two forms, see
:func:`wrap_callback`), ``disp`` (a compact progress table and SciPy's closing
summary) and the check cadence: ``check_every=None`` is 1 on the CPU and the
configuration's ``gpu_check_every`` for CuPy arrays (:func:`numopt.set_config`).
"""

from __future__ import annotations

import math
import numbers

from ._result import OptimizeResult, Status

__all__ = ["run_solver", "resolve_check_every", "is_finite_array", "wrap_callback",
           "public_fields",
           "DispTable", "INTERNAL_FIELDS"]

# Fields that never reach the user (the contract's ``detail`` replaced ``message_detail``;
# the generic check_solver_contract fails a solver that still returns it).
INTERNAL_FIELDS = ("message_detail",)


def public_fields(fields) -> dict:
    """``fields`` without the :data:`INTERNAL_FIELDS`."""
    return {k: v for k, v in fields.items() if k not in INTERNAL_FIELDS}


def is_finite_array(x) -> bool:
    """True when every entry of ``x`` is finite (arrays of any namespace, scalars)."""
    if x is None:
        return True
    if isinstance(x, (int, float)):
        return math.isfinite(x)
    import array_api_compat

    xp = array_api_compat.array_namespace(x)
    if not xp.isdtype(x.dtype, ("real floating", "complex floating")):
        return True
    return bool(xp.all(xp.isfinite(x)))


def _signature(callback):
    try:  # SciPy's own helper (it reads deferred annotations on Python 3.14)
        from scipy._lib._util import wrapped_inspect_signature
    except ImportError:  # pragma: no cover - older SciPy
        from inspect import signature as wrapped_inspect_signature
    try:
        return wrapped_inspect_signature(callback)
    except (TypeError, ValueError):  # a builtin without a signature: the legacy form
        return None


def _copy_of(x):
    """A copy of an iterate: an array of any namespace or a sparse matrix."""
    if hasattr(x, "tocsr"):
        return x.copy()
    import array_api_compat

    if not array_api_compat.is_array_api_obj(x):
        return x
    return array_api_compat.array_namespace(x).asarray(x, copy=True)


def wrap_callback(callback):
    """``callback`` as a function of the :class:`OptimizeResult`, by SciPy's rule
    (``scipy.optimize._optimize._wrap_callback``): a callable whose only parameter is
    named ``intermediate_result`` gets the result by keyword; any other gets
    ``callback(xk)``, a copy of ``x`` it may keep or change. Wrapping twice is a
    no-op."""
    if callback is None or getattr(callback, "_numopt_wrapped", False):
        return callback
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    sig = _signature(callback)
    if sig is not None and set(sig.parameters) == {"intermediate_result"}:
        def wrapped(result):
            return callback(intermediate_result=result)
    else:
        def wrapped(result):
            return callback(_copy_of(result["x"]))
    wrapped._numopt_wrapped = True
    return wrapped


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class DispTable:
    """``disp=True``: one table row for each of the first ten iterations, then at 20,
    30, ..., 100, 200, ... (at the first check past each), and the last; then SciPy's
    summary (the message on success, an ``OptimizeWarning`` on failure, as
    ``scipy.optimize``'s ``_print_success_message_or_warn``; then the counts)."""

    def __init__(self):
        self.columns, self.next_row, self.last_nit = None, 1, None

    def due(self, nit) -> bool:
        return nit >= self.next_row

    def update(self, fields):
        """A row for ``fields`` (an intermediate result with ``nit``) if one is due."""
        if self.due(fields["nit"]):
            self.row(fields)

    def row(self, fields):
        nit = fields["nit"]
        if self.columns is None:
            self.columns = ["nit"] + [k for k, v in fields.items()
                                      if k != "nit" and _is_number(v)]
            print("  ".join(f"{name:>12}" for name in self.columns))
        cells = []
        for name in self.columns:
            value = fields.get(name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                cells.append(f"{value:>12d}")
            elif _is_number(value):
                cells.append(f"{float(value):>12.5e}")
            else:
                cells.append(f"{'-':>12}")
        print("  ".join(f"{c:>{max(12, len(n))}}" for c, n in zip(cells, self.columns)))
        self.last_nit = nit
        step = 10 ** max(0, len(str(nit)) - 1) if nit >= 10 else 1
        self.next_row = (nit // step + 1) * step

    def summary(self, res):
        if self.last_nit != res.nit:
            self.row({"nit": res.nit, **res})
        if res.success:
            print(res.message)
        else:
            from ._validation import warn_caller
            from .exceptions import OptimizeWarning

            warn_caller(res.message, OptimizeWarning)
        if _is_number(res.get("fun")):
            print(f"         Current function value: {float(res['fun']):f}")
        print(f"         Iterations: {res.nit:d}")
        for key, label in (("nfev", "Function"), ("njev", "Gradient")):
            if _is_number(res.get(key)):
                print(f"         {label} evaluations: {int(res[key]):d}")


def resolve_check_every(check_every, xp=None) -> int:
    """The check cadence: ``check_every`` when given (a positive integer), else one
    default per backend from the configuration (1 on the CPU, ``gpu_check_every`` on
    a GPU, where each check is a device-to-host sync)."""
    if check_every is None:
        from ._backend import is_cupy
        from ._config import get_config

        return get_config()["gpu_check_every"] if xp is not None and is_cupy(xp) else 1
    from ._validation import check_scalar

    return check_scalar(check_every, "check_every", low=1, integer=True)


def _fields(solver, state):
    """``solver.result(state)`` with its ``stats`` merged in."""
    fields = dict(solver.result(state))
    if "nit" in fields:
        raise RuntimeError(f"{type(solver).__name__}.result returned 'nit': the loop owns "
                           "nit (a step that runs several iterations is step_many)")
    fields.update(fields.pop("stats", None) or {})
    return fields


def _advance(solver, state, budget):
    """``(state, ran, stopped_early)`` after one ``step`` or one ``step_many``."""
    if not hasattr(solver, "step_many"):
        return solver.step(state), 1, False
    state, ran = solver.step_many(state, budget)
    if not (isinstance(ran, numbers.Integral) and 1 <= ran <= budget):
        raise RuntimeError(f"{type(solver).__name__}.step_many ran {ran!r} iterations "
                           f"with a budget of {budget}: the contract is 1 <= ran <= budget")
    return state, int(ran), ran < budget


def run_solver(solver, *, maxiter, callback=None, check_every=None, xp=None,
               finite_fields=("x",), disp=False):
    """Iterate ``solver`` until it converges, fails, hits ``maxiter`` or the callback stops it.

    ``callback`` is called after every check that did not fail (the converging one
    included, as in SciPy), in SciPy's two forms (:func:`wrap_callback`); raising
    ``StopIteration`` ends the run with ``Status.CALLBACK_STOP``. ``disp`` prints a
    progress table and a closing summary. ``check_every`` (see
    :func:`resolve_check_every`; ``xp`` is the arrays' namespace, for the GPU default)
    sets how often ``check`` runs.
    """
    callback = wrap_callback(callback)
    check_every = resolve_check_every(check_every, xp)
    progress = DispTable() if disp else None
    state = solver.init()
    status = solver.check(state)
    nit = 0
    while status is None and nit < maxiter:
        budget = min(check_every - nit % check_every, maxiter - nit)
        state, ran, stopped_early = _advance(solver, state, budget)
        nit += ran
        if nit % check_every == 0 or nit == maxiter or stopped_early:
            status = solver.check(state)
            # SciPy calls the callback after every iteration, the converged one too
            show = progress is not None and progress.due(nit)
            if (callback is not None and status in (None, Status.SUCCESS)) or show:
                intermediate = OptimizeResult({"nit": nit,
                                               **public_fields(_fields(solver, state))})
                if show:
                    progress.row(intermediate)
                if callback is not None and status in (None, Status.SUCCESS):
                    try:
                        callback(intermediate)
                    except StopIteration:
                        status = Status.CALLBACK_STOP
    if status is None:
        status = Status.MAXITER
    fields = _fields(solver, state)
    detail = (solver.detail(state, status) or "") if hasattr(solver, "detail") else ""
    if any(not is_finite_array(fields.get(f)) for f in finite_fields):
        status, detail = Status.NONFINITE, f"(after {nit} iterations)"
    res = OptimizeResult.from_status(status, detail, nit=nit, **public_fields(fields))
    if progress is not None:
        progress.summary(res)
    return res
