"""The zeroth-order methods' objective: :class:`numopt.stochastic._objective.
StochasticObjective` (index batches, counts) for ``fun`` alone.

Two differences from the parent, both for MeZO's memory rule and its cost: no gradient
is ever set up (the parent would prepare SciPy's finite differences for a deterministic
``fun`` without ``jac``, evaluating ``d + 1`` points up front), and ``value(y,
owned=True)`` hands ``y`` itself to ``fun``, a fresh perturbed buffer built for that
call (or ``x`` in MeZO's in-place mode), instead of copying it once more.
"""

from __future__ import annotations

from ..stochastic._objective import StochasticObjective, check_batch_size

__all__ = ["ValueObjective", "check_batch_size"]


def _no_gradient(*args):
    raise TypeError("the zeroth-order methods evaluate fun only")


class ValueObjective(StochasticObjective):
    """``fun(x[, batch], *args)`` with the parent's batches and counts, no gradient."""

    def __init__(self, fun, x0, args, xp, n_samples=None):
        super().__init__(fun, x0, args, _no_gradient, None, xp, n_samples=n_samples)

    def value(self, x, batch=None, *, owned=False):
        self._counts.nfev += 1
        self._counts.nsamples += self._touched(batch)
        try:
            out = self.fun(x if owned else self._copy(x), *self._batch_args(batch))
        except (ValueError, IndexError) as exc:
            # a shape mismatch between x0 and the user's data: say what fixed the shape
            raise ValueError(f"fun could not be evaluated at an x of the shape of x0 "
                             f"{self.shape}: {exc}") from exc
        return self._scalar(out)
