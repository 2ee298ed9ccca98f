"""Input handling shared by the linalg solvers: the matrix as CSR arrays in the
caller's namespace, validation with messages that name the argument."""

from __future__ import annotations

import numpy as np

from .._backend import float_dtype, is_cupy, is_numpy
from .._validation import _is_sparse, as_array, check_finite, check_shape, is_linear_operator

__all__ = ["CSRSystem", "as_csr_system", "as_rhs", "is_linear_operator", "operator_like",
           "wide_residual_norm"]


class CSRSystem:
    """A square matrix held as CSR arrays (``indptr``, ``indices``, ``data``) in the
    caller's namespace plus a fast ``matvec`` (SciPy/cupyx SpMV, or dense ``@`` for
    other array libraries)."""

    def __init__(self, xp, indptr, indices, data, n, native=None, dense=None):
        self.xp, self.indptr, self.indices, self.data, self.n = xp, indptr, indices, data, n
        self.native, self.dense = native, dense
        self.dtype = data.dtype

    def matvec(self, x):
        return (self.native if self.native is not None else self.dense) @ x

    def diagonal(self):
        xp = self.xp
        if self.native is not None:
            return self.native.diagonal()
        return xp.linalg.diagonal(self.dense)

    def coloring(self):
        """``(order, color_ptr)``: rows sorted by a greedy colour and the colour offsets."""
        import numpy as np

        # Greedy colouring is sequential: it runs on the host (structure only, once
        # per matrix); on a GPU only indptr/indices travel, never values.
        indptr, indices = _to_host(self.indptr), _to_host(self.indices)
        colors = _greedy_coloring_host(np.asarray(indptr, dtype=np.int64),
                                       np.asarray(indices, dtype=np.int64), self.n)
        order = np.argsort(colors, kind="stable")
        color_ptr = np.searchsorted(colors[order], np.arange(int(colors.max()) + 2))
        return self.xp.asarray(order), [int(c) for c in color_ptr]


def _to_host(a):
    from .._backend import to_numpy

    return to_numpy(a)


def _greedy_coloring_host(indptr, indices, n):
    try:
        from ._kernels_numba import greedy_coloring
    except ImportError:  # pragma: no cover - numba is a core dependency
        greedy_coloring = None
    if greedy_coloring is not None:
        return greedy_coloring(indptr, indices, n)
    import numpy as np  # pragma: no cover

    colors = np.full(n, -1)  # pragma: no cover
    for i in range(n):  # pragma: no cover
        used = {colors[j] for j in indices[indptr[i]:indptr[i + 1]] if j != i}
        colors[i] = next(c for c in range(n + 1) if c not in used)
    return colors  # pragma: no cover


def check_real_dtype(A, name):
    """A sparse matrix or LinearOperator must hold real numbers, as dense arrays must
    (SciPy would drop the imaginary part with a ComplexWarning, or Numba fail to type
    a complex product); ``None`` (an operator without a dtype) passes."""
    dtype = getattr(A, "dtype", None)
    if dtype is None:
        return
    import numpy as np

    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # another library's dtype object (array_api_strict)
        kind = "c" if "complex" in str(dtype) else "b" if "bool" in str(dtype) else "f"
    if kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")


def _check_square(shape, name):
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(shape)}")


def as_csr_system(A, xp, dtype, name="A") -> CSRSystem:
    """Validate ``A`` (dense array or sparse matrix of namespace ``xp``) and return it as
    a :class:`CSRSystem` in ``dtype`` without duplicate entries (sorted on the GPU; on
    the CPU a CSR matrix without duplicates keeps its entry order)."""
    if A is None:
        raise TypeError(f"{name} must be a matrix, got None")
    if is_linear_operator(A):
        raise TypeError(f"{name} must be an explicit (dense or sparse) matrix for this "
                        "method, got a LinearOperator")
    if is_numpy(xp):
        import numpy as np
        import scipy.sparse as sp

        if _is_sparse(A):
            _check_square(A.shape, name)
            check_real_dtype(A, name)
            M = sp.csr_array(A, dtype=dtype, copy=False)
        else:
            dense = as_array(A, name, xp, ndim=2)
            _check_square(dense.shape, name)
            M = sp.csr_array(np.asarray(dense, dtype=dtype))
        if not M.has_canonical_format:
            # duplicate entries are summed (they add up to the matrix's value); without
            # duplicates the entries keep the caller's order, which the sweeps follow
            # (PyAMG sums a row in stored order too)
            summed = M.copy()
            summed.sum_duplicates()
            if summed.nnz != M.nnz:
                M = summed
        if not np.all(np.isfinite(M.data)):
            kind = "NaN" if np.isnan(M.data).any() else "inf"
            raise ValueError(f"{name} must be finite, but it contains {kind} values")
        # SciPy's own index dtype (int32 unless huge): the kernels compile for either,
        # and a cast would copy the structure on every call
        return CSRSystem(xp, M.indptr, M.indices, M.data, M.shape[0], native=M)
    if is_cupy(xp):
        import cupy
        import cupyx.scipy.sparse as csp

        if _is_sparse(A):
            _check_square(A.shape, name)
            check_real_dtype(A, name)
            M = csp.csr_matrix(A, dtype=dtype)
        else:
            dense = as_array(A, name, xp, ndim=2, dtype=dtype)
            _check_square(dense.shape, name)
            M = csp.csr_matrix(dense)
        M.sum_duplicates()
        M.sort_indices()
        if not bool(cupy.all(cupy.isfinite(M.data))):
            kind = "NaN" if bool(cupy.any(cupy.isnan(M.data))) else "inf"
            raise ValueError(f"{name} must be finite, but it contains {kind} values")
        return CSRSystem(xp, M.indptr, M.indices, M.data, M.shape[0], native=M)
    if _is_sparse(A):
        raise TypeError(f"{name} is a sparse matrix of another array library than b")
    dense = as_array(A, name, xp, ndim=2, dtype=dtype)
    _check_square(dense.shape, name)
    rows, cols = xp.nonzero(dense)
    counts = xp.sum(xp.astype(dense != 0, xp.int64), axis=1)
    indptr = xp.concat([xp.zeros(1, dtype=xp.int64), xp.cumulative_sum(counts)])
    data = xp.take(xp.reshape(dense, (-1,)), rows * dense.shape[1] + cols)
    return CSRSystem(xp, indptr, xp.astype(cols, xp.int64), data, dense.shape[0], dense=dense)


def as_rhs(b, xp, dtype, n, name="b", against="A"):
    b = as_array(b, name, xp, ndim=1, dtype=dtype)
    check_shape(b, name, (n,), against=against)
    return b


def system_dtype(xp, A, b):
    """float32 when both are float32, else float64 (LinearOperators count by dtype)."""
    return float_dtype(xp, *(v for v in (A, b) if hasattr(v, "dtype")))


def check_x0(x0, xp, dtype, n):
    if x0 is None:
        return xp.zeros(n, dtype=dtype)
    x0 = as_array(x0, "x0", xp, ndim=1, dtype=dtype)
    check_shape(x0, "x0", (n,), against="A")
    return xp.asarray(x0, copy=True)


__all__ += ["system_dtype", "check_x0", "check_finite", "check_real_dtype"]


def operator_like(A):
    """A LinearOperator, or any object with ``matvec`` that is neither an array nor a
    sparse matrix (such as the operators numopt builds for other array libraries)."""
    return is_linear_operator(A) or (hasattr(A, "matvec") and not hasattr(A, "ndim")
                                     and not _is_sparse(A))


def wide_residual_norm(held, xp, dtype):
    """``(norm, wide)``: ``norm(b, x)`` is ``||b - A x||`` computed in the dtype
    ``wide``, wider than the working ``dtype`` where one is at hand, so that success is
    decided on the true residual and not on its rounding (a float32 residual of an
    ill-conditioned system is off by 10% near tol 1e-4). float32 solves recompute in
    float64; float64 matrices on the CPU in NumPy's ``longdouble`` (11 more bits on
    x86-64; where the platform's longdouble is float64 nothing is gained); float64
    LinearOperators and GPU matrices in float64, the widest they take. An operator
    that wraps a matrix (SciPy's ``aslinearoperator`` of an array or sparse matrix)
    counts as that matrix."""
    wrapped = getattr(held, "A", None)
    if (is_numpy(xp) and type(held).__name__ == "MatrixLinearOperator"
            and (_is_sparse(wrapped) or type(wrapped) is np.ndarray)
            and tuple(wrapped.shape) == tuple(held.shape)):
        held = wrapped
    wide = xp.float64
    if dtype == xp.float64 and is_numpy(xp) and not operator_like(held):
        wide = np.longdouble
    if operator_like(held):
        def matvec(v):
            return xp.astype(xp.asarray(held.matvec(v)), wide)
    elif _is_sparse(held):
        held_wide = held.astype(wide)

        def matvec(v):
            return held_wide @ v
    else:
        # a wide copy of a dense matrix by blocks of rows (about 4 MB each)
        n = held.shape[0]
        rows = max(1, (1 << 22) // (16 * n))

        def matvec(v):
            return xp.concat([xp.astype(held[i:min(i + rows, n), :], wide) @ v
                              for i in range(0, n, rows)])

    def norm(b, x):
        return float(xp.linalg.vector_norm(xp.astype(b, wide) - matvec(xp.astype(x, wide))))

    return norm, wide
