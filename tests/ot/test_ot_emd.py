"""numopt.ot.emd (network simplex), emd_1d and wasserstein_1d against POT, SciPy's HiGHS
on the transport LP, and the LP certificate (feasible plan, feasible duals, no gap)."""

import numpy as np
import pytest
import scipy.optimize as so

import numopt.ot as not_
from numopt.ot import emd
from numopt.problems._ot import random_ot_problem

ot = pytest.importorskip("ot")


def dense(P):
    return P.toarray() if hasattr(P, "toarray") else np.asarray(P)


def certificate(res, a, b, M):
    """The optimality certificate recomputed here from the returned arrays: L1 marginal
    error, dual violation, complementary-slackness violation on the support, gap."""
    P = dense(res.plan)
    cost = float(np.sum(P * M))
    slack = M - res.f[:, None] - res.g[None, :]
    return {"marginal": np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum(),
            "dual": max(-slack.min(), 0.0),
            "slackness": np.abs(slack[P > 0]).max(initial=0.0),
            "gap": abs(res.f @ a + res.g @ b - cost), "cost": cost,
            "negative": max(-P.min(), 0.0), "nnz": int(np.count_nonzero(P))}


def linprog_cost(a, b, M):
    """HiGHS on the transport LP: the oracle (not scaled, small well-scaled problems)."""
    n, m = M.shape
    A = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    res = so.linprog(M.ravel(), A_eq=A, b_eq=np.concatenate([a, b]), bounds=(0, None),
                     method="highs")
    assert res.status == 0
    return res.fun


def gaussian_histograms(n, m1, s1, m2, s2):
    x = np.arange(n, dtype=np.float64)
    a = ot.datasets.make_1D_gauss(n, m=m1, s=s1)
    b = ot.datasets.make_1D_gauss(n, m=m2, s=s2)
    return a, b, ot.dist(x[:, None], x[:, None])


def assert_certified(res, a, b, M, rtol=1e-12):
    c = certificate(res, a, b, M)
    scale = np.abs(M).max() * a.sum()
    assert res.success, res.message
    assert c["negative"] == 0.0
    assert c["nnz"] <= sum(M.shape) - 1
    assert c["marginal"] <= rtol * a.sum()
    assert c["dual"] <= rtol * np.abs(M).max()
    assert c["slackness"] <= rtol * np.abs(M).max()
    assert c["gap"] <= rtol * scale
    assert res.cost == pytest.approx(c["cost"], rel=1e-13, abs=1e-300)
    return c


# ---- the four failures of the HiGHS path (issue 16, item 1) ----

def test_costs_spanning_1e8_are_solved_exactly():
    # HiGHS on M / max|M| returned cost 1.5 with success; the optimum is 0.9
    a, b = np.array([0.3, 0.3, 0.4]), np.array([0.4, 0.3, 0.3])
    M = np.array([[1.0, 2.0, 1e8], [2.0, 1.0, 1e8], [3.0, 5.0, 0.0]])
    res = emd(a, b, M)
    assert res.cost == pytest.approx(0.9, rel=1e-14)
    assert_certified(res, a, b, M)


@pytest.mark.parametrize("seed", range(4))
def test_random_costs_spanning_1e8_match_pot(seed):
    rng = np.random.default_rng(seed)
    n, m = 12, 9
    a, b = rng.random(n), rng.random(m)
    a, b = a / a.sum(), b / b.sum()
    M = rng.random((n, m)) * 5
    M[rng.random((n, m)) < 0.3] = 1e8
    res = emd(a, b, M)
    assert res.cost == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-12)
    assert_certified(res, a, b, M)


@pytest.mark.parametrize("seed", [0, 1])
def test_wide_cost_range_keeps_reduced_costs_tight(seed):
    # the potentials carry the artificial cost; at (min(n, m) + 1) * range it made the
    # pivot threshold about 1e-12 of max|M| (reduced costs to -1e-4 left for costs up to
    # 1e8, cost 1e-4 relative above the optimum); the artificial cost now starts at
    # twice the range and rises only while mass goes through the root
    rng = np.random.default_rng(seed)
    n, m = 250, 200
    a, b = rng.random(n), rng.random(m)
    a, b = a / a.sum(), b / b.sum()
    M = rng.random((n, m))
    M[M > 0.9] = 1e8
    res = emd(a, b, M)
    assert_certified(res, a, b, M, rtol=1e-13)
    assert res.cost <= np.sum(ot.emd(a, b, M) * M) * (1 + 1e-12)


@pytest.mark.parametrize("others", [1, 3])
def test_row_of_tiny_weight_keeps_its_mass(others):
    # one target column: the only feasible plan is a itself; HiGHS dropped the 1.3e-7
    a = np.array([1.3e-7] + [(1 - 1.3e-7) / others] * others)
    b = np.array([1.0])
    M = np.arange(1.0, others + 2.0)[:, None]
    res = emd(a, b, M)
    np.testing.assert_allclose(dense(res.plan)[:, 0], a, rtol=1e-15, atol=0)
    assert_certified(res, a, b, M)


@pytest.mark.parametrize("n", [34, 41])
def test_gaussian_histograms_plan_is_nonnegative_with_exact_marginals(n):
    # HiGHS: plan entries down to -1.9e-7 and L1 marginal errors up to 3.5e-7, success
    a, b, M = gaussian_histograms(n, n / 3, n / 10, n / 2, n / 20)
    res = emd(a, b, M)
    c = assert_certified(res, a, b, M)
    assert c["cost"] == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-12)


@pytest.mark.parametrize("n", [100, 200])
def test_gaussian_histograms_beyond_100_points_are_feasible(n):
    # HiGHS's presolve declared these infeasible (success False, a zero plan)
    a, b, M = gaussian_histograms(n, 20, 5, 60, 10)
    res = emd(a, b, M)
    c = assert_certified(res, a, b, M)
    assert c["cost"] == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-12)


# ---- oracles and invariants ----

@pytest.mark.parametrize("weights", ["uniform", "random"])
@pytest.mark.parametrize("shape", [(30, 20), (7, 25), (1, 6), (6, 1)])
def test_matches_highs_and_pot(weights, shape):
    a, b, M = random_ot_problem(*shape, weights=weights, seed=sum(shape))
    res = emd(a, b, M)
    c = assert_certified(res, a, b, M)
    assert c["cost"] == pytest.approx(linprog_cost(a, b, M), rel=1e-9, abs=1e-12)
    assert c["cost"] == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-12, abs=1e-15)


def test_plan_is_sparse_by_default_and_dense_on_request():
    a, b, M = random_ot_problem(40, 30, weights="random", seed=1)
    res = emd(a, b, M)
    assert res.plan.format == "csr" and res.x is res.plan
    assert res.method == "network_simplex"
    full = emd(a, b, M, dense=True)
    assert isinstance(full.plan, np.ndarray)
    np.testing.assert_array_equal(full.plan, res.plan.toarray())
    with pytest.raises(TypeError, match="dense"):
        emd(a, b, M, dense="yes")


@pytest.mark.parametrize("case", ["square uniform", "integer ties", "rectangular uniform",
                                  "all equal costs"])
def test_degenerate_problems(case):
    rng = np.random.default_rng(7)
    if case == "square uniform":
        a, b, M = random_ot_problem(25, seed=3)
    elif case == "integer ties":
        a, b = np.full(20, 1 / 20), np.full(10, 1 / 10)
        M = rng.integers(0, 3, size=(20, 10)).astype(float)
    elif case == "rectangular uniform":
        a, b = np.full(30, 1 / 30), np.full(15, 1 / 15)
        M = rng.integers(0, 5, size=(30, 15)).astype(float) ** 2
    else:
        a, b, M = np.full(8, 1 / 8), np.full(6, 1 / 6), np.ones((8, 6))
    res = emd(a, b, M)
    c = assert_certified(res, a, b, M)
    assert c["cost"] == pytest.approx(linprog_cost(a, b, M), rel=1e-10, abs=1e-12)
    if case == "square uniform":  # a vertex of the Birkhoff polytope: a permutation
        assert c["nnz"] == 25 and np.count_nonzero(dense(res.plan), axis=0).max() == 1


def test_zero_weights_get_zero_rows_and_feasible_duals():
    a, b, M = random_ot_problem(20, 15, weights="random", seed=2)
    a[[0, 5, 19]] = 0.0
    b[[3, 14]] = 0.0
    a, b = a / a.sum(), b / b.sum()
    res = emd(a, b, M)
    assert_certified(res, a, b, M)
    P = dense(res.plan)
    assert not P[[0, 5, 19]].any() and not P[:, [3, 14]].any()
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all()
    assert res.cost == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-12)


def test_shift_of_costs_shifts_cost_only():
    a, b, M = random_ot_problem(25, 20, weights="random", seed=9)
    base = emd(a, b, M)
    shifted = emd(a, b, M - 3.0)
    assert shifted.cost == pytest.approx(base.cost - 3.0, rel=1e-12)
    assert_certified(shifted, a, b, M - 3.0)


def test_maxiter_reports_maxiter_and_the_plan_it_stopped_at():
    # a cut run still routes mass through the artificial root: its plan misses the
    # marginals, and the result says so in marginal_error
    a, b, M = random_ot_problem(30, 25, weights="random", seed=4)
    full = emd(a, b, M)
    res = emd(a, b, M, maxiter=5)
    assert res.status == 1 and not res.success and res.nit == 5
    assert "maxiter = 5" in res.message
    P = dense(res.plan)
    assert P.min() >= 0
    error = np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()
    assert res.marginal_error == pytest.approx(error, rel=1e-12) and error > 0.1
    assert emd(a, b, M, maxiter=full.nit).success


def test_multi_target_solves_each_problem():
    a, b, M = random_ot_problem(20, 15, weights="random", seed=5)
    rng = np.random.default_rng(0)
    B = rng.random((3, 15))
    B /= B.sum(1, keepdims=True)
    res = emd(a, B, M)
    assert res.success and res.converged.all() and len(res.plan) == 3
    assert res.f.shape == (3, 20) and res.g.shape == (3, 15) and res.cost.shape == (3,)
    assert res.nit == res.nit_per_problem.sum()
    for k in range(3):
        one = emd(a, B[k], M)
        assert res.cost[k] == one.cost
        np.testing.assert_array_equal(res.plan[k].toarray(), one.plan.toarray())
        assert res.cost[k] == pytest.approx(np.sum(ot.emd(a, B[k], M) * M), rel=1e-12)
    stacked = emd(a, B, M, dense=True)
    assert stacked.plan.shape == (3, 20, 15)


def test_float32_keeps_dtype_and_certifies_at_its_rounding():
    a, b, M = random_ot_problem(20, 15, weights="random", seed=6, dtype=np.float32)
    res = emd(a, b, M)
    assert res.success, res.message
    assert res.plan.dtype == np.float32 and res.f.dtype == np.float32
    ref = emd(a.astype(float), b.astype(float), M.astype(float))
    assert res.cost == pytest.approx(ref.cost, rel=1e-6)


def test_bad_input_is_named():
    a, b, M = random_ot_problem(5, 4)
    with pytest.raises(ValueError, match="b"):
        emd(a, b[:3], M)
    with pytest.raises(ValueError, match="same total mass"):
        emd(a, 2 * b, M)
    with pytest.raises(ValueError, match="maxiter"):
        emd(a, b, M, maxiter=-1)
    with pytest.raises(ValueError, match="tol"):
        emd(a, b, M, tol=0.0)


def test_seeded_sweep_never_reports_a_false_success():
    """Random problems of every kind (sizes, zero and tiny weights, cost ranges, ties,
    negative costs): each success is checked against the certificate recomputed here,
    and the cost against POT."""
    rng = np.random.default_rng(2026)
    successes = 0
    for trial in range(60):
        n, m = rng.integers(1, 40, size=2)
        a, b = rng.random(n), rng.random(m)
        if trial % 3 == 0:
            a[rng.random(n) < 0.2] = 0.0
            b[rng.random(m) < 0.2] = 0.0
        if trial % 4 == 1:
            a[rng.integers(n)] = 10.0 ** -rng.uniform(6, 12)
        if a.sum() == 0 or b.sum() == 0:
            continue
        a, b = a / a.sum(), b / b.sum()
        M = rng.random((n, m))
        unit = 1.0
        kind = trial % 5
        if kind == 1:
            M = np.floor(M * 4)
        elif kind == 2:
            M = 10.0 ** rng.uniform(-4, 8, size=(n, m))
        elif kind == 3:
            M = M - 0.5
        elif kind == 4:
            unit = 10.0 ** rng.uniform(-200, 200)
            M = M * unit
        res = emd(a, b, M)
        if not res.success:
            continue
        successes += 1
        c = certificate(res, a, b, M)
        tol = 1e-9
        top = np.abs(M).max()
        assert c["negative"] == 0.0 and c["nnz"] <= n + m - 1, trial
        assert c["marginal"] <= tol * a.sum(), trial
        assert c["dual"] <= tol * top and c["gap"] <= tol * top * a.sum(), trial
        assert c["slackness"] <= tol * top, trial
        # POT's pivot test has an absolute epsilon: it is asked in units of order 1
        pot = np.sum(ot.emd(a, b, M / unit, numItermax=10**6) * M)
        assert c["cost"] == pytest.approx(pot, rel=1e-9, abs=1e-9 * top), trial
    assert successes >= 50


# ---- emd_1d and wasserstein_1d ----

@pytest.mark.parametrize("metric, p", [("sqeuclidean", 1), ("euclidean", 1),
                                       ("cityblock", 1), ("minkowski", 1.5),
                                       ("minkowski", 3)])
def test_emd_1d_matches_pot_and_the_network_simplex(metric, p):
    rng = np.random.default_rng(3)
    x_a, x_b = rng.normal(size=40), rng.normal(1.0, 2.0, size=30)
    a, b = rng.random(40), rng.random(30)
    a, b = a / a.sum(), b / b.sum()
    res = not_.emd_1d(x_a, x_b, a, b, metric=metric, p=p)
    assert res.success and res.plan.format == "csr"
    P = dense(res.plan)
    assert P.min() >= 0 and np.count_nonzero(P) <= 69
    assert res.marginal_error <= 1e-14
    # POT's emd_1d prices "minkowski" as |x - y|**p (ot.dist would give |x - y| in 1-D)
    M = (np.abs(x_a[:, None] - x_b[None, :]) ** p if metric == "minkowski"
         else ot.dist(x_a[:, None], x_b[:, None], metric=metric))
    np.testing.assert_allclose(P, ot.emd_1d(x_a, x_b, a, b, metric=metric, p=p), atol=1e-15)
    assert res.cost == pytest.approx(ot.emd2_1d(x_a, x_b, a, b, metric=metric, p=p),
                                     rel=1e-12)
    assert res.cost == pytest.approx(np.sum(P * M), rel=1e-13)
    assert res.cost == pytest.approx(emd(a, b, M).cost, rel=1e-10)


def test_emd_1d_ties_zero_weights_and_columns():
    x_a = np.array([[0.0], [1.0], [1.0], [3.0]])
    x_b = np.array([2.0, 0.5, 0.5])
    a = np.array([0.25, 0.0, 0.5, 0.25])
    b = np.array([0.5, 0.25, 0.25])
    res = not_.emd_1d(x_a, x_b, a, b, dense=True)
    assert isinstance(res.plan, np.ndarray) and not res.plan[1].any()
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-16)
    np.testing.assert_allclose(res.plan.sum(0), b, atol=1e-16)
    M = ot.dist(x_a, x_b[:, None])
    assert res.cost == pytest.approx(np.sum(ot.emd(a, b, M) * M), rel=1e-14)


@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_wasserstein_1d_is_the_distance(p):
    rng = np.random.default_rng(4)
    x_a, x_b = rng.random(50), rng.random(35) + 0.3
    a, b = rng.random(50), rng.random(35)
    a, b = a / a.sum(), b / b.sum()
    w = not_.wasserstein_1d(x_a, x_b, a, b, p=p)
    assert isinstance(w, float)
    # POT returns W_p^p
    assert w == pytest.approx(ot.wasserstein_1d(x_a, x_b, a, b, p=p) ** (1 / p), rel=1e-12)
    if p == 1:
        import scipy.stats

        assert w == pytest.approx(scipy.stats.wasserstein_distance(x_a, x_b, a, b), rel=1e-12)


def test_1d_bad_input_is_named():
    with pytest.raises(ValueError, match="metric"):
        not_.emd_1d([0.0, 1.0], [1.0], metric="cosine")
    with pytest.raises(ValueError, match="p"):
        not_.wasserstein_1d([0.0, 1.0], [1.0], p=0.5)
    with pytest.raises(ValueError, match="x_a"):
        not_.emd_1d(np.zeros((3, 2)), [1.0])
    with pytest.raises(ValueError, match="x_b.shape"):
        not_.emd_1d([0.0, 1.0], [1.0], a=[0.5, 0.5], b=[0.5, 0.5])
    with pytest.raises(ValueError, match="x_a"):
        not_.wasserstein_1d([0.0, np.nan], [1.0])
