"""Issue 24 (path speed): the compiled outer certificate of the working-set solver
(duality gap and working-set priorities in one Numba pass) against its reference, and
every point of a path certified by a gap recomputed independently in float64."""

import numpy as np
import pytest
import scipy.sparse as sp

from numopt._backend import get_kernel
from numopt.coordinate import enet_path
from numopt.coordinate._glm_l1 import gap_priorities
from numopt.coordinate._glm_objects import L1, ElasticNet


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.4])
def test_compiled_gap_priorities_match_reference(dtype, weighted, positive, l1_ratio):
    rng = np.random.default_rng(3)
    n, p = 40, 25
    X = rng.standard_normal((n, p)).astype(dtype)
    X[:, 7] = 0.0     # a column of zeros: priority scaled by 1, not divided by 0
    y = rng.standard_normal(n).astype(dtype)
    coef = np.where(rng.random(p) < 0.3, rng.standard_normal(p), 0.0).astype(dtype)
    state = (X @ coef - y).astype(dtype)
    sw = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    grad_sum = X.T @ (state if sw is None else sw * state)
    lipschitz = np.sum(X * X if sw is None else sw[:, None] * X * X, axis=0)
    penalty = (L1(0.05, positive=positive) if l1_ratio == 1.0
               else ElasticNet(0.05, l1_ratio, positive=positive)).scaled(np, n, p, dtype)
    compiled = get_kernel("coordinate.gap_priorities", np)
    assert compiled is not gap_priorities       # the Numba kernel, not the reference
    want = gap_priorities(np, coef, state, grad_sum, sw, y, penalty, lipschitz)
    got = compiled(np, coef, state, grad_sum, sw, y, penalty, lipschitz)
    (want_gap, want_primal, want_kkt, want_scores) = want
    (got_gap, got_primal, got_kkt, got_scores) = got
    scale = float(np.sum(y.astype(np.float64) ** 2))
    assert got_gap > 0 and got_kkt > 0
    assert abs(got_gap - want_gap) <= 1e-12 * scale
    assert got_primal == pytest.approx(want_primal, rel=1e-12)
    assert got_kkt == pytest.approx(want_kkt, rel=1e-5)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6, atol=1e-9 * scale)


def _enet_gap(X, y, w, b, alpha, l1_ratio):
    """scikit-learn's elastic-net duality gap (mean scaling), in float64 from scratch."""
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    n = y.shape[0]
    R = y - X @ w - b
    a1, a2 = alpha * l1_ratio * n, alpha * (1 - l1_ratio) * n
    corr = X.T @ R
    primal = 0.5 * R @ R + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w
    if a2 == 0:
        norm = np.max(np.abs(corr))
        c = min(1.0, a1 / norm) if norm > 0 else 1.0
        dual = c * (R @ (y - b)) - 0.5 * c * c * (R @ R)
    else:
        excess = np.maximum(np.abs(corr) - a1, 0.0)
        dual = R @ (y - b) - 0.5 * (R @ R) - (excess @ excess) / (2 * a2)
    return (primal - dual) / n


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_every_path_point_meets_tol_recomputed(l1_ratio, sparse):
    rng = np.random.default_rng(0)
    n, p = 80, 200
    X = rng.standard_normal((n, p))
    X[rng.random((n, p)) < 0.5] = 0.0
    truth = np.zeros(p)
    truth[:6] = rng.standard_normal(6) * 3
    y = X @ truth + 0.1 * rng.standard_normal(n)
    tol = 1e-6
    alphas, coefs, gaps = enet_path(sp.csc_matrix(X) if sparse else X, y,
                                    l1_ratio=l1_ratio, alphas=30, tol=tol)
    target = tol * (y @ y) / n
    recomputed = [_enet_gap(X, y, w, 0.0, a, l1_ratio) for w, a in zip(coefs.T, alphas)]
    assert max(recomputed) <= target
    # the reported gaps are those of the returned coefficients
    np.testing.assert_allclose(gaps, recomputed, rtol=1e-6, atol=1e-3 * target)
    assert np.count_nonzero(coefs[:, -1]) > 0


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_reported_objective_and_kkt_are_those_of_the_result(fit_intercept, l1_ratio):
    from numopt.coordinate import elastic_net

    rng = np.random.default_rng(5)
    n, p = 50, 90
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.2 * rng.standard_normal(n) + 1.5
    alpha = 0.05
    res = elastic_net(X, y, alpha, l1_ratio, fit_intercept=fit_intercept, tol=1e-3)
    w, b = res.x, res.intercept
    r = y - X @ w - b
    fun = (0.5 * r @ r / n + alpha * l1_ratio * np.abs(w).sum()
           + 0.5 * alpha * (1 - l1_ratio) * w @ w)
    assert res.fun == pytest.approx(fun, rel=1e-10)
    g = -X.T @ r / n + alpha * (1 - l1_ratio) * w
    a1 = alpha * l1_ratio
    dist = np.where(w != 0, np.abs(g + a1 * np.sign(w)), np.maximum(np.abs(g) - a1, 0.0))
    assert res.kkt_violation == pytest.approx(dist.max(), rel=1e-6)
    assert res.dual_gap == pytest.approx(_enet_gap(X, y, w, b, alpha, l1_ratio), rel=1e-6)


def test_warm_path_solves_start_small_unless_p0_is_given():
    from numopt.coordinate._api import P0_WARM, _setup_glm
    from numopt.coordinate._glm_objects import Quadratic

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((30, 300)), rng.standard_normal(30)

    def setup(**options):
        return _setup_glm(X, y, Quadratic, coef0=None, fit_intercept=False, tol=1e-4,
                          maxiter=100, options=options, method="enet_path")

    default = setup()
    assert default.p0 == 100 and default.warm_p0 == P0_WARM < default.p0
    assert setup(p0=50).warm_p0 == 50          # the caller's p0 holds along the path
    # the same path either way, to the certified tolerance: a gap <= tol ||y||^2 / n
    # puts X w within sqrt(2 tol) ||y|| of X w* (the objective is 1/n-strongly convex in
    # X w), so two certified fits are within twice that of each other
    tol = 1e-8
    alphas, small, _ = enet_path(X, y, l1_ratio=1.0, alphas=20, tol=tol)
    _, padded, _ = enet_path(X, y, l1_ratio=1.0, alphas=alphas, tol=tol, p0=100)
    bound = 2 * np.sqrt(2 * tol) * np.linalg.norm(y)
    for w1, w2 in zip(small.T, padded.T):
        assert np.linalg.norm(X @ (w1 - w2)) <= bound
