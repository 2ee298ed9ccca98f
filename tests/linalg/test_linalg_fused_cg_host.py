"""The host side of the fused GPU (P)CG (numopt/linalg/_cg_cupy.py: ``FusedCG``,
``SSOROperator``, ``fused_cg``) run through numopt's loop without a GPU: CuPy is
replaced by NumPy and the three CUDA kernels by NumPy transcriptions of their source
(one block, so the atomics are plain sums). The CUDA source itself is checked against
CPU CG in test_linalg_cuda_mock.py; here the Python driver is: the ring buffers, the
one read per ``step_many``, the iteration count it returns to the loop (``ran`` below
the budget where the device met the test), the status and the message."""

import importlib
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from numopt._loop import run_solver
from numopt._units import Pow2
from numopt.linalg import cg, ssor_preconditioner
from numopt.problems import poisson_2d
from numopt.testing import assert_same_stop


def _spmv_direction(grid, block, args):
    (indptr, indices, data, z, p_old, p_new, q, n, rho_ring, pq_ring, rho_zero_ring,
     rr_ring, ring, it, ahead, thr2) = args
    pq_ring[(it + ahead) % ring] = 0
    rho_zero_ring[(it + ahead) % ring] = 0
    if rr_ring[it % ring] < thr2:
        return
    rho = rho_ring[it % ring]
    rho_prev = rho_ring[(it - 1) % ring] if it > 0 else 0
    beta = rho / rho_prev if rho_prev != 0 else rho.dtype.type(0)
    p_new[:] = z + beta * p_old
    q[:] = sp.csr_matrix((data, indices, indptr), shape=(n, n)) @ p_new
    pq_ring[it % ring] += p_new @ q


def _update(grid, block, args):
    (x, r, p, q, n, rho_ring, pq_ring, rr_ring, ring, it, ahead, thr2, use_z, z,
     z_scale) = args
    rr = rr_ring[it % ring]
    rr_ring[(it + 1 + ahead) % ring] = 0
    if rr < thr2:
        rr_ring[(it + 1) % ring] = rr
        return
    pq = pq_ring[it % ring]
    alpha = rho_ring[it % ring] / pq if pq != 0 else pq.dtype.type(0)
    x += alpha * p
    r -= alpha * q
    rr_ring[(it + 1) % ring] += r @ r
    if use_z:
        z[:] = z_scale * r


def _ssor_color(grid, block, args):
    (indptr, indices, data, dinv, r, z, rows, nrows, scale, keep, accumulate, rho_ring,
     rr_ring, ring, it, thr2) = args
    if rr_ring[it % ring] < thr2:
        return
    acc = 0.0
    for i in rows:  # the rows of one colour do not couple: any order is the parallel one
        cols, vals = indices[indptr[i]:indptr[i + 1]], data[indptr[i]:indptr[i + 1]]
        s = vals[cols != i] @ z[cols[cols != i]]
        zi = scale * dinv[i] * (r[i] - s)
        if keep != 0:
            zi += keep * z[i]
        z[i] = zi
        acc += r[i] * zi
    if accumulate:
        rho_ring[it % ring] += acc


class _RawModule:
    KERNELS = {"spmv_direction": _spmv_direction, "update": _update,
               "ssor_color": _ssor_color}

    def __init__(self, code):
        self.code = code

    def get_function(self, name):
        assert f"__global__ void {name}(" in self.code
        return self.KERNELS[name]


def _numpy_cupy():
    """A stand-in for the part of CuPy and cupyx that _cg_cupy uses."""
    cupy = types.ModuleType("cupy")
    for name in ("asarray", "ascontiguousarray", "zeros", "zeros_like", "empty_like",
                 "vdot", "any", "int32"):
        setattr(cupy, name, getattr(np, name))
    cupy.asnumpy = np.array
    cupy.RawModule = _RawModule
    device = types.SimpleNamespace(attributes={"MultiProcessorCount": 1})
    cupy.cuda = types.SimpleNamespace(Device=lambda: device)
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy.sparse = types.ModuleType("cupyx.scipy.sparse")
    cupyx.scipy.sparse.csr_matrix = sp.csr_matrix
    cupyx.scipy.sparse.issparse = lambda A: False  # SciPy's own test finds its matrices
    cupyx.scipy.sparse.linalg = types.ModuleType("cupyx.scipy.sparse.linalg")
    cupyx.scipy.sparse.linalg.LinearOperator = spla.LinearOperator
    return {"cupy": cupy, "cupyx": cupyx, "cupyx.scipy": cupyx.scipy,
            "cupyx.scipy.sparse": cupyx.scipy.sparse,
            "cupyx.scipy.sparse.linalg": cupyx.scipy.sparse.linalg}


@pytest.fixture
def cg_cupy(monkeypatch):
    for name, module in _numpy_cupy().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "numopt.linalg._cg_cupy", raising=False)
    yield importlib.import_module("numopt.linalg._cg_cupy")
    sys.modules.pop("numopt.linalg._cg_cupy", None)  # never leave the NumPy-backed copy


def _problem():
    A = poisson_2d(12).tocsr()
    b = np.sin(np.arange(1.0, A.shape[0] + 1.0))
    return A, b, 1e-8 * float(np.linalg.norm(b))


def _run(solver, check_every, maxiter=1000):
    seen = []
    res = run_solver(solver, maxiter=maxiter, check_every=check_every,
                     callback=lambda intermediate_result: seen.append(intermediate_result.nit))
    return res, seen


@pytest.mark.parametrize("check_every", [1, 4, 16])
def test_fused_cg_reports_the_iteration_the_device_stopped_at(cg_cupy, check_every):
    A, b, threshold = _problem()
    solver = cg_cupy.FusedCG(A.indptr, A.indices, A.data, b, np.zeros_like(b), threshold,
                             check_every)
    res, seen = _run(solver, check_every)
    scipy_its = []
    x_ref, _ = spla.cg(A, b, rtol=1e-8, atol=0.0, callback=scipy_its.append)
    assert res.success and "nit" in res and "converged_nit" not in vars(solver)
    # nit is the iteration at which the test first held (SciPy's), not the check after
    residuals = [np.linalg.norm(b - A @ x) for x in _iterates(A, b, len(scipy_its) + 2)]
    assert_same_stop(res.nit, len(scipy_its), residuals, threshold, margin=1e-4)
    assert seen[-1] == res.nit  # the callback saw the same count
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-10, atol=1e-12)
    # x and nit do not depend on how often the host reads the device
    one, _ = _run(cg_cupy.FusedCG(A.indptr, A.indices, A.data, b, np.zeros_like(b),
                                  threshold, 1), 1)
    assert res.nit == one.nit
    np.testing.assert_array_equal(res.x, one.x)


def _iterates(A, b, count):
    """SciPy's CG iterates 1..count (tol 0)."""
    xs = []
    spla.cg(A, b, rtol=0.0, atol=0.0, maxiter=count, callback=lambda xk: xs.append(xk.copy()))
    return xs


def test_fused_cg_maxiter_counts_iterations(cg_cupy):
    A, b, threshold = _problem()
    solver = cg_cupy.FusedCG(A.indptr, A.indices, A.data, b, np.zeros_like(b), threshold, 4)
    res, seen = _run(solver, 4, maxiter=7)
    assert not res.success and res.status == 1 and res.nit == 7 and seen == [4, 7]
    x7, _ = spla.cg(A, b, rtol=0.0, atol=0.0, maxiter=7)
    np.testing.assert_allclose(res.x, x7, rtol=1e-10, atol=1e-12)
    assert "above the target" in res.message


def test_fused_cg_reports_a_breakdown(cg_cupy):
    A, b, threshold = _problem()
    A = (-A).tocsr()
    solver = cg_cupy.FusedCG(A.indptr, A.indices, A.data, b, np.zeros_like(b), threshold, 4)
    res, _ = _run(solver, 4)
    assert not res.success and res.status == 4 and "positive definite" in res.message


@pytest.mark.parametrize("omega", [0.8, 1.4])
def test_fused_ssor_pcg_runs_the_operators_plan(cg_cupy, omega):
    from numopt.linalg._validation import as_csr_system

    A, b, threshold = _problem()
    system = as_csr_system(A, np, np.float64)
    order, color_ptr = system.coloring()
    cpu_M = ssor_preconditioner(A, omega, ordering="multicolor")
    M = cg_cupy.SSOROperator(cpu_M.matvec, system, omega, order, color_ptr)
    np.testing.assert_allclose(M.matvec(b), cpu_M.matvec(b))  # still the operator
    x0 = np.zeros_like(b)
    csr = (A.indptr, A.indices, A.data)
    solver = cg_cupy.fused_cg(None, csr, M, b, x0, threshold, 5, Pow2())
    assert isinstance(solver, cg_cupy.FusedCG) and solver.plan is M.plan
    res, _ = _run(solver, 5)
    ref = cg(A, b, M=cpu_M, tol=1e-8)
    assert res.success and abs(res.nit - ref.nit) <= 1
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-8, atol=1e-10)
    # any other preconditioner takes the generic path
    assert cg_cupy.fused_cg(None, csr, cpu_M, b, x0, threshold, 5, Pow2()) is None
