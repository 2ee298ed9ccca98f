"""The equality-constrained gallery (numopt.problems): derivatives against central
differences, and each problem solved by SciPy's trust-constr at a small size, checked
against a closed form where there is one and by its KKT residual otherwise."""

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

from numopt import problems
from numopt.problems import _equality

SMALL = {
    "logistic": lambda: problems.constrained_logistic_regression(),
    "logistic-digits": lambda: problems.constrained_logistic_regression("digits", n_linear=8),
    "poisson": lambda: problems.poisson_control(6),
    "poisson-cubic": lambda: problems.poisson_control(6, cubic=50.0),
    "quadratic": lambda: problems.random_quadratic_equality(40, 20, seed=3),
}


def _trust_constr(problem, hessian="product"):
    with warnings.catch_warnings():
        # trust-constr warns that delta_grad == 0 on exactly quadratic problems
        warnings.simplefilter("ignore", UserWarning)
        return scipy.optimize.minimize(method="trust-constr",
                                       **problem.minimize_kwargs(hessian=hessian),
                                       options={"gtol": 1e-9, "xtol": 1e-14, "maxiter": 1000})


@pytest.mark.parametrize("key", sorted(SMALL))
def test_derivatives_match_central_differences(key):
    problem = SMALL[key]()
    rng = np.random.default_rng(0)
    x = problem.x0 + 0.3 * rng.standard_normal(problem.n)
    errors = problem.derivative_errors(x, seed=1)
    assert max(errors.values()) < 1e-6, errors


def test_wrong_derivative_is_caught():
    # the check itself can fail: a gradient off by 1% is flagged
    problem = problems.random_quadratic_equality(30, 10)
    bad = problems.EqualityConstrainedProblem(
        name="bad", x0=problem.x0, n=problem.n, m=problem.m, fun=problem.fun,
        grad=lambda x: 1.01 * problem.grad(x), constraint=problem.constraint,
        jacobian=problem.jacobian, hessp=problem.hessp,
        constraint_hessp=problem.constraint_hessp)
    assert bad.derivative_errors(np.ones(problem.n))["grad"] > 1e-3


@pytest.mark.parametrize("hessian", ["product", "matrix"])
@pytest.mark.parametrize("key", sorted(SMALL))
def test_trust_constr_solves_the_small_instance(key, hessian):
    problem = SMALL[key]()
    result = _trust_constr(problem, hessian)
    assert result.success, result.message
    assert np.linalg.norm(problem.constraint(result.x)) < 1e-8
    assert problem.kkt_residual(result.x) < 1e-6
    # trust-constr's multipliers (Lagrangian f + v^T c) share the problem's sign convention
    assert problem.kkt_residual(result.x, result.v[0]) < 1e-6


def test_poisson_control_solution_matches_the_reduced_closed_form():
    # eliminating u = A y / h^2 leaves (I + alpha/h^4 A^2) y = y_d
    N, alpha = 7, 1e-3
    problem = problems.poisson_control(N, alpha=alpha)
    h = 1.0 / (N + 1)
    A = problems.poisson_2d(N).toarray()
    y = np.linalg.solve(np.eye(N * N) + alpha / h ** 4 * A @ A, problem.info["y_target"])
    u = A @ y / h ** 2
    np.testing.assert_allclose(problem.x_star, np.concatenate([y, u]), rtol=1e-9, atol=1e-10)
    assert problem.kkt_residual(problem.x_star) < 1e-10
    result = _trust_constr(problem)
    np.testing.assert_allclose(result.x, problem.x_star, rtol=1e-6, atol=1e-7)


def test_logistic_agrees_with_slsqp():
    problem = problems.constrained_logistic_regression()
    a = _trust_constr(problem)
    b = scipy.optimize.minimize(method="SLSQP", options={"ftol": 1e-13, "maxiter": 500},
                                **problem.minimize_kwargs(second_order=False,
                                                          dense_jacobian=True))
    assert b.success, b.message
    assert abs(a.fun - b.fun) < 1e-8
    np.testing.assert_allclose(a.x, b.x, atol=1e-5)
    assert abs(np.linalg.norm(a.x) - 1.0) < 1e-8


def test_quadratic_family_is_nonconvex_feasible_and_seeded():
    problem = problems.random_quadratic_equality(60, 30, seed=5)
    hessian = np.column_stack([problem.hessp(problem.x0, e) for e in np.eye(problem.n)])
    assert np.linalg.eigvalsh(hessian)[0] < -0.1  # nonconvex at x0
    assert np.linalg.norm(problem.constraint(problem.info["x_feas"])) < 1e-12
    assert np.linalg.matrix_rank(problem.jacobian(problem.x0)) == problem.m
    again = problems.random_quadratic_equality(60, 30, seed=5)
    x = np.linspace(-1, 1, problem.n)
    assert problem.fun(x) == again.fun(x)
    assert problem.fun(x) != problems.random_quadratic_equality(60, 30, seed=6).fun(x)


def test_pde_jacobian_is_sparse_and_sizes_follow_the_grid():
    problem = problems.poisson_control(32)
    assert (problem.n, problem.m) == (2 * 32 ** 2, 32 ** 2)
    J = problem.jacobian(problem.x0)
    assert sp.issparse(J) and J.shape == (problem.m, problem.n)
    assert J.nnz <= 6 * problem.m


def test_least_squares_multipliers_sparse_and_dense_agree(monkeypatch):
    monkeypatch.setattr(_equality, "_DENSE_LSTSQ_LIMIT", 0)  # the sparse path
    problem = problems.poisson_control(5, cubic=10.0)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(problem.n)
    dense = problems.EqualityConstrainedProblem(
        name="dense", x0=problem.x0, n=problem.n, m=problem.m, fun=problem.fun,
        grad=problem.grad, constraint=problem.constraint,
        jacobian=lambda z: problem.jacobian(z).toarray(), hessp=problem.hessp,
        constraint_hessp=problem.constraint_hessp)
    y = problem.least_squares_multipliers(x)
    np.testing.assert_allclose(y, dense.least_squares_multipliers(x), rtol=1e-8, atol=1e-10)
    # they minimize the stationarity part: any other y gives a larger residual
    other = y + 1e-3 * rng.standard_normal(y.size)
    assert problem.kkt_residual(x) <= problem.kkt_residual(x, other)


@pytest.mark.parametrize("limit", [0, 10 ** 9], ids=["sparse", "dense"])
def test_least_squares_multipliers_where_the_jacobian_loses_rank(monkeypatch, limit):
    # a repeated constraint row: the augmented system is singular, LSQR takes over
    monkeypatch.setattr(_equality, "_DENSE_LSTSQ_LIMIT", limit)
    base = problems.poisson_control(4)
    rows = np.r_[np.arange(base.m), 0]
    twice = problems.EqualityConstrainedProblem(
        name="twice", x0=base.x0, n=base.n, m=base.m + 1, fun=base.fun, grad=base.grad,
        constraint=lambda x: base.constraint(x)[rows],
        jacobian=lambda x: sp.csr_array(base.jacobian(x)[rows]), hessp=base.hessp,
        constraint_hessp=lambda x, y, v: base.constraint_hessp(x, np.bincount(rows, y), v))
    x = np.random.default_rng(4).standard_normal(base.n)
    y = twice.least_squares_multipliers(x)
    assert np.all(np.isfinite(y))
    # the same stationarity residual as without the repeated row
    assert twice.kkt_residual(x, y) == pytest.approx(
        np.sqrt(base.kkt_residual(x) ** 2 + base.constraint(x)[0] ** 2), rel=1e-6)


def test_hessian_form_is_checked():
    problem = problems.random_quadratic_equality(6, 3)
    with pytest.raises(ValueError, match="^hessian must be one of"):
        problem.minimize_kwargs(hessian="dense")
    bare = problems.EqualityConstrainedProblem(
        name="bare", x0=problem.x0, n=6, m=3, fun=problem.fun, grad=problem.grad,
        constraint=problem.constraint, jacobian=problem.jacobian, hessp=problem.hessp,
        constraint_hessp=problem.constraint_hessp)
    with pytest.raises(ValueError, match="^hessian: problem bare has no"):
        bare.minimize_kwargs(hessian="matrix")


@pytest.mark.parametrize("make, kwargs, error, name", [
    (problems.constrained_logistic_regression, {"dataset": "iris"}, ValueError, "dataset"),
    (problems.constrained_logistic_regression, {"n_linear": 30}, ValueError, "n_linear"),
    (problems.poisson_control, {"N": 0}, ValueError, "N"),
    (problems.poisson_control, {"N": 4, "alpha": 0.0}, ValueError, "alpha"),
    (problems.random_quadratic_equality, {"n": 10, "m": 11}, ValueError, "m"),
    (problems.random_quadratic_equality, {"n": 10.5}, TypeError, "n"),
])
def test_bad_arguments_name_themselves(make, kwargs, error, name):
    with pytest.raises(error, match=f"^{name}"):
        make(**kwargs)
