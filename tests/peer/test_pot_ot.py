"""POT's exact-OT tests that apply to numopt.ot.emd, emd_1d and wasserstein_1d,
translated (POT test/test_ot.py and test/test_1d_solver.py). Where numopt deliberately
differs (docs/ot.rst, "Differences from POT"), the case asserts numopt's behaviour."""

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from numopt.ot import emd, emd_1d, wasserstein_1d

ot = pytest.importorskip("ot")


def gauss(n, m, s):
    """POT's ot.datasets.make_1D_gauss: a Gaussian histogram on 0..n-1, mass 1."""
    x = np.arange(n, dtype=np.float64)
    h = np.exp(-((x - m) ** 2) / (2 * s**2))
    return h / h.sum()


def sqdist(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def check_duality_gap(a, b, M, res):
    """POT test/test_ot.py::check_duality_gap: dual and primal cost agree, and the
    reduced cost vanishes on the plan's support."""
    G = res.plan.toarray() if hasattr(res.plan, "toarray") else res.plan
    np.testing.assert_almost_equal(a @ res.f + b @ res.g, res.cost)
    rows, cols = np.nonzero(G)
    np.testing.assert_array_almost_equal((M - res.f[:, None] - res.g[None, :])[rows, cols],
                                         np.zeros(rows.size))


def test_emd_dimension_and_mass_mismatch():
    # POT test/test_ot.py::test_emd_dimension_and_mass_mismatch (POT raises
    # AssertionError; numopt raises ValueError naming the argument)
    rng = np.random.RandomState(0)
    x = rng.randn(100, 2)
    a = np.full(101, 1 / 101)
    M = sqdist(x, x)
    with pytest.raises(ValueError, match="a"):
        emd(a, a, M)
    b = a.copy()
    a[0] = 100
    with pytest.raises(ValueError, match="same total mass"):
        emd(a[:100], b[:100], M)


def test_emd_emd2():
    # POT test/test_ot.py::test_emd_emd2: identical clouds, uniform weights
    n = 100
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2)
    u = np.full(n, 1 / n)
    M = sqdist(x, x)
    res = emd(u, u, M)
    G = res.plan.toarray()
    np.testing.assert_allclose(G, np.eye(n) / n)
    np.testing.assert_allclose(u, G.sum(1))
    np.testing.assert_allclose(u, G.sum(0))
    np.testing.assert_allclose(res.cost, 0)


def test_emd_empty():
    # POT test/test_ot.py::test_emd_empty: POT reads empty weight lists as uniform;
    # numopt spells that None and rejects an empty list (it is a shape mismatch)
    n = 100
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2)
    u = np.full(n, 1 / n)
    M = sqdist(x, x)
    res = emd(None, None, M)
    G = res.plan.toarray()
    np.testing.assert_allclose(G, np.eye(n) / n)
    np.testing.assert_allclose(u, G.sum(1))
    np.testing.assert_allclose(u, G.sum(0))
    np.testing.assert_allclose(res.cost, 0)
    with pytest.raises(ValueError, match="a"):
        emd([], [], M)


def test_emd2_multi():
    # POT test/test_ot.py::test_emd2_multi: POT's b is (n, nb), one target per column;
    # numopt's is (B, m), one per row (every fourth of POT's 24 targets, for time)
    n = 500
    x = np.arange(n, dtype=np.float64)
    a = gauss(n, m=20, s=5)
    ls = np.arange(20, 500, 80)
    b = np.stack([gauss(n, m=mean, s=10) for mean in ls])
    M = sqdist(x[:, None], x[:, None])
    res = emd(a, b, M)
    assert res.success and res.cost.shape == (len(ls),)
    for i in range(len(ls)):
        one = emd(a, b[i], M)
        np.testing.assert_allclose(res.cost[i], one.cost)
        check_duality_gap(a, b[i] * a.sum() / b[i].sum(), M, one)
    np.testing.assert_allclose(res.cost, ot.emd2(a, b.T, M), rtol=1e-9)


def test_warnings():
    # POT test/test_ot.py::test_warnings: POT warns when numItermax=1 stops it; numopt
    # (SciPy's convention) returns success=False, status 1 and a message naming maxiter
    n = m = 100
    x = np.arange(n, dtype=np.float64)
    a = gauss(n, m=30, s=5)
    b = gauss(m, m=50, s=10)
    M = np.sqrt(sqdist(x[:, None], x[:, None]))
    res = emd(a, b, M, maxiter=1)
    assert not res.success and res.status == 1 and res.nit == 1
    assert "maxiter" in res.message


def test_dual_variables():
    # POT test/test_ot.py::test_dual_variables
    n, m = 500, 600
    mean1, mean2 = 300, 400
    x = np.arange(n, dtype=np.float64)
    y = np.arange(m, dtype=np.float64)
    a = gauss(n, m=mean1, s=5)
    b = gauss(m, m=mean2, s=10)
    M = np.sqrt(sqdist(x[:, None], y[:, None]))
    res = emd(a, b, M)
    res2 = emd(b, a, np.ascontiguousarray(M.T))
    cost1 = (res.plan.toarray() * M).sum()
    # symmetry
    np.testing.assert_array_almost_equal(cost1, (M * res2.plan.toarray().T).sum())
    # closed form for these Gaussians: |mean1 - mean2|
    np.testing.assert_almost_equal(cost1, np.abs(mean1 - mean2))
    np.testing.assert_almost_equal(cost1, res.cost)
    check_duality_gap(a, b, M, res)
    assert (res.f[:, None] + res.g[None, :] - M).max() < 1e-8


def test_emd_emd2_types_devices():
    # POT test/test_ot.py::test_emd_emd2_types_devices (NumPy float32/float64): the plan
    # and potentials keep M's dtype; numopt's cost is a Python float (house convention)
    rng = np.random.RandomState(0)
    x, y = rng.randn(100, 2), rng.randn(100, 2)
    a = np.full(100, 1 / 100)
    M = sqdist(x, y)
    for dtype in (np.float32, np.float64):
        res = emd(a.astype(dtype), a.astype(dtype), M.astype(dtype))
        assert res.plan.dtype == dtype and res.f.dtype == dtype and res.g.dtype == dtype
        assert isinstance(res.cost, float)


def test_emd_1d_emd2_1d_with_weights():
    # POT test/test_1d_solver.py::test_emd_1d_emd2_1d_with_weights
    n, m = 20, 30
    rng = np.random.RandomState(0)
    u, v = rng.randn(n, 1), rng.randn(m, 1)
    w_u = rng.uniform(0.0, 1.0, n)
    w_u = w_u / w_u.sum()
    w_v = rng.uniform(0.0, 1.0, m)
    w_v = w_v / w_v.sum()
    M = sqdist(u, v)
    full = emd(w_u, w_v, M)
    res = emd_1d(u, v, w_u, w_v, metric="sqeuclidean")
    euclidean = emd_1d(u, v, w_u, w_v, metric="euclidean")
    np.testing.assert_allclose(full.cost, res.cost)
    np.testing.assert_allclose(wasserstein_distance(u[:, 0], v[:, 0], w_u, w_v),
                               euclidean.cost)
    G = full.plan.toarray()
    np.testing.assert_allclose(w_u, G.sum(1))
    np.testing.assert_allclose(w_v, G.sum(0))
    with pytest.raises(ValueError, match="metric"):
        emd_1d(u, v, w_u, w_v, metric="cosine")


def test_emd_1d_emd2_1d():
    # POT test/test_1d_solver.py::test_emd_1d_emd2_1d (uniform weights: POT's [] is
    # numopt's None)
    n, m = 20, 30
    rng = np.random.RandomState(0)
    u, v = rng.randn(n, 1), rng.randn(m, 1)
    M = sqdist(u, v)
    full = emd(None, None, M)
    res = emd_1d(u, v, metric="sqeuclidean")
    euclidean = emd_1d(u, v, metric="euclidean")
    np.testing.assert_allclose(full.cost, res.cost)
    np.testing.assert_allclose(wasserstein_distance(u[:, 0], v[:, 0]), euclidean.cost)
    G = full.plan.toarray()
    np.testing.assert_allclose(np.ones(n) / n, G.sum(1))
    np.testing.assert_allclose(np.ones(m) / m, G.sum(0))
    np.testing.assert_allclose(G, res.plan.toarray(), atol=1e-15)
    # points in 2-D: POT raises AssertionError, numopt ValueError naming the argument
    with pytest.raises(ValueError, match="x_a"):
        emd_1d(rng.randn(n, 2), rng.randn(m, 2))


def test_wasserstein_1d():
    # POT test/test_1d_solver.py::test_wasserstein_1d (NumPy backend). numopt returns
    # the distance W_p, POT W_p**p; numopt takes one pair of 1-D measures (POT's test 3,
    # columns of a 2-D array as a batch, is rejected)
    rng = np.random.RandomState(0)
    n = 100
    x = np.linspace(0, 5, n)
    rho_u = np.abs(rng.randn(n))
    rho_u /= rho_u.sum()
    rho_v = np.abs(rng.randn(n))
    rho_v /= rho_v.sum()
    np.testing.assert_almost_equal(wasserstein_1d(x, x, rho_u, rho_v, p=1),
                                   wasserstein_distance(x, x, rho_u, rho_v))
    np.testing.assert_almost_equal(wasserstein_1d(x, x + 1, p=2), 1.0)
    X = np.stack((x, x * 10), -1)
    with pytest.raises(ValueError, match="x_a"):
        wasserstein_1d(X, X, rho_u, rho_v, p=2)
    w = [wasserstein_1d(X[:, k], X[:, k], rho_u, rho_v, p=2) for k in range(2)]
    # the distance scales linearly (POT's W_2**2 by 100)
    np.testing.assert_almost_equal(10 * w[0], w[1], decimal=4)


def test_emd1d_type_devices():
    # POT test/test_1d_solver.py::test_emd1d_type_devices (NumPy float32/float64)
    rng = np.random.RandomState(0)
    n = 10
    x = np.linspace(0, 5, n)
    rho_u = np.abs(rng.randn(n))
    rho_u /= rho_u.sum()
    rho_v = np.abs(rng.randn(n))
    rho_v /= rho_v.sum()
    for dtype in (np.float32, np.float64):
        res = emd_1d(x.astype(dtype), x.astype(dtype), rho_u.astype(dtype),
                     rho_v.astype(dtype))
        assert res.plan.dtype == dtype and isinstance(res.cost, float)
