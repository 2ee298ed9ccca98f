"""What success means for ``complete``: the reported measure, recomputed here in float64
from the returned factors, meets tol (issue 16, item 3)."""

import warnings

import numpy as np
import pytest

from numopt.completion import complete
from numopt.exceptions import OptimizeWarning
from numopt.problems import random_low_rank_completion


def observed_relative_residual(M, U, V):
    M = M.tocoo()
    U, V = np.asarray(U, dtype=np.float64), np.asarray(V, dtype=np.float64)
    fit = np.einsum("ij,ij->i", U[M.row], V[M.col])
    data = M.data.astype(np.float64)
    return np.linalg.norm(fit - data) / np.linalg.norm(data)


def dense_softimpute_step(M, Z, shrinkage, rank):
    """One exact SoftImpute step from ``Z``: dense SVD of the filled matrix."""
    X = Z.copy()
    M = M.tocoo()
    X[M.row, M.col] = M.data
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    return (u[:, :rank] * np.maximum(s[:rank] - shrinkage, 0.0)) @ vt[:rank]


def fixed_point_residual(M, U, V, shrinkage, rank):
    Z = np.asarray(U, dtype=np.float64) @ np.asarray(V, dtype=np.float64).T
    M = M.astype(np.float64)
    return (np.linalg.norm(dense_softimpute_step(M, Z, shrinkage, rank) - Z)
            / np.linalg.norm(M.data))


CASES = [(80, 60, 3, 0.5, 0), (60, 50, 2, 0.3, 1)]


@pytest.mark.parametrize("method", ["altmin", "als", "softimpute"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5),
                                        (np.float32, 1e-8)])
def test_success_means_the_recomputed_measure_meets_tol(method, dtype, tol):
    # float32 with tol=1e-8 ended at the rounding floor (3e-7, 30x tol) and reported
    # success; now it ends STALLED.
    for m, n, k, rate, seed in CASES:
        prob = random_low_rank_completion(m, n, rank=k, rate=rate, seed=seed)
        M = prob.observed.astype(dtype)
        res = complete(M, k, method=method, tol=tol, seed=seed)
        if method == "softimpute":
            measure = fixed_point_residual(M, res.U, res.V, res.shrinkage, k)
            reported = res.fixed_point_residual
        else:
            measure = observed_relative_residual(M, res.U, res.V)
            reported = res.relative_residual
        assert measure == pytest.approx(reported, rel=1e-3, abs=1e-14)
        if res.success:
            assert measure <= tol * (1 + 1e-6), (method, measure, tol)
        else:
            assert res.status == 4 and measure > tol, res.message
    if dtype == np.float64 or tol == 1e-5:
        assert res.success, res.message     # reachable tolerances are met


def test_softimpute_default_reaches_the_standard_fixed_point():
    # The case: 500 x 10, rank 3, 25% missing, rank cap 10. The standard
    # SoftImpute (fancyimpute's default: shrinkage sigma_max / 50, full SVD, from zero)
    # has a missing-entry MAE near 0.1 at its fixed point; the old default path shrank
    # lambda to zero and reported success at MAE 1.08 (an interpolant of rank 10).
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((500, 3)) @ rng.standard_normal((10, 3)).T
    missing = rng.random(truth.shape) < 0.25
    M = np.where(missing, np.nan, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)   # rows with < 10 observations
        res = complete(M, 10, method="softimpute", seed=0)
    assert res.success, res.message
    fit = res.U @ res.V.T
    mae = np.abs(fit[missing] - truth[missing]).mean()
    assert mae < 0.2, mae
    # the independent reference: dense SoftImpute at sigma_max / 50 to its fixed point
    zero_filled = np.where(missing, 0.0, truth)
    shrinkage = np.linalg.norm(zero_filled, 2) / 50
    assert res.shrinkage == pytest.approx(shrinkage, rel=1e-3)
    Z = np.zeros_like(truth)
    for _ in range(3000):
        u, s, vt = np.linalg.svd(np.where(missing, Z, truth), full_matrices=False)
        Z, previous = (u * np.maximum(s - shrinkage, 0.0)) @ vt, Z
        if np.linalg.norm(Z - previous) < 1e-12 * np.linalg.norm(Z):
            break
    np.testing.assert_allclose(fit, Z, atol=1e-3 * np.abs(truth).max())


@pytest.mark.parametrize("shape", [(40, 30), (600, 450)])   # dense and ARPACK SVD
def test_softimpute_reports_the_exact_fixed_point_residual(shape):
    prob = random_low_rank_completion(*shape, rank=3, rate=0.3, seed=2)
    res = complete(prob.observed, 3, method="softimpute", maxiter=12, seed=0)
    assert not res.success and res.status == 1
    expected = fixed_point_residual(prob.observed, res.U, res.V, res.shrinkage, 3)
    assert 1e-6 < expected < 1
    assert res.fixed_point_residual == pytest.approx(expected, rel=1e-6)
    assert f"residual {res.fixed_point_residual:.3g} > tol" in res.message


def test_softimpute_huge_shrinkage_warns_that_the_solution_is_zero():
    # A shrinkage above the largest singular value of P_Omega(M) makes Z = 0 the exact
    # solution of the regularized problem (its fixed-point residual is 0). It used to be
    # reported as a silent success on the training residual's stall at 1.0.
    prob = random_low_rank_completion(40, 30, rank=2, rate=0.5, seed=0)
    sigma_max = np.linalg.norm(prob.observed.toarray(), 2)
    with pytest.warns(OptimizeWarning, match=r"shrinkage=.*zero matrix"):
        res = complete(prob.observed, 2, method="softimpute", shrinkage=2 * sigma_max)
    assert res.success and res.fixed_point_residual == 0.0
    assert not np.any(res.U @ res.V.T) and res.relative_residual == pytest.approx(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptimizeWarning)   # below sigma_max: no warning
        below = complete(prob.observed, 2, method="softimpute", shrinkage=0.5 * sigma_max,
                         tol=1e-10)
    assert below.success and np.any(below.singular_values)
    assert fixed_point_residual(prob.observed, below.U, below.V, below.shrinkage, 2) < 1e-9


@pytest.mark.parametrize("method", ["altmin", "als"])
def test_too_few_observations_warn_and_the_fill_stays_bounded(method):
    # 447 observations of a 60 x 50 rank-4 matrix, fewer than 2k(m+n-k) = 848: the fill
    # of the missing entries reached 270x the largest observation.
    prob = random_low_rank_completion(60, 50, rank=4, rate=0.15, seed=0)
    assert prob.observed.nnz < 848
    with pytest.warns(OptimizeWarning, match=r"fewer than 2k\(m\+n-k\) = 848"):
        res = complete(prob.observed, 4, method=method, seed=0)
    assert np.abs(res.U @ res.V.T).max() < 3 * np.abs(prob.values).max()
    # the caller's reg turns the automatic ridge off (and the fill grows again)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        plain = complete(prob.observed, 4, method=method, seed=0, reg=0.0)
    assert np.abs(plain.U @ plain.V.T).max() > 10 * np.abs(prob.values).max()


def test_too_few_observations_still_recovered_where_they_determine_the_matrix():
    # Below 2k(m+n-k) but recoverable: the ridge vanishes with the training residual,
    # so the fit still interpolates (plain ALS stalled at a residual of 0.03, error 70).
    prob = random_low_rank_completion(500, 10, rank=2, rate=0.2, seed=0)
    with pytest.warns(OptimizeWarning, match=r"fewer than 2k\(m\+n-k\) = 2032"):
        res = complete(prob.observed, 2, method="als", tol=1e-10, maxiter=400, seed=0)
    assert res.success, res.message
    assert prob.relative_error(res.U, res.V) < 1e-6


def test_softimpute_with_a_binding_rank_cap_is_not_stopped_on_a_plateau():
    # With the rank cap binding, the change between iterates hovers near 3e-3 for about
    # 100 iterations before it decreases again: a 20-iteration patience stopped it there.
    prob = random_low_rank_completion(40, 30, rank=10, rate=0.5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        res = complete(prob.observed, 10, method="softimpute", tol=1e-6, seed=0)
    assert res.success, res.message
    assert fixed_point_residual(prob.observed, res.U, res.V, res.shrinkage, 10) <= 1e-6
