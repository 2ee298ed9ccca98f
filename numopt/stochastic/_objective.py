"""The stochastic objective: ``fun(x, batch)``, ``jac(x, batch)``, ``hessp(x, v, batch)``
over index batches of a finite sum, with the sample and oracle counts.

The problem is ``F(x) = (1/N) sum_i f_i(x)`` over ``N = n_samples`` samples. The user's
callables take an index batch (a 1-D integer array of the ``x`` namespace, sorted,
without repeats) after ``x`` and return the *mean* over that batch::

    fun(x, batch, *args) -> float          # (1/|B|) sum_{i in B} f_i(x)
    jac(x, batch, *args) -> array          # its gradient, shape of x
    hessp(x, v, batch, *args) -> array     # its Hessian times v
    fun(x, batch, *args) -> (float, array) # with jac=True

Without ``n_samples`` the problem is deterministic: the callables are SciPy's
``fun(x, *args)``, ``jac(x, *args)``, ``hessp(x, v, *args)`` and every batch is ``None``;
``jac`` may then also be ``None`` or ``"2-point"``, ``"3-point"``, ``"cs"`` (SciPy's
finite differences through :func:`numopt._objective.scalar_function`, NumPy only).

Interface (shared by every stochastic or zeroth-order method, e.g. ``numopt.stochastic``
and ``numopt.zeroth_order``):

``StochasticObjective(fun, x0, args, jac, hessp, xp, n_samples=None)``
    Validates the callables against ``x0`` lazily (at the first call) and keeps counts.
``.stochastic`` (bool), ``.n_samples`` (int or None)
``.draw(rng, size) -> batch``
    ``size`` indices drawn without replacement by ``rng`` (a ``numpy.random.Generator``);
    ``None`` when deterministic or when ``size >= n_samples`` (the full sum, whose batch
    is ``full_batch()``).
``.full_batch()``
    All indices (``None`` when deterministic): what the success measure uses.
``.value(x, batch) -> float``, ``.grad(x, batch) -> array``,
``.value_and_grad(x, batch) -> (float, array)``, ``.hvp(x, v, batch) -> array``
    One oracle call each (``value_and_grad`` one call with ``jac=True``, two otherwise;
    with finite differences SciPy's evaluations, counted in ``nfev``).
    Arrays come back in ``x``'s namespace and dtype, shape-checked, finite or not (the
    caller decides what a non-finite value means).
``.stats() -> dict``
    ``nfev``, ``njev``, ``nhev`` (oracle calls of each kind) and ``nsamples`` (sample
    gradients and values touched: the batch sizes summed over calls, ``N`` per full
    call, 1 per deterministic call). Zeroth-order methods read ``nfev``/``nsamples``.

Batches are index arrays rather than data slices so that the user's data never pass
through numopt (they stay on their device, in their own format).
"""

from __future__ import annotations

import numpy as np

from .._objective import FD_METHODS, scalar_function
from .._validation import check_scalar

__all__ = ["StochasticObjective", "check_batch_size"]


def check_batch_size(value, name, n_samples):
    """A batch size in ``[1, n_samples]`` (``None``: the full sum)."""
    if value is None:
        return n_samples
    value = check_scalar(value, name, low=1, integer=True, integral_float=True)
    if n_samples is not None and value > n_samples:
        raise ValueError(f"{name} must lie in [1, n_samples={n_samples}], got {value}")
    return value


class _Counts:
    """The oracle counters (the only mutable part of an objective)."""

    def __init__(self):
        self.nfev = self.njev = self.nhev = self.nsamples = 0


class StochasticObjective:
    """``fun``/``jac``/``hessp`` of a finite sum over index batches (module docstring)."""

    def __init__(self, fun, x0, args, jac, hessp, xp, n_samples=None):
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        if not (jac is True or callable(jac) or jac is None or jac in FD_METHODS):
            raise TypeError(f"jac must be callable, True, None or one of {FD_METHODS}, "
                            f"got {jac!r}")
        if n_samples is not None and not (jac is True or callable(jac)):
            raise TypeError("a stochastic objective (n_samples given) needs jac(x, batch) "
                            f"or jac=True, got jac={jac!r} (finite differences are for "
                            "deterministic use)")
        if hessp is not None and not callable(hessp):
            raise TypeError(f"hessp must be callable, got {type(hessp).__name__}")
        if not isinstance(args, tuple):
            args = (args,)
        self.fun, self.jac, self.hessp, self.args, self.xp = fun, jac, hessp, args, xp
        self.shape, self.dtype = tuple(x0.shape), x0.dtype
        if n_samples is not None:
            n_samples = check_scalar(n_samples, "n_samples", low=1, integer=True,
                                     integral_float=True)
        self.n_samples = n_samples
        self.stochastic = n_samples is not None
        self._counts = _Counts()
        self._full = None if n_samples is None else xp.arange(n_samples, dtype=xp.int64)
        # deterministic use without a gradient: SciPy's finite differences, as every
        # numopt.minimize method (numopt._objective; NumPy only)
        self._differences = None
        if not self.stochastic and not (jac is True or callable(jac)):
            self._differences = scalar_function(fun, x0, args, jac, xp)

    # -- batches ------------------------------------------------------------------
    def full_batch(self):
        return self._full

    def draw(self, rng, size):
        """``size`` distinct sorted indices, or the full batch for ``size >= N``."""
        if not self.stochastic:
            return None
        if size >= self.n_samples:
            return self._full
        picked = np.sort(rng.choice(self.n_samples, size=int(size), replace=False))
        return self.xp.asarray(picked.astype(np.int64))

    def _batch_args(self, batch):
        if not self.stochastic:
            return self.args
        return (self._full if batch is None else batch, *self.args)

    def _touched(self, batch):
        if not self.stochastic:
            return 1
        return self.n_samples if batch is None else int(batch.shape[0])

    # -- oracles ------------------------------------------------------------------
    def _scalar(self, f):
        if hasattr(f, "shape"):
            if tuple(f.shape) not in ((), (1,)):
                raise ValueError("fun must return a scalar, got an array of shape "
                                 f"{tuple(f.shape)}")
            f = self.xp.reshape(self.xp.asarray(f), ())
        try:
            return float(f)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"fun must return a real scalar, got {type(f).__name__}") \
                from exc

    def _vector(self, g, name):
        xp = self.xp
        g = xp.asarray(g)
        if tuple(g.shape) != self.shape:
            raise ValueError(f"{name} returned shape {tuple(g.shape)}, expected the "
                             f"shape of x0 {self.shape}")
        return g if g.dtype == self.dtype else xp.astype(g, self.dtype)

    def _copy(self, x):
        return self.xp.asarray(x, copy=True)

    def value(self, x, batch=None):
        if self._differences is not None:
            self._counts.nsamples += 1
            return float(self._differences.fun(x))
        self._counts.nfev += 1
        self._counts.nsamples += self._touched(batch)
        out = self.fun(self._copy(x), *self._batch_args(batch))
        return self._scalar(out[0] if self.jac is True else out)

    def grad(self, x, batch=None):
        return self.value_and_grad(x, batch, need_value=False)[1]

    def value_and_grad(self, x, batch=None, *, need_value=True):
        """``(f, g)``; ``f`` is ``None`` when ``need_value`` is False and ``jac`` is
        separate (no call to ``fun``)."""
        if self._differences is not None:
            self._counts.nsamples += 1
            f, g = self._differences.fun_and_grad(x)
            return float(f), self._vector(g, "jac")
        counts = self._counts
        counts.njev += 1
        counts.nsamples += self._touched(batch)
        if self.jac is True:
            counts.nfev += 1
            f, g = self.fun(self._copy(x), *self._batch_args(batch))
            return self._scalar(f), self._vector(g, "jac")
        g = self._vector(self.jac(self._copy(x), *self._batch_args(batch)), "jac")
        return (self.value(x, batch) if need_value else None), g

    def hvp(self, x, v, batch=None):
        if self.hessp is None:
            raise TypeError("this method needs hessp(x, v[, batch]) (Hessian-vector "
                            "products), got hessp=None")
        self._counts.nhev += 1
        self._counts.nsamples += self._touched(batch)
        out = self.hessp(self._copy(x), self._copy(v), *self._batch_args(batch))
        return self._vector(out, "hessp")

    def stats(self) -> dict:
        c, nfev, njev = self._counts, self._counts.nfev, self._counts.njev
        if self._differences is not None:   # SciPy's counters (its differences in nfev)
            nfev, njev = nfev + self._differences.nfev, njev + self._differences.ngev
        return {"nfev": nfev, "njev": njev, "nhev": c.nhev, "nsamples": c.nsamples}
