"""Bad input names the argument; degenerate constraints end with a status, never a crash."""

import math

import numpy as np
import pytest
import scipy.optimize as so
from hs_collection import PROBLEMS

import numopt
from numopt.constrained import minimize_eq

HS7 = PROBLEMS["HS7"]


def _eq(fun, jac):
    return {"type": "eq", "fun": fun, "jac": jac}


def _run(**changes):
    kwargs = {"fun": HS7["fun"], "x0": HS7["x0"], "jac": HS7["jac"],
              "constraints": _eq(HS7["cfun"], HS7["cjac"]), "seed": 0}
    kwargs.update(changes)
    fun, x0 = kwargs.pop("fun"), kwargs.pop("x0")
    return minimize_eq(fun, x0, **kwargs)


def test_more_constraints_than_unknowns_names_both_shapes():
    three = _eq(lambda x: np.array([x[0], x[1], x[0] + x[1] - 1]),
                lambda x: np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\(3,\).*x0 has shape \(2,\)"):
        _run(constraints=three)


@pytest.mark.parametrize("where, match", [
    ("jac", r"jac returned shape \(3,\), expected \(2,\)"),
    ("cjac", r"constraints jac returned shape \(1, 3\), expected \(1, 2\)"),
    ("hess", r"hess returned shape \(3, 3\), expected \(2, 2\)"),
])
def test_inconsistent_shapes_are_named(where, match):
    if where == "jac":
        kwargs = {"jac": lambda x: np.zeros(3)}
    elif where == "cjac":
        kwargs = {"constraints": _eq(HS7["cfun"], lambda x: np.zeros((1, 3)))}
    else:
        kwargs = {"hess": lambda x: np.eye(3)}
    with pytest.raises(ValueError, match=match):
        _run(**kwargs)


def test_inequalities_are_rejected_clearly():
    with pytest.raises(ValueError, match=r"type 'ineq'.*equality constraints only"):
        _run(constraints={"type": "ineq", "fun": HS7["cfun"]})
    with pytest.raises(ValueError, match=r"inequality \(lb != ub\)"):
        _run(constraints=so.NonlinearConstraint(HS7["cfun"], -1.0, 1.0))
    with pytest.raises(ValueError, match="constraints is empty"):
        _run(constraints=[])
    with pytest.raises(TypeError, match=r"constraints\[1\] must be a dict"):
        _run(constraints=[_eq(HS7["cfun"], HS7["cjac"]), "x = 0"])


def test_numopt_minimize_rejects_inequalities_and_warns_about_bounds():
    with pytest.raises(ValueError, match="ineq"):
        numopt.minimize(HS7["fun"], HS7["x0"], method="newton-sketch", jac=HS7["jac"],
                        constraints=[{"type": "ineq", "fun": HS7["cfun"]}])
    with pytest.warns(RuntimeWarning, match="bounds"):
        res = numopt.minimize(HS7["fun"], HS7["x0"], method="newton-sketch",
                              jac=HS7["jac"], bounds=[(None, None)] * 2,
                              constraints=_eq(HS7["cfun"], HS7["cjac"]))
    assert res.success


def _nan_at(value):
    def wrap(f):
        return lambda x, *rest: f(x, *rest) * value
    return wrap


@pytest.mark.parametrize("name, match", [
    ("fun", r"^fun returned NaN"),
    ("jac", r"^jac returned NaN"),
    ("cfun", r"^constraints fun returned NaN"),
    ("cjac", r"^constraints jac returned NaN"),
    ("hess", r"^hess returned NaN"),
    ("hessp", r"^hessp returned NaN"),
])
def test_nan_at_x0_names_the_function(name, match):
    bad = _nan_at(math.nan)
    kwargs = {}
    if name == "fun":
        kwargs["fun"] = bad(HS7["fun"])
    elif name == "jac":
        kwargs["jac"] = bad(HS7["jac"])
    elif name == "cfun":
        kwargs["constraints"] = _eq(bad(HS7["cfun"]), HS7["cjac"])
    elif name == "cjac":
        kwargs["constraints"] = _eq(HS7["cfun"], bad(HS7["cjac"]))
    elif name == "hess":
        kwargs["hess"] = lambda x: np.full((2, 2), np.nan)
    else:
        kwargs["hessp"] = lambda x, p: np.full(2, np.nan)
    with pytest.raises(ValueError, match=match):
        _run(**kwargs)


def test_nan_from_hess_at_a_later_iterate_ends_with_a_status_naming_it():
    calls = []

    def hess(x):
        calls.append(1)
        if len(calls) > 3:
            return np.full((2, 2), np.nan)
        return np.array([[2 * (1 - x[0] ** 2) / (1 + x[0] ** 2) ** 2, 0.0], [0.0, 0.0]])

    res = _run(hess=hess)
    assert not res.success and res.status == numopt.Status.NONFINITE
    assert "hess returned NaN" in res.message
    assert np.all(np.isfinite(res.x))


def test_duplicated_constraint_uses_the_least_squares_step_and_says_so():
    # the same equality twice: G G^T is singular at every point
    twice = _eq(lambda x: np.repeat(HS7["cfun"](x), 2), lambda x: np.repeat(HS7["cjac"](x), 2,
                                                                            axis=0))
    for kkt_solver in ("sketch", "direct"):
        res = _run(constraints=twice, tol=1e-9, kkt_solver=kkt_solver)
        assert res.success, res.message
        np.testing.assert_allclose(res.x, HS7["x_star"], atol=1e-8)
        assert res.rank_deficient_steps == res.nit > 0
        assert "nearly rank-deficient" in res.message
        # any split of the multiplier between the copies is optimal: their sum is fixed
        single = _run(tol=1e-9)
        assert res.multipliers.sum() == pytest.approx(single.multipliers[0], abs=1e-7)


def test_zero_constraint_gradient_at_x0_is_a_status_not_a_crash():
    # c(x) = x1^2 + x2^2 - 1 has a zero gradient at the start 0: G = 0 there
    circle = _eq(lambda x: np.array([x @ x - 1.0]), lambda x: 2.0 * x[None, :])
    res = minimize_eq(lambda x: x[0] + 2 * x[1], np.zeros(2),
                      jac=lambda x: np.array([1.0, 2.0]), constraints=circle, seed=0,
                      maxiter=200)
    assert isinstance(res.success, bool) and res.message
    assert np.all(np.isfinite(res.x))
    if res.success:   # the minimizer is -(1, 2) / sqrt(5)
        np.testing.assert_allclose(res.x, -np.array([1.0, 2.0]) / math.sqrt(5), atol=1e-5)
    assert res.rank_deficient_steps >= 1


def test_infeasible_constraints_end_with_a_failure_status():
    clash = _eq(lambda x: np.array([x[0], x[0] - 1.0]),
                lambda x: np.array([[1.0, 0.0], [1.0, 0.0]]))
    res = minimize_eq(lambda x: x @ x, np.ones(2), jac=lambda x: 2 * x, constraints=clash,
                      seed=0, maxiter=50)
    assert not res.success
    assert "KKT residual" in res.message and "||c||" in res.message


@pytest.mark.parametrize("option, value, error", [
    ("kkt_solver", "lu", ValueError), ("sketch", "hadamard", ValueError),
    ("accuracy", 1.5, ValueError), ("eta1", 0.0, ValueError), ("sharpen", "yes", TypeError),
    ("block_size", 0, ValueError), ("armijo", 0.7, ValueError),
])
def test_bad_options_name_themselves(option, value, error):
    with pytest.raises(error, match=option):
        _run(**{option: value})


def test_multipliers0_shape_is_checked():
    with pytest.raises(ValueError, match=r"multipliers0 has shape \(2,\)"):
        _run(multipliers0=np.zeros(2))


@pytest.mark.parametrize("kkt_solver", ["sketch", "direct"])
def test_lapack_giving_up_is_a_status_not_a_crash(monkeypatch, kkt_solver):
    # S2MPJ's LUKVLE8 made LAPACK raise "SVD did not converge" out of minimize; the
    # failure is forced here at the third KKT solve
    from numopt.constrained._newton_sketch import NewtonSketchSolver

    solve, calls = NewtonSketchSolver._solve, []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise np.linalg.LinAlgError("SVD did not converge")
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(NewtonSketchSolver, "_solve", failing)
    res = _run(tol=1e-12, kkt_solver=kkt_solver)
    assert not res.success and res.status == numopt.Status.STALLED
    assert "KKT solve failed" in res.message and "SVD did not converge" in res.message
    assert np.all(np.isfinite(res.x))
