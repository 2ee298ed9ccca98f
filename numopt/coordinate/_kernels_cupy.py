"""CuPy kernels for block coordinate descent on dense problems.

* ``greedy_scores``: the greedy-rule score of every coordinate in one fused elementwise
  pass (minimum-norm subgradient of the L1 term, then ``s^2`` or ``s^2 / L``), instead
  of five separate array operations.
* ``block_gradient_update``: ``grad += Q[:, block] @ delta`` for a dense ``Q`` without
  gathering the ``n x |block|`` slab first (one thread per row).
* ``columns_dot``: ``X[:, ws]^T v`` for dense ``X``.

Each kernel is compiled once per dtype (CuPy caches compiled kernels by source and
type); ``import numopt.coordinate`` never imports this module.
"""

import functools

import cupy

@functools.lru_cache(maxsize=None)
def _scores_kernel():
    return cupy.ElementwiseKernel(
        "T x, T g, T L, T l1, int32 positive, int32 scaled",
        "T score",
        """
        T s = g;
        if (positive) {
            s = (x > 0) ? g + l1 : min(g + l1, (T)0);
        } else if (l1 > 0) {
            if (x != 0) {
                s = g + (x > 0 ? l1 : -l1);
            } else {
                T a = fabs(g) - l1;
                s = a > 0 ? (g > 0 ? a : -a) : (T)0;
            }
        }
        score = scaled ? s * s / L : s * s;
        """,
        "numopt_coordinate_greedy_scores",
    )


def greedy_scores(xp, x, g, L, l1, positive, scaled):
    """Fused greedy scores (CuPy version of ``_bcd_rules.greedy_scores``)."""
    t = g.dtype.type
    return _scores_kernel()(x, g, L, t(l1), cupy.int32(bool(positive)),
                            cupy.int32(bool(scaled)))


_UPDATE_SOURCE = r"""
extern "C" __global__ void block_update(const T* Q, const long long* block, const T* delta,
                                        T* grad, const int n, const int nb) {
    int i = blockDim.x * blockIdx.x + threadIdx.x;
    if (i >= n) return;
    T acc = 0;
    for (int k = 0; k < nb; ++k) acc += Q[(long long)i * n + block[k]] * delta[k];
    grad[i] += acc;
}
"""


@functools.lru_cache(maxsize=None)
def _update_kernel(dtype_name):
    ctype = {"float32": "float", "float64": "double"}[dtype_name]
    return cupy.RawKernel("#define T " + ctype + "\n" + _UPDATE_SOURCE, "block_update")


def block_gradient_update(xp, Q, block, delta, grad):
    """``grad += Q[:, block] @ delta`` in place for a C-ordered symmetric dense ``Q``
    (row ``i`` of a symmetric ``Q`` is its column ``i``, so each thread reads one
    contiguous row)."""
    n = grad.shape[0]
    Q = cupy.ascontiguousarray(Q)
    block = cupy.ascontiguousarray(block.astype(cupy.int64, copy=False))
    delta = cupy.ascontiguousarray(delta.astype(grad.dtype, copy=False))
    threads = 128
    _update_kernel(grad.dtype.name)(((n + threads - 1) // threads,), (threads,),
                                    (Q, block, delta, grad, cupy.int32(n),
                                     cupy.int32(block.shape[0])))
    return grad


def columns_dot(xp, X, ws, v):
    """``X[:, ws]^T v`` for dense CuPy ``X``."""
    return v @ cupy.take(X, ws, axis=1)
