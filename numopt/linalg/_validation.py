"""The input checks of numopt.linalg, built on numopt/_validation.py: the matrix (as
CSR arrays, or as an operator), the right-hand side, the start, the working dtype; each
message names the argument."""

from __future__ import annotations

import numpy as np

from .._backend import float_dtype, is_cupy, is_numpy
from .._validation import _is_sparse, as_array, check_shape, is_linear_operator
from ._csr import CSRSystem

__all__ = ["as_csr_system", "as_operator", "as_rhs", "check_nonzero_diagonal",
           "check_real_dtype", "check_x0", "operator_like", "system_dtype"]


def check_real_dtype(A, name):
    """A sparse matrix or LinearOperator must hold real numbers, as dense arrays must
    (SciPy would drop the imaginary part with a ComplexWarning, or Numba fail to type
    a complex product); ``None`` (an operator without a dtype) passes."""
    dtype = getattr(A, "dtype", None)
    if dtype is None:
        return
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
        if not M.has_canonical_format:
            M = M.copy()  # csr_matrix(A) shares the caller's arrays: never sort those
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


def operator_like(A):
    """A LinearOperator, or any object with ``matvec`` that is neither an array nor a
    sparse matrix (such as the operators numopt builds for other array libraries)."""
    return is_linear_operator(A) or (hasattr(A, "matvec") and not hasattr(A, "ndim")
                                     and not _is_sparse(A))


def as_operator(A, xp, dtype, name):
    """Return ``(matvec, n, csr, held)`` for a dense array, sparse matrix or
    LinearOperator; ``csr`` is ``(indptr, indices, data)`` when ``A`` is a SciPy/cupyx
    CSR matrix (the fused SpMV + dot kernel then runs), else ``None``; ``held`` is the
    operator, or the matrix in ``dtype``."""
    if operator_like(A):
        shape = tuple(A.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{name} must be a square operator, got shape {shape}")
        check_real_dtype(A, name)
        return A.matvec, shape[0], None, A
    if _is_sparse(A):
        if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"{name} must be a square matrix, got shape {tuple(A.shape)}")
        check_real_dtype(A, name)
        if A.dtype != dtype:
            A = A.astype(dtype)
        if is_numpy(xp):
            import scipy.sparse as sp

            if A.format not in ("csr", "csc", "dia"):
                A = sp.csr_array(A)
        data = A.data if hasattr(A, "data") else None
        if data is not None and not bool(xp.all(xp.isfinite(xp.asarray(data)))):
            raise ValueError(f"{name} must be finite, but it contains NaN or inf values")
        csr = None
        if A.format == "csr":
            if not A.has_canonical_format:
                A = A.copy()
                A.sum_duplicates()
            csr = (A.indptr, A.indices, A.data)
        return (lambda v: A @ v), A.shape[0], csr, A
    dense = as_array(A, name, xp, ndim=2, dtype=dtype)
    if dense.shape[0] != dense.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(dense.shape)}")
    return (lambda v: dense @ v), dense.shape[0], None, dense


def check_nonzero_diagonal(system, name="A"):
    """SOR divides by every diagonal entry: it needs them nonzero, of either sign (a
    negative definite ``A``, or an indefinite one, relaxes as PyAMG relaxes it)."""
    xp = system.xp
    diag = system.diagonal()
    if not bool(xp.all(diag != 0)):
        raise ValueError(f"{name} must have a nonzero diagonal for SOR/SSOR "
                         "(found a zero diagonal entry)")
    return diag
