"""Registration of ``numopt.minimize(method="newton-sketch")`` (generic test table,
--list, show_options)."""

from __future__ import annotations

from .._registry import Example, MethodSpec, Option, register_method
from ._api import DEFAULTS, minimize_newton_sketch

_OPTION_DOCS = {
    "kkt_solver": "'sketch' (numopt.linalg.sketch_solve on the KKT matrix) or 'direct' "
                  "(one LU factorization per KKT matrix)",
    "sketch": "sketch_solve's sketch: 'kaczmarz', 'block_kaczmarz', 'gaussian', "
              "'countsketch'",
    "block_size": "rows per sketch (None: min(n + m, 50))",
    "inner_maxiter": "sketch steps per KKT solve (None: sketch_solve's default)",
    "accuracy": "KKT residual allowed relative to ||(grad_x L, c)|| (theta, in (0, 1))",
    "sharpen": "theta = min(accuracy, ||(grad_x L, c)||): superlinear local convergence",
    "eta1": "starting penalty on |c|^2 in the augmented Lagrangian merit",
    "eta2": "starting penalty on |grad_x L|^2 in the merit",
    "armijo": "sufficient-decrease constant of the backtracking line search",
    "rank_tol": "lambda_min(G G^T) / lambda_max below which least-squares KKT steps are used",
    "multipliers0": "starting multipliers (None: least squares at x0)",
}


def _example(xp, dtype):
    """HS 6 of Hock & Schittkowski: ``min (1 - x1)^2  s.t.  10 (x2 - x1^2) = 0`` from
    ``(-1.2, 1)``; x* = (1, 1), f* = 0 (nonlinear, so no run ends in one step)."""
    import numpy as np

    from ..testing import assert_allclose

    # fun, jac and the constraint are written for any length of x, so that a shorter x0
    # reaches the shape check of the constraint Jacobian (two columns) instead of an
    # IndexError in a user function
    def fun(x):
        x = np.asarray(x, dtype=float)
        return float(np.sum((1.0 - x[:-1]) ** 2))

    def jac(x):
        x = np.asarray(x, dtype=float)
        return np.concatenate([-2.0 * (1.0 - x[:-1]), [0.0]])

    def cfun(x):
        x = np.asarray(x, dtype=float)
        return np.array([10.0 * (x[-1] - x[0] ** 2)])

    def cjac(x):
        return np.array([[-20.0 * float(x[0]), 10.0]])

    single = dtype == xp.float32

    def check(res):
        tol = 1e-3 if single else 1e-7
        assert_allclose(res.x, xp.asarray([1.0, 1.0], dtype=dtype), rtol=tol, atol=tol)

    return Example(args=(fun, xp.asarray([-1.2, 1.0], dtype=dtype)),
                   kwargs={"jac": jac, "tol": 1e-4 if single else 1e-9, "seed": 0,
                           "constraints": {"type": "eq", "fun": cfun, "jac": cjac}},
                   arg_names=("fun", "x0"), array_args=(1,), check=check)


register_method(MethodSpec(
    solver="minimize", name="newton-sketch", func=minimize_newton_sketch,
    problem_class="constrained",
    summary="equality-constrained inexact Newton: KKT system by randomized sketching, "
            "exact augmented Lagrangian merit with adaptive penalties and accuracy",
    options={**{k: Option(v, _OPTION_DOCS[k]) for k, v in DEFAULTS.items()},
             "maxiter": Option(500, "maximum number of Newton iterations"),
             "seed": Option(None, "seed of the sketches")},
    example=_example, has_kernels=False,
    reference="Hong, Na, Mahoney & Kolar, Constrained Optimization via Exact Augmented "
              "Lagrangian and Randomized Iterative Sketching, ICML 2023",
    namespaces=("numpy",), uses=("jac", "hess", "hessp", "constraints")))
