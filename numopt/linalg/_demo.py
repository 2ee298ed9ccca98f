"""Demo rows of numopt.linalg for ``python -m numopt``."""

from __future__ import annotations

import time

import numpy as np

from .._backend import is_cupy, synchronize, to_numpy
from .._demo import DemoRow, register_demo
from ._api import RelaxationLearner, cg, solve_sequence, sor, ssor_preconditioner


def _poisson(xp, n):
    from ..problems import poisson_2d

    A = poisson_2d(n)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    x_ref = __import__("scipy.sparse.linalg", fromlist=["spsolve"]).spsolve(A.tocsc(), b)
    if is_cupy(xp):
        import cupyx.scipy.sparse as csp

        return csp.csr_matrix(A), xp.asarray(b), x_ref
    if xp.__name__.endswith("numpy"):
        return A, b, x_ref
    return xp.asarray(A.toarray()), xp.asarray(b), x_ref


def _row(method, n, res, x_ref, seconds):
    err = float(np.linalg.norm(to_numpy(res.x) - x_ref) / np.linalg.norm(x_ref))
    return DemoRow(method=method, size=f"Poisson {n}x{n}", nit=int(res.nit), error=err,
                   reference="scipy spsolve", success=bool(res.success), seconds=seconds)


@register_demo("linalg", "SSOR-preconditioned CG (omega=1.8), 2-D Poisson")
def _demo_pcg(xp):
    n = 64 if xp.__name__.endswith("numpy") or is_cupy(xp) else 16
    A, b, x_ref = _poisson(xp, n)
    M = ssor_preconditioner(A, 1.8)
    cg(A, b, M=M, tol=1e-10, maxiter=3)  # JIT warm-up
    synchronize(xp)
    start = time.perf_counter()
    res = cg(A, b, M=M, tol=1e-10)
    synchronize(xp)
    return _row("cg + ssor_preconditioner", n, res, x_ref, time.perf_counter() - start)


@register_demo("linalg", "SOR (omega=1.9), 2-D Poisson")
def _demo_sor(xp):
    n = 48 if xp.__name__.endswith("numpy") or is_cupy(xp) else 12
    A, b, x_ref = _poisson(xp, n)
    sor(A, b, omega=1.9, maxiter=2)  # JIT warm-up
    synchronize(xp)
    start = time.perf_counter()
    res = sor(A, b, omega=1.9, tol=1e-10)
    synchronize(xp)
    return _row("sor", n, res, x_ref, time.perf_counter() - start)


@register_demo("linalg", "learned omega over 200 shifted-Poisson systems (Tsallis-INF)")
def _demo_learner(xp):
    from ..problems import shifted_poisson_sequence

    systems = shifted_poisson_sequence(200, variance="high", seed=0)
    start = time.perf_counter()
    out = solve_sequence(systems, RelaxationLearner("sor", seed=0))
    seconds = time.perf_counter() - start
    last = systems[-1]
    x_ref = np.linalg.solve(last.A.toarray(), last.b)
    err = float(np.linalg.norm(out.x - x_ref) / np.linalg.norm(x_ref))
    return DemoRow(method="RelaxationLearner(sor)", size="200 x 10x10", nit=out.nit,
                   error=err, reference="numpy solve (last system)", success=out.success,
                   seconds=seconds)


@register_demo("linalg", "deep conjugate direction method, shipped network, 2-D Poisson "
                         "with unseen disk obstacles")
def _demo_dcdm(xp):
    from ..problems import poisson_obstacles
    from ._api import dcdm

    n = 64 if xp.__name__.endswith("numpy") or is_cupy(xp) else 16
    problem = poisson_obstacles((n, n), n_obstacles=6, kind="disks", seed=1001)
    b = np.random.default_rng(0).standard_normal(n * n) * problem.fluid.ravel()
    x_ref = __import__("scipy.sparse.linalg", fromlist=["spsolve"]).spsolve(
        problem.A.tocsc(), b)
    if is_cupy(xp):
        import cupyx.scipy.sparse as csp

        A = csp.csr_matrix(problem.A)
    elif xp.__name__.endswith("numpy"):
        A = problem.A
    else:
        A = xp.asarray(problem.A.toarray())
    dcdm(A, xp.asarray(b), tol=1e-6, maxiter=1)  # JIT warm-up
    synchronize(xp)
    start = time.perf_counter()
    res = dcdm(A, xp.asarray(b), tol=1e-6)
    synchronize(xp)
    row = _row("dcdm (model='poisson')", n, res, x_ref, time.perf_counter() - start)
    row.size += ", disks"
    return row


@register_demo("linalg", "M-FAC preconditioned SGD (minimize 'mfac'), L2 logistic regression")
def _demo_mfac(xp):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from .._minimize import minimize

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    alpha = 1e-2
    w_ref = LogisticRegression(C=1.0 / (X.shape[0] * alpha), fit_intercept=False,
                               tol=1e-12, max_iter=10_000).fit(X, y).coef_.ravel()
    Xs = xp.asarray(X * (2.0 * y - 1.0)[:, None])

    def fun_and_grad(w):
        z = Xs @ w
        loss = xp.mean(xp.log1p(xp.exp(-xp.abs(z))) + xp.maximum(-z, 0.0))
        return float(loss), -(Xs.T @ (1.0 / (1.0 + xp.exp(z)))) / z.shape[0]

    start = time.perf_counter()
    res = minimize(fun_and_grad, xp.zeros(X.shape[1]), jac=True, method="mfac",
                   options={"lr": 0.05, "damping": 0.1, "ngrads": 32,
                            "weight_decay": alpha, "gtol": 1e-7, "maxiter": 5000})
    synchronize(xp)
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(to_numpy(res.x) - w_ref)))
    return DemoRow(method="minimize mfac", size=f"d={X.shape[1]}, m=32", nit=int(res.nit),
                   error=error, reference="scikit-learn LogisticRegression (max abs)",
                   success=bool(res.success), seconds=seconds)
