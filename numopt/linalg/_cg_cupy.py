"""(Preconditioned) CG on the GPU with few launches and no host sync between checks.

Loaded lazily (it imports CuPy) through the kernel registry: ``linalg.fused_cg``
(:func:`fused_cg`, the solver :func:`numopt.linalg.cg` runs for CuPy input with a cupyx
CSR matrix and either no preconditioner or :func:`ssor_preconditioner`'s operator) and
``linalg.ssor_operator`` (:class:`SSOROperator`, that operator on the GPU).

One iteration (SciPy's, same iterates up to rounding) is:

* SSOR only: one kernel per colour of the backward sweep (the forward sweep of the first
  colour is fused into the previous update, the forward and backward sweeps of the last
  colour into one kernel), accumulating ``rho = r . z``;
* ``spmv_direction``: ``p_new = z + beta p_old`` (``beta = rho / rho_prev`` read on the
  device), ``q = A p_new`` and ``pq = p_new . q`` in one pass (``p`` is double-buffered:
  rows read their neighbours' ``p_old``);
* ``update``: ``alpha = rho / pq``, ``x += alpha p``, ``r -= alpha q``, ``rr = r . r``
  (and the first colour's forward sweep ``z = omega r / a_ii`` for SSOR).

So 2 launches per CG iteration, 2 + (colours) per red-black SSOR-PCG iteration. The
scalars live in small device ring buffers indexed by the iteration number; each kernel
zeroes the slot it will need ``ahead`` iterations later. Every kernel first tests the
stopping rule ``rr < threshold**2`` on the device and returns at once when it holds, so
``x`` stays exactly the iterate at which SciPy stops, while the host only reads the
rings every ``check_every`` iterations (one sync) and reports the iteration at which the
test first passed. At most ``check_every - 1`` no-op iterations are launched after it.
"""

from __future__ import annotations

import functools

import cupy
import numpy as np
from cupyx.scipy.sparse.linalg import LinearOperator

from .._result import Status
from .._units import Pow2
from ._cg import cg_detail

_CTYPES = {"float32": "float", "float64": "double"}
THREADS = 256

# Block-wide sum: warp shuffles, one shared slot per warp, one atomicAdd per block.
_BLOCK_SUM = r"""
__device__ __forceinline__ void block_atomic_sum(T acc, T* out) {
    __shared__ T warp_sums[32];
    for (int offset = 16; offset > 0; offset >>= 1)
        acc += __shfl_down_sync(0xffffffff, acc, offset);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        const int nwarps = (blockDim.x + 31) >> 5;
        acc = lane < nwarps ? warp_sums[lane] : (T)0;
        for (int offset = 16; offset > 0; offset >>= 1)
            acc += __shfl_down_sync(0xffffffff, acc, offset);
        if (lane == 0) atomicAdd(out, acc);
    }
}
"""

_SOURCE = _BLOCK_SUM + r"""
extern "C" __global__ void spmv_direction(
        const int* indptr, const int* indices, const T* data,
        const T* z, const T* p_old, T* p_new, T* q, const long long n,
        const T* rho_ring, T* pq_ring, T* rho_zero_ring, const T* rr_ring,
        const int ring, const long long it, const int ahead, const T thr2) {
    // p_new = z + beta p_old, q = A p_new, pq[it] += p_new . q
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        pq_ring[(it + ahead) % ring] = 0;
        rho_zero_ring[(it + ahead) % ring] = 0;  // pq_ring again when unpreconditioned
    }
    if (rr_ring[it % ring] < thr2) return;  // converged: idle until the host checks
    const T rho = rho_ring[it % ring];
    const T rho_prev = it > 0 ? rho_ring[(it - 1) % ring] : (T)0;
    const T beta = rho_prev != (T)0 ? rho / rho_prev : (T)0;
    T acc = 0;
    for (long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        T s = 0;
        for (int jj = indptr[i]; jj < indptr[i + 1]; ++jj) {
            const int j = indices[jj];
            s += data[jj] * (z[j] + beta * p_old[j]);
        }
        const T pi = z[i] + beta * p_old[i];
        p_new[i] = pi;
        q[i] = s;
        acc += pi * s;
    }
    block_atomic_sum(acc, pq_ring + it % ring);
}

extern "C" __global__ void update(
        T* x, T* r, const T* p, const T* q, const long long n,
        const T* rho_ring, const T* pq_ring, T* rr_ring,
        const int ring, const long long it, const int ahead, const T thr2,
        const int use_z, T* z, const T* z_scale) {
    // x += alpha p, r -= alpha q, rr[it + 1] += r . r; z = z_scale r when use_z
    const T rr = rr_ring[it % ring];
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        rr_ring[(it + 1 + ahead) % ring] = 0;
        if (rr < thr2) rr_ring[(it + 1) % ring] = rr;  // keep the converged value
    }
    if (rr < thr2) return;
    const T pq = pq_ring[it % ring];
    const T alpha = pq != (T)0 ? rho_ring[it % ring] / pq : (T)0;
    T acc = 0;
    for (long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        x[i] += alpha * p[i];
        const T ri = r[i] - alpha * q[i];
        r[i] = ri;
        acc += ri * ri;
        if (use_z) z[i] = z_scale[i] * ri;
    }
    block_atomic_sum(acc, rr_ring + (it + 1) % ring);
}

extern "C" __global__ void ssor_color(
        const int* indptr, const int* indices, const T* data, const T* dinv,
        const T* r, T* z, const int* rows, const long long nrows,
        const T scale, const T keep, const int accumulate, T* rho_ring, const T* rr_ring,
        const int ring, const long long it, const T thr2) {
    // z_i = scale (r_i - sum_{j != i} a_ij z_j) / a_ii + keep z_i over one colour's rows;
    // rho[it] += r_i z_i when accumulate (the backward sweep sets z's final value)
    if (rr_ring[it % ring] < thr2) return;
    T acc = 0;
    for (long long t = (long long)blockDim.x * blockIdx.x + threadIdx.x; t < nrows;
         t += (long long)blockDim.x * gridDim.x) {
        const int i = rows[t];
        T s = 0;
        for (int jj = indptr[i]; jj < indptr[i + 1]; ++jj) {
            const int j = indices[jj];
            if (j != i) s += data[jj] * z[j];
        }
        const T ri = r[i];
        T zi = scale * dinv[i] * (ri - s);
        if (keep != (T)0) zi += keep * z[i];
        z[i] = zi;
        acc += ri * zi;
    }
    if (accumulate) block_atomic_sum(acc, rho_ring + it % ring);
}
"""


@functools.lru_cache(maxsize=None)
def _module(dtype_name):
    return cupy.RawModule(code=f"#define T {_CTYPES[dtype_name]}\n" + _SOURCE)


@functools.lru_cache(maxsize=None)
def _max_blocks():
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
    return 8 * sms  # 2048 resident threads per SM / 256


def _blocks(m):
    return max(1, min((m + THREADS - 1) // THREADS, _max_blocks()))


class SSORPlan:
    """What the fused PCG needs from a GPU SSOR preconditioner: ``1 / a_ii``, the rows
    of each colour (int32), ``omega`` and the first colour's forward-sweep scale."""

    def __init__(self, system, omega, order, color_ptr):
        dtype = system.data.dtype
        self.omega = float(omega)
        self.n, self.dtype = system.n, dtype
        self.csr = (system.indptr.astype(cupy.int32, copy=False),
                    system.indices.astype(cupy.int32, copy=False),
                    cupy.ascontiguousarray(system.data))
        self.dinv = (1.0 / system.diagonal()).astype(dtype)
        order = cupy.asarray(order).astype(cupy.int32)
        self.colors = [order[a:b] for a, b in zip(color_ptr[:-1], color_ptr[1:]) if b > a]
        # z = omega r / a_ii on colour 0 and 0 elsewhere: the forward sweep of the first
        # colour starting from z = 0, fused into CG's update of r
        scale = cupy.zeros(system.n, dtype=dtype)
        first = self.colors[0]
        scale[first] = self.omega * self.dinv[first]
        self.first_scale = scale


class SSOROperator(LinearOperator):
    """:func:`numopt.linalg.ssor_preconditioner` for CuPy input: a cupyx
    ``LinearOperator`` applying ``M^{-1}`` (``apply``, the multicolour sweeps), which
    also holds the :class:`SSORPlan` that :func:`fused_cg` runs inside its own kernels.
    ``M`` is symmetric: it is its own adjoint."""

    def __init__(self, apply, system, omega, order, color_ptr):
        super().__init__(system.dtype, (system.n, system.n))
        self._apply = apply
        self.plan = SSORPlan(system, omega, order, color_ptr)

    def _matvec(self, v):
        return self._apply(v)

    def _rmatvec(self, v):
        return self._apply(v)

    def _adjoint(self):
        return self


def ssor_operator(xp, apply, system, omega, order, color_ptr):
    """The CuPy version of the ``linalg.ssor_operator`` kernel (see ``_ssor``)."""
    return SSOROperator(apply, system, omega, order, color_ptr)


def fused_cg(xp, csr, M, b, x0, threshold, check_every, unit):
    """The CuPy version of the ``linalg.fused_cg`` kernel (see ``_cg``): a
    :class:`FusedCG` for a cupyx CSR ``A`` (``csr``) with no preconditioner or an
    :class:`SSOROperator` of the same size and dtype, else ``None``."""
    if csr is None:
        return None
    plan = None
    if M is not None:
        if not isinstance(M, SSOROperator):
            return None
        plan = M.plan
        if plan.n != b.shape[0] or plan.dtype != b.dtype:
            return None
    return FusedCG(*csr, b, x0, threshold, check_every, plan, unit)


class FusedCG:
    """The run_solver contract (init/step_many/check/result/detail) for the fused GPU
    (P)CG on ``A x = b / 2**unit.exp`` (see :class:`Pow2`); ``result`` reports ``x`` and
    the residual in the caller's units. ``step_many`` runs at most ``check_every``
    iterations per call (the ring buffers hold that many)."""

    def __init__(self, indptr, indices, data, b, x0, threshold, check_every, plan=None,
                 unit=Pow2()):
        dtype = b.dtype
        self.T = dtype.type
        self.n = b.shape[0]
        self.csr = (indptr.astype(cupy.int32, copy=False),
                    indices.astype(cupy.int32, copy=False), cupy.ascontiguousarray(data))
        self.b, self.x0, self.plan, self.unit = b, x0, plan, unit
        self.threshold = threshold
        self.thr2 = self.T(threshold) * self.T(threshold)
        self.max_budget = check_every
        self.ahead = check_every + 1
        self.ring = 2 * check_every + 4
        module = _module(dtype.name)
        self.k_spmv = module.get_function("spmv_direction")
        self.k_update = module.get_function("update")
        self.k_color = module.get_function("ssor_color")
        self.grid = (_blocks(self.n),)
        self.n_arg = np.int64(self.n)
        self.ring_arg, self.ahead_arg = np.int32(self.ring), np.int32(self.ahead)
        self.thr2_arg = self.T(self.thr2)

    def init(self):
        import cupyx.scipy.sparse as csp

        n = self.n
        A = csp.csr_matrix((self.csr[2], self.csr[1], self.csr[0]), shape=(n, n))
        x = self.x0
        r = self.b - A @ x if bool(cupy.any(x != 0)) else self.b.copy()
        rr = cupy.vdot(r, r)
        rr_ring = cupy.zeros(self.ring, dtype=r.dtype)
        rr_ring[0] = rr
        pq_ring = cupy.zeros(self.ring, dtype=r.dtype)
        if self.plan is None:
            rho_ring, z = rr_ring, r
        else:
            rho_ring = cupy.zeros(self.ring, dtype=r.dtype)
            z = (self.plan.first_scale * r).astype(r.dtype, copy=False)
        rr = float(rr)
        # "rr": the last value of r . r the host read; the flags say what the device
        # met at that iteration (set by step_many, read by check)
        return {"x": x, "r": r, "z": z, "p": cupy.zeros_like(r), "p_new": cupy.empty_like(r),
                "q": cupy.empty_like(r), "it": 0, "rr_ring": rr_ring, "pq_ring": pq_ring,
                "rho_ring": rho_ring, "rr": rr, "converged": rr < self.thr2,
                "breakdown": False, "nonfinite": False}

    def _precondition(self, s, it):
        plan, T = self.plan, self.T
        omega = plan.omega
        colors = plan.colors
        last = len(colors) - 1
        indptr, indices, data = plan.csr  # M's matrix, which need not be A
        rho_ring, rr_ring = s["rho_ring"], s["rr_ring"]
        common = (self.ring_arg, it, self.thr2_arg)
        # forward sweep of colours 1 .. C-2 (z is 0 there, so nothing to keep)
        for c in range(1, last):
            rows = colors[c]
            self.k_color(self.grid_of(rows), (THREADS,),
                         (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                          np.int64(rows.shape[0]), T(omega), T(0), np.int32(0),
                          rho_ring, rr_ring)
                         + common)
        # last colour: forward then backward sweep in one, omega (2 - omega) (r - s) / a_ii
        rows = colors[last]
        self.k_color(self.grid_of(rows), (THREADS,),
                     (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                      np.int64(rows.shape[0]), T(omega * (2.0 - omega)), T(0),
                      np.int32(1), rho_ring, rr_ring) + common)
        for c in range(last - 1, -1, -1):  # backward sweep
            rows = colors[c]
            self.k_color(self.grid_of(rows), (THREADS,),
                         (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                          np.int64(rows.shape[0]), T(omega), T(1.0 - omega),
                          np.int32(1), rho_ring, rr_ring) + common)

    @staticmethod
    def grid_of(rows):
        return (_blocks(rows.shape[0]),)

    def _launch(self, s, it):
        """One CG iteration, ``it``, as 2 (+ colours) launches; no sync."""
        indptr, indices, data = self.csr
        rr_ring, pq_ring, rho_ring = s["rr_ring"], s["pq_ring"], s["rho_ring"]
        if self.plan is not None:
            self._precondition(s, it)
        self.k_spmv(self.grid, (THREADS,),
                    (indptr, indices, data, s["z"], s["p"], s["p_new"], s["q"], self.n_arg,
                     rho_ring, pq_ring, pq_ring if self.plan is None else rho_ring,
                     rr_ring, self.ring_arg, it, self.ahead_arg, self.thr2_arg))
        s["p"], s["p_new"] = s["p_new"], s["p"]
        plan = self.plan
        self.k_update(self.grid, (THREADS,),
                      (s["x"], s["r"], s["p"], s["q"], self.n_arg, rho_ring, pq_ring,
                       rr_ring, self.ring_arg, it, self.ahead_arg, self.thr2_arg,
                       np.int32(plan is not None),
                       s["r"] if plan is None else s["z"],
                       s["r"] if plan is None else plan.first_scale))

    def step_many(self, s, budget):
        """Launch ``budget`` iterations, read the rings once and scan the iterations
        they ran: stop at the first one that met the test on the device (``ran`` is
        then its count, ``x`` is frozen there), went non-finite or broke down."""
        if budget > self.max_budget:
            raise ValueError(f"FusedCG runs at most {self.max_budget} iterations per call "
                             f"(its ring buffers), got {budget}")
        start = s["it"]
        for k in range(budget):
            self._launch(s, np.int64(start + k))
        rr, pq = cupy.asnumpy(s["rr_ring"]), cupy.asnumpy(s["pq_ring"])  # the one sync
        ran = budget
        for m in range(start + 1, start + budget + 1):
            if pq[(m - 1) % self.ring] <= 0 and not s["breakdown"]:
                s["breakdown"] = bool(rr[(m - 1) % self.ring] >= self.thr2)
            value = rr[m % self.ring]
            s["rr"] = float(value)
            if value != value or abs(value) == float("inf"):
                s["nonfinite"] = True
                break
            if value < self.thr2:  # the device stopped here: later launches were idle
                s["converged"] = True
                ran = m - start
                break
            if s["breakdown"]:
                break
        s["it"] = start + ran
        return s, ran

    def check(self, s):
        if s["nonfinite"]:
            return Status.NONFINITE
        if s["converged"]:
            return Status.SUCCESS
        if s["breakdown"]:
            return Status.STALLED
        return None

    def residual(self, s):
        return float(np.sqrt(max(s["rr"], 0.0)))

    def result(self, s):
        return {"x": self.unit.up(s["x"]), "residual": self.unit.up(self.residual(s))}

    def detail(self, s, status):
        if s["converged"]:
            return ""
        return cg_detail(s["breakdown"], self.unit.up(self.residual(s)),
                         self.unit.up(self.threshold))
