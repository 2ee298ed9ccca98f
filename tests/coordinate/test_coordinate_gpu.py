"""CuPy path of numopt.coordinate.bcd on dense problems: skips without CuPy and a GPU."""

import numpy as np
import pytest

from numopt import config_context
from numopt.coordinate import L1LeastSquares, LeastSquares, bcd
from numopt.problems import coordinate_least_squares, coordinate_nonneg_l1

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def xp():
    pytest.importorskip("cupy")
    import array_api_compat.cupy as cupy_xp

    return cupy_xp


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("update", ["lipschitz", "newton"])
def test_gpu_bcd_matches_cpu(xp, dtype, update):
    A, b, _ = coordinate_least_squares(200, 80, seed=0)
    A, b = A.astype(dtype), b.astype(dtype)
    kw = dict(partition="variable", rule="gsl", update=update, block_size=4, maxiter=300,
              tol=1e-300)
    cpu = bcd(LeastSquares(A, b), **kw)
    gpu = bcd(LeastSquares(xp.asarray(A), xp.asarray(b)), **kw)
    assert type(gpu.x).__module__.startswith("cupy")
    assert gpu.x.dtype == getattr(np, dtype)
    tol = 1e-3 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(gpu.x.get(), cpu.x, rtol=tol, atol=tol)


def test_gpu_kernels_match_reference(xp):
    from numopt.coordinate._bcd_rules import greedy_scores as reference_scores
    from numopt.coordinate._kernels_cupy import block_gradient_update, greedy_scores
    from numopt.coordinate._problems import block_gradient_update as reference_update

    rng = np.random.default_rng(1)
    x = rng.standard_normal(500) * (rng.random(500) < 0.5)
    g = rng.standard_normal(500)
    L = rng.uniform(0.5, 2, 500)
    for l1, positive, scaled in [(0.0, False, True), (0.3, False, True), (0.3, True, False)]:
        ref = reference_scores(np, x, g, L, l1, positive, scaled)
        out = greedy_scores(xp, xp.asarray(x), xp.asarray(g), xp.asarray(L), l1, positive,
                            scaled)
        np.testing.assert_allclose(out.get(), ref, rtol=1e-12)
    M = rng.standard_normal((500, 500))
    Q = M @ M.T
    block = np.array([3, 17, 250, 499])
    delta = rng.standard_normal(4)
    ref = reference_update(np, Q, block, delta, g.copy())
    out = block_gradient_update(xp, xp.asarray(Q), xp.asarray(block), xp.asarray(delta),
                                xp.asarray(g))
    np.testing.assert_allclose(out.get(), ref, rtol=1e-10)


def test_gpu_l1_bcd_identifies_the_cpu_support(xp):
    A, b, l1 = coordinate_nonneg_l1(100, 150, seed=0)
    kw = dict(partition="variable", rule="gsl", block_size=5, maxiter=5000, tol=1e-8)
    cpu = bcd(L1LeastSquares(A, b, l1, positive=True), **kw)
    gpu = bcd(L1LeastSquares(xp.asarray(A), xp.asarray(b), l1, positive=True), **kw)
    assert gpu.success
    np.testing.assert_array_equal(np.flatnonzero(gpu.x.get()), np.flatnonzero(cpu.x))
    with config_context(kernels="reference"):
        ref = bcd(L1LeastSquares(xp.asarray(A), xp.asarray(b), l1, positive=True), **kw)
    np.testing.assert_allclose(gpu.x.get(), ref.x.get(), atol=1e-10)
