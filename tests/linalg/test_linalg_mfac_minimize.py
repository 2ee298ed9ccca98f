"""method="mfac" of numopt.minimize: the paper's update, convergence, bad input."""

import numpy as np
import pytest

import numopt


def _logistic_problem():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    s = 2.0 * y - 1.0

    def fun(w, batch=None):
        rows = slice(None) if batch is None else batch
        return float(np.mean(np.logaddexp(0.0, -s[rows] * (X[rows] @ w))))

    def jac(w, batch=None):
        rows = slice(None) if batch is None else batch
        z = s[rows] * (X[rows] @ w)
        return -(X[rows].T @ (s[rows] / (1.0 + np.exp(z)))) / z.shape[0]

    return X, y, fun, jac


def _sklearn_optimum(X, y, alpha):
    """scikit-learn's L2 logistic regression: C sum(loss) + ||w||^2 / 2 is n C times
    mean(loss) + alpha / 2 ||w||^2 for C = 1 / (n alpha)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / (X.shape[0] * alpha), fit_intercept=False,
                             tol=1e-12, max_iter=10_000).fit(X, y)
    return clf.coef_.ravel()


def _transcription(jac, x0, steps, *, lr, damping, ngrads, momentum, weight_decay):
    """The reference code's loop with the dense damped inverse: window of zeros, the
    new gradient replaces the oldest, d = F^-1 g, v = mu v + (1 - mu) d, x -= lr v."""
    x = x0.copy()
    window = np.zeros((ngrads, x.size))
    velocity = np.zeros_like(x)
    iterates = []
    for t in range(steps):
        g = jac(x) + weight_decay * x
        window[t % ngrads] = g
        F = damping * np.eye(x.size) + window.T @ window / ngrads
        d = np.linalg.solve(F, g)
        if momentum:
            velocity = momentum * velocity + (1 - momentum) * d
            d = velocity
        x = x - lr * d
        iterates.append(x)
    return iterates


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 1e-2)])
def test_iterates_follow_the_papers_update(momentum, weight_decay):
    # a non-quadratic function so that the gradients (and the window) keep changing;
    # more steps than the window holds, so the ring buffer wraps
    rng = np.random.default_rng(0)
    A = rng.standard_normal((15, 8))

    def fun(x):
        return float(np.sum(np.logaddexp(0.0, A @ x)) + 0.1 * np.sum(x ** 4))

    def jac(x):
        return A.T @ (1.0 / (1.0 + np.exp(-(A @ x)))) + 0.4 * x ** 3

    x0 = rng.standard_normal(8)
    options = dict(lr=0.05, damping=1e-2, ngrads=4, momentum=momentum,
                   weight_decay=weight_decay)
    seen = []
    numopt.minimize(fun, x0, jac=jac, method="mfac", callback=seen.append,
                    options=dict(maxiter=11, gtol=0.0, **options))
    expected = _transcription(jac, x0, 11, **options)
    assert len(seen) == 11
    for ours, theirs in zip(seen, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_logistic_regression_matches_scikit_learn():
    X, y, fun, jac = _logistic_problem()
    alpha = 1e-2
    w_ref = _sklearn_optimum(X, y, alpha)
    res = numopt.minimize(fun, np.zeros(X.shape[1]), jac=jac, method="mfac",
                          options=dict(lr=0.05, damping=0.1, ngrads=32, weight_decay=alpha,
                                       gtol=1e-7, maxiter=5000))
    assert res.success, res.message
    assert res.optimality <= 1e-7
    # the measure, recomputed on the returned x
    g = jac(res.x) + alpha * res.x
    assert np.max(np.abs(g)) <= 1e-7
    # strong convexity alpha: ||w - w*|| <= ||grad|| / alpha
    np.testing.assert_allclose(res.x, w_ref, atol=np.linalg.norm(g) / alpha + 1e-6)


def test_stochastic_logistic_regression_gets_close_and_is_reproducible():
    X, y, fun, jac = _logistic_problem()
    n = X.shape[0]
    alpha = 1e-2
    w_ref = _sklearn_optimum(X, y, alpha)
    f_ref = fun(w_ref) + 0.5 * alpha * w_ref @ w_ref
    options = dict(lr=0.05, damping=0.1, ngrads=32, weight_decay=alpha, gtol=1e-8,
                   maxiter=600, n_samples=n, batch_size=64, seed=3)
    res = numopt.minimize(fun, np.zeros(X.shape[1]), jac=jac, method="mfac",
                          options=options)
    assert not res.success and "gtol" in res.message     # a stochastic run ends at maxiter
    assert res.fun - f_ref < 2e-3
    # sample values and gradients touched: a gradient per sample of the 600 batches (no
    # fun call in a step), and a full measurement (value and gradient) at the start and
    # after every epoch of 9 batches
    assert res.nsamples == 600 * 64 + 2 * (600 // 9 + 1) * n
    assert res.nfev == 600 // 9 + 1 and res.njev == 600 + 600 // 9 + 1
    assert res.measured_at == 594
    again = numopt.minimize(fun, np.zeros(X.shape[1]), jac=jac, method="mfac",
                            options=options)
    assert np.array_equal(res.x, again.x)
    other = numopt.minimize(fun, np.zeros(X.shape[1]), jac=jac, method="mfac",
                            options={**options, "seed": 4})
    assert not np.array_equal(res.x, other.x)


def test_bad_input_names_the_argument():
    def fun(x):
        return float(x @ x)

    def jac(x):
        return 2 * x

    x0 = np.ones(3)
    with pytest.raises(TypeError, match="jac"):
        numopt.minimize(fun, x0, method="mfac")
    for name, value, error in [("lr", 0.0, ValueError), ("momentum", 1.0, ValueError),
                               ("damping", -1.0, ValueError), ("ngrads", 0, ValueError),
                               ("ngrads", 2.5, TypeError), ("weight_decay", -1.0, ValueError),
                               ("measure_every", 0, ValueError)]:
        with pytest.raises(error, match=name):
            numopt.minimize(fun, x0, jac=jac, method="mfac", options={name: value})
    with pytest.raises(ValueError, match="batch_size"):
        numopt.minimize(lambda x, b: 0.0, x0, jac=lambda x, b: x, method="mfac",
                        options={"n_samples": 5, "batch_size": 6})
    with pytest.raises(ValueError, match="x0"):
        numopt.minimize(fun, np.array([1.0, np.nan]), jac=jac, method="mfac")
