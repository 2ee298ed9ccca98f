"""CuPy kernels: batched exact per-row solves on the GPU.

Every row's k x k Gram matrix and right-hand side are built by one RawKernel (one block
per row, one thread per Gram entry, so that the reads of the factor rows coalesce), then
all the small systems are solved at once by ``cupy.linalg.solve`` on the stacked
matrices. Each RawKernel is compiled once per dtype.
"""

import functools

import cupy

_GRAM_SOURCE = r"""
extern "C" __global__ void gram_rows(const long long* indptr, const long long* indices,
                                     const T* data, const T* B, const int k,
                                     const long long row0, T* G, T* rhs) {
    const long long i = row0 + blockIdx.x;          // global row
    const long long lo = indptr[i], hi = indptr[i + 1];
    T* Gi = G + (long long)blockIdx.x * k * k;
    T* ri = rhs + (long long)blockIdx.x * k;
    for (int t = threadIdx.x; t < k * k + k; t += blockDim.x) {
        T acc = 0;
        if (t < k * k) {
            const int a = t / k, b = t % k;
            for (long long p = lo; p < hi; ++p) {
                const T* Bj = B + indices[p] * k;
                acc += Bj[a] * Bj[b];
            }
            Gi[t] = acc;
        } else {
            const int a = t - k * k;
            for (long long p = lo; p < hi; ++p) acc += B[indices[p] * k + a] * data[p];
            ri[a] = acc;
        }
    }
}
"""

_RESIDUAL_SOURCE = r"""
extern "C" __global__ void observed_residual(const long long* row_of,
                                             const long long* indices, const T* data,
                                             const T* C, const T* B, const int k,
                                             const long long nnz, T* out) {
    const long long p = (long long)blockDim.x * blockIdx.x + threadIdx.x;
    if (p >= nnz) return;
    const T* Ci = C + row_of[p] * k;
    const T* Bj = B + indices[p] * k;
    T acc = data[p];
    for (int c = 0; c < k; ++c) acc -= Ci[c] * Bj[c];
    out[p] = acc;
}
"""

_CTYPES = {"float32": "float", "float64": "double"}


@functools.lru_cache(maxsize=None)
def _compiled(source, name, dtype_name):
    return cupy.RawKernel("#define T " + _CTYPES[dtype_name] + "\n" + source, name)


def _row_of(indptr, nnz):
    return cupy.searchsorted(indptr, cupy.arange(nnz, dtype=indptr.dtype), side="right") - 1


def observed_residual(xp, indptr, indices, data, C, B):
    nnz = data.shape[0]
    out = cupy.empty_like(data)
    if nnz == 0:
        return out
    k = B.shape[1]
    threads = 256
    _compiled(_RESIDUAL_SOURCE, "observed_residual", data.dtype.name)(
        ((nnz + threads - 1) // threads,), (threads,),
        (cupy.ascontiguousarray(_row_of(indptr, nnz), dtype=cupy.int64),
         cupy.ascontiguousarray(indices, dtype=cupy.int64), cupy.ascontiguousarray(data),
         cupy.ascontiguousarray(C), cupy.ascontiguousarray(B), cupy.int32(k),
         cupy.int64(nnz), out))
    return out


def exact_rows(xp, indptr, indices, data, B, reg, *, max_batch_entries=1 << 27):
    """Same contract as the reference: ``(C, sq)`` with ``C`` on the device."""
    n_rows, k = indptr.shape[0] - 1, B.shape[1]
    dtype = B.dtype
    indptr = cupy.ascontiguousarray(indptr, dtype=cupy.int64)
    indices = cupy.ascontiguousarray(indices, dtype=cupy.int64)
    data = cupy.ascontiguousarray(data, dtype=dtype)
    B = cupy.ascontiguousarray(B)
    counts = cupy.diff(indptr)
    C = cupy.zeros((n_rows, k), dtype=dtype)
    kernel = _compiled(_GRAM_SOURCE, "gram_rows", dtype.name)
    batch = max(1, min(n_rows, max_batch_entries // (k * k)))
    eye = cupy.eye(k, dtype=dtype)
    threads = 128 if k * k + k >= 128 else 32
    for row0 in range(0, n_rows, batch):
        rows = min(batch, n_rows - row0)
        G = cupy.empty((rows, k, k), dtype=dtype)
        rhs = cupy.empty((rows, k), dtype=dtype)
        kernel((rows,), (threads,), (indptr, indices, data, B, cupy.int32(k),
                                     cupy.int64(row0), G, rhs))
        # Ridge, plus a tiny jitter on rows with fewer observations than k (singular Gram
        # matrix) and the identity on unobserved rows (their solution is 0).
        n_obs = counts[row0:row0 + rows]
        trace = cupy.trace(G, axis1=1, axis2=2)
        jitter = cupy.where(n_obs < k, 1e-12 * trace / k, 0.0) + reg
        jitter = cupy.where(n_obs == 0, 1.0, jitter).astype(dtype)
        G += jitter[:, None, None] * eye
        C[row0:row0 + rows] = cupy.linalg.solve(G, rhs[:, :, None])[:, :, 0]
    resid = observed_residual(xp, indptr, indices, data, C, B)
    return C, float(cupy.sum(resid.astype(cupy.float64) ** 2))
