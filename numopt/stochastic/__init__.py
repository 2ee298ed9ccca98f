"""Stochastic adaptive first-order methods for ``numopt.minimize``: AdaBelief, diffGrad,
AdaHessian, AdAdaGrad and AdAdaGradNorm.

A stochastic objective is a finite sum ``F(x) = (1/N) sum_i f_i(x)``; ``fun``, ``jac``
and ``hessp`` take an index batch after ``x`` and return the batch mean, with
``options={"n_samples": N, "batch_size": ..., "seed": ..., "lr": ...}``. Without
``n_samples`` they are SciPy's deterministic callables. See
:mod:`numopt.stochastic._objective` for the interface.
"""

from . import _demo, _methods  # noqa: F401  (registers the demos and methods)
from ._api import (minimize_adabelief, minimize_adadagrad, minimize_adadagradnorm,
                   minimize_adahessian, minimize_diffgrad)
from ._objective import StochasticObjective

__all__ = ["minimize_adabelief", "minimize_diffgrad", "minimize_adahessian",
           "minimize_adadagrad", "minimize_adadagradnorm", "StochasticObjective"]
