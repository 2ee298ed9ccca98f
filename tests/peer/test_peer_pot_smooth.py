"""POT's test/test_smooth.py, translated for numopt.ot.quadratic_ot / sparse_ot.

POT's ``smooth_ot_dual`` / ``smooth_ot_semi_dual`` take ``reg_type``: "l2" is numopt's
:func:`quadratic_ot` (``gamma = reg``), "sparsity_constrained" with ``max_nz`` is
:func:`sparse_ot` with ``k = max_nz``, and "kl" is entropic OT, numopt's
:func:`sinkhorn`. numopt has no ``reg_type`` (so no NotImplementedError for "none"),
returns a scipy.sparse plan, and makes the marginals exact by rounding: where POT
allows 1e-5 (l2) and 1e-3 (sparsity-constrained), these tests ask 1e-9.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import check_grad

from numopt.ot import quadratic_ot, sinkhorn, sparse_ot
from numopt.ot._sparse import _Dual, _SemiDual

ot = pytest.importorskip("ot")


@pytest.fixture(scope="module")
def problem():
    n = 100
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2)
    return ot.utils.unif(n), ot.dist(x, x)


def pot(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # POT's L-BFGS-B options
        return function(*args, **kwargs)


@pytest.mark.parametrize("formulation, pot_solver", [("dual", "smooth_ot_dual"),
                                                     ("semi_dual", "smooth_ot_semi_dual")])
def test_smooth_ot_l2(problem, formulation, pot_solver):
    # POT test/test_smooth.py::test_smooth_ot_dual and ::test_smooth_ot_semi_dual, "l2"
    u, M = problem
    G = pot(getattr(ot.smooth, pot_solver), u, u, M, 1, reg_type="l2", stopThr=1e-10)
    res = quadratic_ot(u, u, M, 1.0, formulation=formulation)
    assert res.success, res.message
    P = res.plan.toarray()
    np.testing.assert_allclose(P.sum(1), u, atol=1e-9)
    np.testing.assert_allclose(P.sum(0), u, atol=1e-9)
    np.testing.assert_allclose(P, G, atol=1e-5)
    # certified: within tol of the optimum (POT's plan misses its marginals by 1e-8 per
    # row, so its lower objective is not comparable)
    assert -1e-12 <= res.duality_gap <= 1e-9 * max(res.fun, M.max())   # (-: rounding)


@pytest.mark.parametrize("pot_solver", ["smooth_ot_dual", "smooth_ot_semi_dual"])
def test_smooth_ot_kl_is_sinkhorn(problem, pot_solver):
    # POT test/test_smooth.py::test_smooth_ot_dual / ::test_smooth_ot_semi_dual, "kl":
    # entropic OT, which numopt solves with sinkhorn
    u, M = problem
    G = pot(getattr(ot.smooth, pot_solver), u, u, M, 1, reg_type="kl", stopThr=1e-10)
    res = sinkhorn(u, u, M, 1.0, tol=1e-10)
    np.testing.assert_allclose(res.plan.sum(1), u, atol=1e-9)
    np.testing.assert_allclose(res.plan, G, atol=1e-5)


@pytest.mark.parametrize("formulation, pot_solver", [("dual", "smooth_ot_dual"),
                                                     ("semi_dual", "smooth_ot_semi_dual")])
def test_smooth_ot_sparsity_constrained(problem, formulation, pot_solver):
    # POT test/test_smooth.py::test_smooth_ot_dual / ::test_smooth_ot_semi_dual,
    # "sparsity_constrained" with max_nz = 2
    u, M = problem
    max_nz = 2
    G = pot(getattr(ot.smooth, pot_solver), u, u, M, 1, reg_type="sparsity_constrained",
            max_nz=max_nz, stopThr=1e-10)
    res = sparse_ot(u, u, M, max_nz, gamma=1.0, formulation=formulation)
    assert res.success, res.message
    P = res.plan.toarray()
    np.testing.assert_allclose(P.sum(1), u, atol=1e-9)
    np.testing.assert_allclose(P.sum(0), u, atol=1e-9)
    assert (np.count_nonzero(P, axis=0) <= max_nz).all()
    assert (np.count_nonzero(G > 0, axis=0) <= max_nz).all()
    # the k = 2 problem is not convex: no certificate; the objective is POT's, whose
    # plan misses its marginals by up to 1e-3
    assert res.fun == pytest.approx((G * M).sum() + 0.5 * (G * G).sum(), rel=1e-3)
    assert res.duality_gap >= -1e-9


@pytest.mark.parametrize("objective", [_SemiDual, _Dual])
def test_sparsity_constrained_gradient(objective):
    # POT test/test_smooth.py::test_sparsity_constrained_gradient checks the gradients of
    # POT's regularizer with max_nz = 5; here those of the objectives L-BFGS minimizes
    rng = np.random.RandomState(0)
    n, m = 10, 8
    a, b = rng.rand(n), rng.rand(m)
    a, b = a / a.sum(), b / b.sum()
    M = rng.rand(n, m)
    f = objective(a, b, M, 5, 0.5)
    x = 0.1 * rng.randn(f.size())
    err = check_grad(lambda z: f(z)[0], lambda z: f(z)[1], x)
    assert err <= 1e-6 * max(1.0, np.linalg.norm(f(x)[1]))
