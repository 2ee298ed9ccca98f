"""The one iteration loop every iterative solver runs through.

A solver is a small object with three methods (Optimistix's init/step/terminate split):

``init() -> state``
    The starting state (any object).
``step(state) -> state``
    One iteration.
``check(state) -> Status | None``
    ``Status.SUCCESS`` when converged, another ``Status`` to stop early with a failure,
    ``None`` to go on. Called every ``check_every`` iterations: on a GPU each check is a
    device-to-host sync.
``result(state) -> dict``
    The fields of the result. It must contain ``x``; an optional ``message_detail``
    string is appended to the message (say which criterion failed); an optional ``nit``
    overrides the loop's count (for a ``step`` that runs several compiled iterations,
    or a GPU loop that stops on the device). The loop adds ``nit``, ``success``,
    ``status``, ``message`` and turns a non-finite ``x`` into ``Status.NONFINITE``.
"""

from __future__ import annotations

import math

from ._result import OptimizeResult, Status

__all__ = ["run_solver", "is_finite_array"]


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


def run_solver(solver, *, maxiter, callback=None, check_every=1, finite_fields=("x",)):
    """Iterate ``solver`` until it converges, fails, hits ``maxiter`` or the callback stops it.

    ``callback(intermediate_result)`` receives an :class:`OptimizeResult` after every
    check that did not fail (the converging one included, as in SciPy); raising
    ``StopIteration`` ends the run with ``Status.CALLBACK_STOP``.
    """
    state = solver.init()
    status = solver.check(state)
    nit = 0
    while status is None and nit < maxiter:
        state = solver.step(state)
        nit += 1
        if nit % check_every == 0 or nit == maxiter:
            status = solver.check(state)
            # SciPy calls the callback after every iteration, the converged one too
            if callback is not None and status in (None, Status.SUCCESS):
                try:
                    callback(OptimizeResult({"nit": nit, **solver.result(state)}))
                except StopIteration:
                    status = Status.CALLBACK_STOP
    if status is None:
        status = Status.MAXITER
    fields = solver.result(state)
    detail = fields.pop("message_detail", "")
    nit = fields.pop("nit", nit)  # a step may run several compiled iterations
    if any(not is_finite_array(fields.get(f)) for f in finite_fields):
        status, detail = Status.NONFINITE, f"(after {nit} iterations)"
    return OptimizeResult.from_status(status, detail, nit=nit, **fields)
