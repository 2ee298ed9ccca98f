"""The zero-fill incomplete Cholesky preconditioner IC(0): ``M = L L^T`` with ``L`` on
the sparsity pattern of ``tril(A)`` and ``(L L^T)_ij = A_ij`` on that pattern.

The factorization and the two triangular solves are sequential loops over CSR rows:
one implementation, run by Numba for NumPy input (``linalg.ichol0_factor`` and
``linalg.ichol0_solve``) and as plain Python under ``kernels="reference"``. CPU only: a
baseline for the DCDM comparisons (its triangular solves do not parallelize).
"""

from __future__ import annotations

import numpy as np

from .._backend import get_kernel, get_namespace, is_numpy, kernel, to_numpy
from ._ichol_loops import _ichol0_apply, _ichol0_rows
from ._validation import as_csr_system, system_dtype


@kernel("linalg.ichol0_factor", numba="numopt.linalg._kernels_numba:ichol0_factor")
def ichol0_factor(xp, indptr, indices, data):
    return _ichol0_rows(indptr, indices, data)


@kernel("linalg.ichol0_solve", numba="numopt.linalg._kernels_numba:ichol0_solve")
def ichol0_solve(xp, indptr, indices, values, r):
    return _ichol0_apply(indptr, indices, values, r)


def ichol_preconditioner(A):
    """The zero-fill incomplete Cholesky preconditioner IC(0) of a sparse symmetric
    positive definite ``A``, as a linear operator applying ``M^{-1} = (L L^T)^{-1}``.

    ``L`` is lower triangular with the sparsity pattern of ``tril(A)`` and
    ``(L L^T)_ij = A_ij`` wherever ``A_ij`` is stored (for a tridiagonal ``A``, the exact
    Cholesky factor). It exists for M-matrices such as the Poisson matrices of
    :mod:`numopt.problems`; a pivot that is not positive raises ``ValueError``.

    Parameters
    ----------
    A : (n, n) array or sparse matrix (NumPy/SciPy)
        Symmetric positive definite; only its lower triangle is read.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        ``M^{-1}``; its ``factor`` attribute is ``L`` as a ``csr_array``.
    """
    xp = get_namespace(A)
    if not is_numpy(xp):
        raise TypeError("ichol_preconditioner runs on the CPU: A must be a NumPy/SciPy "
                        f"array, got {type(A).__name__}")
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator

    dtype = system_dtype(xp, A, None)
    system = as_csr_system(A, xp, dtype)
    full = sp.csr_array((to_numpy(system.data), to_numpy(system.indices),
                         to_numpy(system.indptr)), shape=(system.n, system.n))
    lower = sp.csr_array(sp.tril(full))
    lower.sort_indices()
    indptr = lower.indptr.astype(np.int64)
    indices = lower.indices.astype(np.int64)
    last = indptr[1:] - 1
    if np.any(indptr[1:] == indptr[:-1]) or np.any(indices[last] != np.arange(system.n)):
        raise ValueError("A needs a stored diagonal entry in every row for IC(0)")
    values, failed = get_kernel("linalg.ichol0_factor", xp)(
        xp, indptr, indices, np.asarray(lower.data, dtype=dtype))
    if failed:
        raise ValueError(f"IC(0) of A broke down at row {-failed - 1} (a pivot <= 0): A is "
                         "not symmetric positive definite, or IC(0) does not exist for it")
    solve = get_kernel("linalg.ichol0_solve", xp)

    def matvec(v):
        v = np.asarray(v, dtype=dtype).reshape(-1)
        return solve(xp, indptr, indices, values, v)

    op = LinearOperator((system.n, system.n), matvec=matvec, rmatvec=matvec, dtype=dtype)
    op.factor = sp.csr_array((values, indices, indptr), shape=(system.n, system.n))
    return op
