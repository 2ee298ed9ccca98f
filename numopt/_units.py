"""Exact changes of units by powers of two.

A solver that works on ``v / 2**e`` instead of ``v`` (``e`` the binary exponent of
``max |v|``) computes the same digits for data in the normal range, since multiplying by
a power of two is exact, and no longer overflows or underflows in squared norms for data
near 1e+-150 and beyond. Each problem class says which of its quantities scale and how
(the linear systems' ``x`` and residual, the Lasso's coefficients and gap, the OT plan
and potentials, the completion's ``V``); this module holds the arithmetic they share.
"""

from __future__ import annotations

import math

__all__ = ["binary_exponent", "max_abs", "ldexp_float", "Pow2"]


def binary_exponent(top) -> int:
    """``e`` with ``top / 2**e`` in [0.5, 1); 0 for 0, inf or NaN."""
    top = float(top)
    return math.frexp(top)[1] if top > 0 and math.isfinite(top) else 0


def max_abs(xp, v) -> float:
    """``max |v|`` of an array of namespace ``xp`` or of a SciPy/cupyx sparse matrix
    (its stored values); 0 when empty."""
    data = v.data if hasattr(v, "tocsr") else v
    if math.prod(data.shape) == 0:
        return 0.0
    return float(xp.max(xp.abs(data)))


def ldexp_float(value, exp) -> float:
    """``value * 2**exp`` for a Python float: inf past the range, never an error."""
    try:
        return math.ldexp(value, exp)
    except OverflowError:
        return math.copysign(math.inf, value)


class Pow2:
    """Multiplication by the exact power of two ``2**exp``: ``up`` multiplies, ``down``
    divides (arrays of any namespace, sparse matrices, or Python floats)."""

    # 2**100 and 2**-100 are normal float32 numbers: a factor never leaves the range
    _STEP = 100

    def __init__(self, exp=0):
        self.exp = int(exp)

    @classmethod
    def of(cls, xp, v):
        """``Pow2(e)`` with ``max |v| / 2**e`` in [0.5, 1) (``e = 0`` for ``v = 0``)."""
        return cls(binary_exponent(max_abs(xp, v)))

    def __mul__(self, other):
        return Pow2(self.exp + other.exp)

    def up(self, v):
        """``v * 2**exp``."""
        if isinstance(v, float):
            return ldexp_float(v, self.exp)
        exp = self.exp
        while exp != 0:
            k = max(-self._STEP, min(self._STEP, exp))
            v = v * 2.0 ** k
            exp -= k
        return v

    def down(self, v):
        """``v / 2**exp``."""
        return Pow2(-self.exp).up(v)
