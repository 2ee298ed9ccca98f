"""When a completion run stops, and what its message says.

Both solvers decide their stop in ``step``, on the iterate it has just produced: the
stall rules compare an iteration with the one before it (alternating minimization) or
count iterations since the last improvement (SoftImpute), so a rule read only at the
loop's checks would miss a stall that a later iteration hides. Each iteration syncs its
residual to the host anyway, so deciding there costs nothing on a GPU either; the
loop's check cadence then only sets how often the callback and ``disp`` see the run.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["StopsInStep", "residual_stalled", "ROUNDING_FLOOR_ULPS", "stall_detail",
           "unmet_detail"]


class StopsInStep:
    """``step_many`` and ``check`` of a solver whose ``step`` records in ``state.stop``
    the :class:`~numopt._result.Status` it stops with (None: go on)."""

    def step_many(self, state, budget):
        """Up to ``budget`` iterations, fewer when one of them decided a stop, so that
        the run stops at that iteration whatever the loop's check cadence."""
        ran = 0
        while ran < budget and state.stop is None:
            state = self.step(state)
            ran += 1
        return state, ran

    def check(self, state):
        return state.stop


def residual_stalled(rel, prev_rel, tol, dtype, *, monotone):
    """Whether the relative training residual, moving from ``prev_rel`` to ``rel``, has
    stopped improving: it fell by at most ``tol`` relatively, reached the rounding floor
    of ``dtype`` (four unit roundoffs), or rose where only rounding can raise it (anywhere
    for a ``monotone`` method; below sqrt(eps) otherwise). A float32 fit ends near 1e-6
    and wanders there, never settling to a relative change below a tol such as 1e-8.

    A stalled fit is a success only where its measure meets ``tol``; otherwise the run
    ends ``Status.STALLED``."""
    eps = float(np.finfo(dtype).eps)
    if rel <= 4 * eps:
        return True
    if not math.isfinite(prev_rel):
        return False
    if rel > prev_rel:
        return monotone or rel <= math.sqrt(eps)
    return prev_rel - rel <= tol * prev_rel


# A float32 fit recomputed in float64 from its factors ends at a few unit roundoffs
# (2e-7 to 5e-7 measured on exactly low-rank data; 1e-5 to 1.6e-5, about 100 units,
# with altmin's sketched row solve); below this many the stall is rounding, and the
# message says which tolerances the dtype can meet.
ROUNDING_FLOOR_ULPS = 256


def stall_detail(measure, value, tol, dtype):
    """The message detail of a run that ended ``STALLED`` at ``value`` > ``tol``."""
    eps = float(np.finfo(dtype).eps)
    name = np.dtype(dtype).name
    if value <= ROUNDING_FLOOR_ULPS * eps:
        why = (f"the rounding floor of {name}: a tol below about {value:.1g} cannot be met "
               f"in {name}")
    else:
        why = ("a stationary fit: noisy data, a rank below the data's, too few "
               "observations or a local minimum")
    return f"The {measure} stopped decreasing at {value:.3g} (> tol={tol:.3g}): {why}."


def unmet_detail(measure, value, tol, nit):
    """The message detail of a run stopped early (maxiter, callback) at ``value``, or
    None where ``value`` meets ``tol``."""
    if value <= tol:
        return None
    still = " and still decreasing" if nit > 0 else ""
    return f"{measure[0].upper()}{measure[1:]} {value:.3g} > tol={tol:.3g}{still}."
