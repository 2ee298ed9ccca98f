"""CuPy kernels for numopt.ot (compiled once per dtype).

Kernel mode: cuBLAS products (one read of K each; for a batch, once for all B problems)
and one fused ElementwiseKernel for the O(n) updates and the error. For one problem,
``NUMOPT_OT_CUPY_KERNEL=fused`` selects two RawKernel passes over K instead (a block per
row for K v with 16-byte vector loads; column blocks × row chunks for K^T u, then a
merge) with the updates and the error fused in: cuBLAS's one-row products were measured
at 1.22× the bandwidth bound in float32 at n = 10^4, and the fused passes aim at the
bound. They are verified by CPU emulation of their CUDA source, not yet timed on a GPU,
hence opt-in. Log mode: RawKernels (one read of M and one exp per entry per
half-iteration, no n×m temporary): one block per row for the row half; for the column
half, thread blocks over (columns × row chunks) so that a 10^4-column problem still
fills the GPU, then a small kernel merges the chunks. Two variants of the log kernels:

- ``"shifted"`` (default): each sum is shifted by the incoming potential (for a row,
  F_old_i / reg; for a column, G_old_j / reg), which bounds its terms by the incoming
  plan's entries, so a plain sum of exp2 needs no running maximum: one FMA, one exp2
  and one add per entry, base 2 with log2(e) folded into 1/reg (exp2f for float32 is
  the hardware ex2 plus a denormal fix-up; its argument is then at most about 0, the
  incoming plan's mass is at most about 1). Where a sum leaves [lo, hi] (first
  iteration, a new epsilon, underflow at tiny reg), that row (the whole block, a
  block-uniform branch) or column (one thread, over all rows) is redone exactly
  with its maximum, as the CPU kernel does.
- ``"online"``: the earlier kernels, an online log-sum-exp (running max and rescaled
  sum per thread, merged across threads and row chunks); kept reachable for comparison
  (``NUMOPT_OT_CUPY_LOG=online`` or ``variant="online"``).

No host synchronisation happens here: the solver checks convergence every few steps.
"""

import functools
import os

import cupy

LOG_VARIANT = os.environ.get("NUMOPT_OT_CUPY_LOG", "shifted")
# The fused kernel-mode passes are checked by CPU emulation of their CUDA source only
# (tests/ot/test_ot_cuda_emulated.py) until a GPU run times them: opt-in until then.
KERNEL_VARIANT = os.environ.get("NUMOPT_OT_CUPY_KERNEL", "cublas")

# block-wide reductions shared by the log and kernel-mode sources (blockDim.x == 256)
_BLOCK_REDUCTIONS = r"""
__device__ __forceinline__ T block_sum(T v, T* buf) {  // blockDim.x == 256, all threads
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if (threadIdx.x < w) buf[threadIdx.x] += buf[threadIdx.x + w];
        __syncthreads();
    }
    const T total = buf[0];
    __syncthreads();  // buf is reused by the next reduction
    return total;
}
__device__ __forceinline__ T block_max(T v, T* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if (threadIdx.x < w) buf[threadIdx.x] = fmax(buf[threadIdx.x], buf[threadIdx.x + w]);
        __syncthreads();
    }
    const T total = buf[0];
    __syncthreads();
    return total;
}

"""

_LOG_SOURCE = _BLOCK_REDUCTIONS + r"""
#define NEG_INF ((T)__longlong_as_double(0xfff0000000000000ULL))
__device__ __forceinline__ void lse_push(T t, T &mx, T &s) {
    if (t == NEG_INF) return;
    if (t > mx) { s = s * exp(mx - t) + (T)1; mx = t; }
    else { s += exp(t - mx); }
}
__device__ __forceinline__ void lse_merge(T m2, T s2, T &mx, T &s) {
    if (m2 == NEG_INF) return;
    if (m2 > mx) { s = s * exp(mx - m2) + s2; mx = m2; }
    else { s += s2 * exp(m2 - mx); }
}

// one block per (problem p, row i): F_new = reg (log a - LSE_j (G_j - M_ij)/reg)
extern "C" __global__ void log_rows(const T* M, const T* F, const T* G, const T* logA,
                                    T* F_new, T* row_err, const T inv_reg, const T reg,
                                    const int n, const int m) {
    const int i = blockIdx.x, p = blockIdx.y;
    const T* Mi = M + (long long)i * m;
    const T* Gp = G + (long long)p * m;
    T mx = NEG_INF, s = 0;
    for (int j = threadIdx.x; j < m; j += blockDim.x) lse_push((Gp[j] - Mi[j]) * inv_reg, mx, s);
    __shared__ T smx[256], ss[256];
    smx[threadIdx.x] = mx; ss[threadIdx.x] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) {
            T a = smx[threadIdx.x], b = ss[threadIdx.x];
            lse_merge(smx[threadIdx.x + w], ss[threadIdx.x + w], a, b);
            smx[threadIdx.x] = a; ss[threadIdx.x] = b;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const long long k = (long long)p * n + i;
        const T la = logA[k];
        if (la == NEG_INF) { F_new[k] = NEG_INF; row_err[k] = 0; return; }
        const T lse = smx[0] + log(ss[0]);
        F_new[k] = reg * (la - lse);
        row_err[k] = fabs(exp(F[k] * inv_reg + lse) - exp(la));  // row marginal of (F, G)
    }
}

// partial column LSE over a chunk of rows: grid (ceil(m/128), chunks, B)
extern "C" __global__ void log_cols_partial(const T* M, const T* F_new, T* part_mx,
                                            T* part_s, const T inv_reg, const int n,
                                            const int m, const int chunk) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int c = blockIdx.y, p = blockIdx.z, chunks = gridDim.y;
    if (j >= m) return;
    const int i0 = c * chunk, i1 = min(n, i0 + chunk);
    const T* Fp = F_new + (long long)p * n;
    T mx = NEG_INF, s = 0;
    for (int i = i0; i < i1; ++i) lse_push((Fp[i] - M[(long long)i * m + j]) * inv_reg, mx, s);
    const long long k = ((long long)p * chunks + c) * m + j;
    part_mx[k] = mx; part_s[k] = s;
}

// ---- "shifted" variant: base 2, inv2 = log2(e) / reg, sums shifted by the old potential
#define LN2 ((T)0.6931471805599453)
// one block of 256 threads per (problem p, row i); every branch below is block-uniform
extern "C" __global__ void log_rows_shifted(const T* M, const T* F, const T* G,
                                            const T* logA, T* F_new, T* row_err,
                                            const T inv2, const T reg, const int n,
                                            const int m, const T lo, const T hi) {
    const int i = blockIdx.x, p = blockIdx.y;
    const long long k = (long long)p * n + i;
    const T la = logA[k];
    if (la == NEG_INF) {
        if (threadIdx.x == 0) { F_new[k] = NEG_INF; row_err[k] = 0; }
        return;
    }
    __shared__ T buf[256];
    const T* Mi = M + (long long)i * m;
    const T* Gp = G + (long long)p * m;
    // sum_j 2^((F_i + G_j - M_ij) inv2): the incoming plan's row mass, about a_i
    const T old_shift = F[k] * inv2;
    T shift = old_shift;
    T s = 0;
    for (int j = threadIdx.x; j < m; j += blockDim.x) s += exp2((Gp[j] - Mi[j]) * inv2 + shift);
    s = block_sum(s, buf);
    if (!(s > lo && s < hi)) {  // the shift was far off: the exact maximum
        T mx = NEG_INF;
        for (int j = threadIdx.x; j < m; j += blockDim.x) mx = fmax(mx, (Gp[j] - Mi[j]) * inv2);
        shift = -block_max(mx, buf);
        s = 0;
        for (int j = threadIdx.x; j < m; j += blockDim.x) s += exp2((Gp[j] - Mi[j]) * inv2 + shift);
        s = block_sum(s, buf);
    }
    if (threadIdx.x == 0) {
        const T lse2 = log2(s) - shift;  // log2 sum_j 2^((G_j - M_ij) inv2)
        F_new[k] = reg * (la - lse2 * LN2);
        row_err[k] = fabs(exp2(old_shift + lse2) - exp(la));  // row mass of (F, G)
    }
}

// partial shifted column sums over a chunk of rows: grid (ceil(m/128), chunks, B)
extern "C" __global__ void log_cols_partial_shifted(const T* M, const T* F_new, const T* G,
                                                    T* part_s, const T inv2, const int n,
                                                    const int m, const int chunk) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int c = blockIdx.y, p = blockIdx.z, chunks = gridDim.y;
    if (j >= m) return;
    const int i0 = c * chunk, i1 = min(n, i0 + chunk);
    const T* Fp = F_new + (long long)p * n;
    const T shift = G[(long long)p * m + j] * inv2;
    const T* Mj = M + j;
    T s = 0;
    for (int i = i0; i < i1; ++i) s += exp2((Fp[i] - Mj[(long long)i * m]) * inv2 + shift);
    part_s[((long long)p * chunks + c) * m + j] = s;
}

// G_new_j = G_old_j + reg (log b_j - log sum_i exp((F_new_i + G_old_j - M_ij)/reg))
extern "C" __global__ void log_cols_merge_shifted(const T* M, const T* F_new, const T* G,
                                                  const T* part_s, const T* logB, T* G_new,
                                                  const T inv2, const T reg, const int n,
                                                  const int m, const int chunks,
                                                  const T lo, const T hi) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, p = blockIdx.y;
    if (j >= m) return;
    const long long k = (long long)p * m + j;
    const T lb = logB[k];
    if (lb == NEG_INF) { G_new[k] = NEG_INF; return; }
    T s = 0;
    for (int c = 0; c < chunks; ++c) s += part_s[((long long)p * chunks + c) * m + j];
    T shift = G[k] * inv2;
    if (!(s > lo && s < hi)) {  // rare: this column alone, exactly, over all rows
        const T* Fp = F_new + (long long)p * n;
        T mx = NEG_INF;
        for (int i = 0; i < n; ++i) mx = fmax(mx, (Fp[i] - M[(long long)i * m + j]) * inv2);
        shift = -mx;
        s = 0;
        for (int i = 0; i < n; ++i) s += exp2((Fp[i] - M[(long long)i * m + j]) * inv2 + shift);
    }
    G_new[k] = reg * (lb - (log2(s) - shift) * LN2);
}

extern "C" __global__ void log_cols_merge(const T* part_mx, const T* part_s, const T* logB,
                                          T* G_new, const T reg, const int m,
                                          const int chunks, const int B) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x, p = blockIdx.y;
    if (j >= m) return;
    T mx = NEG_INF, s = 0;
    for (int c = 0; c < chunks; ++c) {
        const long long k = ((long long)p * chunks + c) * m + j;
        lse_merge(part_mx[k], part_s[k], mx, s);
    }
    const T lb = logB[(long long)p * m + j];
    G_new[(long long)p * m + j] = (lb == NEG_INF) ? NEG_INF : reg * (lb - mx - log(s));
}
"""


@functools.lru_cache(maxsize=None)
def _log_module(dtype_name):
    ctype = {"float32": "float", "float64": "double"}[dtype_name]
    return cupy.RawModule(code="#define T " + ctype + "\n" + _LOG_SOURCE,
                          options=("-std=c++14",))


@functools.lru_cache(maxsize=None)
def _kernel_updates(dtype_name):
    # ElementwiseKernel types are NumPy dtype names ("float" would mean float64).
    row = cupy.ElementwiseKernel(
        f"{dtype_name} u, {dtype_name} kv, {dtype_name} a",
        f"{dtype_name} u_new, {dtype_name} err",
        "err = fabs(u * kv - a); u_new = a / kv;", f"numopt_ot_row_update_{dtype_name}")
    return row


_KERNEL_SOURCE = _BLOCK_REDUCTIONS + r"""
// T is float or double; TV its 16-byte vector (float4, double2) of VW lanes
__device__ __forceinline__ T dot_lanes(const TV k, const TV v) {
#if VW == 4
    return (k.x * v.x + k.y * v.y) + (k.z * v.z + k.w * v.w);
#else
    return k.x * v.x + k.y * v.y;
#endif
}
// one block of 256 threads per row i: u_new_i = a_i / (K v)_i, err += |u_i (K v)_i - a_i|
// (the incoming plan's row marginal error); vector loads when m % VW == 0
extern "C" __global__ void kernel_rows(const T* K, const T* U, const T* V, const T* A,
                                       T* U_new, T* err, const int m, const int vec) {
    const int i = blockIdx.x;
    const T* Ki = K + (long long)i * m;
    T s0 = 0, s1 = 0;
    if (vec) {
        const TV* Kv = reinterpret_cast<const TV*>(Ki);
        const TV* Vv = reinterpret_cast<const TV*>(V);
        const int mv = m / VW;
        int j = threadIdx.x;
        for (; j + 256 < mv; j += 512) {  // two loads in flight per thread
            s0 += dot_lanes(Kv[j], Vv[j]);
            s1 += dot_lanes(Kv[j + 256], Vv[j + 256]);
        }
        if (j < mv) s0 += dot_lanes(Kv[j], Vv[j]);
    } else {
        for (int j = threadIdx.x; j < m; j += 256) s0 += Ki[j] * V[j];
    }
    __shared__ T buf[256];
    const T s = block_sum(s0 + s1, buf);
    if (threadIdx.x == 0) {
        const T a = A[i];
        U_new[i] = a / s;
        atomicAdd(err, fabs(U[i] * s - a));
    }
}

// partial column sums (K^T u)_j over a chunk of rows; each thread VW adjacent columns
// (vector loads) or one; grid (column blocks, chunks)
extern "C" __global__ void kernel_cols_partial(const T* K, const T* U, T* part, const int n,
                                               const int m, const int chunk, const int vec) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x, c = blockIdx.y;
    const int i0 = c * chunk, i1 = min(n, i0 + chunk);
    if (vec) {
        const int mv = m / VW;
        if (t >= mv) return;
        const TV* Kv = reinterpret_cast<const TV*>(K) + t;
        TV s = {}, s2 = {};
        int i = i0;
        for (; i + 1 < i1; i += 2) {  // two rows in flight
            const TV k0 = Kv[(long long)i * mv], k1 = Kv[(long long)(i + 1) * mv];
            const T u0 = U[i], u1 = U[i + 1];
            s.x += k0.x * u0; s.y += k0.y * u0; s2.x += k1.x * u1; s2.y += k1.y * u1;
#if VW == 4
            s.z += k0.z * u0; s.w += k0.w * u0; s2.z += k1.z * u1; s2.w += k1.w * u1;
#endif
        }
        if (i < i1) {
            const TV k0 = Kv[(long long)i * mv];
            const T u0 = U[i];
            s.x += k0.x * u0; s.y += k0.y * u0;
#if VW == 4
            s.z += k0.z * u0; s.w += k0.w * u0;
#endif
        }
        T* out = part + (long long)c * m + (long long)t * VW;
        out[0] = s.x + s2.x; out[1] = s.y + s2.y;
#if VW == 4
        out[2] = s.z + s2.z; out[3] = s.w + s2.w;
#endif
    } else {
        if (t >= m) return;
        T s = 0;
        for (int i = i0; i < i1; ++i) s += K[(long long)i * m + t] * U[i];
        part[(long long)c * m + t] = s;
    }
}

// v_j = b_j / sum_c part[c, j]
extern "C" __global__ void kernel_cols_merge(const T* part, const T* Bw, T* V_new, const int m,
                                             const int chunks) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= m) return;
    T s = 0;
    for (int c = 0; c < chunks; ++c) s += part[(long long)c * m + j];
    V_new[j] = Bw[j] / s;
}
"""


@functools.lru_cache(maxsize=None)
def _kernel_module(dtype_name):
    ctype, vector, lanes = {"float32": ("float", "float4", 4),
                            "float64": ("double", "double2", 2)}[dtype_name]
    return cupy.RawModule(code=f"#define T {ctype}\n#define TV {vector}\n#define VW {lanes}\n"
                          + _KERNEL_SOURCE, options=("-std=c++14",))


@functools.lru_cache(maxsize=None)
def _multiprocessors():
    return cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["multiProcessorCount"]


def _fused_kernel_step(K, U, V, A, Bw):
    """One problem (B = 1): two passes over K, the O(n) updates and the error fused in."""
    n, m = K.shape
    mod = _kernel_module(K.dtype.name)
    U, V, A, Bw = (cupy.ascontiguousarray(x, dtype=K.dtype) for x in (U, V, A, Bw))
    lanes = 4 if K.dtype == cupy.float32 else 2
    vec = int(m % lanes == 0 and K.data.ptr % 16 == 0 and V.data.ptr % 16 == 0)
    U_new = cupy.empty_like(U)
    V_new = cupy.empty_like(V)
    err = cupy.zeros(1, dtype=K.dtype)
    mod.get_function("kernel_rows")((n,), (256,), (K, U, V, A, U_new, err, cupy.int32(m),
                                                   cupy.int32(vec)))
    threads = 256
    col_blocks = -(-(m // lanes if vec else m) // threads)
    # enough (column block, row chunk) blocks for several waves over every SM
    chunks = max(1, min(n // 16, -(-8 * _multiprocessors() // col_blocks)))
    chunk = -(-n // chunks)
    chunks = -(-n // chunk)
    part = cupy.empty((chunks, m), dtype=K.dtype)
    mod.get_function("kernel_cols_partial")((col_blocks, chunks), (threads,),
                                            (K, U_new, part, cupy.int32(n), cupy.int32(m),
                                             cupy.int32(chunk), cupy.int32(vec)))
    mod.get_function("kernel_cols_merge")((-(-m // threads),), (threads,),
                                          (part, Bw, V_new, cupy.int32(m), cupy.int32(chunks)))
    return U_new, V_new, err


def sinkhorn_kernel_step(xp, K, U, V, A, Bw, active, fused=None):
    if fused is None:
        fused = (KERNEL_VARIANT == "fused" and U.shape[0] == 1 and K.flags.c_contiguous
                 and K.dtype in (cupy.float32, cupy.float64))
    if fused:  # one problem: custom passes, bandwidth-bound, with the updates fused in
        return _fused_kernel_step(K, U, V, A, Bw)
    # a batch: cuBLAS reads K once per product for all B problems
    KV = V @ K.T
    U_new, row_err = _kernel_updates(U.dtype.name)(U, KV, A)
    V_new = Bw / (U_new @ K)
    return U_new, V_new, row_err.sum(axis=1)


# sums of the shifted variant outside [lo, hi] are recomputed exactly: terms far below
# the sum's rounding (or underflowed) never matter inside that range
_SAFE_RANGE = {"float64": (1e-100, 1e100), "float32": (1e-20, 1e20)}


def sinkhorn_log_step(xp, M, F, G, logA, logB, reg, active, variant=None):
    variant = variant or LOG_VARIANT
    if variant not in ("shifted", "online"):
        raise ValueError(f"variant must be 'shifted' or 'online', got {variant!r}")
    M = cupy.ascontiguousarray(M)
    F, G = cupy.ascontiguousarray(F), cupy.ascontiguousarray(G)
    logA, logB = cupy.ascontiguousarray(logA), cupy.ascontiguousarray(logB)
    n, m = M.shape
    B = F.shape[0]
    dt = M.dtype.type
    mod = _log_module(M.dtype.name)
    F_new = cupy.empty_like(F)
    G_new = cupy.empty_like(G)
    row_err = cupy.empty_like(F)
    chunks = max(1, min(64, n // 64))
    chunk = (n + chunks - 1) // chunks
    threads = 128
    col_blocks = (m + threads - 1) // threads
    if variant == "shifted":
        inv2 = dt(1.4426950408889634 / reg)
        lo, hi = (dt(v) for v in _SAFE_RANGE[M.dtype.name])
        mod.get_function("log_rows_shifted")(
            (n, B), (256,), (M, F, G, logA, F_new, row_err, inv2, dt(reg), cupy.int32(n),
                             cupy.int32(m), lo, hi))
        part_s = cupy.empty((B, chunks, m), dtype=M.dtype)
        mod.get_function("log_cols_partial_shifted")(
            (col_blocks, chunks, B), (threads,),
            (M, F_new, G, part_s, inv2, cupy.int32(n), cupy.int32(m), cupy.int32(chunk)))
        mod.get_function("log_cols_merge_shifted")(
            (col_blocks, B), (threads,),
            (M, F_new, G, part_s, logB, G_new, inv2, dt(reg), cupy.int32(n), cupy.int32(m),
             cupy.int32(chunks), lo, hi))
        return F_new, G_new, row_err.sum(axis=1)
    mod.get_function("log_rows")((n, B), (256,), (M, F, G, logA, F_new, row_err,
                                                  dt(1 / reg), dt(reg), cupy.int32(n),
                                                  cupy.int32(m)))
    part_mx = cupy.empty((B, chunks, m), dtype=M.dtype)
    part_s = cupy.empty((B, chunks, m), dtype=M.dtype)
    mod.get_function("log_cols_partial")((col_blocks, chunks, B), (threads,),
                                         (M, F_new, part_mx, part_s, dt(1 / reg),
                                          cupy.int32(n), cupy.int32(m), cupy.int32(chunk)))
    mod.get_function("log_cols_merge")((col_blocks, B), (threads,),
                                       (part_mx, part_s, logB, G_new, dt(reg), cupy.int32(m),
                                        cupy.int32(chunks), cupy.int32(B)))
    return F_new, G_new, row_err.sum(axis=1)
