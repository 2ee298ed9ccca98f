"""CuPy kernels of numopt.linalg (CuPy input). Loaded lazily through ``get_kernel``.

SOR on a GPU is multicolour SOR: rows are grouped by a greedy colouring (red-black
for 5-point stencils) and each colour class, whose rows do not couple, is updated by
one kernel launch, one thread per row. The result equals a sequential sweep in the
colour-sorted order, so the reference path (Python loop over ``order``) checks it.
"""

import functools

import cupy

_CTYPES = {"float32": "float", "float64": "double"}

_SOR_COLOR = r"""
extern "C" __global__ void sor_color(const int* indptr, const int* indices, const T* data,
                                     const T* b, T* x, const long long* rows,
                                     const long long nrows, const T omega) {
    long long t = (long long)blockDim.x * blockIdx.x + threadIdx.x;
    if (t >= nrows) return;
    const long long i = rows[t];
    T rsum = 0;
    T diag = 0;
    for (int jj = indptr[i]; jj < indptr[i + 1]; ++jj) {
        const int j = indices[jj];
        if (j == i) diag = data[jj];
        else rsum += data[jj] * x[j];
    }
    x[i] = omega * (b[i] - rsum) / diag + ((T)1 - omega) * x[i];
}
"""

_CG_UPDATE = r"""
extern "C" __global__ void cg_update(T* x, T* r, const T* p, const T* q, const T* alpha_ptr,
                                     const long long n, T* rr) {
    // x += alpha p; r -= alpha q; rr += sum(r^2): grid-stride loop, warp shuffles,
    // one atomicAdd per warp
    const T alpha = alpha_ptr[0];
    T acc = 0;
    for (long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        x[i] += alpha * p[i];
        const T ri = r[i] - alpha * q[i];
        r[i] = ri;
        acc += ri * ri;
    }
    for (int offset = 16; offset > 0; offset >>= 1)
        acc += __shfl_down_sync(0xffffffff, acc, offset);
    if ((threadIdx.x & 31) == 0) atomicAdd(rr, acc);
}
"""

_THREADS = 256


@functools.lru_cache(maxsize=None)
def _raw(source, name, dtype_name):
    return cupy.RawKernel(f"#define T {_CTYPES[dtype_name]}\n" + source, name)


@functools.lru_cache(maxsize=None)
def _direction_kernel():
    return cupy.ElementwiseKernel("T z, raw T beta", "T p", "p = z + beta[0] * p",
                                  "numopt_cg_direction")


def _device_scalar(value, dtype):
    if isinstance(value, cupy.ndarray):
        return value.astype(dtype, copy=False).reshape(1)
    return cupy.full(1, value, dtype=dtype)


def _color_slices(order, color_ptr, reverse):
    ks = range(len(color_ptr) - 1)
    for k in (reversed(ks) if reverse else ks):
        start, stop = color_ptr[k], color_ptr[k + 1]
        if stop > start:
            yield order[start:stop]


def _check_order(order):
    if order is None:
        raise ValueError("the GPU SOR kernel needs a colouring (ordering='multicolor')")


def sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, reverse):
    _check_order(order)
    kernel = _raw(_SOR_COLOR, "sor_color", x.dtype.name)
    omega = x.dtype.type(omega)
    indptr = indptr.astype(cupy.int32, copy=False)
    indices = indices.astype(cupy.int32, copy=False)
    order = order.astype(cupy.int64, copy=False)
    b, data = cupy.ascontiguousarray(b), cupy.ascontiguousarray(data)
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous (it is updated in place)")
    for rows in _color_slices(order, color_ptr, reverse):
        m = rows.shape[0]
        kernel(((m + _THREADS - 1) // _THREADS,), (_THREADS,),
               (indptr, indices, data, b, x, rows, cupy.int64(m), omega))
    return x


def sor_iteration(xp, indptr, indices, data, b, x, omega, order, color_ptr, symmetric,
                  matvec):
    sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, False)
    if symmetric:
        sor_sweep(xp, indptr, indices, data, b, x, omega, order, color_ptr, True)
    if matvec is None:
        return None
    return cupy.linalg.norm(b - matvec(x))  # stays on the device until a check


def ssor_apply(xp, indptr, indices, data, r, omega, order, color_ptr):
    out = cupy.zeros_like(r)
    sor_sweep(xp, indptr, indices, data, r, out, omega, order, color_ptr, False)
    return sor_sweep(xp, indptr, indices, data, r, out, omega, order, color_ptr, True)


def cg_update(xp, x, r, p, q, alpha):
    n = x.shape[0]
    rr = cupy.zeros(1, dtype=x.dtype)
    blocks = min((n + _THREADS - 1) // _THREADS, 1024)
    _raw(_CG_UPDATE, "cg_update", x.dtype.name)(
        (blocks,), (_THREADS,),
        (x, r, p, q, _device_scalar(alpha, x.dtype), cupy.int64(n), rr))
    return rr.reshape(())


def cg_direction(xp, p, z, beta):
    _direction_kernel()(z, _device_scalar(beta, p.dtype), p)
    return p


_CSR_MATVEC_DOT = r"""
extern "C" __global__ void csr_matvec_dot(const int* indptr, const int* indices,
                                          const T* data, const T* p, T* q,
                                          const long long n, T* pq) {
    // q = A p (one thread per row, grid-stride) and pq += p . q in the same pass
    T acc = 0;
    for (long long i = (long long)blockDim.x * blockIdx.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        T s = 0;
        for (int jj = indptr[i]; jj < indptr[i + 1]; ++jj) s += data[jj] * p[indices[jj]];
        q[i] = s;
        acc += s * p[i];
    }
    for (int offset = 16; offset > 0; offset >>= 1)
        acc += __shfl_down_sync(0xffffffff, acc, offset);
    if ((threadIdx.x & 31) == 0) atomicAdd(pq, acc);
}
"""


def csr_matvec_dot(xp, indptr, indices, data, p, q):
    n = p.shape[0]
    pq = cupy.zeros(1, dtype=p.dtype)
    blocks = min((n + _THREADS - 1) // _THREADS, 65535)
    _raw(_CSR_MATVEC_DOT, "csr_matvec_dot", p.dtype.name)(
        (blocks,), (_THREADS,),
        (indptr.astype(cupy.int32, copy=False), indices.astype(cupy.int32, copy=False),
         cupy.ascontiguousarray(data), cupy.ascontiguousarray(p), q, cupy.int64(n), pq))
    return pq.reshape(())


def dcdm_conv(xp, x, weight, bias, relu, out, residual=None):
    """The DCDM network's convolution on the GPU: ``3^d`` cuBLAS products on the
    flattened haloed grid (``numopt.linalg._dcdm_model.dcdm_conv_matmul``)."""
    from ._dcdm_model import dcdm_conv_matmul

    return dcdm_conv_matmul(xp, x, weight, bias, relu, out, residual=residual)
