"""GPU kernels (CuPy) against the CPU: they skip without CuPy and an NVIDIA GPU."""

import numpy as np
import pytest
import scipy.sparse as sp

from numopt.linalg import cg, sor, ssor_preconditioner
from numopt.problems import poisson_2d, poisson_3d

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cp():
    return pytest.importorskip("cupy")


def _to_gpu(A):
    import cupyx.scipy.sparse as csp

    return csp.csr_matrix(A)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
def test_multicolor_sweep_matches_cpu_sweep_in_colour_order(cp, dtype, reverse):
    from numopt.linalg._kernels_cupy import sor_sweep as gpu_sweep
    from numopt.linalg._kernels_numba import sor_sweep as cpu_sweep
    from numopt.linalg._validation import as_csr_system

    A = poisson_3d(9).astype(dtype)
    A = A + 0.1 * (A != 0).astype(dtype)  # non-constant values, same pattern
    b = np.random.default_rng(0).standard_normal(A.shape[0]).astype(dtype)
    cpu = as_csr_system(A, np, dtype)
    order, color_ptr = cpu.coloring()
    x_cpu = np.zeros_like(b)
    gpu = as_csr_system(_to_gpu(A), _xp(), dtype)
    x_gpu = cp.zeros(A.shape[0], dtype=dtype)
    for _ in range(3):
        cpu_sweep(np, cpu.indptr, cpu.indices, cpu.data, b, x_cpu, 1.3, order, color_ptr,
                  reverse)
        gpu_sweep(None, gpu.indptr, gpu.indices, gpu.data, cp.asarray(b), x_gpu, 1.3,
                  cp.asarray(order), color_ptr, reverse)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(x_gpu.get(), x_cpu, rtol=tol, atol=tol)


def _xp():
    import array_api_compat.cupy as cupy_xp

    return cupy_xp


@pytest.mark.parametrize("symmetric", [False, True])
def test_sor_on_gpu_solves(cp, symmetric):
    A = poisson_2d(40)
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    res = sor(_to_gpu(A), cp.asarray(b), omega=1.5, symmetric=symmetric, tol=1e-9)
    assert res.success and isinstance(res.x, cp.ndarray)
    cpu = sor(A, b, omega=1.5, symmetric=symmetric, tol=1e-9, ordering="multicolor",
              check_every=10)
    # both check every 10 sweeps; the device's reductions round differently, so a
    # residual at the threshold may be noticed one check later on one of them
    assert abs(res.nit - cpu.nit) <= 10
    x = res.x.get()
    assert np.linalg.norm(b - A @ x) <= 1e-9 * np.linalg.norm(b) * (1 + 1e-6)
    np.testing.assert_allclose(x, cpu.x, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind", ["dense", "sparse", "operator"])
def test_cg_on_gpu_matches_scipy(cp, kind):
    import scipy.sparse.linalg as spla

    A = poisson_2d(30)
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    x_ref, _ = spla.cg(A, b, rtol=1e-10)
    its = []
    spla.cg(A, b, rtol=1e-10, callback=its.append)
    A_gpu = _to_gpu(A)
    if kind == "dense":
        A_gpu = A_gpu.toarray()
    elif kind == "operator":
        from cupyx.scipy.sparse.linalg import aslinearoperator
        A_gpu = aslinearoperator(A_gpu)
    res = cg(A_gpu, cp.asarray(b), tol=1e-10)
    assert res.success and isinstance(res.x, cp.ndarray)
    assert len(its) - 1 <= res.nit < len(its) + 11  # convergence tested every 10 iterations
    np.testing.assert_allclose(res.x.get(), x_ref, rtol=1e-8, atol=1e-9)
    exact = cg(A_gpu, cp.asarray(b), tol=1e-10, check_every=1)
    assert abs(exact.nit - len(its)) <= 1  # GPU reductions round differently


@pytest.mark.parametrize("omega", [0.8, 1.5, 1.9])
def test_gpu_ssor_preconditioner_matches_cpu_multicolor(cp, omega):
    A = poisson_2d(20) + 0.3 * poisson_2d(20).multiply(poisson_2d(20) < 0)
    r = np.random.default_rng(3).standard_normal(A.shape[0])
    cpu = ssor_preconditioner(A, omega, ordering="multicolor").matvec(r)
    gpu = ssor_preconditioner(_to_gpu(A), omega).matvec(cp.asarray(r))
    np.testing.assert_allclose(gpu.get(), cpu, rtol=1e-11, atol=1e-12)


def test_gpu_pcg(cp):
    A = poisson_2d(64)
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    A_gpu = _to_gpu(A)
    M = ssor_preconditioner(A_gpu, 1.5)
    res = cg(A_gpu, cp.asarray(b), M=M, tol=1e-8)
    plain = cg(A_gpu, cp.asarray(b), tol=1e-8)
    assert res.success and res.nit < plain.nit
    assert float(cp.linalg.norm(cp.asarray(b) - A_gpu @ res.x)) <= 1e-7 * np.linalg.norm(b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cg_update_kernel(cp, dtype):
    from numopt.linalg._kernels_cupy import cg_direction, cg_update

    rng = np.random.default_rng(5)
    x, r, p, q = (rng.standard_normal(100_003).astype(dtype) for _ in range(4))
    xg, rg, pg, qg = (cp.asarray(v) for v in (x, r, p, q))
    rr = cg_update(None, xg, rg, pg, qg, cp.asarray(0.37, dtype=dtype))
    x += dtype(0.37) * p
    r -= dtype(0.37) * q
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # the GPU fuses x + a*p into one FMA: entries that cancel differ by an ulp of O(1)
    np.testing.assert_allclose(xg.get(), x, rtol=tol, atol=tol)
    np.testing.assert_allclose(rg.get(), r, rtol=tol, atol=tol)
    np.testing.assert_allclose(float(rr), float(np.dot(r.astype(np.float64), r)), rtol=tol)
    cg_direction(None, pg, rg, 0.5)
    np.testing.assert_allclose(pg.get(), r + dtype(0.5) * p, rtol=tol, atol=tol)


def test_gpu_sketch_solve(cp):
    from numopt.linalg import sketch_solve
    from numopt.problems import least_squares_problem

    A, b, x_ref = least_squares_problem(50, 6, seed=6)
    for sketch in ("kaczmarz", "gaussian", "countsketch"):
        res = sketch_solve(cp.asarray(A), cp.asarray(b), sketch=sketch, block_size=3,
                           tol=1e-9, seed=0)
        assert res.success
        np.testing.assert_allclose(res.x.get(), x_ref, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_matvec_dot_kernel(cp, dtype):
    from numopt.linalg._kernels_cupy import csr_matvec_dot

    A = poisson_3d(12).astype(dtype)
    p = np.random.default_rng(7).standard_normal(A.shape[0]).astype(dtype)
    G = _to_gpu(A)
    q = cp.empty(A.shape[0], dtype=dtype)
    pq = csr_matvec_dot(None, G.indptr, G.indices, G.data, cp.asarray(p), q)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(q.get(), A @ p, rtol=tol, atol=tol)
    np.testing.assert_allclose(float(pq), float(p.astype(np.float64) @ (A @ p)), rtol=tol)


# --- the launch-fused (P)CG of numopt.linalg._cg_cupy (cupyx CSR input) ---------------

def _nine_point(m):
    """A 9-point SPD stencil: the greedy colouring needs 4 colours (not red-black)."""
    import scipy.sparse as sp

    one = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    mass = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(m, m)) / 6.0
    return (sp.kron(one, mass) + sp.kron(mass, one)).tocsr()


@pytest.mark.parametrize("check_every", [1, 5, 16, 64])
def test_fused_gpu_cg_stops_where_scipy_stops(cp, check_every):
    import scipy.sparse.linalg as spla

    from numopt.linalg import _cg_cupy  # noqa: F401 - the path under test

    A = poisson_2d(40)
    b = np.random.default_rng(10).standard_normal(A.shape[0])
    its = []
    x_ref, _ = spla.cg(A, b, rtol=1e-9, atol=0.0, callback=its.append)
    seen = []
    res = cg(_to_gpu(A), cp.asarray(b), tol=1e-9, check_every=check_every,
             callback=lambda intermediate_result: seen.append(intermediate_result.nit))
    assert res.success and isinstance(res.x, cp.ndarray)
    # the device tests the rule every iteration and freezes x there: SciPy's nit and x
    assert abs(res.nit - len(its)) <= 1
    np.testing.assert_allclose(res.x.get(), x_ref, rtol=1e-10, atol=1e-11)
    true_res = np.linalg.norm(b - A @ res.x.get())
    assert true_res <= 1.1e-9 * np.linalg.norm(b)
    assert abs(res.residual - true_res) <= 1e-2 * true_res  # the updated residual
    assert seen and seen == sorted(seen) and seen[-1] >= res.nit  # one call per check


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_gpu_cg_x0_maxiter_and_dtype(cp, dtype):
    A = poisson_2d(30).astype(dtype)
    rng = np.random.default_rng(11)
    b = rng.standard_normal(A.shape[0]).astype(dtype)
    x0 = rng.standard_normal(A.shape[0]).astype(dtype)
    cpu = cg(A, b, x0, tol=1e-5)
    res = cg(_to_gpu(A), cp.asarray(b), cp.asarray(x0), tol=1e-5)
    assert res.success and res.x.dtype == dtype
    assert abs(res.nit - cpu.nit) <= (1 if dtype == np.float64 else 3)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    scale = float(np.abs(cpu.x).max())
    np.testing.assert_allclose(res.x.get(), cpu.x, rtol=tol, atol=tol * scale)
    short = cg(_to_gpu(A), cp.asarray(b), cp.asarray(x0), tol=1e-12, maxiter=7)
    assert not short.success and short.nit == 7
    np.testing.assert_allclose(short.x.get(), cg(A, b, x0, tol=1e-12, maxiter=7).x,
                               rtol=tol, atol=tol * scale)


def test_fused_gpu_cg_reports_indefinite_matrix(cp):
    A = -poisson_2d(20)
    b = np.random.default_rng(12).standard_normal(A.shape[0])
    res = cg(_to_gpu(A), cp.asarray(b), tol=1e-8)
    assert not res.success and not cg(A, b, tol=1e-8).success
    assert "positive definite" in res.message


@pytest.mark.parametrize("omega", [0.7, 1.0, 1.5])
@pytest.mark.parametrize("matrix", ["red-black", "four-colour", "other-M"])
def test_fused_gpu_ssor_pcg_matches_cpu_multicolor(cp, omega, matrix):
    if matrix == "four-colour":
        A = _nine_point(24)
        M_of = A
    else:
        P = poisson_2d(24)
        # non-constant values, same pattern, still SPD: a symmetric diagonal scaling
        d = sp.diags(np.random.default_rng(14).uniform(0.5, 2.0, P.shape[0]))
        A = (d @ P @ d).tocsr()
        M_of = P if matrix == "other-M" else A
    b = np.random.default_rng(13).standard_normal(A.shape[0])
    cpu = cg(A, b, M=ssor_preconditioner(M_of, omega, ordering="multicolor"), tol=1e-9)
    M = ssor_preconditioner(_to_gpu(M_of), omega)
    res = cg(_to_gpu(A), cp.asarray(b), M=M, tol=1e-9)
    assert cpu.success and res.success
    assert abs(res.nit - cpu.nit) <= 1
    # one CG step more or less (rounding of the sums) moves x by ~ cond * tol
    np.testing.assert_allclose(res.x.get(), cpu.x, rtol=1e-6, atol=1e-8)
    again = cg(_to_gpu(A), cp.asarray(b), M=M, tol=1e-9, check_every=3)  # cached plan
    assert abs(again.nit - res.nit) <= 1  # atomics sum in any order: rounding differs
    np.testing.assert_allclose(again.x.get(), res.x.get(), rtol=1e-6, atol=1e-8)
    generic = cg(_to_gpu(A), cp.asarray(b), M=_generic_operator(M), tol=1e-9,
                 check_every=1)  # the unfused path: M applied as a black box
    assert abs(generic.nit - cpu.nit) <= 1


def _generic_operator(M):
    from cupyx.scipy.sparse.linalg import LinearOperator

    return LinearOperator(M.shape, matvec=M.matvec, dtype=M.dtype)
