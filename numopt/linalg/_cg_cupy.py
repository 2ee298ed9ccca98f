"""(Preconditioned) CG on the GPU with few launches and no host sync between checks.

Loaded lazily (it imports CuPy) by :func:`numopt.linalg.cg` for CuPy input with a cupyx
CSR matrix and either no preconditioner or :func:`ssor_preconditioner`'s operator.

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
        self.n = system.n
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


class FusedCG:
    """The run_solver protocol (init/step/check/result) for the fused GPU (P)CG; ``cg``
    sets ``unit`` (a ``Pow2``) when it solved for a scaled ``b``."""

    unit = None

    def __init__(self, indptr, indices, data, b, x0, threshold, check_every, plan=None):
        dtype = b.dtype
        self.T = dtype.type
        self.n = b.shape[0]
        self.csr = (indptr.astype(cupy.int32, copy=False),
                    indices.astype(cupy.int32, copy=False), cupy.ascontiguousarray(data))
        self.b, self.x0, self.plan = b, x0, plan
        self.threshold = threshold
        self.thr2 = self.T(threshold) * self.T(threshold)
        self.ahead = check_every + 1
        self.ring = 2 * check_every + 4
        module = _module(dtype.name)
        self.k_spmv = module.get_function("spmv_direction")
        self.k_update = module.get_function("update")
        self.k_color = module.get_function("ssor_color")
        self.grid = (_blocks(self.n),)
        self.checked = 0
        self.converged_nit = None
        self.breakdown = False
        self.last_rr = None

    def init(self):
        import cupyx.scipy.sparse as csp

        T, n = self.T, self.n
        A = csp.csr_matrix((self.csr[2], self.csr[1], self.csr[0]), shape=(n, n))
        x = self.x0
        r = self.b - A @ x if bool(cupy.any(x != 0)) else self.b.copy()
        rr = cupy.vdot(r, r)
        self.rr_ring = cupy.zeros(self.ring, dtype=r.dtype)
        self.rr_ring[0] = rr
        self.pq_ring = cupy.zeros(self.ring, dtype=r.dtype)
        if self.plan is None:
            self.rho_ring, z = self.rr_ring, r
        else:
            self.rho_ring = cupy.zeros(self.ring, dtype=r.dtype)
            z = (self.plan.first_scale * r).astype(r.dtype, copy=False)
        self.last_rr = float(rr)
        s = {"x": x, "r": r, "z": z, "p": cupy.zeros_like(r), "p_new": cupy.empty_like(r),
             "q": cupy.empty_like(r), "it": 0}
        self.n_arg = np.int64(n)
        self.ring_arg, self.ahead_arg = np.int32(self.ring), np.int32(self.ahead)
        self.thr2_arg = self.T(self.thr2)
        return s

    def _precondition(self, s, it):
        plan, T = self.plan, self.T
        omega = plan.omega
        colors = plan.colors
        last = len(colors) - 1
        indptr, indices, data = plan.csr  # M's matrix, which need not be A
        common = (self.ring_arg, it, self.thr2_arg)
        # forward sweep of colours 1 .. C-2 (z is 0 there, so nothing to keep)
        for c in range(1, last):
            rows = colors[c]
            self.k_color(self.grid_of(rows), (THREADS,),
                         (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                          np.int64(rows.shape[0]), T(omega), T(0), np.int32(0),
                          self.rho_ring, self.rr_ring)
                         + common)
        # last colour: forward then backward sweep in one, omega (2 - omega) (r - s) / a_ii
        rows = colors[last]
        self.k_color(self.grid_of(rows), (THREADS,),
                     (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                      np.int64(rows.shape[0]), T(omega * (2.0 - omega)), T(0),
                      np.int32(1), self.rho_ring, self.rr_ring) + common)
        for c in range(last - 1, -1, -1):  # backward sweep
            rows = colors[c]
            self.k_color(self.grid_of(rows), (THREADS,),
                         (indptr, indices, data, plan.dinv, s["r"], s["z"], rows,
                          np.int64(rows.shape[0]), T(omega), T(1.0 - omega),
                          np.int32(1), self.rho_ring, self.rr_ring) + common)

    @staticmethod
    def grid_of(rows):
        return (_blocks(rows.shape[0]),)

    def step(self, s):
        it = np.int64(s["it"])
        indptr, indices, data = self.csr
        if self.plan is not None:
            self._precondition(s, it)
        self.k_spmv(self.grid, (THREADS,),
                    (indptr, indices, data, s["z"], s["p"], s["p_new"], s["q"], self.n_arg,
                     self.rho_ring, self.pq_ring,
                     self.pq_ring if self.plan is None else self.rho_ring, self.rr_ring,
                     self.ring_arg, it, self.ahead_arg, self.thr2_arg))
        s["p"], s["p_new"] = s["p_new"], s["p"]
        plan = self.plan
        self.k_update(self.grid, (THREADS,),
                      (s["x"], s["r"], s["p"], s["q"], self.n_arg, self.rho_ring,
                       self.pq_ring, self.rr_ring, self.ring_arg, it, self.ahead_arg,
                       self.thr2_arg, np.int32(plan is not None),
                       s["r"] if plan is None else s["z"],
                       s["r"] if plan is None else plan.first_scale))
        s["it"] += 1
        return s

    def check(self, s):
        from .._result import Status

        if s["it"] == 0:  # before the first iteration: the host knows ||r0||
            return Status.SUCCESS if self.last_rr < self.thr2 else None
        rr, pq = cupy.asnumpy(self.rr_ring), cupy.asnumpy(self.pq_ring)  # the one sync
        for m in range(self.checked + 1, s["it"] + 1):
            if pq[(m - 1) % self.ring] <= 0 and not self.breakdown:
                self.breakdown = rr[(m - 1) % self.ring] >= self.thr2
            value = rr[m % self.ring]
            self.last_rr = float(value)
            if value != value or abs(value) == float("inf"):
                return Status.NONFINITE
            if value < self.thr2:
                self.converged_nit = m
                return Status.SUCCESS
            if self.breakdown:
                return Status.STALLED
        self.checked = s["it"]
        return None

    def residual(self):
        return float(np.sqrt(max(self.last_rr, 0.0)))

    def result(self, s):
        res = self.residual()
        up = (lambda v: v) if self.unit is None else self.unit.up
        fields = {"x": up(s["x"]), "residual": up(res)}
        if self.converged_nit is None:
            if self.breakdown:
                fields["message_detail"] = ("p^T A p <= 0: A (or the preconditioner) is "
                                            "not symmetric positive definite.")
            else:
                fields["message_detail"] = (f"Residual norm {up(res):.3e} above the "
                                            f"target {up(self.threshold):.3e}.")
        return fields
