"""Bilevel problems: ``min_x F(x) = f(x, y*(x))`` with ``y*(x) = argmin_y g(x, y)``.

``f`` (upper) and ``g`` (lower) are means over samples (``n_upper``, ``n_lower``), so
every oracle takes a ``batch`` of sample indices (``None``: all of them). The public
oracles count their calls in :attr:`BilevelProblem.calls`; the exact quantities used to
certify a result (the lower solution, the hypergradient) go through the private,
uncounted ones, so that checking a run does not change what it reports.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as spla

__all__ = ["BilevelProblem", "MultiBlockBilevel", "conjugate_gradient"]

# up to this many lower variables the exact solves (certificate, Newton) use the dense
# Hessian: dim_y Hessian-vector products or a closed form, then one Cholesky solve
DENSE_LIMIT = 200

ORACLE_KINDS = ("value", "grad", "hvp", "cross", "hessian")


def conjugate_gradient(matvec, b, v0=None, *, rtol=1e-12, maxiter=None):
    """``(v, n_matvec)``: CG on ``H v = b`` (``H`` SPD, given by ``matvec``), from ``v0``.

    One implementation for the certified hypergradient and the ``"cg"`` implicit
    solver; it stops at ``||H v - b|| <= rtol ||b||``."""
    v = np.zeros_like(b) if v0 is None else np.array(v0, dtype=b.dtype, copy=True)
    maxiter = 10 * b.size if maxiter is None else maxiter
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return np.zeros_like(b), 0
    r = b - matvec(v) if v0 is not None else b.copy()
    n = int(v0 is not None)
    p = r.copy()
    rr = float(r @ r)
    for _ in range(maxiter):
        if math.sqrt(rr) <= rtol * bnorm:
            break
        Hp = matvec(p)
        n += 1
        curvature = float(p @ Hp)
        if not curvature > 0.0:   # not SPD along p (or rounding at the floor): stop here
            break
        alpha = rr / curvature
        v += alpha * p
        r -= alpha * Hp
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return v, n


class BilevelProblem:
    """A bilevel problem given by its oracles.

    Parameters
    ----------
    f, g : callable ``(x, y, batch) -> float``
        Upper and lower objectives, means over the samples in ``batch`` (an integer
        index array, a slice, or ``None`` for all samples).
    grad_f, grad_g : callable ``(x, y, batch) -> (grad_x, grad_y)``
    hvp_g : callable ``(x, y, v, batch) -> array``
        ``d^2 g / dy dy @ v`` (shape of ``y``).
    cross_g : callable ``(x, y, v, batch) -> array``
        ``d^2 g / dx dy @ v`` (shape of ``x``): the cross derivative applied to a vector
        of the lower space.
    dim_x, dim_y : int
    n_upper, n_lower : int, default 1
        Number of samples of ``f`` and ``g`` (1: deterministic).
    lower_smoothness, lower_strong_convexity : float, optional
        Bounds on the spectrum of ``d^2 g / dy dy`` (estimated by power iteration at the
        starting point when absent); they set the default step sizes.
    value_smoothness : float, optional
        A bound on the curvature of ``F`` (default step of the upper variable).

    ``g(x, .)`` must be strongly convex. Subclasses override ``_f``, ``_g``,
    ``_grad_f``, ``_grad_g``, ``_hvp_g``, ``_cross_g`` instead of passing callables.

    Attributes
    ----------
    calls : collections.Counter
        Calls of the public oracles by kind: ``"value"``, ``"grad"``, ``"hvp"``,
        ``"cross"``, ``"hessian"`` (one call on a batch counts one; a
        :class:`MultiBlockBilevel`'s blocks count in their parent's).
        :meth:`reset_calls` zeroes it.
    """

    def __init__(self, f=None, g=None, grad_f=None, grad_g=None, hvp_g=None, cross_g=None, *,
                 dim_x, dim_y, n_upper=1, n_lower=1, lower_smoothness=None,
                 lower_strong_convexity=None, value_smoothness=None):
        self._callables = {"f": f, "g": g, "grad_f": grad_f, "grad_g": grad_g,
                           "hvp_g": hvp_g, "cross_g": cross_g}
        for name, func in self._callables.items():
            if func is not None and not callable(func):
                raise TypeError(f"{name} must be callable, got {type(func).__name__}")
        for name, value in (("dim_x", dim_x), ("dim_y", dim_y), ("n_upper", n_upper),
                            ("n_lower", n_lower)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.dim_x, self.dim_y = int(dim_x), int(dim_y)
        self.n_upper, self.n_lower = int(n_upper), int(n_lower)
        self.lower_smoothness = lower_smoothness
        self.lower_strong_convexity = lower_strong_convexity
        self.value_smoothness = value_smoothness
        self.calls = collections.Counter()

    # -- the oracles a subclass overrides ---------------------------------------------
    def _call(self, name, *args):
        func = self._callables[name]
        if func is None:
            raise NotImplementedError(f"{type(self).__name__} has no {name} oracle: pass "
                                      f"{name}= or override _{name}")
        return func(*args)

    def _f(self, x, y, batch):
        return float(self._call("f", x, y, batch))

    def _g(self, x, y, batch):
        return float(self._call("g", x, y, batch))

    def _grad_f(self, x, y, batch):
        gx, gy = self._call("grad_f", x, y, batch)
        return np.asarray(gx, dtype=float), np.asarray(gy, dtype=float)

    def _grad_g(self, x, y, batch):
        gx, gy = self._call("grad_g", x, y, batch)
        return np.asarray(gx, dtype=float), np.asarray(gy, dtype=float)

    def _hvp_g(self, x, y, v, batch):
        return np.asarray(self._call("hvp_g", x, y, v, batch), dtype=float)

    def _cross_g(self, x, y, v, batch):
        return np.asarray(self._call("cross_g", x, y, v, batch), dtype=float)

    # -- the counted public oracles ---------------------------------------------------
    def f(self, x, y, batch=None):
        """Upper objective on ``batch``."""
        self.calls["value"] += 1
        return self._f(x, y, batch)

    def g(self, x, y, batch=None):
        """Lower objective on ``batch``."""
        self.calls["value"] += 1
        return self._g(x, y, batch)

    def grad_f(self, x, y, batch=None):
        """``(df/dx, df/dy)`` on ``batch``."""
        self.calls["grad"] += 1
        return self._grad_f(x, y, batch)

    def grad_g(self, x, y, batch=None):
        """``(dg/dx, dg/dy)`` on ``batch``."""
        self.calls["grad"] += 1
        return self._grad_g(x, y, batch)

    def hvp_g(self, x, y, v, batch=None):
        """``d^2 g/dy dy @ v`` on ``batch``."""
        self.calls["hvp"] += 1
        return self._hvp_g(x, y, v, batch)

    def cross_g(self, x, y, v, batch=None):
        """``d^2 g/dx dy @ v`` on ``batch`` (a vector of the upper space)."""
        self.calls["cross"] += 1
        return self._cross_g(x, y, v, batch)

    def lower_oracles(self, x, y, v, batch=None):
        """``(dg/dy, d^2 g/dy dy @ v, d^2 g/dx dy @ v)`` on one ``batch``: the three lower
        oracles of a SOBA/SABA step, counted as one gradient, one HVP and one cross
        call. A problem overrides ``_lower_oracles`` to share the work between them."""
        self.calls["grad"] += 1
        self.calls["hvp"] += 1
        self.calls["cross"] += 1
        return self._lower_oracles(x, y, v, batch)

    def _lower_oracles(self, x, y, v, batch):
        return (self._grad_g(x, y, batch)[1], self._hvp_g(x, y, v, batch),
                self._cross_g(x, y, v, batch))

    def hessian_g(self, x, y, batch=None):
        """The dense ``d^2 g/dy dy`` on ``batch`` (for small lower dimensions; by default
        built from ``dim_y`` Hessian-vector products)."""
        self.calls["hessian"] += 1
        return self._hessian_g(x, y, batch)

    def _hessian_g(self, x, y, batch):
        H = np.column_stack([self._hvp_g(x, y, e, batch) for e in np.eye(self.dim_y)])
        return (H + H.T) / 2

    def reset_calls(self):
        """Zero :attr:`calls`."""
        self.calls.clear()

    # -- exact quantities (uncounted): the certificate of a result -----------------------
    def lower_solution(self, x, y0=None, *, rtol=1e-13):
        """``y*(x)``, to ``||dg/dy|| <= rtol * max(1, ||dg/dy(y0)||)`` by Newton-CG with the
        full-batch Hessian-vector products (subclasses with a closed form override it)."""
        y = np.zeros(self.dim_y) if y0 is None else np.array(y0, dtype=float)
        scale = max(1.0, float(np.linalg.norm(self._grad_g(x, y, None)[1])))
        previous = math.inf
        for _ in range(100):
            grad = self._grad_g(x, y, None)[1]
            norm = float(np.linalg.norm(grad))
            # Newton converges quadratically: near the solution, a step that does not
            # halve the gradient means rounding has the last word (a nearly separable
            # logistic fit ends above 1e-13 in float64)
            if norm <= rtol * scale or (norm > 0.5 * previous and norm <= 1e-8 * scale):
                break
            previous = norm
            y = self._damped(x, y, self._newton_direction(x, y, grad, 1e-3 * min(1.0, norm)))
        return y

    def _damped(self, x, y, step):
        """``y - t step`` with the largest ``t`` in 1, 1/2, ... that does not raise ``g``
        beyond rounding (Newton on a strongly convex ``g``: ``t = 1`` near the
        solution)."""
        g0, t = self._g(x, y, None), 1.0
        slack = 1e-14 * max(1.0, abs(g0))
        for _ in range(40):
            candidate = y - t * step
            if self._g(x, candidate, None) <= g0 + slack:
                return candidate
            t *= 0.5
        return y

    def _newton_direction(self, x, y, b, rtol):
        """``(d^2 g/dy dy)^{-1} b``: a dense Cholesky solve up to DENSE_LIMIT lower
        variables, CG beyond (ill-conditioned lower problems, such as a logistic fit
        with a 1/n ridge, took hundreds of CG steps per solve)."""
        if self.dim_y <= DENSE_LIMIT:
            H = self._hessian_g(x, y, None)
            try:
                return scipy.linalg.cho_solve(scipy.linalg.cho_factor(H), b)
            except np.linalg.LinAlgError:   # not numerically SPD: let CG find out
                pass
        return conjugate_gradient(lambda v: self._hvp_g(x, y, v, None), b, rtol=rtol)[0]

    def implicit_vector(self, x, y, *, rtol=1e-13):
        """``v = (d^2 g/dy dy)^{-1} df/dy`` at ``(x, y)`` (uncounted)."""
        return self._newton_direction(x, y, self._grad_f(x, y, None)[1], rtol)

    def hypergradient(self, x, y0=None):
        """``(grad F(x), y*(x), F(x))``: the exact hypergradient
        ``df/dx - d^2 g/dx dy (d^2 g/dy dy)^{-1} df/dy`` at the lower solution."""
        x = np.asarray(x, dtype=float)
        y = self.lower_solution(x, y0)
        v = self.implicit_vector(x, y)
        gx = self._grad_f(x, y, None)[0]
        return gx - self._cross_g(x, y, v, None), y, self._f(x, y, None)

    def estimate_lower_smoothness(self, x, y, *, iterations=30, seed=0):
        """``(L, mu)``: the given bounds, else the extreme eigenvalues of the lower
        Hessian at ``(x, y)`` (Lanczos through :func:`scipy.sparse.linalg.eigsh`)."""
        L, mu = self.lower_smoothness, self.lower_strong_convexity
        if L is not None and mu is not None:
            return float(L), float(mu)
        n = self.dim_y
        op = spla.LinearOperator((n, n), matvec=lambda v: self._hvp_g(x, y, v, None),
                                 dtype=float)
        if n <= 3:
            eig = np.linalg.eigvalsh(_dense(op, n))
            lo, hi = float(eig[0]), float(eig[-1])
        else:
            v0 = np.random.default_rng(seed).standard_normal(n)
            lo, hi = (float(spla.eigsh(op, k=1, which=which, v0=v0, maxiter=iterations * n,
                                       tol=1e-3, return_eigenvectors=False)[0])
                      for which in ("SA", "LA"))
        return (float(L) if L is not None else hi,
                float(mu) if mu is not None else max(lo, 1e-12 * hi))


def _dense(op, n):
    H = np.column_stack([op.matvec(e) for e in np.eye(n)])
    return (H + H.T) / 2


class MultiBlockBilevel(BilevelProblem):
    """``F(x) = (1/m) sum_i f_i(x, y_i*(x))``, ``y_i*(x) = argmin g_i(x, y_i)``: ``m``
    lower-level blocks sharing the upper variable.

    Each block is a :class:`BilevelProblem` on ``(x, y_i)``. As one problem the lower
    variable is the concatenation of the ``y_i``, ``f`` the mean of the ``f_i`` and ``g``
    the sum of the ``g_i`` (separable: same solution, block-diagonal Hessian), so every
    single-block method applies, with full batches. ``method="bsvrb"`` samples blocks
    and samples within them (``problem.blocks[i]``'s own batches).
    """

    def __init__(self, blocks):
        blocks = list(blocks)
        if not blocks or not all(isinstance(b, BilevelProblem) for b in blocks):
            raise TypeError("blocks must be a non-empty sequence of BilevelProblem")
        dims_x = {b.dim_x for b in blocks}
        if len(dims_x) != 1:
            raise ValueError(f"blocks must share the upper dimension, got {sorted(dims_x)}")
        self.blocks = blocks
        super().__init__(dim_x=blocks[0].dim_x, dim_y=sum(b.dim_y for b in blocks))
        for block in blocks:   # one tally for the whole problem, whichever oracle is called
            block.calls = self.calls
        self.n_blocks = len(blocks)
        offsets = np.cumsum([0] + [b.dim_y for b in blocks])
        self.block_slices = [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
        Ls = [b.lower_smoothness for b in blocks]
        mus = [b.lower_strong_convexity for b in blocks]
        self.lower_smoothness = None if None in Ls else max(Ls)
        self.lower_strong_convexity = None if None in mus else min(mus)
        self.value_smoothness = blocks[0].value_smoothness

    def _parts(self, y):
        return [y[s] for s in self.block_slices]

    def _f(self, x, y, batch):
        return sum(b._f(x, yi, None) for b, yi in zip(self.blocks, self._parts(y))) / \
            self.n_blocks

    def _g(self, x, y, batch):
        return sum(b._g(x, yi, None) for b, yi in zip(self.blocks, self._parts(y)))

    def _grad_f(self, x, y, batch):
        parts = [b._grad_f(x, yi, None) for b, yi in zip(self.blocks, self._parts(y))]
        m = self.n_blocks
        return sum(p[0] for p in parts) / m, np.concatenate([p[1] for p in parts]) / m

    def _grad_g(self, x, y, batch):
        parts = [b._grad_g(x, yi, None) for b, yi in zip(self.blocks, self._parts(y))]
        return sum(p[0] for p in parts), np.concatenate([p[1] for p in parts])

    def _hvp_g(self, x, y, v, batch):
        return np.concatenate([b._hvp_g(x, yi, vi, None) for b, yi, vi in
                               zip(self.blocks, self._parts(y), self._parts(v))])

    def _cross_g(self, x, y, v, batch):
        return sum(b._cross_g(x, yi, vi, None) for b, yi, vi in
                   zip(self.blocks, self._parts(y), self._parts(v)))

    def lower_solution(self, x, y0=None, *, rtol=1e-13):
        y0 = np.zeros(self.dim_y) if y0 is None else np.asarray(y0, dtype=float)
        return np.concatenate([b.lower_solution(x, yi, rtol=rtol)
                               for b, yi in zip(self.blocks, self._parts(y0))])

    def hypergradient(self, x, y0=None):
        """The mean of the blocks' exact hypergradients (the lower Hessian is block
        diagonal: one small solve per block, not one of size ``dim_y``)."""
        x = np.asarray(x, dtype=float)
        y0 = np.zeros(self.dim_y) if y0 is None else np.asarray(y0, dtype=float)
        parts = [b.hypergradient(x, yi) for b, yi in zip(self.blocks, self._parts(y0))]
        m = self.n_blocks
        return (sum(part[0] for part in parts) / m,
                np.concatenate([part[1] for part in parts]),
                sum(part[2] for part in parts) / m)
