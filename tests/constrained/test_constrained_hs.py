"""newton-sketch on Hock-Schittkowski and Betts problems, against closed forms, SciPy's
SLSQP and trust-constr, and the KKT conditions recomputed here from the problem's own
functions."""

import warnings

import numpy as np
import pytest
import scipy.optimize as so
from hs_collection import PROBLEMS

import numopt
from numopt.constrained import minimize_eq

# degenerate solutions (a singular reduced Hessian: (x - 1)^4, ^6 terms) pin x only to
# about the square root of the KKT residual; the others to the residual itself
DEGENERATE = {"HS26", "HS46", "HS47", "HS49"}


def _constraint(p):
    return {"type": "eq", "fun": p["cfun"], "jac": p["cjac"]}


def _kkt(p, x, lam):
    """||(grad f + J^T l, c)|| from the problem's own functions."""
    gL = p["jac"](x) + np.asarray(p["cjac"](x)).T @ lam
    return float(np.hypot(np.linalg.norm(gL), np.linalg.norm(p["cfun"](x))))


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_test_data_gradients_match_finite_differences(name):
    p = PROBLEMS[name]
    x = p["x0"] + 0.1
    assert so.check_grad(p["fun"], p["jac"], x) < 1e-5 * (1 + np.linalg.norm(p["jac"](x)))
    fd = np.atleast_2d(so.approx_fprime(x, p["cfun"], 1e-7))
    np.testing.assert_allclose(np.asarray(p["cjac"](x)), fd, atol=1e-4 * (1 + np.abs(fd).max()))


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_hs_problem_solved_like_slsqp(name):
    p = PROBLEMS[name]
    res = minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p), tol=1e-8,
                      seed=0)
    assert res.success, res.message
    # success is the KKT test at the returned point: recompute it independently
    assert _kkt(p, res.x, res.multipliers) <= 1e-8 * (1 + 1e-6)
    assert res.kkt_residual == pytest.approx(_kkt(p, res.x, res.multipliers), rel=1e-6,
                                             abs=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p),
                          method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000})
    if ref.success:   # SLSQP stops short on HS7 and BT1 (iteration limit)
        assert res.fun == pytest.approx(ref.fun, abs=1e-7)
    # f itself moves by |l| |c| across the band the KKT test allows (BT1: l = -99.5,
    # |c| ~ 7e-9 at KKT 6e-9, f off by 7e-7); the Lagrangian f + l^T c is off by second
    # order terms only, and meets the tight bound
    c = np.asarray(p["cfun"](res.x))
    assert res.fun + float(res.multipliers @ c) == pytest.approx(p["f_star"], abs=1e-7)
    band = float(np.abs(res.multipliers) @ np.abs(c))
    assert res.fun == pytest.approx(p["f_star"], abs=1e-7 + band)
    tol = 1e-2 if name in DEGENERATE else 1e-6
    np.testing.assert_allclose(res.x, p["x_star"], atol=tol)


@pytest.mark.parametrize("name", ["HS7", "HS40", "HS39"])
def test_matches_trust_constr_through_numopt_minimize(name):
    p = PROBLEMS[name]
    constraint = so.NonlinearConstraint(p["cfun"], 0.0, 0.0, jac=p["cjac"])
    res = numopt.minimize(p["fun"], p["x0"], method="newton-sketch", jac=p["jac"],
                          constraints=[constraint], options={"seed": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(p["fun"], p["x0"], jac=p["jac"], method="trust-constr",
                          hess=so.BFGS(), constraints=[constraint],
                          options={"gtol": 1e-10, "xtol": 1e-12, "maxiter": 2000})
    assert res.success and ref.success, (res.message, ref.message)
    assert res.fun == pytest.approx(ref.fun, abs=1e-6)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    # the same sign convention: grad f + J^T l = 0
    np.testing.assert_allclose(res.multipliers, ref.v[0], atol=1e-4)


@pytest.mark.parametrize("name", ["HS7", "HS40", "HS6"])
def test_unit_step_accepted_near_the_solution(name):
    p = PROBLEMS[name]
    rng = np.random.default_rng(0)
    x0 = p["x_star"] + 1e-3 * rng.standard_normal(p["x_star"].shape)
    steps = []
    res = minimize_eq(p["fun"], x0, jac=p["jac"], constraints=_constraint(p), tol=1e-10,
                      seed=0, callback=lambda intermediate_result: steps.append(
                          intermediate_result.step_size))
    assert res.success, res.message
    assert steps and all(s == 1.0 for s in steps), steps
    assert res.nit <= 6


def _error_ratios(sharpen):
    p = PROBLEMS["HS50"]
    errors = []
    res = minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p),
                      tol=1e-11, seed=0, sharpen=sharpen, accuracy=0.3, block_size=2,
                      callback=lambda intermediate_result: errors.append(
                          np.linalg.norm(intermediate_result.x - p["x_star"])))
    assert res.success, res.message
    errors = np.array(errors)
    errors = errors[errors > 1e-13]   # ratios of rounding noise mean nothing
    return errors[1:] / errors[:-1]


def test_sharpened_accuracy_drives_the_error_ratio_to_zero():
    # inexact sketch solves (2 rows of the 8 per projection): with a fixed accuracy the
    # rate stays linear, with sharpened accuracy the error ratio tends to zero
    sharp = _error_ratios(True)
    fixed = _error_ratios(False)
    assert sharp[-1] < 0.02 and sharp[-2] < 0.1, sharp
    assert np.median(fixed[-8:]) > 0.1, fixed
    assert len(sharp) < len(fixed)


def test_exact_hessians_matrix_free_and_finite_differences_agree():
    p = PROBLEMS["HS7"]

    def hess(x):
        return np.array([[2 * (1 - x[0] ** 2) / (1 + x[0] ** 2) ** 2, 0.0], [0.0, 0.0]])

    def chess(x, v):
        return v[0] * np.array([[4 + 12 * x[0] ** 2, 0.0], [0.0, 2.0]])

    constraint = so.NonlinearConstraint(p["cfun"], 0, 0, jac=p["cjac"], hess=chess)
    runs = {
        "hess": minimize_eq(p["fun"], p["x0"], jac=p["jac"], hess=hess,
                            constraints=constraint, tol=1e-10, seed=0),
        "hessp": minimize_eq(p["fun"], p["x0"], jac=p["jac"],
                             hessp=lambda x, v: hess(x) @ v, constraints=constraint,
                             tol=1e-10, seed=0),
        "fd": minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p),
                          tol=1e-10, seed=0),
    }
    for key, res in runs.items():
        assert res.success, (key, res.message)
        np.testing.assert_allclose(res.x, p["x_star"], atol=1e-8, err_msg=key)
    assert runs["hess"].nhev > 0 and runs["hessp"].nhev > 0 and runs["fd"].nhev == 0
    assert runs["hess"].constr_nhev > 0


@pytest.mark.parametrize("kkt_solver", ["sketch", "direct"])
def test_sparse_jacobian_gives_the_dense_answer(kkt_solver):
    import scipy.sparse

    p = PROBLEMS["HS47"]
    sparse = {"type": "eq", "fun": p["cfun"],
              "jac": lambda x: scipy.sparse.csr_array(p["cjac"](x))}
    dense = minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p),
                        tol=1e-9, seed=0, kkt_solver=kkt_solver)
    res = minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=sparse, tol=1e-9,
                      seed=0, kkt_solver=kkt_solver)
    assert res.success and dense.success
    np.testing.assert_allclose(res.x, dense.x, atol=1e-6)
    assert _kkt(p, res.x, res.multipliers) <= 1e-9 * (1 + 1e-6)


def test_linear_constraint_and_constraint_lists():
    p = PROBLEMS["HS48"]
    A = p["cjac"](p["x0"])
    linear = so.LinearConstraint(A, [5.0, -3.0], [5.0, -3.0])
    split = [{"type": "eq", "fun": lambda x: p["cfun"](x)[:1], "jac": lambda x: A[:1]},
             so.NonlinearConstraint(lambda x: A[1] @ x, -3.0, -3.0, jac=lambda x: A[1:])]
    for constraints in (linear, split):
        res = minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=constraints,
                          tol=1e-10, seed=0)
        assert res.success, res.message
        np.testing.assert_allclose(res.x, p["x_star"], atol=1e-8)
        assert res.multipliers.shape == (2,)


@pytest.mark.parametrize("sketch", ["kaczmarz", "block_kaczmarz", "gaussian", "countsketch"])
def test_every_sketch_solves_and_a_seed_reproduces(sketch):
    p = PROBLEMS["HS40"]
    runs = [minimize_eq(p["fun"], p["x0"], jac=p["jac"], constraints=_constraint(p),
                        tol=1e-8, seed=3, sketch=sketch, block_size=3) for _ in range(2)]
    assert runs[0].success, runs[0].message
    assert runs[0].inner_nit > runs[0].nit   # the sketches were inexact, several steps
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    np.testing.assert_allclose(runs[0].x, p["x_star"], atol=1e-7)
