"""Sinkhorn on 1-D histograms with squared distances at small reg (issue 16, item 5):
converge, or stop at the rounding floor well before maxiter."""

import numpy as np
import pytest

from numopt.ot import sinkhorn

ot = pytest.importorskip("ot")


@pytest.fixture(scope="module")
def gaussians():
    # POT's 1-D example: costs (i - j)^2 up to 9801, weights down to 1e-55 in the tails
    n = 100
    a = ot.datasets.make_1D_gauss(n, m=20, s=5)
    b = ot.datasets.make_1D_gauss(n, m=60, s=10)
    return a, b, ot.utils.dist0(n)


def plan_error(res, a, b):
    P = res.plan
    return np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()


@pytest.mark.parametrize("method, reg", [("log", 1e-2), ("sns", 1e-3)])
def test_converges_at_small_reg(gaussians, method, reg):
    # log stopped on a plateau at 1.3e-4 (the stall rule, meant for the rounding floor,
    # fired there); SNS failed all 4949 line searches and ran to maxiter (38 s)
    a, b, M = gaussians
    res = sinkhorn(a, b, M, reg, method=method, tol=1e-9)
    assert res.success, res.message
    assert plan_error(res, a, b) <= 1e-9


@pytest.mark.parametrize("method", ["log", "sns"])
def test_below_the_rounding_floor_stops_early(gaussians, method):
    # eps * max|M| / reg = 2e-7 > tol: both ran to maxiter = 10000 (SNS in 33-46 s)
    a, b, M = gaussians
    res = sinkhorn(a, b, M, 1e-5, method=method, tol=1e-9)
    assert not res.success and res.status == 4, res.message
    assert res.nit < 9000
    assert "rounding floor" in res.message
    assert res.marginal_error == pytest.approx(plan_error(res, a, b), rel=1e-6)
