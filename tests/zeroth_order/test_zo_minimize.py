"""methods zo-sgd (mezo) and zo-ranksgd of numopt.minimize: MeZO's memory rule,
convergence, reproducibility, ranking oracles, bad input."""

import tracemalloc

import numpy as np
import pytest
from scipy.optimize import rosen

import numopt
from numopt.zeroth_order import perturbation
from numopt.zeroth_order._estimates import draw_keys


def _first_key(seed):
    # the solver's first draw from its generator (no batches: the keys come first)
    return draw_keys(np.random.default_rng(seed), 1)[0]


@pytest.mark.parametrize("inplace", [False, True])
def test_update_regenerates_the_evaluated_perturbation(inplace):
    """MeZO's rule: the step uses exactly the z that was evaluated, regenerated from
    its key (nothing of it stored): x1 = x0 - lr proj z with the z of x0 +- eps z."""
    x0 = np.linspace(-1.0, 1.0, 40)
    seen = []

    def fun(x):
        seen.append(x.copy())
        return float(np.sum(np.cos(x)) + x @ x)

    eps, lr = 1e-3, 0.01
    res = numopt.minimize(fun, x0, method="zo-sgd",
                          options=dict(eps=eps, lr=lr, maxiter=1, measure_every=0,
                                       seed=11, inplace=inplace))
    # init evaluates f(x0); then x0 + eps z and x0 - eps z
    plus, minus = seen[1], seen[2]
    evaluated = (plus - minus) / (2 * eps)
    z = perturbation(_first_key(11), 40)
    np.testing.assert_allclose(evaluated, z, rtol=1e-9, atol=1e-9)
    projection = (fun(plus) - fun(minus)) / (2 * eps)
    np.testing.assert_allclose(res.x, x0 - lr * projection * z, rtol=1e-13, atol=1e-15)


def test_inplace_mode_hands_x_itself_and_restores_it():
    x0 = np.linspace(-1.0, 1.0, 30)
    ids = []

    def fun(x):
        ids.append(id(x))
        return float(x @ x)

    numopt.minimize(fun, x0, method="mezo",
                    options=dict(maxiter=3, measure_every=0, inplace=True))
    assert len(set(ids[1:])) == 1      # every step evaluation saw the same array


@pytest.mark.parametrize("inplace, budget", [(True, 0.25), (False, 1.25)])
def test_no_perturbation_vector_is_kept(inplace, budget):
    """Memory a step allocates beyond what the solver holds between steps: nothing (in
    place) or the one copy of x that SciPy's rule hands to fun; a stored z would add d
    more entries."""
    d = 200_000
    x0 = np.zeros(d)
    traced = []   # (current, peak) at each callback, the peak since the one before

    def fun(x):
        return float(x @ x)

    def callback(intermediate_result):
        traced.append(tracemalloc.get_traced_memory())
        tracemalloc.reset_peak()

    numopt.minimize(fun, x0, method="zo-sgd", options=dict(maxiter=1, measure_every=0))
    tracemalloc.start()
    try:
        numopt.minimize(fun, x0, method="zo-sgd", callback=callback,
                        options=dict(maxiter=4, measure_every=0, inplace=inplace,
                                     n_directions=2))
    finally:
        tracemalloc.stop()
    extra = np.array([peak - before for (before, _), (_, peak) in zip(traced, traced[1:])])
    assert len(extra) == 3
    assert np.all(extra < budget * d * 8), extra / (d * 8)


def test_zo_sgd_converges_on_rosenbrock():
    res = numopt.minimize(rosen, np.array([-1.2, 1.0]), method="zo-sgd",
                          options=dict(lr=1e-3, gtol=1e-3, maxiter=60_000))
    assert res.success, res.message
    # the measure recomputed on the returned x (the central difference is accurate
    # to ~1e-10 here)
    from scipy.optimize import rosen_der

    assert np.max(np.abs(rosen_der(res.x))) <= 1.001e-3
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=5e-3)


def test_zo_ranksgd_converges_on_rosenbrock():
    res = numopt.minimize(rosen, np.array([-1.2, 1.0]), method="zo-ranksgd",
                          options=dict(gtol=1e-3, maxiter=20_000))
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=5e-3)


@pytest.mark.parametrize("estimator, options", [("gaussian", {"sparsity": 0.3}),
                                                ("rademacher", {}),
                                                ("coordinate", {"n_directions": 3})])
def test_estimators_converge_on_a_quadratic(estimator, options):
    rng = np.random.default_rng(3)
    M = rng.standard_normal((10, 10))
    H = M @ M.T / 20 + np.eye(10)
    c = rng.standard_normal(10)

    def fun(x):
        return 0.5 * (x - c) @ H @ (x - c)

    res = numopt.minimize(fun, np.zeros(10), method="zo-sgd",
                          options=dict(estimator=estimator, lr=0.03, gtol=1e-6,
                                       maxiter=20_000, **options))
    assert res.success, res.message
    assert np.max(np.abs(H @ (res.x - c))) <= 1.0001e-6


def _logistic():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    s = 2.0 * y - 1.0
    n, alpha = X.shape[0], 1e-2

    def fun(w, batch=None):
        rows = slice(None) if batch is None else batch
        return float(np.mean(np.logaddexp(0.0, -s[rows] * (X[rows] @ w)))
                     + 0.5 * alpha * w @ w)

    w_ref = LogisticRegression(C=1.0 / (n * alpha), fit_intercept=False, tol=1e-12,
                               max_iter=10_000).fit(X, y).coef_.ravel()
    return fun, X.shape, fun(w_ref)


def test_logistic_regression_on_scikit_learn_data():
    fun, (n, p), f_ref = _logistic()
    sgd = numopt.minimize(fun, np.zeros(p), method="zo-sgd",
                          options=dict(lr=0.02, maxiter=4000, measure_every=0))
    assert fun(sgd.x) - f_ref < 1e-3
    batched = numopt.minimize(fun, np.zeros(p), method="mezo",
                              options=dict(lr=0.02, maxiter=4000, measure_every=0,
                                           n_samples=n, batch_size=64, seed=1))
    assert fun(batched.x) - f_ref < 5e-3
    assert batched.nsamples == 1 * n + 2 * 4000 * 64     # f(x0), then 2 per batch
    ranked = numopt.minimize(fun, np.zeros(p), method="zo-ranksgd",
                             options=dict(maxiter=400, measure_every=0))
    assert fun(ranked.x) - f_ref < 1e-6


@pytest.mark.parametrize("method, options", [("zo-sgd", {}),
                                             ("zo-sgd", {"estimator": "coordinate"}),
                                             ("zo-ranksgd", {}),
                                             ("zo-sgd", {"n_samples": 50,
                                                         "batch_size": 5})])
def test_reproducible_with_a_seed(method, options):
    A = np.random.default_rng(0).standard_normal((50, 8))

    def fun(x, batch=None):
        rows = slice(None) if batch is None else batch
        return float(np.mean((A[rows] @ x - 1.0) ** 2))

    def run(seed):
        return numopt.minimize(fun, np.zeros(8), method=method,
                               options=dict(maxiter=30, seed=seed, lr=1e-2,
                                            **options)).x

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_mezo_is_zo_sgd():
    def fun(x):
        return float(np.sum((x - 1.0) ** 2))

    a = numopt.minimize(fun, np.zeros(4), method="mezo", options=dict(maxiter=50))
    b = numopt.minimize(fun, np.zeros(4), method="zo-sgd", options=dict(maxiter=50))
    assert np.array_equal(a.x, b.x) and a.nit == b.nit


def test_ranking_oracle_drives_zo_ranksgd_without_fun():
    rng = np.random.default_rng(2)
    H = np.diag(rng.uniform(1, 3, 6))
    c = rng.standard_normal(6)

    def f(x):
        return 0.5 * (x - c) @ H @ (x - c)

    def never(x):
        raise AssertionError("fun called although a ranking oracle was given")

    calls = []

    def oracle(points):
        calls.append(points.shape)
        return np.argsort([f(p) for p in points], kind="stable")

    def transformed(points):
        # an increasing transform ranks alike, up to the ties its rounding creates
        return np.argsort([np.log1p(f(p)) for p in points], kind="stable")

    res = numopt.minimize(never, np.zeros(6), method="zo-ranksgd",
                          options=dict(ranking=oracle, maxiter=150, seed=4))
    by_values = numopt.minimize(f, np.zeros(6), method="zo-ranksgd",
                                options=dict(maxiter=150, seed=4, measure_every=0))
    np.testing.assert_array_equal(res.x, by_values.x)   # the same ranking, same path
    by_transform = numopt.minimize(never, np.zeros(6), method="zo-ranksgd",
                                   options=dict(ranking=transformed, maxiter=150, seed=4))
    np.testing.assert_allclose(by_transform.x, res.x, rtol=0, atol=1e-6)
    assert not res.success and "ranking oracle" in res.message
    assert "fun" not in res and res.nfev == 0
    # two oracle calls an iteration: the m = 10 queries, then x and 5 line-search points
    assert res.nrank == len(calls) == 2 * res.nit and calls[:2] == [(10, 6), (6, 6)]
    assert f(res.x) < 1e-6 * f(np.zeros(6))


def test_nonfinite_values_end_the_run():
    res = numopt.minimize(lambda x: float("nan") if x[0] > 0.5 else float(x @ x),
                          np.array([0.6, 0.0]), method="zo-sgd", options=dict(maxiter=5))
    assert not res.success and res.status == 3 and "NaN" in res.message


def test_bad_input_names_the_argument():
    def fun(x):
        return float(x @ x)

    x0 = np.ones(3)
    for method, name, value, error in [
            ("zo-sgd", "estimator", "adam", ValueError),
            ("zo-sgd", "sparsity", 0.0, ValueError),
            ("zo-sgd", "eps", -1.0, ValueError),
            ("zo-sgd", "lr", 0.0, ValueError),
            ("zo-sgd", "n_directions", 0, ValueError),
            ("zo-sgd", "inplace", "yes", TypeError),
            ("zo-sgd", "measure_every", -1, ValueError),
            ("zo-ranksgd", "top_k", 11, ValueError),
            ("zo-ranksgd", "n_queries", 1, ValueError),
            ("zo-ranksgd", "shrink", 1.0, ValueError),
            ("zo-ranksgd", "ranking", "by hand", TypeError),
            ("zo-ranksgd", "seed", "abc", TypeError)]:
        with pytest.raises(error, match=name):
            numopt.minimize(fun, x0, method=method, options={name: value})
    with pytest.raises(ValueError, match="ranking"):
        numopt.minimize(fun, x0, method="zo-ranksgd",
                        options={"ranking": lambda P: [0, 1]})
    with pytest.raises(ValueError, match="batch_size"):
        numopt.minimize(lambda x, b: 0.0, x0, method="zo-sgd",
                        options={"n_samples": 4, "batch_size": 5})
    with pytest.raises(ValueError, match="x0"):
        numopt.minimize(fun, np.array([1.0, np.inf]), method="zo-sgd")
    with pytest.raises(TypeError, match="fun"):
        numopt.minimize(fun, x0, method="zo-sgd", options={"n_samples": 3})


def test_oracle_run_stalls_once_steps_no_longer_change_x():
    # at an exactly reachable minimizer every trial step ties with x or is worse: the
    # line search keeps x (a tie must not count as the longest step and grow it), the
    # step scale falls below the resolution and the run says so, long before maxiter
    def f(x):
        return float(np.sum((x - 1.0) ** 2))

    res = numopt.minimize(lambda x: 0.0, np.zeros(3), method="zo-ranksgd",
                          options=dict(maxiter=5000, ranking=lambda P: np.argsort(
                              [f(p) for p in P], kind="stable")))
    assert res.status == 4 and not res.success and res.nit < 1000, res.message
    np.testing.assert_allclose(res.x, 1.0, atol=1e-12)
