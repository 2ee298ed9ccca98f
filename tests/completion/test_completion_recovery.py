"""Recovery of random incoherent low-rank matrices, against the ground truth."""

import numpy as np
import pytest
import scipy.sparse as sp

from numopt.completion import complete
from numopt.problems import random_low_rank_completion


@pytest.fixture(scope="module")
def problem():
    return random_low_rank_completion(200, 150, rank=4, rate=0.2, seed=3)


SOLVERS = [("altmin", {"row_solver": "sketched"}), ("altmin", {}), ("als", {})]


@pytest.mark.parametrize("method, options", SOLVERS)
def test_exact_recovery_sparse_input(problem, method, options):
    res = complete(problem.observed, 4, method=method, tol=1e-11, seed=0, **options)
    assert res.success, res.message
    assert res.row_solver == options.get("row_solver", "exact")  # rank 4: auto is exact
    assert problem.relative_error(res.U, res.V) < 1e-6
    # U has orthonormal columns; x is U.
    np.testing.assert_allclose(res.U.T @ res.U, np.eye(4), atol=1e-10)
    assert res.x is res.U
    assert res.rmse < 1e-8 and isinstance(res.rmse, float)


def test_exact_recovery_softimpute_easy_regime():
    # shrinkage=0: the fixed points with the rank cap are the rank-3 interpolants
    prob = random_low_rank_completion(80, 60, rank=3, rate=0.5, seed=4)
    res = complete(prob.observed, 3, method="softimpute", shrinkage=0.0, tol=1e-11, seed=0)
    assert res.success, res.message
    assert res.fixed_point_residual <= 1e-11
    assert prob.relative_error(res.U, res.V) < 1e-6


def test_three_methods_agree_in_easy_regime():
    prob = random_low_rank_completion(70, 50, rank=3, rate=0.5, seed=5)
    completions = []
    for method, options in SOLVERS + [("softimpute", {"shrinkage": 0.0})]:
        res = complete(prob.observed, 3, method=method, tol=1e-12, seed=1, **options)
        assert res.success, (method, res.message)
        completions.append(res.U @ res.V.T)
    scale = np.abs(prob.dense()).max()
    for other in completions[1:]:
        np.testing.assert_allclose(other, completions[0], atol=1e-7 * scale)
    np.testing.assert_allclose(completions[0], prob.dense(), atol=1e-7 * scale)


def test_row_solver_auto_sketches_from_rank_32():
    from numopt.completion._altmin import SKETCH_MIN_RANK

    prob = random_low_rank_completion(90, 80, rank=SKETCH_MIN_RANK, rate=0.9, seed=11)
    high = complete(prob.observed, SKETCH_MIN_RANK, maxiter=1, seed=0)
    low = complete(prob.observed, SKETCH_MIN_RANK - 1, maxiter=1, seed=0)
    assert high.row_solver == "sketched" and high.n_inner > 0
    assert low.row_solver == "exact" and "n_inner" not in low


def test_sketch_options_without_the_sketch_warn(problem):
    from numopt.exceptions import OptimizeWarning

    with pytest.warns(OptimizeWarning, match=r"inner_tol have no effect.*row_solver='auto'"):
        complete(problem.observed, 4, inner_tol=0.3, maxiter=1, seed=0)
    with pytest.warns(OptimizeWarning, match=r"sketch_factor have no effect.*'exact'"):
        complete(problem.observed, 4, row_solver="exact", sketch_factor=2.0, maxiter=1)


def test_altmin_with_exact_rows_is_als(problem):
    a = complete(problem.observed, 4, method="altmin", row_solver="exact", tol=1e-10, seed=3)
    b = complete(problem.observed, 4, method="als", tol=1e-10, seed=3)
    assert a.nit == b.nit
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.V, b.V)


def test_dense_nan_input_equals_sparse_input(problem):
    a = complete(problem.observed, 4, tol=1e-10, seed=2)
    b = complete(problem.dense_with_nan(), 4, tol=1e-10, seed=2)
    np.testing.assert_allclose(a.U @ a.V.T, b.U @ b.V.T, rtol=0, atol=1e-12)


def test_explicit_zero_is_an_observation():
    prob = random_low_rank_completion(60, 50, rank=2, rate=0.5, seed=6)
    M = prob.observed.copy()
    k = 7
    M.data[k] = 0.0  # a stored zero is an observed zero, not a missing entry
    clean = complete(prob.observed, 2, method="als", tol=1e-12, maxiter=50, seed=0)
    res = complete(M, 2, method="als", tol=1e-12, maxiter=50, seed=0)
    assert clean.rmse < 1e-9
    assert res.rmse > 1e-4  # the stored zero was fitted as data, and rank 2 cannot match it
    M.eliminate_zeros()     # dropping it makes the entry missing again: exact fit
    again = complete(M, 2, method="als", tol=1e-12, maxiter=50, seed=0)
    assert again.rmse < 1e-9


@pytest.mark.parametrize("options", [{"sample_splits": 2}, {"clip": 2.0},
                                     {"sketch_factor": 1.5, "inner_tol": 0.5}])
def test_altmin_options_still_recover(options):
    prob = random_low_rank_completion(200, 200, rank=3, rate=0.25, seed=7)
    res = complete(prob.observed, 3, tol=1e-11, seed=0, row_solver="sketched", **options)
    assert res.success, res.message
    assert res.n_inner > 0
    assert prob.relative_error(res.U, res.V) < 1e-6


@pytest.mark.parametrize("row_solver", ["sketched", "exact"])
def test_float32_preserved_and_accurate(problem, row_solver):
    M = problem.observed.astype(np.float32)
    res = complete(M, 4, tol=1e-5, seed=0, row_solver=row_solver)
    assert res.U.dtype == np.float32 and res.V.dtype == np.float32
    assert problem.relative_error(res.U, res.V) < 1e-3


@pytest.mark.parametrize("method, options", [("altmin", {}), ("als", {}),
                                             ("softimpute", {"shrinkage": 0.0})])
def test_float32_default_tol_stalls_at_the_rounding_floor(method, options):
    # tol=1e-8 is below float32's reach: the relative residual ends near 3e-7 and
    # wanders there. That used to be reported as success (30x tol); SoftImpute used to
    # wander there until maxiter. Now the run stops soon, unsuccessful, and says why.
    prob = random_low_rank_completion(200, rank=5, rate=0.2, seed=0)
    res = complete(prob.observed.astype(np.float32), 5, method=method, seed=0, **options)
    assert not res.success and res.status == 4, res.message     # STALLED
    assert "rounding floor of float32" in res.message
    measure = res.get("fixed_point_residual", res.relative_residual)
    assert 1e-8 < measure < 1e-5
    assert res.nit < 600 and res.relative_residual < 1e-5
    assert prob.relative_error(res.U, res.V) < 1e-4
    # the same fit with a tol float32 can meet is a success
    loose = complete(prob.observed.astype(np.float32), 5, method=method, seed=0, tol=1e-5,
                     **options)
    assert loose.success, loose.message


@pytest.mark.parametrize("method", ["altmin", "als", "softimpute"])
@pytest.mark.parametrize("maxiter", [0, 2])
def test_message_quotes_the_reported_residual(method, maxiter):
    # at maxiter=0 the message said "residual inf ... and still decreasing" while the
    # result reported the spectral start's residual
    prob = random_low_rank_completion(40, 30, rank=2, rate=0.5, seed=0)
    res = complete(prob.observed, 2, method=method, maxiter=maxiter, seed=0)
    assert not res.success
    measure = res.get("fixed_point_residual", res.relative_residual)
    assert f"residual {measure:.3g} > tol" in res.message
    assert ("still decreasing" in res.message) == (maxiter > 0)


def test_noisy_data_stops_at_stationary_fit():
    # The fit stops improving at the noise level, far above tol: that used to be
    # reported as success. It is a stall, and the message says so.
    prob = random_low_rank_completion(120, 100, rank=3, rate=0.4, seed=8)
    noisy = prob.observed.copy()
    noisy.data += 1e-3 * np.random.default_rng(0).standard_normal(noisy.nnz)
    res = complete(noisy, 3, method="als", tol=1e-6, seed=0)
    assert not res.success and res.status == 4 and res.relative_residual > 1e-4
    assert f"stopped decreasing at {res.relative_residual:.3g}" in res.message
    assert "stationary fit" in res.message
    assert prob.relative_error(res.U, res.V) < 1e-2
    # a tol above the noise level is met by the same fit
    loose = complete(noisy, 3, method="als", tol=1e-2, seed=0)
    assert loose.success and loose.relative_residual <= 1e-2


def test_maxiter_reported_as_failure(problem):
    res = complete(problem.observed, 4, tol=1e-14, maxiter=2, seed=0)
    assert not res.success and res.status == 1
    assert "residual" in res.message


def test_callback_sees_decreasing_residual(problem):
    seen = []
    complete(problem.observed, 4, method="als", tol=1e-10, seed=0,
             callback=lambda intermediate_result: seen.append(
                 intermediate_result.relative_residual))
    assert len(seen) > 3 and seen[-1] < 1e-6 * seen[0]


def test_sparse_input_is_never_densified():
    import tracemalloc

    # 10000 x 10000 would be 800 MB dense; the observations take a few MB.
    prob = random_low_rank_completion(10000, rank=2, n_observed=300_000, seed=9)
    tracemalloc.start()
    res = complete(prob.observed, 2, method="als", tol=1e-8, maxiter=30, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6, peak
    assert res.success, res.message
    sample = np.random.default_rng(0).integers(0, 10000, (2, 1000))
    truth = np.einsum("ij,ij->i", prob.U_true[sample[0]], prob.V_true[sample[1]])
    pred = np.einsum("ij,ij->i", res.U[sample[0]], res.V[sample[1]])
    assert np.linalg.norm(pred - truth) < 1e-4 * np.linalg.norm(truth)


def test_softimpute_fixed_shrinkage_matches_closed_form():
    # Fully observed: SoftImpute's fixed point is the soft-thresholded SVD of M.
    rng = np.random.default_rng(10)
    M = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30)) + 0.1 * rng.standard_normal((40, 30))
    lam = 1.0
    res = complete(M, 3, method="softimpute", shrinkage=lam, tol=1e-13, maxiter=2000, seed=0)
    assert res.success, res.message
    u, s, vt = np.linalg.svd(M)
    expected = (u[:, :3] * np.maximum(s[:3] - lam, 0)) @ vt[:3]
    np.testing.assert_allclose(res.U @ res.V.T, expected, atol=1e-8)
    np.testing.assert_allclose(res.singular_values, s[:3] - lam, rtol=1e-9)


@pytest.mark.parametrize("method", ["altmin", "als", "softimpute"])
@pytest.mark.parametrize("units", [1e-200, 1e200])
def test_result_does_not_depend_on_the_units_of_M(method, units):
    # Squares of 1e200 overflow and of 1e-200 underflow, and the single-precision
    # spectral start covers only 1e+-38: M is normalized by a power of two internally.
    prob = random_low_rank_completion(70, 50, rank=3, rate=0.5, seed=5)
    unit = complete(prob.observed, 3, method=method, tol=1e-11, seed=0)
    scaled = complete(prob.observed * units, 3, method=method, tol=1e-11, seed=0)
    assert scaled.success, scaled.message
    assert scaled.nit == unit.nit
    np.testing.assert_allclose(scaled.U, unit.U, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaled.V / units, unit.V, rtol=1e-9, atol=1e-12)
    # (both are rounding-level: 1e+-200 is no power of two, so M's rounding differs)
    assert abs(scaled.rmse / units - unit.rmse) < 1e-10
    if method != "softimpute":   # its default shrinkage is a regularized fit
        assert prob.relative_error(scaled.U, scaled.V / units) < 1e-6


def test_softimpute_shrinkage_is_in_the_units_of_M():
    rng = np.random.default_rng(10)
    M = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30)) + 0.1 * rng.standard_normal((40, 30))
    units = 2.0 ** -700 * 3.0
    res = complete(M * units, 3, method="softimpute", shrinkage=1.0 * units, tol=1e-13,
                   maxiter=2000, seed=0)
    u, s, vt = np.linalg.svd(M)
    np.testing.assert_allclose(res.singular_values / units, s[:3] - 1.0, rtol=1e-9)
    assert res.shrinkage == pytest.approx(units)
