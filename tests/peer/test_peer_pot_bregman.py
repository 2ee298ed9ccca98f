"""POT's test/test_bregman.py, the cases that apply to numopt.ot.sinkhorn.

Each test names the POT test it translates. numopt differs from POT on purpose where
docs/ot.rst ("Differences from POT") says so, and these tests then assert numopt's
behaviour: no warnings but ``success``/``status`` on the result, ``tol > 0`` and
``reg > 0`` enforced with ValueError, uniform weights from ``None`` (not ``[]``), batched
targets as rows ``(B, m)`` (POT: columns ``(m, B)``). Barycenters, empirical and
convolutional Sinkhorn, screenkhorn, greenkhorn, warm starts and autodiff backends have
no numopt counterpart and are not translated.
"""

import numpy as np
import pytest

from numopt.ot import emd, sinkhorn

ot = pytest.importorskip("ot")

METHODS = ["kernel", "log", "sns"]


def clouds(n, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 2)
    return ot.utils.unif(n), ot.dist(x, x)


@pytest.mark.parametrize("method", METHODS)
def test_sinkhorn(method):
    # POT test/test_bregman.py::test_sinkhorn (marginals within 1e-5 at reg 1)
    u, M = clouds(100)
    res = sinkhorn(u, u, M, 1.0, method=method, tol=1e-10)
    assert res.success, res.message
    np.testing.assert_allclose(res.plan.sum(1), u, atol=1e-5)
    np.testing.assert_allclose(res.plan.sum(0), u, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_convergence_warning(method):
    # POT test/test_bregman.py::test_convergence_warning: POT warns after one iteration
    # with stopThr=0; numopt rejects tol=0 and reports the cut run on the result
    n = 100
    a1 = ot.datasets.make_1D_gauss(n, m=30, s=10)
    a2 = ot.datasets.make_1D_gauss(n, m=40, s=10)
    M = ot.utils.dist0(n)
    with pytest.raises(ValueError, match="tol"):
        sinkhorn(a1, a2, M, 1.0, method=method, tol=0)
    res = sinkhorn(a1, a2, M, 1.0, method=method, maxiter=1)
    assert not res.success and res.status == 1 and res.nit <= 1
    assert "iterations" in res.message


def test_not_implemented_method():
    # POT test/test_bregman.py::test_not_implemented_method
    u, M = clouds(10)
    with pytest.raises(ValueError, match="method"):
        sinkhorn(u, u, M, 0.01, method="new_method")


@pytest.mark.parametrize("method", METHODS)
def test_nan_warning(method):
    # POT test/test_bregman.py::test_nan_warning: POT warns on the NaN plan of reg = 0;
    # numopt rejects reg = 0 up front
    n = 100
    a1 = ot.datasets.make_1D_gauss(n, m=30, s=10)
    a2 = ot.datasets.make_1D_gauss(n, m=40, s=10)
    with pytest.raises(ValueError, match="reg"):
        sinkhorn(a1, a2, ot.utils.dist0(n), 0.0, method=method)


@pytest.mark.parametrize("method", ["log", "sns"])
def test_sinkhorn_stabilization(method):
    # POT test/test_bregman.py::test_sinkhorn_stabilization compares two POT variants at
    # reg = 1e-5 on costs up to 9801 (POT's sinkhorn2 returns 0.0 for both there). numopt
    # does not converge on it within maxiter (docs/ot.rst): it says so, and the plan it
    # returns is finite, with the cost of the exact plan within 1%
    n = 100
    a1 = ot.datasets.make_1D_gauss(n, m=30, s=10)
    a2 = ot.datasets.make_1D_gauss(n, m=40, s=10)
    M = ot.utils.dist0(n)
    res = sinkhorn(a1, a2, M, 1e-5, method=method, maxiter=2000)
    assert not res.success and res.status in (1, 4)
    assert np.isfinite(res.plan).all()
    assert res.cost == pytest.approx(emd(a1, a2, M).cost, rel=1e-2)


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_sinkhorn_multi_b(method):
    # POT test/test_bregman.py::test_sinkhorn_multi_b: a batch of targets gives the
    # losses of the separate problems (numopt: targets as rows)
    n = 10
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2)
    u = ot.utils.unif(n)
    b = rng.rand(n, 3)
    b = b / np.sum(b, 0, keepdims=True)
    M = ot.dist(x, x)
    batch = sinkhorn(u, b.T, M, 0.1, method=method, tol=1e-10)
    assert batch.success
    separate = [sinkhorn(u, b[:, k], M, 0.1, method=method, tol=1e-10).cost for k in range(3)]
    np.testing.assert_allclose(batch.cost, separate, atol=1e-4)
    pot = ot.sinkhorn2(u, b, M, 0.1, method="sinkhorn", stopThr=1e-10)
    np.testing.assert_allclose(batch.cost, pot, atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_sinkhorn_empty(method):
    # POT test/test_bregman.py::test_sinkhorn_empty: POT's [] weights are numopt's None
    u, M = clouds(100)
    res = sinkhorn(None, None, M, 1.0, method=method, tol=1e-10)
    np.testing.assert_allclose(res.plan.sum(1), u, atol=1e-5)
    np.testing.assert_allclose(res.plan.sum(0), u, atol=1e-5)
    with pytest.raises(ValueError, match="a must not be empty"):
        sinkhorn([], [], M, 1.0, method=method)


def test_sinkhorn_variants():
    # POT test/test_bregman.py::test_sinkhorn_variants and ::test_sinkhorn_variants_log:
    # every method gives POT's plan
    u, M = clouds(100)
    G = ot.sinkhorn(u, u, M, 1, method="sinkhorn", stopThr=1e-10)
    for method in METHODS + ["auto"]:
        np.testing.assert_allclose(sinkhorn(u, u, M, 1.0, method=method, tol=1e-10).plan,
                                   G, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sinkhorn_variants_dtype_device(method, dtype):
    # POT test/test_bregman.py::test_sinkhorn_variants_dtype_device (NumPy only here;
    # the CuPy path has tests/ot/test_ot_gpu.py)
    u, M = clouds(100)
    res = sinkhorn(u.astype(dtype), u.astype(dtype), M.astype(dtype), 1.0, method=method,
                   tol=1e-5)
    assert res.plan.dtype == dtype and res.f.dtype == dtype
    assert res.success, res.message


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_sinkhorn_variants_multi_b(method):
    # POT test/test_bregman.py::test_sinkhorn_variants_multi_b and
    # ::test_sinkhorn_variants_log_multib: batched plans agree across methods and with POT
    n = 50
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2)
    u = ot.utils.unif(n)
    b = rng.rand(n, 3)
    b = b / np.sum(b, 0, keepdims=True)
    M = ot.dist(x, x)
    G0 = ot.sinkhorn(u, b, M, 1, method="sinkhorn", stopThr=1e-10)   # POT: losses (3,)
    res = sinkhorn(u, b.T, M, 1.0, method=method, tol=1e-10)
    assert res.plan.shape == (3, n, n)
    np.testing.assert_allclose(res.cost, G0, atol=1e-5)
    for k in range(3):
        np.testing.assert_allclose(res.plan[k].sum(0), b[:, k], atol=1e-8)


def test_stabilized_vs_sinkhorn_multidim():
    # POT test/test_bregman.py::test_stabilized_vs_sinkhorn_multidim
    n = 100
    a = ot.datasets.make_1D_gauss(n, m=20, s=5)
    b1 = ot.datasets.make_1D_gauss(n, m=60, s=8)
    b2 = ot.datasets.make_1D_gauss(n, m=30, s=4)
    M = ot.utils.dist0(n)
    M /= np.median(M)
    G_pot = ot.bregman.sinkhorn(a, np.vstack((b1, b2)).T, M, reg=0.1, method="sinkhorn")
    kernel = sinkhorn(a, np.vstack((b1, b2)), M, 0.1, method="kernel", tol=1e-9)
    log = sinkhorn(a, np.vstack((b1, b2)), M, 0.1, method="log", tol=1e-9)
    assert kernel.success and log.success
    np.testing.assert_allclose(kernel.cost, G_pot, rtol=1e-6)
    np.testing.assert_allclose(kernel.plan, log.plan, atol=1e-9)
