"""``precompute`` (the Gram-matrix path) of the least-squares fits: the same solutions
and certificates as the data path, for every form of the parameter."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from numopt import config_context
from numopt.coordinate import ElasticNet, Lasso, elastic_net, lasso


def _tall(n=400, p=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, 1] += 0.9 * X[:, 0]            # correlated columns: many sweeps
    X += 3.0                            # uncentred: the intercept matters
    y = X[:, :6] @ rng.standard_normal(6) + 0.5 * rng.standard_normal(n) + 5.0
    return X, y, rng


def _gap(X, y, w, b, alpha, l1_ratio, s=None):
    """Elastic-net duality gap at the (rescaled) residual, recomputed here."""
    n = y.shape[0]
    s = np.ones(n) if s is None else s * n / s.sum()
    yc = y - (s @ y) / n if b is not None else y
    r = y - X @ w - (b or 0.0)
    a1, a2 = alpha * l1_ratio * n, alpha * (1 - l1_ratio) * n
    corr = X.T @ (s * r)
    primal = 0.5 * s @ (r * r) + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w
    if a2 == 0:
        c = min(1.0, a1 / np.abs(corr).max())
        dual = c * (s @ (r * yc)) - 0.5 * c * c * (s @ (r * r))
    else:
        excess = np.maximum(np.abs(corr) - a1, 0.0)
        dual = s @ (r * yc) - 0.5 * (s @ (r * r)) - excess @ excess / (2 * a2)
    return (primal - dual) / n, (s @ (yc * yc)) / n


@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_path_matches_data_path(l1_ratio, fit_intercept, weighted):
    X, y, rng = _tall()
    sw = rng.uniform(0.2, 2.0, y.shape[0]) if weighted else None
    alpha = 0.02
    data = elastic_net(X, y, alpha, l1_ratio, fit_intercept=fit_intercept,
                       sample_weight=sw, tol=1e-12)
    gram = elastic_net(X, y, alpha, l1_ratio, fit_intercept=fit_intercept,
                       sample_weight=sw, tol=1e-12, precompute=True)
    assert data.success and gram.success
    np.testing.assert_allclose(gram.x, data.x, atol=1e-6)
    # (the intercept sums the coefficients' errors times the column means, ~3 here)
    np.testing.assert_allclose(X @ gram.x + gram.intercept, X @ data.x + data.intercept,
                               atol=1e-5)
    gap, scale = _gap(X, y, gram.x, gram.intercept if fit_intercept else None, alpha,
                      l1_ratio, sw)
    assert gap <= 1e-12 * scale * 1.001
    assert gram.dual_gap == pytest.approx(gap, rel=1e-4, abs=1e-15 * scale)


def test_gram_path_sparse_auto_and_reference():
    X, y, _ = _tall(seed=1)
    Xs = sp.csc_matrix(np.where(np.abs(X - 3.0) > 0.5, X, 0.0))
    dense = lasso(Xs.toarray(), y, 0.02, fit_intercept=True, tol=1e-12)
    sparse = lasso(Xs, y, 0.02, fit_intercept=True, tol=1e-12, precompute="auto")
    assert sparse.success
    np.testing.assert_allclose(sparse.x, dense.x, atol=1e-7)
    with config_context(kernels="reference"):
        ref = lasso(X[:100], y[:100], 0.05, tol=1e-12, precompute=True)
    fast = lasso(X[:100], y[:100], 0.05, tol=1e-12, precompute=True)
    assert ref.success and fast.success
    np.testing.assert_allclose(ref.x, fast.x, atol=1e-7)


def test_gram_path_stops_on_the_gap_not_epochs():
    """The Gram solve is certified on the data: a tolerance it cannot reach in the
    epochs allowed ends unconverged with the gap named, never a success."""
    X, y, _ = _tall(seed=2)
    res = lasso(X, y, 1e-4, tol=1e-14, precompute=True, max_epochs=2, maxiter=2)
    assert not res.success and "duality gap" in res.message
    gap, scale = _gap(X, y, res.x, None, 1e-4, 1.0)
    assert res.dual_gap == pytest.approx(gap, rel=1e-6)


def test_user_gram_matrix():
    X, y, _ = _tall(seed=3)
    G = X.T @ X
    given = Lasso(0.05, fit_intercept=False, precompute=G, tol=1e-12).fit(X, y)
    plain = Lasso(0.05, fit_intercept=False, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(given.coef_, plain.coef_, atol=1e-6)
    with pytest.raises(ValueError, match="precompute.*Gram"):
        Lasso(0.05, fit_intercept=False, precompute=G[:5, :5]).fit(X, y)
    wrong = G.copy()
    wrong[:, :] *= 1.5
    with pytest.raises(ValueError, match="precompute"):
        Lasso(0.05, fit_intercept=False, precompute=wrong).fit(X, y)
    # with an intercept the matrix of the raw X is not the centred one: recomputed
    with pytest.warns(UserWarning, match="precompute"):
        centred = ElasticNet(0.05, l1_ratio=0.5, precompute=G, tol=1e-12).fit(X, y)
    ref = ElasticNet(0.05, l1_ratio=0.5, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(centred.coef_, ref.coef_, atol=1e-6)
    with pytest.raises(ValueError, match="precompute"):
        Lasso(precompute="always").fit(X, y)


def test_precompute_matches_sklearn():
    from sklearn.linear_model import ElasticNet as SkElasticNet

    X, y, _ = _tall(seed=4)
    ours = ElasticNet(0.03, l1_ratio=0.8, precompute=True, tol=1e-12).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkElasticNet(alpha=0.03, l1_ratio=0.8, precompute=True, tol=1e-14,
                           max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)
