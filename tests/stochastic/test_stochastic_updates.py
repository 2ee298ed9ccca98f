"""The update sequences of numopt.stochastic against transcriptions of each paper's
formulas (and of the reference variant named in the docs), on fixed gradient sequences.

The objective below hands out gradients (and Hessian diagonals) from a fixed list, one
per call, whatever ``x`` is: the solver's trajectory then depends only on its update
rule, which is recomputed here in float64 from the published formulas.
"""

import math

import numpy as np
import pytest

import numopt

T = 12        # steps: covers the SGD phase of the rectified AdaBelief (rho_t < 5) and after
DIM = 6


def _sequence(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    # a drifting mean plus noise: the belief (g - m)^2 and diffGrad's |g_prev - g| vary
    return [scale * (np.linspace(1.0, 2.0, DIM) + rng.standard_normal(DIM))
            for _ in range(T + 1)]


class _Replay:
    """``jac`` (and ``hessp``) replaying fixed arrays; ``fun`` is 0."""

    def __init__(self, grads, hess_diags=None):
        self.grads, self.hess, self.calls, self.hcalls = grads, hess_diags, 0, 0

    def fun(self, x):
        return 0.0

    def jac(self, x):
        g = self.grads[self.calls]
        self.calls += 1
        return g.astype(x.dtype)

    def hessp(self, x, v):
        h = self.hess[self.hcalls]
        self.hcalls += 1
        return (h * v).astype(x.dtype)


def _trajectory(method, grads, x0, hess_diags=None, **options):
    replay = _Replay(grads, hess_diags)
    xs = []
    res = numopt.minimize(replay.fun, x0, method=method, jac=replay.jac,
                          hessp=replay.hessp if hess_diags is not None else None,
                          tol=1e-300, callback=lambda xk: xs.append(xk),
                          options={"maxiter": len(grads) - 1, **options})
    assert res.nit == len(grads) - 1 and len(xs) == res.nit
    return np.array(xs)


# -- AdaBelief ------------------------------------------------------------------------

def _adabelief_paper(grads, x0, lr, b1, b2, eps):
    """Zhuang et al. (2020), Algorithm 2, as torch-optimizer and optax compute it:
    s_t = b2 s + (1 - b2) (g - m_t)^2 + eps, x -= lr m_hat / (sqrt(s_hat) + eps)."""
    x, m, s, out = x0.copy(), np.zeros_like(x0), np.zeros_like(x0), []
    for t, g in enumerate(grads[:-1], start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        m_hat, s_hat = m / (1 - b1 ** t), s / (1 - b2 ** t)
        x = x - lr * m_hat / (np.sqrt(s_hat) + eps)
        out.append(x)
    return np.array(out)


def _adabelief_official(grads, x0, lr, b1, b2, eps, degenerated_to_sgd=True):
    """adabelief-pytorch 0.2 (rectify=True): RAdam's rectification (Liu et al., 2020)
    with the official threshold rho_t >= 5, SGD with momentum before it."""
    x, m, s, out = x0.copy(), np.zeros_like(x0), np.zeros_like(x0), []
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads[:-1], start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        rho = rho_inf - 2 * t * b2 ** t / bc2
        if rho >= 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            x = x - lr * r * math.sqrt(bc2) / bc1 * m / (np.sqrt(s) + eps)
        elif degenerated_to_sgd:
            x = x - lr / bc1 * m
        out.append(x)
    return np.array(out)


# 1e-16: optax's eps and eps_root; 1e-3: torch-optimizer's default
@pytest.mark.parametrize("eps", [1e-16, 1e-8, 1e-3])
def test_adabelief_unrectified_follows_the_paper(eps):
    grads, x0 = _sequence(1), np.linspace(-1, 1, DIM)
    got = _trajectory("adabelief", grads, x0, lr=0.1, beta1=0.8, beta2=0.99, eps=eps,
                      rectify=False)
    want = _adabelief_paper(grads, x0, 0.1, 0.8, 0.99, eps)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("degenerated_to_sgd", [True, False])
def test_adabelief_rectified_follows_the_official_variant(degenerated_to_sgd):
    grads, x0 = _sequence(2), np.linspace(-1, 1, DIM)
    got = _trajectory("adabelief", grads, x0, lr=0.1, eps=1e-16,
                      degenerated_to_sgd=degenerated_to_sgd)
    want = _adabelief_official(grads, x0, 0.1, 0.9, 0.999, 1e-16, degenerated_to_sgd)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # the sequence covers both phases: rho_t < 5 for the first steps, then adaptive
    rho_inf = 2 / 0.001 - 1
    rhos = [rho_inf - 2 * t * 0.999 ** t / (1 - 0.999 ** t) for t in range(1, T + 1)]
    assert min(rhos) < 5 <= max(rhos)


def test_adabelief_default_is_the_rectified_official_variant():
    grads, x0 = _sequence(3), np.zeros(DIM)
    got = _trajectory("adabelief", grads, x0, lr=0.1)
    np.testing.assert_allclose(got, _adabelief_official(grads, x0, 0.1, 0.9, 0.999, 1e-16),
                               rtol=1e-12, atol=1e-14)
    unrect = _adabelief_paper(grads, x0, 0.1, 0.9, 0.999, 1e-16)
    assert np.abs(got - unrect).max() > 1e-3    # the variants do differ


# -- diffGrad -------------------------------------------------------------------------

def _diffgrad_paper(grads, x0, lr, b1, b2, eps):
    """Dubey et al. (2020), eq. (5)-(8), with eps added to sqrt(v_t) and the bias
    corrections folded into the step as the authors' code does:
    x -= lr sqrt(1 - b2^t) / (1 - b1^t) xi_t m_t / (sqrt(v_t) + eps),
    xi_t = 1 / (1 + exp(-|g_{t-1} - g_t|)), g_0 = 0."""
    x, m, v, g_prev, out = x0.copy(), np.zeros_like(x0), np.zeros_like(x0), \
        np.zeros_like(x0), []
    for t, g in enumerate(grads[:-1], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        xi = 1 / (1 + np.exp(-np.abs(g_prev - g)))
        x = x - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * xi * m / (np.sqrt(v) + eps)
        g_prev = g
        out.append(x)
    return np.array(out)


def test_diffgrad_follows_the_paper():
    grads, x0 = _sequence(4), np.linspace(-1, 1, DIM)
    got = _trajectory("diffgrad", grads, x0, lr=0.05, beta1=0.85, beta2=0.99, eps=1e-8)
    np.testing.assert_allclose(got, _diffgrad_paper(grads, x0, 0.05, 0.85, 0.99, 1e-8),
                               rtol=1e-12, atol=1e-14)


def test_diffgrad_float32_kernel_follows_the_paper():
    # the float32 kernel has its own sigmoid (a vectorized expf): within float32 rounding
    grads, x0 = _sequence(5, scale=10.0), np.linspace(-1, 1, DIM)
    got = _trajectory("diffgrad", [g.astype(np.float32) for g in grads],
                      x0.astype(np.float32), lr=0.05)
    assert got.dtype == np.float32
    want = _diffgrad_paper([g.astype(np.float32).astype(np.float64) for g in grads],
                           x0, 0.05, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


# -- AdaHessian -----------------------------------------------------------------------

def _adahessian_paper(grads, diags, x0, lr, b1, b2, eps, k, block):
    """Yao et al. (2021), eq. (8)-(11): D^(s) the block average of the Hessian diagonal,
    v_t = (sqrt((1 - b2) sum_i b2^(t-i) D_i^(s) D_i^(s) / (1 - b2^t)))^k,
    x -= lr m_hat / (v_t + eps)."""
    x, m, out = x0.copy(), np.zeros_like(x0), []
    hist = []
    for t, (g, d) in enumerate(zip(grads[:-1], diags), start=1):
        ds = np.array([d[(i // block) * block:(i // block + 1) * block].mean()
                       for i in range(d.size)])
        hist.append(ds)
        m = b1 * m + (1 - b1) * g
        acc = sum((1 - b2) * b2 ** (t - i) * h * h for i, h in enumerate(hist, start=1))
        v = np.sqrt(acc / (1 - b2 ** t)) ** k
        x = x - lr * (m / (1 - b1 ** t)) / (v + eps)
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("k, block, probes", [(1.0, 1, 1), (0.5, 1, 1), (1.0, 4, 1),
                                              (0.7, 4, 3)])
def test_adahessian_follows_the_paper(k, block, probes):
    # a diagonal Hessian: z * (H z) = diag(H) for every Rademacher z, so Hutchinson's
    # estimate is exact and the sequence is known; block 4 of 6 entries leaves a tail of 2
    grads, x0 = _sequence(6), np.linspace(-1, 1, DIM)
    rng = np.random.default_rng(7)
    diags = [rng.uniform(-3, 3, DIM) for _ in range(T)]
    replayed = [d for d in diags for _ in range(probes)]   # each probe sees the same H
    got = _trajectory("adahessian", grads, x0, hess_diags=replayed, lr=0.15,
                      hessian_power=k, block_size=block, n_hutchinson=probes)
    want = _adahessian_paper(grads, diags, x0, 0.15, 0.9, 0.999, 1e-4, k, block)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adahessian_hutchinson_is_unbiased():
    # a dense Hessian: the mean of z * (H z) over many probes tends to diag(H)
    from numopt.stochastic._adaptive import rademacher

    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5))
    H = M @ M.T
    import array_api_compat.numpy as xp
    zs = np.array([rademacher(rng, xp, 5, np.float64) for _ in range(20_000)])
    assert set(np.unique(zs)) == {-1.0, 1.0}
    draws = zs * (zs @ H)
    se = draws.std(axis=0) / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - np.diag(H)) < 5 * se + 1e-12)


# -- AdaGrad and AdaGrad-Norm (the steps of AdAdaGrad, deterministic use) ---------------

def test_adadagrad_deterministic_is_adagrad():
    grads, x0 = _sequence(8), np.zeros(DIM)
    got = _trajectory("adadagrad", grads, x0, lr=0.3, eps=1e-10, initial_accumulator=0.1)
    x, acc, want = x0.copy(), np.full(DIM, 0.1), []
    for g in grads[:-1]:           # Duchi, Hazan & Singer (2011), diagonal AdaGrad
        acc = acc + g * g
        x = x - 0.3 * g / (np.sqrt(acc) + 1e-10)
        want.append(x)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-12, atol=1e-14)


def test_adadagradnorm_deterministic_is_adagrad_norm():
    grads, x0 = _sequence(9), np.zeros(DIM)
    got = _trajectory("adadagradnorm", grads, x0, lr=0.3, eps=0.0, initial_accumulator=0.5)
    x, b2, want = x0.copy(), 0.5, []
    for g in grads[:-1]:           # Ward, Wu & Bottou (2019): b_{t+1}^2 = b_t^2 + |g_t|^2
        b2 = b2 + g @ g
        x = x - 0.3 / math.sqrt(b2) * g
        want.append(x)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-12, atol=1e-14)
