"""Finite-sum monotone operators ``F(z) = (1/n) sum_i F_i(z)``.

Three kinds, one interface:

* :class:`MatrixOperator` ``F(z) = M z + q`` split by blocks of columns of ``M``:
  ``F_i(z) = n M[:, S_i] z[S_i] + q`` (the split of the authors' min-max quadratic);
* :class:`BilinearOperator` the game ``min_x max_y y^T A x``, ``z = (x, y)``,
  ``F(z) = (A^T y, -A x)``, split by the rows ``a_i`` of ``A``:
  ``F_i(z) = n (a_i y_i, -e_i a_i^T x)``;
* :class:`CallableOperator` components given as Python callables (also the gradients
  of convex-concave functions, :func:`gradient_operator`).

``lipschitz`` is a Lipschitz constant ``L`` of ``F`` and ``mean_square_lipschitz`` the
smallest constant ``L_Q`` of ``E_i ||F_i(z) - F_i(w)||^2 <= L_Q^2 ||z - w||^2`` under
uniform sampling (a bound for callables and for blocks wider than 64 columns), which sets the variance-reduced methods' steps. The two matrix kinds also
expose ``kernel_data`` for the Numba kernels; callables run on the reference path.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import get_namespace, is_numpy, to_numpy
from .._validation import as_array, check_scalar

__all__ = ["FiniteSumOperator", "MatrixOperator", "BilinearOperator", "CallableOperator",
           "matrix_operator", "bilinear_operator", "callable_operator", "gradient_operator",
           "OPERATOR_KINDS"]

# the codes the Numba kernels branch on
OPERATOR_KINDS = {"columns": 0, "bilinear_rows": 1}


class FiniteSumOperator:
    """The interface: ``n_components``, ``dim``, ``lipschitz``, ``mean_square_lipschitz``,
    ``full(xp, z)`` (``F(z)``, costs ``n`` component calls) and
    ``component_difference(xp, i, z, w)`` (``F_i(z) - F_i(w)``, costs 2)."""

    kernel_data = None   # (kind code, matrix, q, component pointers, component columns)
    # F(a u + (1 - a) v) = a F(u) + (1 - a) F(v): Algorithm 2 mixes F instead of
    # evaluating it again
    affine = False

    def full(self, xp, z):
        raise NotImplementedError

    def component_difference(self, xp, i, z, w):
        raise NotImplementedError

    def for_dtype(self, xp, dtype):
        """The same operator with its arrays in namespace ``xp`` and ``dtype``."""
        return self


class MatrixOperator(FiniteSumOperator):
    """``F(z) = M z + q``; component ``i`` owns the columns ``S_i`` (``blocks``)."""

    affine = True

    def __init__(self, M, q, blocks, *, lipschitz=None):
        xp = get_namespace(M)
        self.M, self.q, self.xp = M, q, xp
        self.dim = M.shape[0]
        self.n_components = len(blocks)
        sizes = np.array([len(b) for b in blocks], np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.cols = np.concatenate([np.asarray(b, np.int64) for b in blocks])
        M64 = to_numpy(M).astype(np.float64)
        self.lipschitz = (spectral_norm(M64) if lipschitz is None
                          else check_scalar(lipschitz, "lipschitz", low=0.0, low_open=True))
        # E_i ||n M[:, S_i] dz_i||^2 = n sum_i ||M[:, S_i] dz_i||^2 <= n max_i ||M[:, S_i]||^2
        # ||dz||^2, with equality for dz on the worst block: L_Q = sqrt(n) max_i ||M[:, S_i]||
        self.mean_square_lipschitz = math.sqrt(self.n_components) * max(
            _block_norm(M64[:, b]) for b in blocks)
        # the kernels read whole columns of M: they get M^T in C order (a column is a
        # contiguous row), the layout of the game's A, so each kernel compiles once per
        # dtype rather than once per dtype and layout
        self.kernel_data = (OPERATOR_KINDS["columns"],
                            np.ascontiguousarray(M.T) if is_numpy(xp) else M.T,
                            np.ascontiguousarray(q) if is_numpy(xp) else q,
                            self.ptr, self.cols)
        self._cols_xp = xp.asarray(self.cols)

    def full(self, xp, z):
        return self.M @ z + self.q

    def component_difference(self, xp, i, z, w):
        lo, hi = int(self.ptr[i]), int(self.ptr[i + 1])
        cols = self._cols_xp[lo:hi]
        dz = xp.take(z - w, cols)
        return self.n_components * (xp.take(self.M, cols, axis=1) @ dz)

    def for_dtype(self, xp, dtype):
        if self.M.dtype == dtype:
            return self
        return MatrixOperator(xp.astype(self.M, dtype), xp.astype(self.q, dtype),
                              _split(self.ptr, self.cols), lipschitz=self.lipschitz)


class BilinearOperator(FiniteSumOperator):
    """``F(x, y) = (A^T y, -A x) + q``: the saddle ``min_x max_y y^T A x`` split by rows."""

    affine = True

    def __init__(self, A, q=None, *, lipschitz=None):
        xp = get_namespace(A)
        self.A, self.xp = A, xp
        self.n_rows, self.n_cols = A.shape
        self.dim = self.n_rows + self.n_cols
        self.q = xp.zeros(self.dim, dtype=A.dtype) if q is None else q
        self.n_components = self.n_rows
        self.lipschitz = (spectral_norm(to_numpy(A).astype(np.float64)) if lipschitz is None
                          else lipschitz)
        # E_i ||F_i(dz)||^2 = n sum_i (||a_i||^2 dy_i^2 + (a_i . dx)^2)
        # <= n max(max_i ||a_i||^2, ||A||^2) ||dz||^2 = n ||A||^2 ||dz||^2 (a row is no longer
        # than ||A||), with equality for dx the top right singular vector: L_Q = sqrt(n) L
        self.mean_square_lipschitz = math.sqrt(self.n_rows) * self.lipschitz
        # the kernels read rows of A and multiply by it: a contiguous copy if it is a view
        self.kernel_data = (OPERATOR_KINDS["bilinear_rows"],
                            np.ascontiguousarray(A) if is_numpy(xp) else A,
                            np.ascontiguousarray(self.q) if is_numpy(xp) else self.q,
                            np.arange(self.n_rows + 1, dtype=np.int64),
                            np.arange(self.n_rows, dtype=np.int64))

    def full(self, xp, z):
        x, y = z[:self.n_cols], z[self.n_cols:]
        return xp.concat([self.A.T @ y, -(self.A @ x)]) + self.q

    def component_difference(self, xp, i, z, w):
        c = self.n_cols
        a = self.A[i, :]
        n = self.n_components
        dy = float(z[c + i] - w[c + i])
        dx = float(xp.sum(a * (z[:c] - w[:c])))
        one_hot = xp.astype(xp.arange(self.n_rows) == i, z.dtype)
        return xp.concat([(n * dy) * a, (-n * dx) * one_hot])

    def for_dtype(self, xp, dtype):
        if self.A.dtype == dtype:
            return self
        return BilinearOperator(xp.astype(self.A, dtype), xp.astype(self.q, dtype),
                                lipschitz=self.lipschitz)


class CallableOperator(FiniteSumOperator):
    """Components ``F_i(z)`` given as callables; ``full`` (optional) computes their mean
    in one call."""

    def __init__(self, components, dim, *, lipschitz, mean_square_lipschitz=None, full=None):
        self.components = tuple(components)
        self.n_components = len(self.components)
        self.dim = dim
        self.lipschitz = check_scalar(lipschitz, "lipschitz", low=0.0, low_open=True)
        self.mean_square_lipschitz = (
            math.sqrt(self.n_components) * self.lipschitz if mean_square_lipschitz is None
            else check_scalar(mean_square_lipschitz, "mean_square_lipschitz", low=0.0,
                              low_open=True))
        self._full = full

    def _call(self, xp, f, z):
        out = xp.asarray(f(z))
        if out.shape != z.shape:
            raise ValueError(f"an operator component returned shape {tuple(out.shape)} "
                             f"for z of shape {tuple(z.shape)}")
        return xp.astype(out, z.dtype) if out.dtype != z.dtype else out

    def full(self, xp, z):
        if self._full is not None:
            return self._call(xp, self._full, z)
        total = self._call(xp, self.components[0], z)
        for f in self.components[1:]:
            total = total + self._call(xp, f, z)
        return total / self.n_components

    def component_difference(self, xp, i, z, w):
        f = self.components[i]
        return self._call(xp, f, z) - self._call(xp, f, w)


def spectral_norm(M64):
    """``||M||_2``: a dense SVD for small matrices; ARPACK from a fixed start above
    (at 500 x 500 the dense SVD took seconds, the Lanczos run milliseconds)."""
    if min(M64.shape) <= 64:
        return float(np.linalg.norm(M64, 2))
    from scipy.sparse.linalg import svds

    start = np.ones(min(M64.shape)) / np.sqrt(min(M64.shape))
    return float(svds(M64, k=1, v0=start, tol=1e-12, return_singular_vectors=False)[0])


def _block_norm(block):
    """The spectral norm of a block of columns; the Frobenius norm (an upper bound) for a
    block wider than 64 columns, whose SVD would cost more than the run it sets up."""
    if block.shape[1] == 1 or block.shape[1] > 64:
        return float(np.linalg.norm(block))
    return float(np.linalg.norm(block, 2))


def _split(ptr, cols):
    return [cols[ptr[i]:ptr[i + 1]] for i in range(len(ptr) - 1)]


def matrix_operator(M, q=None, *, n_components=None, blocks=None, lipschitz=None):
    """The affine operator ``F(z) = M z + q`` as a finite sum over column blocks.

    Parameters
    ----------
    M : array of shape (d, d)
        Monotone means ``M + M^T`` positive semidefinite (not checked: a skew part is
        fine, a negative definite symmetric part is not monotone).
    q : array of shape (d,), optional
    n_components : int, optional
        Split the columns into this many consecutive blocks of (nearly) equal size
        (default ``d``: one column per component).
    blocks : sequence of index arrays, optional
        The column sets ``S_i`` themselves (a partition of ``range(d)``); component
        ``i`` is ``F_i(z) = n M[:, S_i] z[S_i] + q``.
    lipschitz : float, optional
        ``L``; default ``||M||_2``.
    """
    xp = get_namespace(M)
    M = as_array(M, "M", xp, ndim=2)
    if not xp.isdtype(M.dtype, "real floating"):
        M = xp.astype(M, xp.float64)
    d = M.shape[0]
    if M.shape[1] != d:
        raise ValueError(f"M must be square, got shape {tuple(M.shape)}")
    q = xp.zeros(d, dtype=M.dtype) if q is None else xp.astype(
        as_array(q, "q", xp, ndim=1), M.dtype)
    if q.shape[0] != d:
        raise ValueError(f"q has shape {tuple(q.shape)}, expected ({d},) to match M")
    if blocks is None:
        k = d if n_components is None else check_scalar(n_components, "n_components", low=1,
                                                         high=d, integer=True)
        blocks = [np.asarray(b, np.int64) for b in np.array_split(np.arange(d), k)]
    else:
        blocks = [np.asarray(b, np.int64).ravel() for b in blocks]
        every = np.sort(np.concatenate(blocks)) if blocks else np.array([], np.int64)
        if every.shape[0] != d or np.any(every != np.arange(d)):
            raise ValueError(f"blocks must partition the {d} columns of M")
    return MatrixOperator(M, q, blocks, lipschitz=lipschitz)


def bilinear_operator(A, q=None):
    """The bilinear game ``min_x max_y y^T A x`` (``z = (x, y)``, ``x`` of length
    ``A.shape[1]``): ``F(z) = (A^T y, -A x) + q``, split by the rows of ``A``."""
    xp = get_namespace(A)
    A = as_array(A, "A", xp, ndim=2)
    if not xp.isdtype(A.dtype, "real floating"):
        A = xp.astype(A, xp.float64)
    if q is not None:
        q = xp.astype(as_array(q, "q", xp, ndim=1), A.dtype)
        if q.shape[0] != sum(A.shape):
            raise ValueError(f"q has shape {tuple(q.shape)}, expected ({sum(A.shape)},)")
    return BilinearOperator(A, q)


def callable_operator(components, dim, *, lipschitz, mean_square_lipschitz=None, full=None):
    """A finite sum of Python callables ``F_i(z) -> array of shape (dim,)``.

    ``lipschitz`` (``L`` of the mean) is required: the methods' steps are set from it;
    ``mean_square_lipschitz`` defaults to ``sqrt(n) L``, a safe but pessimistic bound.
    ``full`` optionally computes the mean in one call.
    """
    components = list(components)
    if not components:
        raise ValueError("components must hold at least one callable")
    if not all(callable(f) for f in components):
        raise TypeError("components must be callables F_i(z)")
    dim = check_scalar(dim, "dim", low=1, integer=True)
    return CallableOperator(components, dim, lipschitz=lipschitz,
                            mean_square_lipschitz=mean_square_lipschitz, full=full)


def gradient_operator(gradients, dim_x, dim_y, *, lipschitz, mean_square_lipschitz=None):
    """The operator of ``min_x max_y (1/n) sum_i f_i(x, y)`` for convex-concave ``f_i``:
    ``gradients[i](x, y) -> (grad_x f_i, grad_y f_i)``, ``F_i(z) = (grad_x, -grad_y)``."""
    gradients = list(gradients)
    if not all(callable(g) for g in gradients):
        raise TypeError("gradients must be callables g_i(x, y) -> (gx, gy)")
    dim_x = check_scalar(dim_x, "dim_x", low=1, integer=True)
    dim_y = check_scalar(dim_y, "dim_y", low=0, integer=True)

    def component(g):
        def F_i(z):
            xp = get_namespace(z)
            gx, gy = g(z[:dim_x], z[dim_x:])
            return xp.concat([xp.asarray(gx, dtype=z.dtype), -xp.asarray(gy, dtype=z.dtype)])
        return F_i

    return callable_operator([component(g) for g in gradients], dim_x + dim_y,
                             lipschitz=lipschitz, mean_square_lipschitz=mean_square_lipschitz)

