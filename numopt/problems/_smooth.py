"""Smooth unconstrained test functions with known minimizers."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from .._validation import check_scalar

__all__ = ["rosenbrock"]


def rosenbrock(n=10):
    """The n-dimensional Rosenbrock function (SciPy's ``rosen``), its gradient and
    Hessian, SciPy's classic starting point and the minimizer ``x* = (1, ..., 1)``.

    Returns
    -------
    dict with keys ``fun``, ``jac``, ``hess``, ``x0``, ``x_star``, ``f_star``.
    """
    n = check_scalar(n, "n", low=2, integer=True)
    x0 = np.resize([1.3, 0.7, 0.8, 1.9, 1.2], n).astype(float)
    return {"fun": scipy.optimize.rosen, "jac": scipy.optimize.rosen_der,
            "hess": scipy.optimize.rosen_hess, "x0": x0, "x_star": np.ones(n), "f_star": 0.0}
