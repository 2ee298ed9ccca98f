"""SOBA and SABA (Dagreou, Ablin, Vaiter, Moreau, NeurIPS 2022): the lower variable ``y``,
the implicit-system variable ``v`` and ``x`` move together, one step each per
iteration, along

* ``D_y = dg/dy``, ``D_v = d^2 g/dy dy v - df/dy``, ``D_x = df/dx - d^2 g/dx dy v``,

all evaluated at the current ``(x, y, v)``. SOBA uses one minibatch per level and
iteration; SABA replaces each of the five oracles by its SAGA estimate over a fixed
partition of the samples into contiguous batches (``m w_k (new_k - memory_k) +
sum_j w_j memory_j`` for batch ``k`` of ``m``, weight ``w_k`` its share of the samples,
drawn uniformly), which removes the variance and
restores the deterministic rate. SABA's step after the oracles (two SAGA table updates
and the three variable updates, ~20 small NumPy operations) is one Numba kernel.
"""

from __future__ import annotations

import numpy as np

from .._backend import get_kernel, kernel
from ._base import BilevelSolver

__all__ = ["SOBASolver", "SABASolver"]


class SOBASolver(BilevelSolver):
    method = "soba"

    def start(self, x, y):
        v0 = self.options["v0"]
        return {"v": np.zeros_like(y) if v0 is None else v0.copy()}

    def directions(self, x, y, v):
        """``(D_y, D_v, D_x)`` from one lower and one upper minibatch."""
        p = self.problem
        lower, upper = self.sample(p.n_lower), self.sample(p.n_upper)
        gy, hv, cv = p.lower_oracles(x, y, v, lower)
        fx, fy = p.grad_f(x, y, upper)
        return gy, hv - fy, fx - cv

    def update(self, state):
        x, y, v = state.x, state.y, state.aux["v"]
        d_y, d_v, d_x = self.directions(x, y, v)
        rho = self.inner_step
        return (self.project(x - self.outer_step * d_x), y - rho * d_y,
                {"v": v - rho * d_v}, d_x)


class _Memory:
    """SAGA tables over a fixed partition of ``n`` samples into batches."""

    def __init__(self, n, batch_size):
        n_batches = 1 if batch_size is None else max(1, -(-n // batch_size))
        # contiguous batches as slices: the oracles then read views of the data
        edges = np.linspace(0, n, n_batches + 1).round().astype(int)
        self.batches = [None] if n_batches == 1 else \
            [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        sizes = np.diff(edges).astype(float)
        self.weights = sizes / sizes.sum()
        # a batch is drawn uniformly; its change is reweighted by n_batches * weight
        # (Python floats: the step passes one of each to its kernel)
        self.scales = (len(self.batches) * self.weights).tolist()
        self.step_weights = self.weights.tolist()


def _saga(table, mean, index, fresh, scale, weight):
    """The SAGA estimate of batch ``index``'s fresh oracle row; ``table`` and its
    weighted ``mean`` are updated in place."""
    change = fresh - table[index]
    estimate = scale * change + mean
    mean += weight * change
    table[index] = fresh
    return estimate


@kernel("bilevel.saba_update", numba="numopt.bilevel._kernels_numba:saba_update")
def saba_update(xp, lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight,
                upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight,
                x, y, v, inner_step, outer_step):
    """One SABA step from the fresh oracle rows of lower batch ``k`` (``[dg/dy |
    d^2g/dy dy v | d^2g/dx dy v]``) and upper batch ``i`` (``[df/dx | df/dy]``):
    ``(x - outer_step D_x, y - inner_step D_y, v - inner_step D_v, D_x)`` from the
    SAGA estimates; the tables and their means are updated in place."""
    dy, dx = y.shape[0], x.shape[0]
    lower = _saga(lower_table, lower_mean, k, lower_fresh, lower_scale, lower_weight)
    upper = _saga(upper_table, upper_mean, i, upper_fresh, upper_scale, upper_weight)
    d_x = upper[:dx] - lower[2 * dy:]
    return (x - outer_step * d_x, y - inner_step * lower[:dy],
            v - inner_step * (lower[dy:2 * dy] - upper[dx:]), d_x)


class SABASolver(SOBASolver):
    method = "saba"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lower_parts = _Memory(self.problem.n_lower, self.batch_size)
        self.upper_parts = _Memory(self.problem.n_upper, self.batch_size)
        self.update_kernel = get_kernel("bilevel.saba_update", np)

    def _lower_row(self, x, y, v, batch):
        return np.concatenate(self.problem.lower_oracles(x, y, v, batch))

    def _upper_row(self, x, y, batch):
        return np.concatenate(self.problem.grad_f(x, y, batch))

    def start(self, x, y):
        aux = super().start(x, y)
        lo, up = self.lower_parts, self.upper_parts
        # the tables hold every batch's oracles at the start (one full pass), so the
        # first estimates are the full-batch directions
        aux["lower_table"] = np.array([self._lower_row(x, y, aux["v"], batch)
                                       for batch in lo.batches])
        aux["upper_table"] = np.array([self._upper_row(x, y, batch) for batch in up.batches])
        aux["lower_mean"] = lo.weights @ aux["lower_table"]
        aux["upper_mean"] = up.weights @ aux["upper_table"]
        return aux

    def update(self, state):
        """One step; the tables and their means are updated in place (they belong to
        the state this step replaces: copying a table of n / batch_size rows every
        iteration cost more than the oracles)."""
        x, y, aux = state.x, state.y, state.aux
        v = aux["v"]
        lo, up = self.lower_parts, self.upper_parts
        k = int(self.rng.integers(len(lo.batches))) if len(lo.batches) > 1 else 0
        i = int(self.rng.integers(len(up.batches))) if len(up.batches) > 1 else 0
        x_new, y_new, v_new, d_x = self.update_kernel(
            np, aux["lower_table"], aux["lower_mean"], k,
            self._lower_row(x, y, v, lo.batches[k]), lo.scales[k], lo.step_weights[k],
            aux["upper_table"], aux["upper_mean"], i,
            self._upper_row(x, y, up.batches[i]), up.scales[i], up.step_weights[i],
            x, y, v, self.inner_step, self.outer_step)
        return self.project(x_new), y_new, {**aux, "v": v_new}, d_x
