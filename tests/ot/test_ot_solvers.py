"""numopt.ot against POT, exact LP solutions and OT invariants."""

import warnings

import numpy as np
import pytest

import numopt
from numopt.ot import emd, quadratic_ot, sinkhorn, sparse_ot
from numopt.problems._ot import random_ot_problem

ot = pytest.importorskip("ot")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """L-BFGS-B calls BLAS on tiny vectors: with OpenBLAS threads on a loaded machine
    each call can take milliseconds (60x slower runs were measured here)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


def marginal_error(P, a, b):
    P = P.toarray() if hasattr(P, "toarray") else P
    return np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()


@pytest.fixture(scope="module")
def problem():
    return random_ot_problem(40, 30, weights="random", seed=3)


@pytest.mark.parametrize("method", ["kernel", "log"])
@pytest.mark.parametrize("reg", [0.2, 0.02])
def test_sinkhorn_matches_pot(problem, method, reg):
    a, b, M = problem
    res = sinkhorn(a, b, M, reg, method=method, tol=1e-11)
    P = ot.sinkhorn(a, b, M, reg, stopThr=1e-15, numItermax=100000)
    assert res.success and res.method == method
    np.testing.assert_allclose(res.plan, P, atol=1e-11)
    assert res.marginal_error <= 1e-11
    assert res.marginal_error == pytest.approx(marginal_error(res.plan, a, b), abs=1e-15)
    # dual optimality: the plan is exp((f + g - M)/reg), and the primal objective
    # equals the dual objective <f,a> + <g,b> - reg * sum(P)
    np.testing.assert_allclose(np.exp((res.f[:, None] + res.g[None, :] - M) / reg), res.plan,
                               rtol=1e-9, atol=1e-15)
    primal = np.sum(res.plan * M) + reg * np.sum(res.plan * (np.log(res.plan) - 1))
    assert res.fun == pytest.approx(primal, rel=1e-9, abs=1e-12)
    dual = res.f @ a + res.g @ b - reg * res.plan.sum()
    assert abs(primal - dual) <= 1e-9


def test_log_matches_pot_sinkhorn_log_at_small_reg(problem):
    a, b, M = problem
    res = sinkhorn(a, b, M, 2e-3, method="log", tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = ot.bregman.sinkhorn_log(a, b, M, 2e-3, stopThr=1e-14, numItermax=200000)
    assert res.success
    np.testing.assert_allclose(res.plan, P, atol=1e-9)


def test_auto_chooses_and_says(problem):
    a, b, M = problem
    big = sinkhorn(a, b, M, 0.1)
    small = sinkhorn(a, b, M, 1e-3, tol=1e-8)
    assert big.method == "kernel" and "chose 'kernel'" in big.message
    assert small.method == "log" and "chose 'log'" in small.message and small.success


def test_kernel_mode_underflow_is_not_silent(problem):
    a, b, M = problem
    res = sinkhorn(a, b, M, 1e-4, method="kernel", maxiter=200)
    assert not res.success
    assert res.status in (numopt.Status.NONFINITE, numopt.Status.MAXITER)


def test_small_reg_approaches_emd(problem):
    a, b, M = problem
    exact = emd(a, b, M)
    res = sinkhorn(a, b, M, 1e-4, method="log", tol=1e-8)
    assert res.success
    assert exact.cost <= res.cost <= exact.cost + 5e-3 * max(exact.cost, 1e-3)


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_batched_sinkhorn_stops_each_problem(problem, method):
    a, b, M = problem
    rng = np.random.default_rng(1)
    A = rng.uniform(0.5, 1.5, (3, a.size))
    A /= A.sum(axis=1, keepdims=True)
    A[0] = a
    res = sinkhorn(A, b, M, 0.05, method=method, tol=1e-10)
    assert res.success and res.plan.shape == (3, a.size, b.size)
    assert res.converged.all()
    for p in range(3):
        single = sinkhorn(A[p], b, M, 0.05, method=method, tol=1e-10)
        np.testing.assert_allclose(res.plan[p], single.plan, atol=1e-13)
        assert res.nit_per_problem[p] == single.nit
    assert res.marginal_error.shape == (3,) and (res.marginal_error <= 1e-10).all()


@pytest.mark.parametrize("reg", [1e-1, 1e-2, 1e-3])
def test_sns_matches_log_sinkhorn(reg):
    a, b, M = random_ot_problem(60, weights="random", seed=2)
    res = sinkhorn(a, b, M, reg, method="sns", tol=1e-9)
    ref = sinkhorn(a, b, M, reg, method="log", tol=1e-11)
    assert res.success and res.marginal_error <= 1e-9
    assert np.isfinite(res.plan).all()
    np.testing.assert_allclose(res.plan, ref.plan, atol=1e-9)


def test_sns_reports_non_convergence():
    a, b, M = random_ot_problem(60, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # rejected line-search trials overflow quietly
        res = sinkhorn(a, b, M, 1e-4, method="sns", tol=1e-12, maxiter=5, warmup_maxiter=3)
    assert not res.success and "marginal error" in res.message
    assert np.all(np.isfinite(res.plan)) and np.isfinite(res.fun)


@pytest.mark.parametrize("reg", [1e-1, 1e-4])
def test_sns_never_iterates_past_maxiter(reg):
    # Sinkhorn fallbacks run ten iterations at a time, and the map after a warm-up cut
    # short one more: none of them may take nit past maxiter
    a, b, M = random_ot_problem(60, seed=2)
    for maxiter in (1, 2, 5, 8, 13):
        res = sinkhorn(a, b, M, reg, method="sns", tol=1e-12, maxiter=maxiter,
                       warmup_maxiter=3)
        assert res.nit <= maxiter and res.status == numopt.Status.MAXITER
        assert res.nit == res.nit_warmup + res.nit_newton + res.nit_sinkhorn_fallback
        assert np.all(np.isfinite(res.plan))


def test_sns_recovers_from_a_warmup_cut_short():
    # warmup_maxiter stops the warm-up in an early epsilon stage, whose potentials would
    # overflow at the target reg: one log-domain iteration at that reg maps them back.
    a, b, M = random_ot_problem(60, seed=2)
    res = sinkhorn(a, b, M, 1e-4, method="sns", warmup_maxiter=3)
    assert res.success, res.message
    assert marginal_error(res.plan, a, b) <= 1e-9
    assert res.nit_warmup == 4


def test_emd_matches_pot_with_dual_certificate(problem):
    a, b, M = problem
    res = emd(a, b, M)
    P = ot.emd(a, b, M)
    assert res.success
    assert res.cost == pytest.approx(np.sum(P * M), abs=1e-12)
    assert res.marginal_error <= 1e-12
    # weak duality holds with equality: <f,a> + <g,b> = cost and f_i + g_j <= M_ij
    assert (res.f[:, None] + res.g[None, :] - M).max() <= 1e-12
    assert res.f @ a + res.g @ b == pytest.approx(res.cost, abs=1e-12)


@pytest.mark.parametrize("cost_units, mass_units", [(1e300, 1.0), (1e-300, 1.0), (1.0, 1e-300),
                                                     (1e200, 1e100)])
def test_emd_does_not_depend_on_units(problem, cost_units, mass_units):
    # emd solves in units where the cost range and the mass are O(1) (exact
    # power-of-two scalings): the artificial cost cannot overflow near 1e300
    a, b, M = problem
    unit = emd(a, b, M, dense=True)
    res = emd(a * mass_units, b * mass_units, M * cost_units, dense=True)
    assert res.success, res.message
    np.testing.assert_allclose(res.plan / mass_units, unit.plan, rtol=1e-12, atol=1e-15)
    # potentials are sums of costs along tree paths: rounding relative to max|M| = 1
    np.testing.assert_allclose(res.f / cost_units, unit.f, rtol=1e-12, atol=1e-13)
    assert res.cost / cost_units / mass_units == pytest.approx(unit.cost, rel=1e-12)


def test_emd_assignment_path_has_certificate():
    a, b, M = random_ot_problem(30, seed=4)
    res = emd(a, b, M)
    assert res.cost == pytest.approx(np.sum(ot.emd(a, b, M) * M), abs=1e-12)
    assert (res.f[:, None] + res.g[None, :] - M).max() <= 1e-12
    assert res.f @ a + res.g @ b == pytest.approx(res.cost, abs=1e-12)


def test_sparse_ot_k1_recovers_emd():
    a, b, M = random_ot_problem(50, seed=5)
    res = sparse_ot(a, b, M, 1)
    assert res.success and res.max_nnz_per_column == 1
    assert res.cost == pytest.approx(emd(a, b, M).cost, abs=1e-12)


@pytest.mark.parametrize("formulation", ["semi_dual", "dual"])
@pytest.mark.parametrize("k", [2, 5])
def test_sparse_ot_is_feasible_and_sparse(formulation, k):
    a, b, M = random_ot_problem(60, seed=6)
    res = sparse_ot(a, b, M, k, formulation=formulation)
    assert res.success, res.message
    plan = res.plan
    assert plan.format == "csr"
    assert np.diff(plan.tocsc().indptr).max() <= k
    assert marginal_error(plan, a, b) <= 1e-6
    assert (plan.data >= 0).all()
    assert res.cost >= emd(a, b, M).cost - 1e-12


@pytest.mark.parametrize("gamma", [1.0, 0.1])
def test_quadratic_ot_matches_pot(gamma):
    a, b, M = random_ot_problem(30, 25, weights="random", seed=7)
    res = quadratic_ot(a, b, M, gamma)
    P = ot.smooth.smooth_ot_dual(a, b, M, gamma, reg_type="l2", stopThr=1e-12,
                                 numItermax=10000)
    assert res.success
    np.testing.assert_allclose(res.plan.toarray(), P, atol=2e-5)
    assert res.marginal_error <= 1e-6


@pytest.mark.parametrize("formulation", ["semi_dual", "dual"])
def test_sparse_ot_with_zero_weights(formulation):
    a, b, M = random_ot_problem(30, 25, weights="random", seed=7)
    a, b = a.copy(), b.copy()
    a[:4], b[:3] = 0.0, 0.0           # the semi-dual divided by these weights
    a, b = a / a.sum(), b / b.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # POT's L-BFGS-B options
        P = ot.smooth.smooth_ot_dual(a, b, M, 1.0, reg_type="l2", stopThr=1e-12,
                                     numItermax=10000)
    res = quadratic_ot(a, b, M, 1.0, formulation=formulation, tol=1e-9)
    assert res.success, res.message
    plan = res.plan.toarray()
    np.testing.assert_allclose(plan, P, atol=2e-5)
    assert np.all(plan[:4] == 0) and np.all(plan[:, :3] == 0)
    assert res.marginal_error <= 1e-9
    # the potentials of the empty lines certify them: max(f_i + g_j - M_ij, 0) = 0
    assert np.all(np.isfinite(res.f)) and np.all(np.isfinite(res.g))
    assert (res.f[:4, None] + res.g[None, :] - M[:4]).max() <= 1e-12
    assert (res.f[:, None] + res.g[None, :3] - M[:, :3]).max() <= 1e-12
    sparse = sparse_ot(a, b, M, 2, formulation=formulation)
    assert np.all(sparse.plan.toarray()[:4] == 0) and sparse.max_nnz_per_column <= 2


@pytest.mark.parametrize("formulation", ["semi_dual", "dual"])
@pytest.mark.parametrize("mass_units, cost_units", [(1e-300, 1.0), (1e300, 1.0), (1.0, 1e300),
                                                     (1e100, 1e200)])
def test_quadratic_ot_does_not_depend_on_units(formulation, mass_units, cost_units):
    # P = s P' solves the problem with a = s a', M = c M' and gamma = gamma' c / s; masses
    # near 1e300 used to crash the semi-dual kernel and near 1e-300 to "converge" at once
    a, b, M = random_ot_problem(30, 25, weights="random", seed=7)
    unit = quadratic_ot(a, b, M, 1.0, formulation=formulation, tol=1e-10)
    res = quadratic_ot(a * mass_units, b * mass_units, M * cost_units,
                       cost_units / mass_units, formulation=formulation, tol=1e-10)
    assert res.success, res.message
    assert res.marginal_error <= 1e-12 * mass_units
    np.testing.assert_allclose(res.plan.toarray() / mass_units, unit.plan.toarray(),
                               atol=1e-7)
    assert res.cost / mass_units / cost_units == pytest.approx(unit.cost, rel=1e-7)


@pytest.mark.parametrize("bad, match", [
    (dict(a=[-0.5, 1.0, 0.5]), r"\ba\b"),
    (dict(b=[0.5, 0.6, 0.5]), r"\bb\b.*mass|same total mass"),
    (dict(M=[[0, 1, np.nan], [1, 0, 1], [1, 1, 0]]), r"\bM\b"),
    (dict(M=np.ones((3, 2))), r"\bb\b"),
    (dict(reg=0.0), r"\breg\b"),
    (dict(reg=-1.0), r"\breg\b"),
])
def test_sinkhorn_bad_input(bad, match):
    args = dict(a=[1 / 3] * 3, b=[1 / 3] * 3, M=np.eye(3), reg=0.1)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        sinkhorn(args["a"], args["b"], args["M"], args["reg"])


def test_sparse_ot_bad_k():
    with pytest.raises(ValueError, match=r"\bk\b"):
        sparse_ot(None, None, np.eye(3), 0)


def test_float32_stays_float32(problem):
    a, b, M = (x.astype(np.float32) for x in problem)
    res = sinkhorn(a, b, M, 0.05, method="log", tol=1e-5)
    assert res.success and res.plan.dtype == np.float32 and res.f.dtype == np.float32


@pytest.mark.parametrize("method", ["kernel", "log", "sns"])
def test_zero_weights_give_zero_rows(problem, method):
    a, b, M = problem
    a, b = a.copy(), b.copy()
    a[:5] = 0.0
    b[-3:] = 0.0
    a /= a.sum()
    b /= b.sum()
    reg = 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero weights are valid: no divide-by-zero noise
        res = sinkhorn(a, b, M, reg, method=method, tol=1e-10)
    assert res.success, res.message
    assert np.all(res.plan[:5] == 0) and np.all(res.plan[:, -3:] == 0)
    assert np.all(res.f[:5] == -np.inf) and np.all(res.g[-3:] == -np.inf)
    assert marginal_error(res.plan, a, b) <= 1e-10
    # the objective, from the plan itself: <P, M> + reg * sum P (log P - 1)
    P = res.plan[res.plan > 0]
    expected = np.sum(res.plan * M) + reg * np.sum(P * (np.log(P) - 1.0))
    assert res.fun == pytest.approx(expected, rel=1e-9)


def test_kernel_mode_refuses_a_kernel_that_underflows(problem):
    a, b, M = problem
    with pytest.raises(ValueError, match="method='kernel' cannot.*underflows.*method='log'"):
        sinkhorn(a, b, M * 1e6, 1e-2, method="kernel")
    res = sinkhorn(a, b, M * 1e6, 1e-2, maxiter=200)   # auto takes the log domain
    assert res.method == "log" and np.all(np.isfinite(res.plan))


def test_run_stopped_in_epsilon_scaling_returns_that_stage_plan(problem):
    a, b, M = problem
    full = sinkhorn(a, b, M, 1e-3, method="log")
    stage_regs = []
    for maxiter in (2, 3, 6, 12):
        res = sinkhorn(a, b, M, 1e-3, method="log", maxiter=maxiter)
        assert not res.success and "epsilon scaling: the plan is that of reg" in res.message
        reg = float(res.message.rsplit("reg = ", 1)[1].rstrip(")"))
        assert reg > 1e-3
        stage_regs.append(reg)
        # the plan of the potentials held, at their own reg: nearly feasible, not empty
        assert res.marginal_error == pytest.approx(marginal_error(res.plan, a, b))
        assert res.marginal_error < 0.5
        np.testing.assert_allclose(
            res.plan, np.exp((res.f[:, None] + res.g[None, :] - M) / reg), rtol=1e-12)
    assert stage_regs == sorted(stage_regs, reverse=True) and full.success


@pytest.mark.parametrize("method", ["kernel", "log", "sns"])
@pytest.mark.parametrize("mass", [1e-20, 1e20])
def test_tol_is_relative_to_the_mass(problem, method, mass):
    # an absolute tol was met at once by masses near 1e-20 (a plan 30% off reported as
    # success) and never by masses near 1e20
    a, b, M = problem
    unit = sinkhorn(a, b, M, 1e-2, method=method, tol=1e-9)
    res = sinkhorn(a * mass, b * mass, M, 1e-2, method=method, tol=1e-9)
    assert res.success, res.message
    assert marginal_error(res.plan, a * mass, b * mass) <= 1e-9 * mass
    np.testing.assert_allclose(res.plan / mass, unit.plan, atol=1e-9)
    assert abs(res.nit - unit.nit) <= 2


@pytest.mark.parametrize("method", ["kernel", "log", "sns"])
@pytest.mark.parametrize("units", [1e-300, 1e300])
def test_sinkhorn_does_not_depend_on_cost_units(problem, method, units):
    # (M, reg) -> (c M, c reg) leaves the plan alone and scales the potentials; SNS's
    # Newton system used to carry a 1/reg factor that overflowed CG at reg near 1e-302
    a, b, M = problem
    unit = sinkhorn(a, b, M, 1e-2, method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = sinkhorn(a, b, M * units, 1e-2 * units, method=method)
    assert res.success, res.message
    assert res.nit == unit.nit
    np.testing.assert_allclose(res.plan, unit.plan, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.f / units, unit.f, rtol=0, atol=1e-12)


def test_unconverged_message_quotes_the_returned_marginal_error(problem):
    a, b, M = (x.astype(np.float32) for x in problem)
    res = sinkhorn(a, b, M, 1e-2, method="log", tol=1e-12, maxiter=300)
    assert not res.success
    relative = res.marginal_error / float(a.sum())
    assert f"The L1 marginal error is {relative:.3g} times the mass > tol" in res.message


def test_quadratic_ot_at_tiny_gamma_is_exact_ot(problem):
    a, b, M = problem
    res = quadratic_ot(a, b, M, 1e-10)
    assert res.success, res.message
    assert res.marginal_error <= 1e-9
    assert res.cost == pytest.approx(emd(a, b, M).cost, rel=1e-9)


def test_reference_path_agrees_on_small_reg(problem):
    from numopt import config_context

    a, b, M = problem
    fast = sinkhorn(a, b, M, 1e-3, method="log", tol=1e-9)
    with config_context(kernels="reference"):
        ref = sinkhorn(a, b, M, 1e-3, method="log", tol=1e-9)
    # the two paths round differently, so the iteration that first meets tol may
    # differ by one on another NumPy/BLAS build
    assert fast.success and ref.success
    assert abs(fast.nit - ref.nit) <= 2
    np.testing.assert_allclose(fast.plan, ref.plan, atol=1e-12)


@pytest.mark.parametrize("formulation", ["semi_dual", "dual"])
def test_sparse_ot_cut_by_maxiter_reports_maxiter(formulation):
    # a plan that cannot be rounded after one iteration was reported STALLED, hiding
    # that the budget ran out; maxiter=0 ran one L-BFGS iteration (nit=1)
    a, b, M = random_ot_problem(20, 15)
    for maxiter in (0, 1):
        res = sparse_ot(a, b, M, 2, formulation=formulation, maxiter=maxiter)
        assert res.nit == maxiter and res.status == 1 and not res.success
        assert "No feasible plan" in res.message


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_float32_below_its_reach_stops_as_stalled(method):
    # tol=1e-9 is below float32's floor (about 2e-7 of the mass here): the error wanders
    # there, and the run used to go on to maxiter=10000
    a, b, M = random_ot_problem(200, dtype=np.float32)
    res = sinkhorn(a, b, M, 0.05, method=method)
    assert not res.success and res.status == 4 and res.nit < 1000
    assert "rounding floor in float32" in res.message
    assert float(res.marginal_error) < 1e-6 and np.all(np.isfinite(res.plan))
    batch = sinkhorn(np.stack([a, a]), np.stack([b, b]), M, 0.05, method=method)
    assert batch.status == 4 and batch.nit < 1000


@pytest.mark.parametrize("method", ["kernel", "log", "sns"])
def test_masses_within_tolerance_are_made_equal(method):
    # masses 3e-7 apart are accepted (the tolerance is 1e-6), but no plan has an L1
    # marginal error below that gap: tol=1e-9 ran to maxiter; b is now scaled to a's mass
    a, b, M = random_ot_problem(60, weights="random")
    b_off = b * (1 + 3e-7)
    res = sinkhorn(a, b_off, M, 0.05, method=method, maxiter=2000)
    assert res.success and res.nit < 500, res.message
    np.testing.assert_allclose(res.plan.sum(axis=0), b, rtol=0, atol=1e-9)
    assert emd(a, b_off, M).marginal_error < 1e-12


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_success_means_the_returned_plan_meets_tol(method):
    # the frozen pair's error is measured before its plan is formed: in float32 plans
    # with a marginal error of 3e-7 were reported converged at tol = 1e-7
    for n in (30, 100, 300):
        a, b, M = random_ot_problem(n, weights="random", dtype=np.float32)
        res = sinkhorn(a, b, M, 0.02, method=method, tol=1e-7)
        assert res.success == (float(res.marginal_error) <= 1e-7 * float(a.sum()))
        assert res.success or res.status == 4


@pytest.mark.parametrize("method", ["kernel", "log", "sns"])
def test_result_plan_is_x_one_array_to_ship(method):
    # x and plan used to be two views of one batched array: a pickled result (what a
    # map_problems worker sends back) carried the plan twice
    import pickle

    a, b, M = random_ot_problem(30, seed=0)
    res = numopt.ot.sinkhorn(a, b, M, 0.1, method=method, tol=1e-8)
    assert res.x is res.plan
    assert len(pickle.dumps(res)) < 1.2 * res.plan.nbytes
