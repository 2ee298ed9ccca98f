"""The result object every numopt solver returns, and the status codes it carries."""

from __future__ import annotations

import enum

from scipy.optimize import OptimizeResult as _ScipyOptimizeResult

__all__ = ["OptimizeResult", "Status"]


class Status(enum.IntEnum):
    """Why a solver stopped. The integer values follow SciPy where SciPy has one."""

    SUCCESS = 0
    MAXITER = 1
    NONFINITE = 3
    STALLED = 4
    LINE_SEARCH_FAILED = 5
    CALLBACK_STOP = 99

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.SUCCESS: "Optimization terminated successfully.",
    Status.MAXITER: "Maximum number of iterations has been exceeded.",
    Status.NONFINITE: "NaN or inf encountered in the iterates; the result is not valid.",
    Status.STALLED: "Progress stalled before the tolerance was reached.",
    Status.LINE_SEARCH_FAILED: "The line search failed to find an acceptable step.",
    Status.CALLBACK_STOP: "`callback` raised `StopIteration`.",
}


class OptimizeResult(_ScipyOptimizeResult):
    """A SciPy-compatible result: a ``dict`` with attribute access.

    It subclasses :class:`scipy.optimize.OptimizeResult`, so code written for SciPy
    (``isinstance`` checks, ``res.x``, ``res["fun"]``, the readable ``repr``) works
    unchanged. Every numopt solver fills at least ``x, success, status, message, nit``.
    """

    @classmethod
    def from_status(cls, status: Status, detail: str = "", **fields) -> "OptimizeResult":
        """Build a result whose ``success``/``status``/``message`` agree with ``status``."""
        status = Status(status)
        message = status.message if not detail else f"{status.message} {detail}"
        return cls(success=status is Status.SUCCESS, status=int(status), message=message, **fields)
