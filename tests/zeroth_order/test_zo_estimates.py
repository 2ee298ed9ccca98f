"""The zeroth-order estimates: unbiased on quadratics, perturbations regenerated from
their key, the kernel equal to the array-API reference."""

import numpy as np
import pytest

from numopt._config import config_context
from numopt.zeroth_order import (coordinate_gradient, perturbation, rank_gradient,
                                 spsa_gradient)
from numopt.zeroth_order._perturbation import add_perturbation

RNG = np.random.default_rng(0)
M = RNG.standard_normal((5, 5))
H = M @ M.T / 5 + np.eye(5)
B = RNG.standard_normal(5)
X = RNG.standard_normal(5)


def quadratic(x):
    return 0.5 * x @ H @ x + B @ x


GRAD = H @ X + B


def _mean_within_ci(samples, truth, z=5.0):
    """Every coordinate of the Monte Carlo mean within z standard errors of ``truth``."""
    samples = np.asarray(samples)
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(np.abs(mean - truth) <= z * stderr + 1e-12), (mean, truth, stderr)
    return mean


@pytest.mark.parametrize("kind, sparsity", [("gaussian", 1.0), ("rademacher", 1.0),
                                            ("gaussian", 0.4), ("rademacher", 0.3)])
def test_spsa_estimate_is_unbiased_on_a_quadratic(kind, sparsity):
    samples = [spsa_gradient(quadratic, X, eps=0.1, kind=kind, sparsity=sparsity, seed=s)
               for s in range(3000)]
    mean = _mean_within_ci(samples, GRAD)
    # and the test has power: the mean is near the gradient, not just noisy
    assert np.linalg.norm(mean - GRAD) < 0.3 * np.linalg.norm(GRAD)


def test_spsa_estimate_with_a_biased_scale_would_be_caught():
    # the check has power: the samples of a sparse perturbation at p = 0.5 without its
    # 1/sqrt(p) scaling (E[z z^T] = I / 2) fail it
    samples = [0.5 * spsa_gradient(quadratic, X, eps=0.1, seed=s) for s in range(3000)]
    with pytest.raises(AssertionError):
        _mean_within_ci(samples, GRAD)


def test_coordinate_estimate_is_unbiased_on_a_quadratic():
    samples = [coordinate_gradient(quadratic, X, eps=0.1, n_coordinates=2, seed=s)
               for s in range(3000)]
    _mean_within_ci(samples, GRAD)
    # each sample touches exactly two coordinates
    assert all(np.count_nonzero(g) == 2 for g in samples[:50])


def test_rank_estimate_points_along_the_gradient():
    samples = [rank_gradient(quadratic, X, smoothing=1e-3, seed=s) for s in range(400)]
    mean = np.mean(samples, axis=0)
    cosine = mean @ GRAD / (np.linalg.norm(mean) * np.linalg.norm(GRAD))
    assert cosine > 0.95


def test_rank_estimate_needs_only_the_ranking():
    # a user oracle ranking by exp(f) (any increasing transform) gives the same estimate,
    # and fun is never called
    def never(x):
        raise AssertionError("fun called although a ranking oracle was given")

    def oracle(points):
        return np.argsort([np.exp(quadratic(p)) for p in np.asarray(points)])

    by_values = rank_gradient(quadratic, X, seed=7)
    by_oracle = rank_gradient(never, X, ranking=oracle, seed=7)
    np.testing.assert_array_equal(by_values, by_oracle)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
@pytest.mark.parametrize("sparsity", [1.0, 0.25])
def test_perturbation_moments(kind, sparsity):
    z = perturbation(123456789, 200_000, kind=kind, sparsity=sparsity)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    # E z^2 = 1 whatever the sparsity (the 1/sqrt(p) scaling)
    assert abs((z * z).mean() - 1.0) <= 5 * np.sqrt(((z ** 4).mean() - 1) / n) + 1e-12
    assert abs(np.mean(z != 0) - sparsity) < 5 * np.sqrt(sparsity * (1 - sparsity) / n + 1e-12)
    if kind == "rademacher":
        assert set(np.unique(np.abs(z[z != 0]))) == {1 / np.sqrt(sparsity)}


def test_perturbation_is_a_function_of_its_key_and_index():
    a = perturbation(42, 1000)
    assert np.array_equal(a, perturbation(42, 1000))
    assert not np.array_equal(a, perturbation(43, 1000))
    # entry i does not depend on d: a longer vector extends the shorter
    assert np.array_equal(perturbation(42, 300_000)[:1000], a)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, sparsity", [(0, 1.0), (1, 1.0), (0, 0.3)])
def test_numba_kernel_matches_the_reference(dtype, kind, sparsity):
    from numopt.zeroth_order._kernels_numba import add_perturbation as numba_add

    x = np.random.default_rng(1).standard_normal(70_000).astype(dtype)  # > one chunk
    ref, fast = x.copy(), x.copy()
    add_perturbation(np, ref, 2 ** 63 + 12345, -0.37, kind, sparsity)
    numba_add(np, fast, 2 ** 63 + 12345, -0.37, kind, sparsity)
    # the same z up to the last bit of log/cos, then x + s z rounded: a few ulps of the
    # terms (not of the sum, which may cancel)
    terms = np.abs(x.astype(np.float64)) + np.abs(ref.astype(np.float64) - x)
    assert np.all(np.abs(fast.astype(np.float64) - ref) <= 4 * np.finfo(dtype).eps * terms)
    assert np.array_equal(fast != x, ref != x)


def test_reference_path_gives_the_kernels_perturbation():
    with config_context(kernels="reference"):
        z_ref = perturbation(9, 5000)
    np.testing.assert_allclose(perturbation(9, 5000), z_ref, rtol=1e-14)


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="key"):
        perturbation(-1, 10)
    with pytest.raises(TypeError, match="key"):
        perturbation(2 ** 64, 10)
    with pytest.raises(ValueError, match="kind"):
        perturbation(1, 10, kind="uniform")
    with pytest.raises(ValueError, match="sparsity"):
        perturbation(1, 10, sparsity=0.0)
    with pytest.raises(ValueError, match="eps"):
        spsa_gradient(quadratic, X, eps=0.0)
    with pytest.raises(ValueError, match="n_coordinates"):
        coordinate_gradient(quadratic, X, n_coordinates=6)
    with pytest.raises(ValueError, match="top_k"):
        rank_gradient(quadratic, X, n_queries=4, top_k=5)
    with pytest.raises(ValueError, match="ranking"):
        rank_gradient(quadratic, X, ranking=lambda P: [0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="x"):
        spsa_gradient(quadratic, np.array([np.nan, 1.0]))


@pytest.mark.parametrize("m, order", [(10, [3, 7, 0, 9, 1]), (4, [2]), (5, [4, 3, 2, 1, 0])])
def test_rank_weights_are_the_ranking_graph_sum(m, order):
    """The paper's estimator, by brute force: (1/|E|) sum over the ordered pairs (a
    better than b) of (xi_b - xi_a); the pairs are those within the ranked top k and
    those of a ranked and an unranked query."""
    from numopt.zeroth_order._estimates import rank_weights

    xi = np.random.default_rng(m).standard_normal((m, 7))
    unranked = [i for i in range(m) if i not in order]
    edges = [(a, b) for r, a in enumerate(order) for b in order[r + 1:]]
    edges += [(a, b) for a in order for b in unranked]
    expected = sum(xi[b] - xi[a] for a, b in edges) / len(edges)
    np.testing.assert_allclose(rank_weights(order, m) @ xi, expected, rtol=1e-13,
                               atol=1e-15)
