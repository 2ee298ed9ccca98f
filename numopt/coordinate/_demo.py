"""Demo rows of numopt.coordinate for ``python -m numopt``."""

from __future__ import annotations

import time

import numpy as np

from .._backend import synchronize, to_numpy
from .._demo import DemoRow, register_demo
from ._api import bcd, lasso
from ._problems import LabelPropagationProblem, LeastSquares


@register_demo("coordinate", "Lasso 1000x5000, alpha_max/20, duality-gap certificate")
def _demo_lasso(xp):
    # the working-set solver runs on the CPU (Numba); the data stay NumPy
    from ..problems import lasso_design

    X, y, amax = lasso_design(1000, 5000, seed=0)
    lasso(X[:50, :100], y[:50], amax, maxiter=1)  # load the compiled kernels
    start = time.perf_counter()
    res = lasso(X, y, amax / 20, tol=1e-6)
    seconds = time.perf_counter() - start
    # independent certificate: the duality gap recomputed here, relative to ||y||^2/n
    n = y.shape[0]
    R = y - X @ res.x
    dual_norm = np.max(np.abs(X.T @ R))
    const = min(1.0, n * (amax / 20) / dual_norm)
    gap = (0.5 * (R @ R) * (1 + const ** 2) + n * (amax / 20) * np.abs(res.x).sum()
           - const * (R @ y)) / n
    return DemoRow(method="lasso (working sets + Anderson)", size="1000x5000 (CPU)",
                   nit=int(res.nit), error=float(gap / ((y @ y) / n)),
                   reference="duality gap / (|y|^2/n)", success=bool(res.success),
                   seconds=seconds)


@register_demo("coordinate", "BCD GSL + Newton, least squares 400x200")
def _demo_bcd_least_squares(xp):
    from ..problems import coordinate_least_squares

    A, b, _ = coordinate_least_squares(400, 200, seed=0)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    problem = LeastSquares(xp.asarray(A), xp.asarray(b))
    bcd(problem, update="newton", maxiter=2)
    synchronize(xp)
    start = time.perf_counter()
    res = bcd(problem, partition="variable", rule="gsl", update="newton", block_size=10,
              tol=1e-8, maxiter=20_000)
    synchronize(xp)
    seconds = time.perf_counter() - start
    err = float(np.linalg.norm(to_numpy(res.x) - x_ref) / np.linalg.norm(x_ref))
    return DemoRow(method="bcd variable/gsl/newton", size="400x200", nit=int(res.nit),
                   error=err, reference="numpy lstsq", success=bool(res.success),
                   seconds=seconds)


@register_demo("coordinate", "BCD forest blocks + message passing, lattice labels")
def _demo_label_propagation(xp):
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from ..problems import lattice_label_propagation

    W, labels, labeled = lattice_label_propagation(20, n_labeled=40, seed=0)
    problem = LabelPropagationProblem(W, labels, labeled)
    x_ref = spla.spsolve(sp.csc_matrix(problem.Q), problem.c)
    start = time.perf_counter()
    res = bcd(problem, partition="forest", rule="gsl", update="message_passing",
              block_size=200, tol=1e-8, maxiter=5000)
    seconds = time.perf_counter() - start
    err = float(np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref))
    return DemoRow(method="bcd forest/gsl/message_passing", size="20x20 lattice (CPU)",
                   nit=int(res.nit), error=err, reference="scipy spsolve",
                   success=bool(res.success), seconds=seconds)
