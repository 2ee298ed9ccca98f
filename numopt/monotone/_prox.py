"""The set-valued part ``G`` of ``0 in F(z) + G(z)``: the normal cone of a simple set
(or zero), applied through its resolvent, the Euclidean projection.

Each prox is written once against the array API (``__call__``) and also describes
itself as plain numbers (``blocks``) so that the Numba kernels can project inside
their per-sample loops without calling back into Python.
"""

from __future__ import annotations

import numpy as np

from .._backend import get_kernel, kernel
from .._validation import check_scalar

__all__ = ["Prox", "NoProx", "Simplex", "project_simplex", "Box", "Ball", "ProductProx",
           "simplex", "box", "ball", "product", "PROX_KINDS"]

# the codes the Numba kernels branch on
PROX_KINDS = {"none": 0, "simplex": 1, "box": 2, "ball": 3}


class Prox:
    """The projection onto a closed convex set (``G`` its normal cone); ``size`` is the
    number of coordinates it acts on (None: any)."""

    kind = "none"
    size = None

    def __call__(self, xp, z):
        raise NotImplementedError

    def params(self):
        return 0.0, 0.0

    def blocks(self, dim):
        """``(kinds, starts, stops, a, b)`` arrays: one block over all ``dim`` coordinates."""
        a, b = self.params()
        return (np.array([PROX_KINDS[self.kind]], np.int64), np.array([0], np.int64),
                np.array([dim], np.int64), np.array([a], np.float64),
                np.array([b], np.float64))


class NoProx(Prox):
    """``G = 0``: the identity."""

    kind = "none"

    def __call__(self, xp, z):
        return z

    def __repr__(self):
        return "NoProx()"


class Simplex(Prox):
    """``{z >= 0, sum z = radius}`` (sort-based projection of Held, Wolfe, Crowder)."""

    kind = "simplex"

    def __init__(self, radius=1.0):
        self.radius = check_scalar(radius, "radius", low=0.0, low_open=True)

    def params(self):
        return self.radius, 0.0

    def __call__(self, xp, z):
        return get_kernel("monotone.project_simplex", xp)(xp, z, self.radius)

    def __repr__(self):
        return f"Simplex(radius={self.radius!r})"


@kernel("monotone.project_simplex",
        numba="numopt.monotone._kernels_numba:project_simplex",
        cupy="numopt.monotone._kernels_cupy:project_simplex")
def project_simplex(xp, z, radius):
    """The projection onto ``{z >= 0, sum z = radius}``: sort-based (Held, Wolfe &
    Crowder 1974), written against the array API. The threshold is
    ``tau = max_j (u_1 + ... + u_j - radius) / j`` over the entries sorted in decreasing
    order (the maximum is attained at the last active index), so no index is read back
    to the host: sort, cumulative sum, one reduction."""
    d = z.shape[0]
    u = xp.flip(xp.sort(z))
    css = xp.cumulative_sum(u) - radius
    tau = xp.max(css / xp.arange(1, d + 1, dtype=z.dtype))
    return xp.maximum(z - tau, 0.0)


class Box(Prox):
    """``{lower <= z <= upper}`` (scalar bounds)."""

    kind = "box"

    def __init__(self, lower=-1.0, upper=1.0):
        self.lower = check_scalar(lower, "lower")
        self.upper = check_scalar(upper, "upper")
        if self.lower > self.upper:
            raise ValueError(f"lower must be at most upper, got lower={lower}, upper={upper}")

    def params(self):
        return self.lower, self.upper

    def __call__(self, xp, z):
        # not xp.clip: array_api_strict's promotes both bounds to arrays and checks the
        # NumPy version on every call (0.2 ms against 0.05 ms at d = 8), once or twice
        # per iteration of every method on a box
        return xp.minimum(xp.maximum(z, self.lower), self.upper)

    def __repr__(self):
        return f"Box(lower={self.lower!r}, upper={self.upper!r})"


class Ball(Prox):
    """``{||z||_2 <= radius}``."""

    kind = "ball"

    def __init__(self, radius=1.0):
        self.radius = check_scalar(radius, "radius", low=0.0, low_open=True)

    def params(self):
        return self.radius, 0.0

    def __call__(self, xp, z):
        norm = float(xp.linalg.vector_norm(z))
        return z if norm <= self.radius else z * (self.radius / norm)

    def __repr__(self):
        return f"Ball(radius={self.radius!r})"


class ProductProx(Prox):
    """The product of sets over consecutive blocks of coordinates (a game's two
    strategy simplices); ``parts`` is a sequence of ``(prox, size)``."""

    kind = "product"

    def __init__(self, parts):
        self.parts = tuple((p, check_scalar(s, "size", low=1, integer=True)) for p, s in parts)
        for p, _ in self.parts:
            if not isinstance(p, Prox) or isinstance(p, ProductProx):
                raise TypeError("product parts must be simplex(), box(), ball() or None "
                                f"proxes, got {p!r}")
        self.size = sum(s for _, s in self.parts)

    def __call__(self, xp, z):
        out, start = [], 0
        for p, s in self.parts:
            out.append(p(xp, z[start:start + s]))
            start += s
        return xp.concat(out)

    def blocks(self, dim):
        kinds, starts, stops, a, b, start = [], [], [], [], [], 0
        for p, s in self.parts:
            kinds.append(PROX_KINDS[p.kind])
            starts.append(start)
            stops.append(start + s)
            pa, pb = p.params()
            a.append(pa)
            b.append(pb)
            start += s
        return (np.array(kinds, np.int64), np.array(starts, np.int64),
                np.array(stops, np.int64), np.array(a, np.float64), np.array(b, np.float64))

    def __repr__(self):
        return f"ProductProx({list(self.parts)!r})"


def simplex(radius=1.0):
    """The projection onto the simplex ``{z >= 0, sum(z) = radius}``."""
    return Simplex(radius)


def box(lower=-1.0, upper=1.0):
    """The projection onto the box ``[lower, upper]^d``."""
    return Box(lower, upper)


def ball(radius=1.0):
    """The projection onto the Euclidean ball of ``radius`` centred at 0."""
    return Ball(radius)


def product(*parts):
    """The projection onto a product of sets: ``product((simplex(), 3), (box(), 2))``
    projects ``z[:3]`` onto the simplex and ``z[3:5]`` onto the box (``None`` for a free
    block)."""
    return ProductProx([(NoProx() if p is None else p, s) for p, s in parts])


def as_prox(prox, dim):
    """``prox`` checked: None, ``"none"``, ``"simplex"``, ``"box"``, ``"ball"``, or a
    :class:`Prox`; a product must cover ``dim`` coordinates."""
    if prox is None:
        return NoProx()
    if isinstance(prox, str):
        makers = {"none": NoProx, "simplex": Simplex, "box": Box, "ball": Ball}
        if prox not in makers:
            raise ValueError(f"prox must be None, one of {sorted(makers)} or a Prox "
                             f"(numopt.monotone.simplex(), box(), ball(), product()); got {prox!r}")
        return makers[prox]()
    if not isinstance(prox, Prox):
        raise TypeError(f"prox must be None, a string or a numopt.monotone Prox, got "
                        f"{type(prox).__name__}")
    if prox.size is not None and prox.size != dim:
        raise ValueError(f"prox covers {prox.size} coordinates but z0 has {dim}")
    return prox

