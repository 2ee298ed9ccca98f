"""A toy registered solver that exercises the shared machinery in numopt's own tests.

Damped Jacobi iteration for a strictly diagonally dominant system ``A x = b``. It is
registered only when this module is imported (by the foundation tests), never by
``numopt.load_all``, so users never see it.
"""

from __future__ import annotations

from .._backend import float_dtype, get_kernel, get_namespace, kernel
from .._loop import run_solver
from .._registry import Example, MethodSpec, Option, register_method
from .._result import Status
from .._validation import as_array, check_options, check_scalar, check_shape

_DEFAULTS = {"damping": 1.0}


@kernel("testing.jacobi_step",
        numba="numopt.testing._toy_kernels_numba:jacobi_step",
        cupy="numopt.testing._toy_kernels_cupy:jacobi_step")
def jacobi_step(xp, A, b, x, damping):
    """x + damping * (b - A x) / diag(A), written against the array API."""
    diag = xp.linalg.diagonal(A)
    return x + damping * (b - A @ x) / diag


class _JacobiSolver:
    def __init__(self, xp, A, b, tol, damping):
        self.xp, self.A, self.b, self.tol, self.damping = xp, A, b, tol, damping
        self.step_kernel = get_kernel("testing.jacobi_step", xp)
        self.b_norm = float(xp.linalg.vector_norm(b))

    def init(self):
        return self.xp.zeros_like(self.b)

    def step(self, x):
        return self.step_kernel(self.xp, self.A, self.b, x, self.damping)

    def residual(self, x):
        return float(self.xp.linalg.vector_norm(self.b - self.A @ x))

    def check(self, x):
        r = self.residual(x)
        if r != r:
            return None  # let the loop finish; it reports NONFINITE
        return Status.SUCCESS if r <= self.tol * self.b_norm else None

    def result(self, x):
        return {"x": x, "residual": self.residual(x)}


def jacobi(A, b, *, tol=1e-10, maxiter=500, callback=None, **options):
    """Solve ``A x = b`` by damped Jacobi iteration (toy method for the test table)."""
    xp = get_namespace(A, b)
    opts = check_options(options, _DEFAULTS, "jacobi")
    damping = check_scalar(opts["damping"], "damping", low=0, high=1, low_open=True)
    A = as_array(A, "A", xp, ndim=2)
    dtype = float_dtype(xp, A, b)
    A = xp.astype(A, dtype)
    b = as_array(b, "b", xp, ndim=1, dtype=dtype)
    n = A.shape[0]
    check_shape(A, "A", (n, n))
    check_shape(b, "b", (n,), against="A")
    solver = _JacobiSolver(xp, A, b, tol, damping)
    return run_solver(solver, maxiter=maxiter, callback=callback, disp=opts["disp"])


def _example(xp, dtype):
    import numpy as np

    rng = np.random.default_rng(0)
    n = 12
    A = rng.uniform(-1, 1, (n, n)) + np.diag(np.full(n, 2.0 * n))
    b = rng.standard_normal(n)
    x_true = np.linalg.solve(A, b)

    def check(res):
        from ._assertions import assert_allclose

        tol = 1e-4 if dtype == xp.float32 else 1e-9
        assert_allclose(res.x, x_true, rtol=tol, atol=tol)

    return Example(args=(xp.asarray(A, dtype=dtype), xp.asarray(b, dtype=dtype)),
                   kwargs={"tol": 1e-6 if dtype == xp.float32 else 1e-12},
                   arg_names=("A", "b"), array_args=(0, 1), check=check, rtol=1e-5)


SPEC = register_method(MethodSpec(
    solver="toy_solve", name="jacobi", func=jacobi, problem_class="testing",
    summary="damped Jacobi iteration (toy method that tests the shared machinery)",
    options={"damping": Option(1.0, "relaxation factor in (0, 1]")},
    example=_example, has_kernels=True,
))
