"""Registration of numopt.linalg's methods with the registry and the generic test table."""

from __future__ import annotations

import numpy as np

from .._registry import Example, MethodSpec, Option, register_method
from ._api import cg, dcdm, sketch_solve, sor
from ._minimize_mfac import minimize_mfac
from ._sketch import SKETCHES


def _tolerance(xp, dtype, tight, loose):
    return loose if dtype == xp.float32 else tight


def _checker(x_ref, xp, dtype, rtol64, rtol32):
    def check(res):
        from ..testing import assert_allclose

        tol = _tolerance(xp, dtype, rtol64, rtol32)
        assert_allclose(res.x, xp.asarray(x_ref, dtype=dtype), rtol=tol, atol=tol)
    return check


def _sor_example(symmetric):
    def example(xp, dtype):
        n = 12
        A = np.diag(np.full(n, 3.0)) - np.eye(n, k=1) - np.eye(n, k=-1)
        A[0, n - 1] = A[n - 1, 0] = -0.5
        b = np.linspace(-1.0, 2.0, n)
        x_ref = np.linalg.solve(A, b)
        return Example(
            args=(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype)),
            kwargs={"omega": 1.1, "symmetric": symmetric,
                    "tol": _tolerance(xp, dtype, 1e-12, 1e-6)},
            arg_names=("A", "b"), array_args=(0, 1),
            check=_checker(x_ref, xp, dtype, 1e-10, 1e-4), rtol=1e-5)
    return example


def _cg_example(xp, dtype):
    from ..problems import random_spd_matrix

    A = random_spd_matrix(10, cond=20.0, seed=3)
    b = np.random.default_rng(4).standard_normal(10)
    x_ref = np.linalg.solve(A, b)
    return Example(args=(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype)),
                   kwargs={"tol": _tolerance(xp, dtype, 1e-12, 1e-6)},
                   arg_names=("A", "b"), array_args=(0, 1),
                   check=_checker(x_ref, xp, dtype, 1e-9, 1e-3), rtol=1e-5)


def _sketch_example(name, least_squares):
    def example(xp, dtype):
        from ..problems import least_squares_problem

        A, b, x_ref = least_squares_problem(40, 6, consistent=not least_squares, cond=3.0,
                                            seed=5)
        return Example(
            args=(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype)),
            kwargs={"sketch": name, "least_squares": least_squares, "seed": 0,
                    "block_size": None if name == "kaczmarz" else 4,
                    "tol": _tolerance(xp, dtype, 1e-10, 1e-5)},
            arg_names=("A", "b"), array_args=(0, 1),
            check=_checker(x_ref, xp, dtype, 1e-7, 1e-3), rtol=1e-5)
    return example


def _dcdm_example(network):
    """Jacobi directions (any namespace) on a random SPD matrix, or the shipped network
    on an unseen obstacle geometry (disks; it was trained on boxes)."""
    def example(xp, dtype):
        from ..problems import poisson_obstacles, random_spd_matrix

        if network:
            problem = poisson_obstacles((12, 12), n_obstacles=2, kind="disks", seed=7)
            A = problem.A.toarray()
            b = np.random.default_rng(8).standard_normal(A.shape[0]) * problem.fluid.ravel()
            kwargs = {}
        else:
            A = random_spd_matrix(10, cond=20.0, seed=3)
            b = np.random.default_rng(4).standard_normal(10)
            inverse_diagonal = xp.asarray(1.0 / np.diag(A), dtype=dtype)
            kwargs = {"model": lambda r: inverse_diagonal * r}
        x_ref = np.linalg.solve(A, b)
        kwargs["tol"] = _tolerance(xp, dtype, 1e-10, 1e-5)
        return Example(args=(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype)),
                       kwargs=kwargs, arg_names=("A", "b"), array_args=(0, 1),
                       check=_checker(x_ref, xp, dtype, 1e-8, 1e-3), rtol=1e-3)
    return example


_DCDM_OPTIONS = {
    "stall_window": Option(100, "stop as stalled when this many iterations lower the best "
                                "residual by less than 1% (0: never)"),
}

_SOR_OPTIONS = {
    "ordering": Option("auto", "'natural', 'multicolor' or 'auto' (natural on CPU, "
                               "multicolor on GPU)"),
    "check_every": Option(None, "residual test every so many sweeps (1 on the CPU, the "
                                  "configuration's gpu_check_every on a GPU)"),
}

register_method(MethodSpec(
    solver="sor", name="sor", func=sor, problem_class="linalg",
    summary="successive over-relaxation, Numba CSR sweeps / multicolour CuPy sweeps",
    options=_SOR_OPTIONS, example=_sor_example(False), has_kernels=True,
    reference="Young (1950); sweeps as PyAMG's sor_gauss_seidel"))

register_method(MethodSpec(
    solver="sor", name="ssor", func=sor, problem_class="linalg",
    summary="symmetric SOR (forward + backward sweep per iteration)",
    options=_SOR_OPTIONS, example=_sor_example(True), has_kernels=True,
    reference="Sheldon (1955)"))

register_method(MethodSpec(
    solver="cg", name="cg", func=cg, problem_class="linalg",
    summary="(preconditioned) conjugate gradients with SciPy's stopping rule and iterates",
    options={"check_every": Option(None, "convergence test every so many iterations "
                                         "(1 on the CPU, the configuration's "
                                         "gpu_check_every on a GPU)")},
    example=_cg_example, has_kernels=True, reference="Hestenes & Stiefel (1952)"))

for _name in SKETCHES:
    for _ls in (False, True):
        register_method(MethodSpec(
            solver="sketch_solve", name=f"{_name}{'_lstsq' if _ls else ''}",
            func=sketch_solve, problem_class="linalg",
            summary=f"{_name} sketch-and-project, "
                    f"{'least squares' if _ls else 'consistent systems'}",
            options={"check_every": Option(None, "residual test every so many steps")},
            example=_sketch_example(_name, _ls),
            reference="Strohmer & Vershynin (2009); Zouzias & Freris (2013); "
                      "Gower & Richtarik (2015)"))

register_method(MethodSpec(
    solver="dcdm", name="dcdm", func=dcdm, problem_class="linalg",
    summary="deep conjugate direction method: a shipped convolutional network (or any "
            "callable) gives the directions, A-orthogonalized, exact steps",
    options=_DCDM_OPTIONS, example=_dcdm_example(False),
    reference="Kaneda, West, Daviet, Teran, Kemp, Hanocka (ICML 2023)"))

register_method(MethodSpec(
    solver="dcdm", name="dcdm_network", func=dcdm, problem_class="linalg",
    summary="dcdm with its default model, the shipped network (2-D Poisson with "
            "obstacles); Numba convolutions, array-API reference elsewhere",
    options=_DCDM_OPTIONS, example=_dcdm_example(True), has_kernels=True,
    reference="Kaneda, West, Daviet, Teran, Kemp, Hanocka (ICML 2023)"))


def _mfac_example(xp, dtype):
    """A strongly convex quadratic. Near a minimizer M-FAC is gradient descent with step
    lr / damping; far from it the step is about lr g / ||g||^2 (the window's gradients
    are nearly parallel): damping 1 and lr 0.3 keep the first below 2 / L (L <= 4)
    without making the second crawl."""
    from ..testing import assert_allclose

    rng = np.random.default_rng(2)
    M = rng.standard_normal((12, 12))
    H = M @ M.T / 24 + np.eye(12)
    c = rng.standard_normal(12)
    x_ref = np.linalg.solve(H, c)
    Hx, cx = xp.asarray(H, dtype=dtype), xp.asarray(c, dtype=dtype)

    def fun(x):
        return 0.5 * xp.sum(x * (Hx @ x)) - xp.sum(cx * x)

    def jac(x):
        return Hx @ x - cx

    single = dtype == xp.float32

    def check(res):
        tol = 1e-3 if single else 1e-8
        assert_allclose(res.x, xp.asarray(x_ref, dtype=dtype), rtol=tol, atol=tol)

    return Example(args=(fun, xp.zeros(12, dtype=dtype)),
                   kwargs={"jac": jac, "tol": 1e-4 if single else 1e-9, "ngrads": 8,
                           "damping": 1.0, "lr": 0.3, "maxiter": 2000},
                   arg_names=("fun", "x0"), array_args=(1,), check=check)


# (placed in numopt.linalg because its core is the M-FAC inverse-Hessian product)
register_method(MethodSpec(
    solver="minimize", name="mfac", func=minimize_mfac, problem_class="linalg",
    summary="M-FAC: SGD preconditioned by the inverse damped empirical Fisher of the "
            "last m gradients (matrix-free, sliding window)",
    options={"lr": Option(1e-3, "learning rate"),
             "momentum": Option(0.0, "momentum mu of the preconditioned step (0: none)"),
             "weight_decay": Option(0.0, "adds weight_decay / 2 ||x||^2 to the objective"),
             "ngrads": Option(1024, "window size m (gradients kept)"),
             "damping": Option(1e-5, "lambda of lambda I + G^T G / m"),
             "gtol": Option(1e-5, "stop when the full gradient's largest entry is <= gtol "
                                  "(tol overrides)"),
             "maxiter": Option(10_000, "maximum number of iterations"),
             "n_samples": Option(None, "finite sum of N samples: fun(x, batch), "
                                       "jac(x, batch) take an index batch"),
             "batch_size": Option(None, "samples per step (None: all)"),
             "measure_every": Option(None, "iterations between two full-gradient "
                                           "measurements (None: 1, or one epoch)"),
             "seed": Option(0, "seed of the batches"),
             "check_every": Option(None, "iterations between two checks")},
    example=_mfac_example, uses=("jac",),
    reference="Frantar, Kurtic & Alistarh, M-FAC: Efficient Matrix-Free Approximations "
              "of Second-Order Information (NeurIPS 2021)"))
