"""The SSOR preconditioner ``M = (D/w + L) (D/w)^{-1} (D/w + U) / (2 - w)`` as a
LinearOperator that applies ``M^{-1}`` by two triangular sweeps."""

from __future__ import annotations

from .._backend import get_kernel, get_namespace, is_cupy, is_numpy, kernel
from .._validation import check_scalar
from ._sor import resolve_ordering, sor_sweep
from ._validation import as_csr_system, check_nonzero_diagonal, system_dtype


@kernel("linalg.ssor_apply",
        numba="numopt.linalg._kernels_numba:ssor_apply",
        cupy="numopt.linalg._kernels_cupy:ssor_apply")
def ssor_apply(xp, indptr, indices, data, r, omega, order, color_ptr):
    """``M^{-1} r``: one symmetric SOR sweep for ``A z = r`` started from ``z = 0``
    (the SSOR iteration ``z <- z + M^{-1}(r - A z)`` from zero)."""
    z = xp.zeros_like(r)
    z = sor_sweep(xp, indptr, indices, data, r, z, omega, order, color_ptr, False)
    return sor_sweep(xp, indptr, indices, data, r, z, omega, order, color_ptr, True)


@kernel("linalg.ssor_operator", cupy="numopt.linalg._cg_cupy:ssor_operator")
def ssor_operator(xp, apply, system, omega, order, color_ptr):
    """``M^{-1}`` (``apply``) as a linear operator of ``xp``'s library: SciPy's
    ``LinearOperator`` for NumPy, cupyx's for CuPy (on the GPU one that also holds the
    sweeps' plan, which :func:`cg` runs inside its fused kernels), a minimal operator
    otherwise. ``system``, ``omega``, ``order``, ``color_ptr``: the sweeps' input."""
    n = system.n
    if is_numpy(xp):
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator((n, n), matvec=apply, rmatvec=apply, dtype=system.dtype)
    if is_cupy(xp):
        from cupyx.scipy.sparse.linalg import LinearOperator

        return LinearOperator((n, n), matvec=apply, rmatvec=apply, dtype=system.dtype)
    return _XPOperator(apply, n, system.dtype)


class _XPOperator:
    """A minimal linear operator for array libraries without one (matvec, @, shape)."""

    def __init__(self, matvec, n, dtype):
        self._apply, self.shape, self.dtype = matvec, (n, n), dtype

    def matvec(self, v):
        return self._apply(v)

    def __matmul__(self, v):
        return self._apply(v)


def ssor_preconditioner(A, omega=1.0, *, ordering="auto"):
    """The symmetric SOR preconditioner of ``A`` as a linear operator applying ``M^{-1}``.

    With ``A = L + D + U`` (strictly lower, diagonal, strictly upper parts),

    ``M(omega) = (D/omega + L) (D/omega)^{-1} (D/omega + U) / (2 - omega)``
    ``= (D + omega L) D^{-1} (D + omega U) / (omega (2 - omega))``,

    the matrix whose splitting ``A = M - N`` is one SSOR iteration. ``M`` is symmetric
    positive definite when ``A`` is, for every ``omega`` in (0, 2), so it is a valid CG
    preconditioner. ``M^{-1} v`` costs one forward and one backward triangular sweep.

    Parameters
    ----------
    A : (n, n) array or sparse matrix (NumPy/SciPy or CuPy/cupyx)
        Nonzero diagonal required (SPD for use in :func:`cg`).
    omega : float in (0, 2)
    ordering : {"auto", "natural", "multicolor"}
        Row order of the sweeps (see :func:`sor`); on the GPU the sweeps run one colour
        at a time, which is SSOR for the symmetrically permuted matrix ``P A P^T``.

    Returns
    -------
    LinearOperator
        ``scipy.sparse.linalg.LinearOperator`` for NumPy input,
        ``cupyx.scipy.sparse.linalg.LinearOperator`` for CuPy input, a minimal operator
        with ``matvec`` otherwise.
    """
    xp = get_namespace(A)
    omega = check_scalar(omega, "omega", low=0.0, high=2.0, low_open=True, high_open=True)
    dtype = system_dtype(xp, A, None)
    system = as_csr_system(A, xp, dtype)
    check_nonzero_diagonal(system)
    order, color_ptr = resolve_ordering(system, ordering)
    apply = get_kernel("linalg.ssor_apply", xp)

    def matvec(v):
        v = xp.reshape(xp.asarray(v, dtype=dtype), (-1,))
        return apply(xp, system.indptr, system.indices, system.data, v, omega, order,
                     color_ptr)

    return get_kernel("linalg.ssor_operator", xp)(xp, matvec, system, omega, order,
                                                  color_ptr)
