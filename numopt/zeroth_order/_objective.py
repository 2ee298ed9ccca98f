"""The objective of the zeroth-order methods and of M-FAC: ``fun(x, batch)`` (and, for
M-FAC, ``jac(x, batch)``) over index batches of a finite sum, with the oracle counts.

The problem is ``F(x) = (1/N) sum_i f_i(x)`` over ``N = n_samples`` samples; the user's
callables take an index batch (a sorted 1-D integer array of the ``x`` namespace,
without repeats) after ``x`` and return the mean over that batch. Without ``n_samples``
they are SciPy's ``fun(x, *args)`` and ``jac(x, *args)`` and every batch is ``None``.

This is the interface of ``numopt.stochastic._objective.StochasticObjective`` (issue 22,
part A, written alongside), restricted to what these methods call: ``draw``,
``full_batch``, ``value``, ``grad``, ``value_and_grad`` and ``stats``, plus ``value(...,
owned=True)`` (no copy of a buffer built for the call). When both land, this
module gives way to that one (the names and semantics are the same).
"""

from __future__ import annotations

import numpy as np

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
        self.nfev = self.njev = self.nsamples = 0


class StochasticObjective:
    """``fun``/``jac`` of a finite sum over index batches (see the module docstring).

    ``value(x, batch)`` and ``value_and_grad(x, batch)`` hand the user a copy of ``x``
    (SciPy's rule), check that ``fun`` returns a scalar and ``jac`` an array of the
    shape of ``x0``, and count calls (``nfev``, ``njev``) and touched samples
    (``nsamples``: the batch sizes summed, ``N`` per full call, 1 per deterministic call).
    """

    def __init__(self, fun, x0, args, jac, xp, n_samples=None):
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        if not (jac is True or callable(jac) or jac is None):
            raise TypeError(f"jac must be callable, True or None, got {jac!r}")
        if not isinstance(args, tuple):
            args = (args,)
        self.fun, self.jac, self.args, self.xp = fun, jac, args, xp
        self.shape, self.dtype = tuple(x0.shape), x0.dtype
        if n_samples is not None:
            n_samples = check_scalar(n_samples, "n_samples", low=1, integer=True,
                                     integral_float=True)
        self.n_samples = n_samples
        self.stochastic = n_samples is not None
        self._counts = _Counts()
        self._full = None if n_samples is None else xp.arange(n_samples, dtype=xp.int64)

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

    def _call(self, func, *arrays_and_batch):
        # a shape mismatch between x0 and the user's data surfaces as a ValueError or
        # IndexError deep in their code: say which argument fixed the shape
        try:
            return func(*arrays_and_batch)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"fun/jac could not be evaluated at an x of the shape of x0 "
                             f"{self.shape}: {exc}") from exc

    def value(self, x, batch=None, *, owned=False):
        """``fun`` at ``x``; ``owned=True`` hands ``x`` itself over (a fresh buffer the
        caller built for this call, or MeZO's in-place mode) instead of a copy."""
        self._counts.nfev += 1
        self._counts.nsamples += self._touched(batch)
        out = self._call(self.fun, x if owned else self._copy(x), *self._batch_args(batch))
        return self._scalar(out[0] if self.jac is True else out)

    def grad(self, x, batch=None):
        """The gradient alone (no call to ``fun`` unless ``jac=True``)."""
        return self.value_and_grad(x, batch, need_value=False)[1]

    def value_and_grad(self, x, batch=None, *, need_value=True):
        """``(f, g)``: one call with ``jac=True``, two otherwise (``f`` is None and
        ``fun`` is not called when ``need_value`` is False and ``jac`` is separate)."""
        if self.jac is None:
            raise TypeError("this method needs jac (a callable or True); for "
                            "derivative-free minimization use method='zo-sgd'")
        counts = self._counts
        counts.njev += 1
        counts.nsamples += self._touched(batch)
        if self.jac is True:
            counts.nfev += 1
            f, g = self._call(self.fun, self._copy(x), *self._batch_args(batch))
            return self._scalar(f), self._vector(g, "jac")
        g = self._vector(self._call(self.jac, self._copy(x), *self._batch_args(batch)), "jac")
        return (self.value(x, batch) if need_value else None), g

    def stats(self) -> dict:
        c = self._counts
        return {"nfev": c.nfev, "njev": c.njev, "nsamples": c.nsamples}
