"""numopt.coordinate's solvers keep the loop contract of issue 17 (numopt/_loop.py):
settings fixed at construction, counters in the state, ``check`` and the results
independent of the check cadence, public result fields plus ``stats``."""

import numpy as np
import pytest

import numopt
from numopt._loop import run_solver
from numopt.coordinate import (LabelPropagationProblem, LeastSquares, L1LeastSquares, bcd,
                               lasso)
from numopt.coordinate._bcd import BCDSolver
from numopt.coordinate._glm_l1 import SparseGLMProblem, WorkingSetCD
from numopt.coordinate._glm_objects import L1, Quadratic
from numopt.problems import coordinate_least_squares, two_moons_label_propagation


def _nits_seen(callback_log):
    return lambda intermediate_result: callback_log.append(intermediate_result.nit)


@pytest.mark.parametrize("case", ["sparse_glm", "forest"])
def test_compiled_batches_give_the_same_iterates_whatever_check_every(case):
    """The compiled path stops by itself at the first iterate meeting tol, so the
    cadence only decides when the loop looks: same bits, same nit (before, check_every=1
    switched to the Python loop, whose rounding differs)."""
    if case == "sparse_glm":
        A, b, _ = coordinate_least_squares(120, 200, density=0.05, seed=2)
        problem = L1LeastSquares(A, b, 0.5)
        kw = dict(rule="gsl", tol=1e-6, maxiter=5000)
    else:
        problem = LabelPropagationProblem(*two_moons_label_propagation(300, n_labeled=10))
        kw = dict(partition="forest", rule="gsl", update="message_passing", block_size=25,
                  tol=1e-9, maxiter=20_000)
    default = bcd(problem, **kw)
    for check_every in (1, 7):
        res = bcd(problem, check_every=check_every, **kw)
        np.testing.assert_array_equal(res.x, default.x)
        assert res.nit == default.nit and res.success == default.success


def test_check_every_sets_the_cadence_of_the_python_loop():
    """Outside the compiled paths too the loop owns the cadence: callbacks after every
    ``check_every``-th iteration, maxiter counted in iterations (before, the option was
    ignored there and every iteration was checked)."""
    A, b, _ = coordinate_least_squares(60, 30, seed=0)
    seen = []
    res = bcd(LeastSquares(A, b), update="newton", block_size=5, tol=1e-300, maxiter=30,
              check_every=7, callback=_nits_seen(seen))
    assert seen == [7, 14, 21, 28, 30]
    assert res.nit == 30 and not res.success


def _bcd_solver(rule="random", update="backtracking"):
    A, b, _ = coordinate_least_squares(80, 40, seed=3)
    problem = L1LeastSquares(A, b, 0.2)
    return BCDSolver(problem, np.zeros(40), partition="order", rule=rule, update=update,
                     block_size=4, tol=1e-10, seed=5)


def _lasso_solver():
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.standard_normal((60, 150)))
    y = X[:, :4] @ np.array([1.0, -2.0, 3.0, 0.5]) + 0.1 * rng.standard_normal(60)
    alpha = 0.02 * float(np.max(np.abs(X.T @ y))) / 60
    problem = SparseGLMProblem(np, X, y, Quadratic(), L1(alpha), fit_intercept=False)
    return WorkingSetCD(problem, np.zeros(150), 0.0, tol=1e-10, p0=10)


@pytest.mark.parametrize("make", [_bcd_solver, _lasso_solver], ids=["bcd", "lasso"])
def test_a_solver_object_runs_twice_to_the_same_result(make):
    """Settings never change and counters live in the state: a second run of the same
    object repeats the first (before, the random stream, nfev and n_epochs carried
    over from one run to the next)."""
    solver = make()
    first = run_solver(solver, maxiter=40)
    second = run_solver(solver, maxiter=40)
    np.testing.assert_array_equal(second.x, first.x)
    assert second.nit == first.nit
    for key in ("nfev", "n_epochs"):
        if key in first:
            assert second[key] == first[key] > 0


def test_minimize_bcd_solver_object_runs_twice_to_the_same_iterate():
    """``minimize(method="bcd")``'s random rule draws from a generator seeded by
    ``init`` (before: one generator per object, so a second run drew other blocks)."""
    from numopt._objective import scalar_function
    from numopt.coordinate._minimize_bcd import _GenericBCD

    rng = np.random.default_rng(0)
    M = rng.standard_normal((20, 20))
    H, c = M @ M.T / 20 + np.eye(20), rng.standard_normal(20)
    x0 = np.zeros(20)
    objective = scalar_function(lambda x: 0.5 * x @ H @ x - c @ x, x0, (),
                                lambda x: H @ x - c, np)
    solver = _GenericBCD(objective.fun_and_grad, x0, np, np.float64, block_size=3,
                         rule="random", gtol=1e-12, L0="auto", seed=3, counts=objective)
    first, second = run_solver(solver, maxiter=50), run_solver(solver, maxiter=50)
    np.testing.assert_array_equal(second.x, first.x)


@pytest.mark.parametrize("make", [_bcd_solver, _lasso_solver], ids=["bcd", "lasso"])
def test_result_holds_public_fields_and_stats_and_check_changes_nothing(make):
    solver = make()
    state = solver.init()
    assert "above the tolerance" in solver.detail(state, numopt.Status.MAXITER)
    state = solver.step(state)
    fields = solver.result(state)
    assert "x" in fields and "nit" not in fields and "message_detail" not in fields
    assert set(fields["stats"]) <= {"nfev", "n_epochs"}
    before = {k: v for k, v in fields.items() if k != "x"}
    x_before = np.array(fields["x"], copy=True)
    for _ in range(3):
        solver.check(state)
    after = solver.result(state)
    np.testing.assert_array_equal(after["x"], x_before)
    assert {k: v for k, v in after.items() if k != "x"} == before


def test_lasso_reports_in_the_callers_units_from_construction():
    """The power-of-two rescaling of far-from-unit data is a construction setting of
    the working-set solver: the gap and the message are in the caller's units."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 60))
    y = X[:, :3] @ np.array([1.0, -1.0, 2.0])
    alpha = 0.05 * float(np.max(np.abs(X.T @ y))) / 40
    plain = lasso(X, y, alpha, tol=1e-12, maxiter=1)
    scale = 2.0 ** 300
    scaled = lasso(X, y * scale, alpha * scale, tol=1e-12, maxiter=1)
    assert not plain.success and not scaled.success
    assert scaled.dual_gap == pytest.approx(plain.dual_gap * scale ** 2, rel=1e-9)
    np.testing.assert_allclose(scaled.x, plain.x * scale, rtol=1e-9)
    assert f"{scaled.dual_gap:.3e}" in scaled.message


def test_minimize_bcd_takes_the_check_cadence_as_an_option():
    """``options={"check_every": k}``: callbacks after every k-th iteration, maxiter
    counted in iterations (before: an unknown option, every iteration checked)."""
    seen = []
    res = numopt.minimize(lambda x: float(x @ x) + float(x[0] * x[1]), np.ones(6),
                          jac=lambda x: 2 * x + np.r_[x[1], x[0], np.zeros(4)],
                          method="bcd", callback=_nits_seen(seen),
                          options={"check_every": 4, "block_size": 1, "maxiter": 10,
                                   "gtol": 1e-300})
    assert seen == [4, 8, 10]
    assert res.nit == 10 and not res.success
