"""The variance-reduced methods, and the array-API reference versions of their
per-sample loops (the Numba kernels in ``_kernels_numba`` compute the same thing).

* VR-EG, loopless variance-reduced extragradient (Alacaoglu & Malitsky 2022): with
  snapshot ``w`` and ``F(w)``, ``zb = a z + (1 - a) w``, ``zh = P(zb - g F(w))``,
  ``z+ = P(zb - g (F(w) + F_i(zh) - F_i(w)))``; ``w = z+`` with probability ``p``.
* Algorithm 1 of Cai, Alacaoglu & Diakonikolas (ICLR 2024), cocoercive ``F``: Halpern
  iteration ``T = P(u - eta Ft)``, ``u+ = l_k u0 + (1 - l_k) T`` with the PAGE-type estimator
  ``Ft = F(u)`` with probability ``p_k``, else ``Ft + (1/b) sum_{i in S} (F_i(u) -
  F_i(u_prev))``; ``l_k = 2/(k+4)``, ``p_k = 1`` for ``k <= 1``, ``4/(k+4)`` up to
  ``k = sqrt(n) + 1`` and ``4/(sqrt(n)+5)`` after, ``b = ceil(sqrt(n))`` (the schedule of
  the authors' script).
* Algorithm 2 of the same paper, monotone Lipschitz ``F``: inexact Halpern
  ``u+ = l_k u0 + (1 - l_k) J(u)``, ``l_k = 1/(k+2)``, where the resolvent
  ``J(u) = (I + c (F + G))^{-1} u`` is approximated by ``M_k`` steps of VR-FoRB
  (Alacaoglu, Malitsky & Cevher 2021) on the strongly monotone ``Fh(v) = c F(v) + v - u``:
  ``vb = a v + (1 - a) w``, ``v+ = P(vb - g (Fh(w) + Fh_i(v) - Fh_i(w_prev)))``,
  ``w = v+`` with probability ``p``.

Both Halpern methods return the point their theory certifies, not the anchored mixture
``u``: Algorithm 1 the last forward-backward point ``T``, Algorithm 2 the last
approximate resolvent ``v ~ J(u)`` (``(u - J(u))/c`` is in ``(F + G)(J(u))``). The mixture
``u = l u0 + (1 - l) T`` is displaced from ``T`` by ``l (u0 - T)``, which leaves the face
of a constraint set that the solution lies on, and the operator residual at step
``1/L`` charges that displacement ``L`` times: on the authors' Policeman-Burglar game
(their steps, 300 epochs) Algorithm 1's residual is 0.035 at ``T`` and 0.16 at ``u``,
Algorithm 2's 0.057 at ``v`` and 0.43 at ``u`` (EAG: 0.13).

Random draws (coins and indices) are made in Python from the run's generator, a whole
round at a time, and handed to the kernel, so the Numba and reference paths follow the
same sample path.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import get_kernel, kernel
from ._solver_base import InclusionSolver

__all__ = ["VR_SOLVERS", "vr_eg_round", "halpern_page_round", "forb_resolvent"]


@kernel("monotone.vr_eg_round", numba="numopt.monotone._kernels_numba:vr_eg_round")
def vr_eg_round(xp, op, prox, z, w, Fw, alpha, gamma, p, coins, indices):
    """``len(coins)`` VR-EG steps from ``(z, w, F(w))``; returns the new triple and the
    component calls made."""
    calls = 0
    for t in range(coins.shape[0]):
        zbar = alpha * z + (1.0 - alpha) * w
        zh = prox(xp, zbar - gamma * Fw)
        g = Fw + op.component_difference(xp, int(indices[t]), zh, w)
        z = prox(xp, zbar - gamma * g)
        calls += 2
        if coins[t] < p:
            w = z
            Fw = op.full(xp, w)
            calls += op.n_components
    return z, w, Fw, calls


def page_probability(k, n):
    """``p_k`` of Algorithm 1 (the authors' schedule)."""
    root = math.sqrt(n)
    if k <= 1:
        return 1.0
    if k - 1 <= root:
        return 4.0 / (k + 4)
    return 4.0 / (root + 5)


@kernel("monotone.halpern_page_round",
        numba="numopt.monotone._kernels_numba:halpern_page_round")
def halpern_page_round(xp, op, prox, u0, u, u_prev, Ft, k0, eta, coins, indices):
    """Iterations ``k0 .. k0 + len(coins) - 1`` of Algorithm 1; ``indices`` is
    ``(len(coins), b)``. Returns ``(T, u, u_prev, Ft, calls)``, ``T`` the last
    forward-backward point."""
    n = op.n_components
    calls = 0
    b = indices.shape[1]
    T = u
    for t in range(coins.shape[0]):
        k = k0 + t
        if coins[t] < page_probability(k, n):
            Ft = op.full(xp, u)
            calls += n
        else:
            correction = op.component_difference(xp, int(indices[t, 0]), u, u_prev)
            for j in range(1, b):
                correction = correction + op.component_difference(xp, int(indices[t, j]),
                                                                  u, u_prev)
            Ft = Ft + correction / b
            calls += 2 * b
        lam = 2.0 / (k + 4)
        u_prev = u
        T = prox(xp, u - eta * Ft)
        u = lam * u0 + (1.0 - lam) * T
    return T, u, u_prev, Ft, calls


@kernel("monotone.forb_resolvent", numba="numopt.monotone._kernels_numba:forb_resolvent")
def forb_resolvent(xp, op, prox, u, Fu, c, gamma, alpha, p, coins, indices):
    """VR-FoRB for ``0 in c (F + G)(v) + v - u`` from ``v = u``, ``len(coins)`` steps;
    ``Fu`` is ``F(u)``, its first snapshot (counted here). Returns ``(v, calls)``."""
    n = op.n_components
    v, w, w_prev = u, u, u
    Fhat_w = c * Fu
    calls = n
    for t in range(coins.shape[0]):
        vbar = alpha * v + (1.0 - alpha) * w
        g = (Fhat_w + c * op.component_difference(xp, int(indices[t]), v, w_prev)
             + (v - w_prev))
        v = prox(xp, vbar - gamma * g)
        calls += 2
        w_prev = w
        if coins[t] < p:
            w = v
            Fhat_w = c * op.full(xp, w) + (w - u)
            calls += n
    return v, calls


class _VarianceReduced(InclusionSolver):
    def __init__(self, xp, op, prox, z0, *, tol, measure, step, rng, kernel_name, **params):
        super().__init__(xp, op, prox, z0, tol=tol, measure=measure, step=step)
        self.rng = rng
        self.params = params
        # the matrix operators have Numba kernels; callables run the reference loop
        self.kernel = (get_kernel(kernel_name, xp) if op.kernel_data is not None
                       else _REFERENCE[kernel_name])

    def _draws(self, m, width=None):
        """One round's coins and indices, in a fixed order of draws."""
        coins = self.rng.random(m)
        shape = m if width is None else (m, width)
        indices = self.rng.integers(0, self.n, size=shape, dtype=np.int64)
        return coins, indices


class VREGSolver(_VarianceReduced):
    """One iteration (``nit``) is a round of ``n`` VR-EG steps."""

    def init(self):
        z = self.xp.asarray(self.z0, copy=True)
        Fw = self.op.full(self.xp, z)
        return {"z": z, "Fz": Fw, "w": z, "Fw": Fw, "ncalls": self.n}

    def step(self, s):
        coins, indices = self._draws(self.n)
        xp = self.xp
        z, w, Fw, calls = self.kernel(xp, self.op, self.prox, xp.asarray(s["z"], copy=True),
                                      xp.asarray(s["w"], copy=True),
                                      xp.asarray(s["Fw"], copy=True), self.params["alpha"],
                                      self.step_size, self.params["p"], coins, indices)
        return {"z": z, "w": w, "Fw": Fw, "ncalls": s["ncalls"] + calls}


class HalpernPAGESolver(_VarianceReduced):
    """Algorithm 1; one iteration (``nit``) is a round of ``ceil(sqrt(n))`` Halpern
    iterations. The iterate ``z`` is the last forward-backward point ``T``, the Halpern
    sequence is ``u``."""

    def init(self):
        u = self.xp.asarray(self.z0, copy=True)
        return {"z": u, "u": u, "u_prev": u, "Ft": self.xp.zeros_like(u), "k": 0,
                "ncalls": 0}

    def step(self, s):
        m = self.params["round"]
        coins, indices = self._draws(m, self.params["batch"])
        xp = self.xp
        T, u, u_prev, Ft, calls = self.kernel(
            xp, self.op, self.prox, self.z0, xp.asarray(s["u"], copy=True),
            xp.asarray(s["u_prev"], copy=True), xp.asarray(s["Ft"], copy=True), s["k"],
            self.step_size, coins, indices)
        return {"z": T, "u": u, "u_prev": u_prev, "Ft": Ft, "k": s["k"] + m,
                "ncalls": s["ncalls"] + calls}


class InexactHalpernSolver(_VarianceReduced):
    """Algorithm 2; one iteration (``nit``) is one Halpern step with its VR-FoRB
    resolvent of ``M_k = ceil(inner * n * log(k + 2))`` steps. The iterate ``z`` is the
    last approximate resolvent ``v``, the Halpern sequence is ``u``.

    One full evaluation per step: ``F(v)``, which the stopping measure reads (``Fz``).
    The next resolvent starts its snapshot from ``F(u)`` (counted there, where the
    method uses it); for an affine ``F`` (the matrix operators) that is
    ``l F(u0) + (1 - l) F(v)``, for any other a second evaluation."""

    def init(self):
        u = self.xp.asarray(self.z0, copy=True)
        Fu = self.op.full(self.xp, u)
        return {"z": u, "Fz": Fu, "u": u, "Fu": Fu, "Fu0": Fu, "k": 0, "ncalls": 0,
                "n_inner": 0}

    def step(self, s):
        k = s["k"]
        m = max(1, math.ceil(self.params["inner"] * self.n * math.log(k + 2)))
        coins, indices = self._draws(m)
        prm = self.params
        v, calls = self.kernel(self.xp, self.op, self.prox, s["u"], s["Fu"], prm["c"],
                               self.step_size, prm["alpha"], prm["p"], coins, indices)
        lam = 1.0 / (k + 2)
        u = lam * self.z0 + (1.0 - lam) * v
        Fv = self.op.full(self.xp, v)
        Fu = (lam * s["Fu0"] + (1.0 - lam) * Fv if self.op.affine
              else self.op.full(self.xp, u))
        return {"z": v, "Fz": Fv, "u": u, "Fu": Fu, "Fu0": s["Fu0"], "k": k + 1,
                "ncalls": s["ncalls"] + calls, "n_inner": s["n_inner"] + m}

    def result(self, state):
        out = super().result(state)
        out["stats"]["n_inner"] = int(state["n_inner"])
        return out


_REFERENCE = {"monotone.vr_eg_round": vr_eg_round,
              "monotone.halpern_page_round": halpern_page_round,
              "monotone.forb_resolvent": forb_resolvent}

VR_SOLVERS = {
    "vr-eg": (VREGSolver, "monotone.vr_eg_round"),
    "vr-halpern": (HalpernPAGESolver, "monotone.halpern_page_round"),
    "inexact-halpern": (InexactHalpernSolver, "monotone.forb_resolvent"),
}
