"""Registry entries (and their small oracle-checked examples) for numopt.coordinate."""

from __future__ import annotations

from .._registry import Example, MethodSpec, Option, register_method
from ._api import (GLM_DEFAULTS, bcd, elastic_net, lasso, multinomial_logistic_regression,
                   sparse_logistic_regression)
from ._minimize_bcd import minimize_bcd
from ._problems import LeastSquares

_REFERENCE = ("Nutini, Laradji & Schmidt, Let's Make Block Coordinate Descent Converge "
              "Faster, JMLR 23 (2022)")


def _l1_oracle(X, y, alpha, loss, l1_ratio=1.0):
    """Independent solution by SciPy's L-BFGS-B on the split ``w = u - v, u, v >= 0``
    (penalty ``alpha (l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|^2)``)."""
    import numpy as np
    from scipy.optimize import minimize

    n, p = X.shape

    def f(uv):
        w = uv[:p] - uv[p:]
        z = X @ w
        if loss == "squared":
            r = z - y
            val, d = 0.5 * r @ r / n, r / n
        else:
            val = np.mean(np.logaddexp(0.0, -y * z))
            d = -y / (1.0 + np.exp(y * z)) / n
        a1, a2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
        g = X.T @ d + a2 * w
        return val + a1 * uv.sum() + 0.5 * a2 * (w @ w), np.r_[g + a1, -g + a1]

    res = minimize(f, np.zeros(2 * p), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * (2 * p),
                   options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-12})
    return res.x[:p] - res.x[p:], res.fun


def _glm_example(loss):
    def example(xp, dtype):
        import numpy as np

        from ..testing import assert_allclose

        rng = np.random.default_rng(3)
        n, p = 40, 25
        X = rng.standard_normal((n, p))
        w = np.zeros(p)
        w[:4] = [2.0, -1.5, 1.0, 0.5]
        l1_ratio = 0.7 if loss == "elastic_net" else 1.0
        if loss != "logistic":
            y = X @ w + 0.1 * rng.standard_normal(n)
            alpha = 0.05 * np.max(np.abs(X.T @ y)) / n
        else:
            y = np.where(X @ w + 0.3 * rng.standard_normal(n) > 0, 1.0, -1.0)
            alpha = 0.1 * np.max(np.abs(X.T @ y)) / (2 * n)
        w_ref, f_ref = _l1_oracle(X, y, alpha, "logistic" if loss == "logistic" else
                                  "squared", l1_ratio)
        single = dtype == xp.float32

        def check(res):
            tol = 2e-3 if single else 1e-5
            assert_allclose(res.x, xp.asarray(w_ref, dtype=dtype), rtol=tol, atol=tol)
            assert res.fun <= f_ref + (1e-5 if single else 1e-10)

        tol = (1e-6 if single else 1e-12) if loss != "logistic" else \
            (1e-5 if single else 1e-10)
        kwargs = {"tol": tol}
        if loss == "elastic_net":
            kwargs["l1_ratio"] = l1_ratio
        return Example(args=(xp.asarray(X, dtype=dtype), xp.asarray(y, dtype=dtype), alpha),
                       kwargs=kwargs, arg_names=("X", "y", "alpha"),
                       array_args=(0, 1), check=check,
                       rtol=1e-3 if single else 1e-6)
    return example


def _group_l1_multinomial_oracle(X, y, alpha, n_iter=20_000):
    """Independent solution of the group-L1 multinomial problem (no intercept) by
    accelerated proximal gradient (FISTA) on the whole matrix, step ``1 / L`` with
    ``L = ||X||_2^2 / (2 n)``."""
    import numpy as np
    from scipy.special import softmax

    n = X.shape[0]
    Y = np.eye(int(y.max()) + 1)[y.astype(int)]
    L = np.linalg.norm(X, 2) ** 2 / (2 * n)
    V = np.zeros((X.shape[1], Y.shape[1]))
    prev, t = V.copy(), 1.0
    for _ in range(n_iter):
        U = V - X.T @ (softmax(X @ V, axis=1) - Y) / (n * L)
        norms = np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-300)
        U = U * np.maximum(1.0 - alpha / (L * norms), 0.0)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        V, prev, t = U + (t - 1.0) / t_next * (U - prev), U, t_next
    Z = X @ prev
    top = Z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
    fun = np.mean(lse - (Y * Z).sum(axis=1)) + alpha * np.linalg.norm(prev, axis=1).sum()
    return prev, fun


def _multinomial_example(xp, dtype):
    import numpy as np

    from ..testing import assert_allclose

    rng = np.random.default_rng(4)
    n, p = 60, 12
    X = rng.standard_normal((n, p))
    W = np.zeros((p, 3))
    W[:3] = 2.0 * rng.standard_normal((3, 3))
    y = np.argmax(X @ W + rng.gumbel(size=(n, 3)), axis=1).astype(float)
    alpha = 0.02
    W_ref, f_ref = _group_l1_multinomial_oracle(X, y, alpha)
    single = dtype == xp.float32

    def check(res):
        tol = 2e-3 if single else 1e-5
        assert_allclose(res.x, xp.asarray(W_ref, dtype=dtype), rtol=tol, atol=tol)
        assert res.fun <= f_ref + (1e-5 if single else 1e-10)

    return Example(args=(xp.asarray(X, dtype=dtype), xp.asarray(y, dtype=dtype), alpha),
                   kwargs={"tol": 1e-6 if single else 1e-10},
                   arg_names=("X", "y", "alpha"), array_args=(0, 1), check=check,
                   rtol=1e-3 if single else 1e-6)


def _bcd_example(xp, dtype):
    import numpy as np

    from ..testing import assert_allclose

    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 15))
    b = rng.standard_normal(40)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    problem = LeastSquares(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype))
    single = dtype == xp.float32

    def check(res):
        tol = 1e-3 if single else 1e-8
        assert_allclose(res.x, xp.asarray(x_ref, dtype=dtype), rtol=tol, atol=tol)

    return Example(args=(problem, xp.zeros(15, dtype=dtype)),
                   kwargs={"tol": 1e-4 if single else 1e-10, "update": "newton",
                           "maxiter": 5000},
                   arg_names=("problem", "x0"), array_args=(1,), check=check)


def _minimize_example(xp, dtype):
    import numpy as np

    from ..testing import assert_allclose

    rng = np.random.default_rng(2)
    M = rng.standard_normal((12, 12))
    H = M @ M.T / 12 + np.eye(12)
    c = rng.standard_normal(12)
    x_ref = np.linalg.solve(H, c)
    Hx, cx = xp.asarray(H, dtype=dtype), xp.asarray(c, dtype=dtype)

    def fun(x):
        return float(0.5 * xp.sum(x * (Hx @ x)) - xp.sum(cx * x))

    def jac(x):
        return Hx @ x - cx

    single = dtype == xp.float32

    def check(res):
        tol = 1e-3 if single else 1e-7
        assert_allclose(res.x, xp.asarray(x_ref, dtype=dtype), rtol=tol, atol=tol)

    return Example(args=(fun, xp.zeros(12, dtype=dtype)),
                   kwargs={"jac": jac, "tol": 1e-4 if single else 1e-9},
                   arg_names=("fun", "x0"), array_args=(1,), check=check)


_GLM_OPTIONS = {
    "p0": Option(GLM_DEFAULTS["p0"], "first working-set size (None: 100 for the Lasso, "
                                      "10 for the logistic loss)"),
    "anderson_k": Option(GLM_DEFAULTS["anderson_k"],
                         "Anderson extrapolation memory (0 turns it off)"),
    "max_epochs": Option(GLM_DEFAULTS["max_epochs"], "coordinate sweeps per working set"),
    "positive": Option(GLM_DEFAULTS["positive"], "constrain the coefficients to be >= 0"),
}

register_method(MethodSpec(
    solver="lasso", name="working_set", func=lasso, problem_class="coordinate",
    summary="Lasso by working sets, Numba coordinate descent and Anderson extrapolation, "
            "duality-gap certificate",
    options=_GLM_OPTIONS, example=_glm_example("squared"), has_kernels=True,
    reference=_REFERENCE + "; Massias et al. (celer, 2018); Bertrand et al. (skglm, 2022)",
    namespaces=("numpy",),
))

register_method(MethodSpec(
    solver="elastic_net", name="working_set", func=elastic_net, problem_class="coordinate",
    summary="elastic net by working sets, Numba coordinate descent and Anderson "
            "extrapolation, duality-gap certificate",
    options=_GLM_OPTIONS, example=_glm_example("elastic_net"), has_kernels=True,
    reference=_REFERENCE + "; Bertrand et al. (skglm, 2022)", namespaces=("numpy",),
))

register_method(MethodSpec(
    solver="sparse_logistic_regression", name="working_set", func=sparse_logistic_regression,
    problem_class="coordinate",
    summary="L1 logistic regression by working sets and prox-Newton directions "
            "(coordinate descent on the quadratic model)",
    options=_GLM_OPTIONS, example=_glm_example("logistic"), has_kernels=True,
    reference=_REFERENCE + "; Bertrand et al. (skglm, 2022)", namespaces=("numpy",),
))

register_method(MethodSpec(
    solver="multinomial_logistic_regression", name="working_set",
    func=multinomial_logistic_regression, problem_class="coordinate",
    summary="multinomial logistic regression with group L1 by working sets and "
            "prox-Newton directions (block CD over feature rows on the model)",
    options={k: v for k, v in _GLM_OPTIONS.items() if k != "positive"},
    example=_multinomial_example, has_kernels=True,
    reference=_REFERENCE + "; Bertrand et al. (skglm, 2022)", namespaces=("numpy",),
))

register_method(MethodSpec(
    solver="bcd", name="bcd", func=bcd, problem_class="coordinate",
    summary="block coordinate descent: fixed/variable/forest blocks, cyclic/random/"
            "Lipschitz/GS/GSL/GSD/GSQ rules, gradient/Newton/message-passing updates",
    options={"seed": Option(0, "seed of the random rules"),
             "backtrack_factor": Option(2.0, "growth of the backtracked Lipschitz constant"),
             "check_every": Option(None, "iterations between two checks (None: 50 on the "
                                         "compiled batch paths, else 1 on the CPU and "
                                         "gpu_check_every on a GPU)")},
    example=_bcd_example, reference=_REFERENCE, namespaces=("numpy", "cupy"),
))

register_method(MethodSpec(
    solver="minimize", name="bcd", func=minimize_bcd, problem_class="coordinate",
    summary="block coordinate descent for a smooth function with a gradient (GSL blocks, "
            "backtracked Lipschitz steps)",
    options={"block_size": Option(0, "coordinates per block (0: n // 10)"),
             "rule": Option("gsl", "'gsl', 'gs', 'cyclic' or 'random'"),
             "maxiter": Option(10_000, "maximum number of iterations"),
             "gtol": Option(1e-6, "stop when max |grad| <= gtol (tol overrides)"),
             "lipschitz0": Option("auto", "initial coordinate Lipschitz estimate ('auto': "
                                  "from one probe step)"),
             "seed": Option(0, "seed of the random rule"),
             "check_every": Option(None, "iterations between two checks (None: 1 on the "
                                         "CPU, gpu_check_every on a GPU)")},
    example=_minimize_example, reference=_REFERENCE, namespaces=("numpy", "cupy"),
    uses=("jac",),
))
