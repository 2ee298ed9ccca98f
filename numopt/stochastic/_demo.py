"""Demo row of numopt.stochastic for ``python -m numopt``: logistic regression on
scikit-learn's breast-cancer data, against scikit-learn's own fit."""

from __future__ import annotations

import time

import numpy as np

from .._backend import to_numpy
from .._demo import DemoRow, register_demo


@register_demo("stochastic", "AdAdaGrad (norm test), logistic regression, breast cancer")
def _demo_adadagrad(xp):
    # the constant-step methods stall at their noise floor with a fixed batch; the
    # adaptive batch size of AdAdaGrad is what takes a stochastic run to the tolerance
    from .._minimize import minimize

    from ..problems import logistic_finite_sum

    fun, jac, hessp, n, dim, w_ref = logistic_finite_sum(xp)
    options = {"n_samples": n, "batch_size": 8, "lr": 0.5, "seed": 0, "maxiter": 20_000,
               "variance_groups": 8}
    minimize(fun, xp.zeros(dim), method="adadagrad", jac=jac,
             options={**options, "maxiter": 1})   # load the compiled kernel
    start = time.perf_counter()
    res = minimize(fun, xp.zeros(dim), method="adadagrad", jac=jac, tol=1e-4,
                   options=options)
    seconds = time.perf_counter() - start
    err = float(np.linalg.norm(to_numpy(res.x) - w_ref) / np.linalg.norm(w_ref))
    return DemoRow(method="minimize(method='adadagrad')",
                   size=f"{n}x{dim}, final batch {res.batch_size}", nit=int(res.nit),
                   error=err, reference="scikit-learn LogisticRegression (lbfgs)",
                   success=bool(res.success), seconds=seconds)
