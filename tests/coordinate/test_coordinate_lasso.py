"""Working-set L1 solvers against scikit-learn, skglm and closed-form certificates."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from numopt import ConvergenceWarning, config_context
from numopt.coordinate import Lasso, SparseLogisticRegression, lasso, sparse_logistic_regression
from numopt.problems import lasso_design


def _gap(X, y, w, b, alpha):
    """Lasso duality gap computed independently (scikit-learn's dual point)."""
    n = y.shape[0]
    yc = y - y.mean() if b is not None else y
    R = y - X @ w - (b or 0.0)
    xtr = X.T @ R
    dual_norm = np.max(np.abs(xtr))
    const = min(1.0, n * alpha / dual_norm) if dual_norm > 0 else 1.0
    gap = 0.5 * (R @ R) * (1 + const ** 2) + n * alpha * np.abs(w).sum() - const * (R @ yc)
    return gap / n


def _lasso_obj(X, y, w, b, alpha):
    r = y - X @ w - b
    return 0.5 * r @ r / y.shape[0] + alpha * np.abs(w).sum()


@pytest.fixture(scope="module")
def design():
    X, y, amax = lasso_design(80, 200, design="correlated", n_nonzero=8, seed=1)
    return X, y, amax


@pytest.mark.parametrize("div", [5, 50])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_lasso_matches_sklearn(design, div, fit_intercept):
    from sklearn.linear_model import Lasso as SkLasso

    X, y, amax = design
    y = y + 3.0
    alpha = amax / div
    ours = Lasso(alpha, fit_intercept=fit_intercept, tol=1e-10).fit(X, y)
    ref = SkLasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12,
                  max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    assert abs(ours.intercept_ - ref.intercept_) < 1e-5
    b = ours.intercept_
    assert _lasso_obj(X, y, ours.coef_, b, alpha) <= \
        _lasso_obj(X, y, ref.coef_, ref.intercept_, alpha) + 1e-12
    # the reported gap is the one actually reached, and it certifies the tolerance
    gap = _gap(X, y, ours.coef_, b if fit_intercept else None, alpha)
    # (the solver's gap uses its incrementally updated residual, which differs from a
    # recomputed ``y - X w`` by rounding: ~1e-14 on a gap of order 1e-10)
    assert ours.dual_gap_ == pytest.approx(gap, rel=1e-6, abs=1e-12)
    yc = y - y.mean() if fit_intercept else y
    assert gap <= 1e-10 * (yc @ yc) / y.shape[0]


def test_lasso_sparse_matches_dense_and_sklearn(design):
    # skglm is compared in examples/coordinate_lasso_timing.py and the asv suite: it
    # JIT-compiles without a cache (~15-30 s here), too slow for the test suite
    from sklearn.linear_model import Lasso as SkLasso

    X, y, amax = design
    rng = np.random.default_rng(0)
    Xs = sp.random(80, 200, density=0.1, random_state=rng, format="csc")
    Xd = Xs.toarray()
    y = Xd[:, :5] @ np.arange(1.0, 6.0) + 0.1 * rng.standard_normal(80)
    alpha = np.max(np.abs(Xd.T @ (y - y.mean()))) / 80 / 20
    res_s = lasso(Xs, y, alpha, fit_intercept=True, tol=1e-12)
    res_d = lasso(Xd, y, alpha, fit_intercept=True, tol=1e-12)
    assert res_s.success and res_d.success
    np.testing.assert_allclose(res_s.x, res_d.x, atol=1e-7)
    ref = SkLasso(alpha=alpha, fit_intercept=True, tol=1e-14, max_iter=100_000).fit(Xs, y)
    np.testing.assert_allclose(res_s.x, ref.coef_, atol=1e-5)
    assert res_s.fun <= _lasso_obj(Xd, y, ref.coef_, ref.intercept_, alpha) + 1e-12


def test_lasso_kernels_match_reference_on_sparse():
    rng = np.random.default_rng(4)
    X = sp.random(30, 20, density=0.3, random_state=rng, format="csc")
    y = rng.standard_normal(30)
    alpha = np.max(np.abs(X.T @ y)) / 30 / 10
    fast = lasso(X, y, alpha, tol=1e-12, fit_intercept=True)
    with config_context(kernels="reference"):
        ref = lasso(X, y, alpha, tol=1e-12, fit_intercept=True)
    np.testing.assert_allclose(fast.x, ref.x, rtol=1e-7, atol=1e-10)
    assert fast.success and ref.success
    # the Anderson systems (primal and dual) are nearly singular close to the optimum,
    # so rounding differences between the two linear solvers can move the last gap
    # check that passes a 1e-12 tolerance by one outer iteration
    assert abs(fast.nit - ref.nit) <= 1
    loose = lasso(X, y, alpha, tol=1e-4, fit_intercept=True)
    with config_context(kernels="reference"):
        loose_ref = lasso(X, y, alpha, tol=1e-4, fit_intercept=True)
    assert (loose.nit, loose.n_epochs) == (loose_ref.nit, loose_ref.n_epochs)
    np.testing.assert_allclose(loose.dual_gap, loose_ref.dual_gap, rtol=1e-6)


def test_lasso_positive_matches_sklearn(design):
    from sklearn.linear_model import Lasso as SkLasso

    X, y, amax = design
    alpha = amax / 30
    ours = Lasso(alpha, positive=True, fit_intercept=False, tol=1e-10).fit(X, y)
    ref = SkLasso(alpha=alpha, positive=True, fit_intercept=False, tol=1e-12,
                  max_iter=100_000).fit(X, y)
    assert ours.coef_.min() >= 0
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)


def test_lasso_float32_stays_float32(design):
    X, y, amax = design
    res = lasso(X.astype(np.float32), y.astype(np.float32), amax / 10, tol=1e-5)
    assert res.success and res.x.dtype == np.float32


def test_alpha_above_alpha_max_gives_zero(design):
    X, y, amax = design
    res = lasso(X, y, 1.01 * amax)
    assert res.success and res.nit == 0 and not np.any(res.x)


def test_unconverged_run_reports_failure_and_warns(design):
    X, y, amax = design
    res = lasso(X, y, amax / 100, tol=1e-14, maxiter=1)
    assert not res.success
    assert "duality gap" in res.message
    assert res.dual_gap == pytest.approx(_gap(X, y, res.x, None, amax / 100), rel=1e-6)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        Lasso(amax / 100, tol=1e-14, max_iter=1).fit(X, y)


def _logistic_oracle_with_intercept(X, y, alpha):
    """SciPy L-BFGS-B on the split ``w = u - v`` with a free intercept."""
    from scipy.optimize import minimize

    n, p = X.shape

    def f(v):
        w, b = v[:p] - v[p:2 * p], v[-1]
        z = X @ w + b
        d = -y / (1 + np.exp(y * z)) / n
        g = X.T @ d
        val = np.mean(np.logaddexp(0, -y * z)) + alpha * v[:2 * p].sum()
        return val, np.r_[g + alpha, -g + alpha, d.sum()]

    res = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * (2 * p) + [(None, None)],
                   options={"maxiter": 50_000, "ftol": 1e-15, "gtol": 1e-12})
    return res.x[:p] - res.x[p:2 * p], res.x[-1]


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sparse_logistic_matches_sklearn_liblinear(fit_intercept):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    n, p = 120, 30
    X = rng.standard_normal((n, p))
    y = np.where(X[:, :3] @ [2.0, -1.0, 1.0] + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    alpha = 0.02
    res = sparse_logistic_regression(X, y, alpha, fit_intercept=fit_intercept, tol=1e-10)
    assert res.success
    # liblinear minimises C * sum(loss) + ||w||_1 and penalises its intercept, so the
    # comparison is made without one; with an intercept, compare to skglm
    if not fit_intercept:
        ref = LogisticRegression(penalty="l1", C=1.0 / (n * alpha), solver="liblinear",
                                 fit_intercept=False, tol=1e-10, max_iter=10_000).fit(X, y)
        coef = ref.coef_.ravel()
        intercept = 0.0
    else:
        coef, intercept = _logistic_oracle_with_intercept(X, y, alpha)
        assert abs(res.intercept - intercept) < 1e-4
    np.testing.assert_allclose(res.x, coef, atol=1e-4)
    z = X @ coef + intercept
    f_ref = np.mean(np.logaddexp(0, -y * z)) + alpha * np.abs(coef).sum()
    assert res.fun <= f_ref + 1e-10


def test_sparse_logistic_estimator_sparse_input_and_labels():
    rng = np.random.default_rng(6)
    X = sp.random(100, 40, density=0.2, random_state=rng, format="csc")
    y = np.where(X @ rng.standard_normal(40) > 0, "spam", "ham")
    clf = SparseLogisticRegression(alpha=0.005, tol=1e-8).fit(X, y)
    assert set(clf.classes_) == {"ham", "spam"}
    assert clf.score(X, y) > 0.8
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # large margins: no overflow in exp
        far = clf.predict_proba(X * 1e4)
    assert np.all(np.isfinite(far)) and np.all((far >= 0) & (far <= 1))


# ------------------------------------------------------------------------ bad input
def test_bad_input_messages(design):
    X, y, amax = design
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"\bX\b.*finite"):
        lasso(bad, y, 0.1)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"\bX\b.*finite"):
        lasso(bad, y, 0.1)
    with pytest.raises(ValueError, match=r"\by\b"):
        lasso(X, y[:-1], 0.1)
    with pytest.raises(ValueError, match=r"\balpha\b"):
        lasso(X, y, -1.0)
    with pytest.raises(ValueError, match=r"\by\b.*binary"):
        sparse_logistic_regression(X, np.arange(X.shape[0], dtype=float), 0.1)
    with pytest.raises(ValueError, match=r"at least two classes"):
        SparseLogisticRegression().fit(X, np.zeros(X.shape[0]))
    Xs = sp.csc_matrix(X)
    Xs.data[0] = np.nan
    with pytest.raises(ValueError, match=r"\bX\b.*finite"):
        lasso(Xs, y, 0.1)
    with pytest.raises(ValueError, match=r"\bcoef0\b"):
        lasso(X, y, 0.1, coef0=np.zeros(3))
    with pytest.warns(Warning, match="not_an_option"):
        lasso(X, y, amax / 2, not_an_option=1)


def test_first_working_set_size_does_not_change_the_solution(design):
    """Whatever the first working-set size (``p0``; the Lasso's default is 100, larger
    than half of this design, and 500 covers every feature at once), the fit stops on
    the same certificate at the same solution."""
    X, y, amax = design
    alpha = amax / 20
    fits = [lasso(X, y, alpha, tol=1e-10, **kw) for kw in ({}, {"p0": 10}, {"p0": 500})]
    for res in fits:
        assert res.success
        assert _gap(X, y, res.x, None, alpha) <= 1e-10 * (y @ y) / y.shape[0] * 1.0001
        np.testing.assert_allclose(res.x, fits[0].x, atol=1e-6)
    assert fits[0].nit <= fits[1].nit
    with pytest.raises(ValueError, match=r"\bp0\b"):
        lasso(X, y, alpha, p0=0)
