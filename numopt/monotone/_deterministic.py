"""The deterministic methods: each iteration evaluates the full operator ``F``
(``n`` component calls) once or twice; ``P`` is the projection of ``G``.

* Halpern (Halpern 1967; Diakonikolas 2020) on the forward-backward map of a cocoercive
  ``F``: ``z+ = l z0 + (1 - l) P(z - eta F(z))``, ``l = 1/(k+2)``;
* extragradient (Korpelevich 1976): ``zh = P(z - eta F(z))``, ``z+ = P(z - eta F(zh))``;
* EAG, extra anchored gradient with constant step (Yoon & Ryu 2021, EAG-C):
  ``zh = P(z + b (z0 - z) - eta F(z))``, ``z+ = P(z + b (z0 - z) - eta F(zh))``,
  ``b = 1/(k+2)`` (with ``G = 0`` exactly EAG-C; with a set, its projected form);
* forward-backward-forward (Tseng 2000): ``zh = P(z - eta F(z))``,
  ``z+ = zh - eta (F(zh) - F(z))``;
* optimistic gradient in optax's form (``optax.optimistic_gradient_descent``):
  ``z+ = P(z - eta ((alpha + beta) F(z_k) - beta F(z_{k-1})))``, ``F(z_{-1}) = F(z_0)``.

Every state keeps ``F`` at its iterate, so the residual costs no extra evaluation.
"""

from __future__ import annotations

from ._solver_base import InclusionSolver

__all__ = ["DETERMINISTIC_SOLVERS"]


class _Deterministic(InclusionSolver):
    calls_per_iteration = 1

    def __init__(self, xp, op, prox, z0, *, tol, measure, step, alpha=1.0, beta=1.0):
        super().__init__(xp, op, prox, z0, tol=tol, measure=measure, step=step)
        self.alpha, self.beta = alpha, beta

    def F(self, z):
        return self.op.full(self.xp, z)

    def P(self, z):
        return self.prox(self.xp, z)

    def _state(self, z, Fz, k, ncalls, **extra):
        return {"z": z, "Fz": Fz, "k": k, "ncalls": ncalls, **extra}

    def init(self):
        z = self.xp.asarray(self.z0, copy=True)
        Fz = self.F(z)
        return self._state(z, Fz, 0, self.n, Fz_prev=Fz)

    def step(self, state):
        z_new = self.update(state)
        Fz_new = self.F(z_new)
        return self._state(z_new, Fz_new, state["k"] + 1,
                           state["ncalls"] + self.calls_per_iteration * self.n,
                           Fz_prev=state["Fz"])


class HalpernSolver(_Deterministic):
    def update(self, s):
        lam = 1.0 / (s["k"] + 2)
        T = self.P(s["z"] - self.step_size * s["Fz"])
        return lam * self.z0 + (1.0 - lam) * T


class ExtragradientSolver(_Deterministic):
    calls_per_iteration = 2

    def update(self, s):
        eta = self.step_size
        zh = self.P(s["z"] - eta * s["Fz"])
        return self.P(s["z"] - eta * self.F(zh))


class AnchoredExtragradientSolver(_Deterministic):
    calls_per_iteration = 2

    def update(self, s):
        eta, beta = self.step_size, 1.0 / (s["k"] + 2)
        anchored = s["z"] + beta * (self.z0 - s["z"])
        zh = self.P(anchored - eta * s["Fz"])
        return self.P(anchored - eta * self.F(zh))


class ForwardBackwardForwardSolver(_Deterministic):
    calls_per_iteration = 2

    def update(self, s):
        eta = self.step_size
        zh = self.P(s["z"] - eta * s["Fz"])
        return zh - eta * (self.F(zh) - s["Fz"])


class OptimisticGradientSolver(_Deterministic):
    def update(self, s):
        g = (self.alpha + self.beta) * s["Fz"] - self.beta * s["Fz_prev"]
        return self.P(s["z"] - self.step_size * g)


DETERMINISTIC_SOLVERS = {
    "halpern": HalpernSolver,
    "extragradient": ExtragradientSolver,
    "eag": AnchoredExtragradientSolver,
    "fbf": ForwardBackwardForwardSolver,
    "optimistic": OptimisticGradientSolver,
}
