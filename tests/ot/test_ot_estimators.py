"""EntropicOT and SparseOT: POT's domain-adaptation convention, agreement with POT, float32."""

import warnings

import numpy as np
import pytest

from numopt.ot import EntropicOT, SparseOT, sinkhorn
from numopt.problems._ot import random_point_clouds

ot = pytest.importorskip("ot")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """L-BFGS-B calls BLAS on tiny vectors: with OpenBLAS threads on a loaded machine
    each call can take milliseconds (60x slower runs were measured here)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield
sklearn = pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def clouds():
    return random_point_clouds(40, 30, seed=8)


def test_entropic_ot_matches_pot_mapping(clouds):
    Xs, Xt = clouds
    est = EntropicOT(reg=0.05)
    assert est.fit(Xs=Xs, Xt=Xt) is est
    M = ot.dist(Xs, Xt)
    M /= M.max()
    P = ot.sinkhorn(ot.unif(40), ot.unif(30), M, 0.05, stopThr=1e-14, numItermax=100000)
    np.testing.assert_allclose(est.coupling_, P, atol=1e-9)
    mapping = ot.da.SinkhornTransport(reg_e=0.05, norm="max", tol=1e-14, max_iter=100000)
    mapping.fit(Xs=Xs, Xt=Xt)
    np.testing.assert_allclose(est.transform(Xs), mapping.transform(Xs=Xs), atol=1e-7)
    assert est.cost_ == pytest.approx(np.sum(P * ot.dist(Xs, Xt)), rel=1e-9)
    assert est.n_iter_ > 0


def test_sparse_ot_estimator(clouds):
    Xs, Xt = clouds
    est = SparseOT(k=3).fit(Xs=Xs, Xt=Xt)
    assert np.diff(est.coupling_.tocsc().indptr).max() <= 3
    assert est.result_.marginal_error <= 1e-6
    Y = est.transform(Xs)
    assert Y.shape == Xs.shape and np.isfinite(Y).all()


def test_params_and_clone(clouds):
    from sklearn.base import clone

    est = EntropicOT(reg=0.1, method="log")
    params = est.get_params()
    assert params["reg"] == 0.1 and params["method"] == "log"
    other = clone(est)
    assert other.get_params() == params and not hasattr(other, "coupling_")
    with pytest.raises(ValueError, match="Xt"):
        est.fit(clouds[0])
    with pytest.raises(ValueError, match="Xt"):   # POT's order: fit(Xs, ys, Xt, yt)
        est.fit(*clouds)


def test_convergence_warning(clouds):
    from sklearn.exceptions import ConvergenceWarning

    Xs, Xt = clouds
    with pytest.warns(ConvergenceWarning):
        EntropicOT(reg=0.001, method="log", max_iter=3).fit(Xs=Xs, Xt=Xt)


@pytest.mark.parametrize("estimator", [EntropicOT, SparseOT], ids=lambda c: c.__name__)
@pytest.mark.parametrize("exp", [530, -565])
def test_fit_does_not_depend_on_the_units_of_the_clouds(clouds, estimator, exp):
    # the squared distances overflowed at |X| ~ 1e160 (NaN plan) and underflowed at
    # 1e-170 (a silently different plan); a power-of-two scale is exact, so nothing may
    # change but cost_, which scales by 4**exp
    Xs, Xt = clouds
    scale = 2.0**exp
    ref = estimator().fit(Xs=Xs, Xt=Xt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = estimator().fit(Xs=Xs * scale, Xt=Xt * scale)
        moved = est.transform(Xs[:5] * scale * 1.01)
    plan, ref_plan = (p.toarray() if hasattr(p, "toarray") else p
                      for p in (est.coupling_, ref.coupling_))
    np.testing.assert_array_equal(plan, ref_plan)
    np.testing.assert_array_equal(moved / scale, ref.transform(Xs[:5] * 1.01))
    expected = np.ldexp(ref.cost_, 2 * exp) if exp < 0 else np.inf
    assert est.cost_ == expected


@pytest.mark.parametrize("estimator", [EntropicOT, SparseOT], ids=lambda c: c.__name__)
def test_zero_weight_source_point_moves_with_its_nearest_neighbour(clouds, estimator):
    # its row of the plan is zero: the barycentric map used to send it to the origin
    Xs, Xt = clouds
    a = np.full(Xs.shape[0], 1.0)
    a[0] = 0.0
    a /= a.sum()
    est = estimator().fit(Xs=Xs, Xt=Xt, a=a)
    moved = est.transform(Xs)
    nearest = 1 + np.argmin(((Xs[1:] - Xs[0]) ** 2).sum(axis=1))
    np.testing.assert_allclose(moved[0], Xs[0] + moved[nearest] - Xs[nearest], rtol=1e-12)
    np.testing.assert_allclose(est.transform(Xs[:1] + 1e-9), moved[:1] + 1e-9, atol=1e-12)


def test_pot_domain_adaptation_code_runs_with_one_import_changed(clouds):
    # POT's documented use of ot.da.SinkhornTransport, keywords and all; only the class
    # (and its regularization's name) differ
    Xs, Xt = clouds
    ys = np.arange(Xs.shape[0]) % 2
    pot = ot.da.SinkhornTransport(reg_e=0.05, norm="max", tol=1e-14, max_iter=100000)
    ours = EntropicOT(reg=0.05)
    for mapping in (pot, ours):
        mapping.fit(Xs=Xs, ys=ys, Xt=Xt)
    np.testing.assert_allclose(ours.coupling_, pot.coupling_, atol=1e-9)
    np.testing.assert_allclose(ours.transform(Xs=Xs), pot.transform(Xs=Xs), atol=1e-7)
    np.testing.assert_allclose(ours.fit_transform(Xs=Xs, Xt=Xt),
                               pot.fit_transform(Xs=Xs, Xt=Xt), atol=1e-7)
    with pytest.raises(ValueError, match="yt"):
        EntropicOT().fit(Xs=Xs, ys=ys, Xt=Xt, yt=ys[:Xt.shape[0]])


@pytest.mark.parametrize("estimator", [EntropicOT, SparseOT], ids=lambda c: c.__name__)
def test_float32_clouds_give_a_float32_coupling_and_map(clouds, estimator):
    # issue 16, item 6: the clouds were cast to float64
    Xs, Xt = (c.astype(np.float32) for c in clouds)
    est = estimator(tol=1e-5).fit(Xs=Xs, Xt=Xt)
    ref = estimator(tol=1e-5).fit(Xs=clouds[0], Xt=clouds[1])
    assert est.result_.success
    assert est.coupling_.dtype == np.float32
    for moved in (est.transform(Xs), est.transform(Xs[:4] + np.float32(0.01))):
        assert moved.dtype == np.float32
    if estimator is EntropicOT:
        np.testing.assert_allclose(est.coupling_, ref.coupling_, atol=1e-5 / Xs.shape[0])
        np.testing.assert_allclose(est.transform(Xs), ref.transform(clouds[0]), atol=1e-3)
    else:   # not convex: float32 rounding may pick another support of equal quality
        assert np.diff(est.coupling_.tocsc().indptr).max() <= est.k
        assert est.cost_ == pytest.approx(ref.cost_, rel=1e-2)
