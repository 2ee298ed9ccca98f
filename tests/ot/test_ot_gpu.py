"""CuPy kernels agree with the CPU solvers (run on a machine with an NVIDIA GPU)."""

import numpy as np
import pytest

from numopt.ot import sinkhorn
from numopt.problems._ot import random_ot_problem

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("method", ["kernel", "log"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cupy_sinkhorn_matches_numpy(method, dtype):
    cupy = pytest.importorskip("cupy")
    a, b, M = random_ot_problem(300, 200, weights="random", dtype=np.dtype(dtype))
    tol = 1e-9 if dtype == "float64" else 1e-5
    cpu = sinkhorn(a, b, M, 0.02, method=method, tol=tol)
    gpu = sinkhorn(cupy.asarray(a), cupy.asarray(b), cupy.asarray(M), 0.02, method=method,
                   tol=tol)
    assert gpu.success and isinstance(gpu.plan, cupy.ndarray)
    assert gpu.plan.dtype == np.dtype(dtype)
    assert gpu.marginal_error <= 2 * tol
    atol = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(cupy.asnumpy(gpu.plan), cpu.plan, atol=atol)


def test_cupy_log_small_reg_and_batch():
    cupy = pytest.importorskip("cupy")
    a, b, M = random_ot_problem(256, weights="random")
    A = np.stack([a, np.full_like(a, 1 / a.size)])
    cpu = sinkhorn(A, b, M, 1e-3, method="log", tol=1e-8)
    gpu = sinkhorn(cupy.asarray(A), cupy.asarray(b), cupy.asarray(M), 1e-3, method="log",
                   tol=1e-8)
    assert gpu.success and bool(gpu.converged.all())
    np.testing.assert_allclose(cupy.asnumpy(gpu.plan), cpu.plan, atol=1e-8)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reg", [0.05, 1e-3])
def test_cupy_log_variants_match_reference_step(dtype, reg):
    """The shifted (default) and online log kernels against the array-API reference step,
    from a cold start (shifts far off: the exact fall-back) and from warm potentials."""
    cupy = pytest.importorskip("cupy")
    import array_api_compat.cupy as cxp

    from numopt.ot._kernels_cupy import sinkhorn_log_step
    from numopt.ot._sinkhorn import sinkhorn_log_step as reference_step

    a, b, M = random_ot_problem(300, 200, weights="random")
    A = np.stack([a, np.full_like(a, 1 / a.size)])
    A[0, :3] = 0  # zero weights: -inf potentials
    A[0] /= A[0].sum()
    B = np.broadcast_to(b, (2, b.size)).copy()
    logA, logB = np.log(np.where(A > 0, A, 1)), np.log(B)
    logA[A == 0] = -np.inf
    F, G = np.zeros_like(A), np.zeros_like(B)
    active = cupy.ones(2, dtype=bool)
    for warm in range(2):
        ref = reference_step(np, M, F, G, logA, logB, reg, None)
        args = [cupy.asarray(x, dtype=dtype) for x in (M, F, G, logA, logB)]
        for variant in ("shifted", "online"):
            out = sinkhorn_log_step(cxp, *args, reg, active, variant=variant)
            for got, want in zip(out[:2], ref[:2]):
                got = cupy.asnumpy(got).astype(np.float64)
                assert np.array_equal(np.isinf(got), np.isinf(want))
                finite = np.isfinite(want)
                # in units of reg, relative to the size of the exponents (float32 rounds
                # M / reg to about 1e-7 of its size)
                scale = max(1.0, float(np.abs(want[finite]).max()) / reg)
                tol = (1e-12 if dtype == "float64" else 1e-5) * scale
                np.testing.assert_allclose(got[finite] / reg, want[finite] / reg, rtol=0,
                                           atol=tol)
            if not warm:  # cold start: the kernels skip zero-weight rows whose F is not
                continue  # yet -inf (the solver discards that first error anyway)
            np.testing.assert_allclose(cupy.asnumpy(out[2]), ref[2],
                                       rtol=1e-8 if dtype == "float64" else 1e-2,
                                       atol=1e-11 if dtype == "float64" else 1e-4)
        for _ in range(20):
            F, G, _ = reference_step(np, M, F, G, logA, logB, reg, None)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(300, 200), (257, 301), (64, 1000)])
def test_fused_kernel_step_matches_cublas_products(dtype, shape):
    """The fused single-problem kernel-mode step (vector and scalar loads, several row
    chunks) against the plain matrix-product formula."""
    cupy = pytest.importorskip("cupy")
    from numopt.ot._kernels_cupy import sinkhorn_kernel_step

    rng = np.random.default_rng(3)
    n, m = shape
    K = cupy.asarray(rng.uniform(0.1, 1.0, size=(n, m)), dtype=dtype)
    U = cupy.asarray(rng.uniform(0.5, 2.0, size=(1, n)), dtype=dtype)
    V = cupy.asarray(rng.uniform(0.5, 2.0, size=(1, m)), dtype=dtype)
    A = cupy.full((1, n), 1.0 / n, dtype=dtype)
    Bw = cupy.full((1, m), 1.0 / m, dtype=dtype)
    active = cupy.ones(1, dtype=bool)
    fused = sinkhorn_kernel_step(None, K, U, V, A, Bw, active, fused=True)
    plain = sinkhorn_kernel_step(None, K, U, V, A, Bw, active, fused=False)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for got, want in zip(fused, plain):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(cupy.asnumpy(got), cupy.asnumpy(want), rtol=rtol)
