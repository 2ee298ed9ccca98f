"""SOBA and SABA (Dagreou, Ablin, Vaiter, Moreau, NeurIPS 2022): the lower variable ``y``,
the implicit-system variable ``v`` and ``x`` move together, one step each per
iteration, along

* ``D_y = dg/dy``, ``D_v = d^2 g/dy dy v - df/dy``, ``D_x = df/dx - d^2 g/dx dy v``,

all evaluated at the current ``(x, y, v)``. SOBA uses one minibatch per level and
iteration; SABA replaces each of the five oracles by its SAGA estimate over a fixed
partition of the samples into contiguous batches (``m w_k (new_k - memory_k) +
sum_j w_j memory_j`` for batch ``k`` of ``m``, weight ``w_k`` its share of the samples,
drawn uniformly), which removes the variance and
restores the deterministic rate.
"""

from __future__ import annotations

import numpy as np

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
        gy = p.grad_g(x, y, lower)[1]
        hv = p.hvp_g(x, y, v, lower)
        fx, fy = p.grad_f(x, y, upper)
        cv = p.cross_g(x, y, v, lower)
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
        self.scales = len(self.batches) * self.weights


class SABASolver(SOBASolver):
    method = "saba"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lower_parts = _Memory(self.problem.n_lower, self.batch_size)
        self.upper_parts = _Memory(self.problem.n_upper, self.batch_size)

    def _lower_oracles(self, x, y, v, lower):
        p = self.problem
        return {"gy": p.grad_g(x, y, lower)[1], "hv": p.hvp_g(x, y, v, lower),
                "cv": p.cross_g(x, y, v, lower)}

    def _upper_oracles(self, x, y, upper):
        fx, fy = self.problem.grad_f(x, y, upper)
        return {"fx": fx, "fy": fy}

    def start(self, x, y):
        aux = super().start(x, y)
        tables, means = {}, {}
        levels = ((self.lower_parts, lambda batch: self._lower_oracles(x, y, aux["v"], batch)),
                  (self.upper_parts, lambda batch: self._upper_oracles(x, y, batch)))
        for parts, oracles in levels:
            rows = [oracles(batch) for batch in parts.batches]
            for name in rows[0]:
                tables[name] = np.array([row[name] for row in rows])
                means[name] = parts.weights @ tables[name]
        aux.update(tables=tables, means=means)
        return aux

    def directions_saga(self, x, y, v, tables, means):
        """The SAGA estimates of the five oracles; the tables and their means are
        updated in place (they belong to the state this step replaces: copying a
        table of n / batch_size rows every iteration cost more than the oracles)."""
        lo, up = self.lower_parts, self.upper_parts
        k = int(self.rng.integers(len(lo.batches))) if len(lo.batches) > 1 else 0
        i = int(self.rng.integers(len(up.batches))) if len(up.batches) > 1 else 0
        fresh_lower = self._lower_oracles(x, y, v, lo.batches[k])
        fresh_upper = self._upper_oracles(x, y, up.batches[i])
        estimates = {}
        for fresh, index, parts in ((fresh_lower, k, lo), (fresh_upper, i, up)):
            for name, value in fresh.items():
                change = value - tables[name][index]
                estimates[name] = parts.scales[index] * change + means[name]
                means[name] += parts.weights[index] * change
                tables[name][index] = value
        return estimates

    def update(self, state):
        x, y, aux = state.x, state.y, state.aux
        v = aux["v"]
        tables, means = aux["tables"], aux["means"]
        e = self.directions_saga(x, y, v, tables, means)
        d_x = e["fx"] - e["cv"]
        rho = self.inner_step
        new_aux = {"v": v - rho * (e["hv"] - e["fy"]), "tables": tables, "means": means}
        return self.project(x - self.outer_step * d_x), y - rho * e["gy"], new_aux, d_x
