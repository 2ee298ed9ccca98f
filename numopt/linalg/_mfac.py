"""M-FAC inverse-Hessian-vector products from a window of gradients.

The matrix is the damped empirical Fisher of a window of ``m`` gradients (the rows of
``G``, shape ``(m, d)``)::

    F = lambda I + G^T G / m,

and Woodbury gives its inverse through the ``m x m`` matrix ``S = m lambda I + G G^T``::

    F^-1 v = (v - G^T S^-1 G v) / lambda.

Static window: ``G G^T`` once (O(d m^2)), ``S^-1`` (O(m^3)), then every product reads
``G`` twice (``G v`` and ``G^T c``: O(d m)) plus an ``m x m`` product (O(m^2)).
Sliding window: replacing the oldest gradient changes one row and column of ``G G^T``
(one pass over ``G``: O(d m)) and ``S^-1`` is formed again (O(m^3)).

This is the matrix of Frantar, Kurtic & Alistarh, "M-FAC: Efficient Matrix-Free
Approximations of Second-Order Information" (NeurIPS 2021); their dynamic algorithm
reaches the same products by recursive Sherman-Morrison coefficients, this one by the
explicit ``m x m`` inverse, with the same costs. The ``m x m`` algebra is done in
float64 whatever the gradients' dtype: ``S`` is ill-conditioned when ``lambda`` is small
against the gradients' norms (1e-5 by default), and it costs O(m^2) memory only.
"""

from __future__ import annotations

from .._backend import get_namespace
from .._validation import as_array, check_scalar

__all__ = ["MFACInverseHessian", "mfac_ihvp"]


class MFACInverseHessian:
    """``(damping I + G^T G / m)^-1`` as an operator, for a window of ``m`` gradients.

    Parameters
    ----------
    gradients : array, shape (m, d)
        The window, one gradient per row (NumPy, CuPy or any array-API array; float32
        or float64; integers become float64). Rows of zeros are allowed: a window that
        starts empty, as M-FAC's optimizer does, is ``zeros((m, d))``.
    damping : float, default 1e-5
        ``lambda > 0``.
    copy : bool, default True
        Keep a copy of ``gradients``. With ``copy=False`` the operator works on the
        caller's array, and :meth:`update` writes into it (no second ``m x d`` buffer).

    Notes
    -----
    ``matvec`` costs two passes over ``G`` (O(d m)) and O(m^2); ``update`` one pass
    over ``G`` (O(d m)) and an O(m^3) inverse of the ``m x m`` matrix. Built from a
    given window the setup costs O(d m^2) (the Gram matrix ``G G^T``).

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.linalg import MFACInverseHessian
    >>> G = np.random.default_rng(0).standard_normal((4, 50))
    >>> H = MFACInverseHessian(G, damping=1e-2)
    >>> v = np.ones(50)
    >>> F = 1e-2 * np.eye(50) + G.T @ G / 4
    >>> bool(np.allclose(F @ H.matvec(v), v))
    True
    """

    def __init__(self, gradients, damping=1e-5, *, copy=True, _gram=None):
        xp = get_namespace(gradients)
        G = as_array(gradients, "gradients", xp, ndim=2)
        if not xp.isdtype(G.dtype, "real floating"):
            G = xp.astype(G, xp.float64)
        elif copy:
            G = xp.asarray(G, copy=True)
        self.damping = check_scalar(damping, "damping", low=0, low_open=True)
        self.xp, self.G = xp, G
        self.m, self.d = G.shape
        self.oldest = 0          # the ring buffer's next row to replace
        self.gram = xp.astype(G @ G.T, xp.float64) if _gram is None else _gram
        self._refactor()

    @classmethod
    def zeros(cls, m, d, damping=1e-5, *, dtype=None, like=None):
        """An empty sliding window of ``m`` gradients of length ``d`` (rows of zeros,
        as M-FAC's optimizer starts), without the O(d m^2) Gram product of the
        general constructor. ``like`` is an array of the namespace (and device) to
        allocate in (NumPy by default); ``dtype`` float64 by default."""
        import numpy as np

        m = check_scalar(m, "m", low=1, integer=True)
        d = check_scalar(d, "d", low=1, integer=True)
        xp = get_namespace(np.zeros(1) if like is None else like)
        dtype = xp.float64 if dtype is None else dtype
        return cls(xp.zeros((m, d), dtype=dtype), damping, copy=False,
                   _gram=xp.zeros((m, m), dtype=xp.float64))

    def _refactor(self):
        """``S^-1 = (m lambda I + G G^T)^-1`` from the Gram matrix (O(m^3))."""
        xp = self.xp
        gram = (self.gram + self.gram.T) * 0.5   # exact symmetry for the inverse
        shift = self.m * self.damping * xp.eye(self.m, dtype=xp.float64)
        self.inner_inverse = xp.linalg.inv(gram + shift)

    @property
    def shape(self):
        return (self.d, self.d)

    @property
    def dtype(self):
        return self.G.dtype

    def _vector(self, v, name):
        v = as_array(v, name, self.xp, ndim=(1, 2))
        if v.shape[0] != self.d:
            raise ValueError(f"{name} must have {self.d} rows (the gradients' length d), "
                             f"got shape {tuple(v.shape)}")
        return v if v.dtype == self.G.dtype else self.xp.astype(v, self.G.dtype)

    def matvec(self, v):
        """``F^-1 v`` for ``v`` of shape ``(d,)`` or ``(d, k)``."""
        return self._apply(self._vector(v, "v"), None)

    __matmul__ = matvec

    def _apply(self, v, Gv):
        xp = self.xp
        if Gv is None:
            Gv = self.G @ v
        coefficients = self.inner_inverse @ xp.astype(Gv, xp.float64)
        correction = self.G.T @ xp.astype(coefficients, self.G.dtype)
        return (v - correction) / self.damping

    def update(self, g):
        """Replace the oldest gradient of the window by ``g`` (shape ``(d,)``)."""
        self._update(self._vector(g, "g"))

    def _update(self, g):
        if g.ndim != 1:
            raise ValueError(f"g must be one gradient of shape ({self.d},), got "
                             f"shape {tuple(g.shape)}")
        xp = self.xp
        row = self.oldest
        self.G[row, :] = g
        column = xp.astype(self.G @ g, xp.float64)
        self.gram[row, :] = column
        self.gram[:, row] = column
        self.oldest = (row + 1) % self.m
        self._refactor()
        return column

    def update_matvec(self, g):
        """``update(g)`` then ``F^-1 g``, sharing the pass ``G g`` (M-FAC's step)."""
        g = self._vector(g, "g")
        column = self._update(g)
        return self._apply(g, self.xp.astype(column, self.G.dtype))

    def todense(self):
        """The ``d x d`` matrix ``F^-1`` (for tests and small problems)."""
        xp = self.xp
        return self.matvec(xp.eye(self.d, dtype=self.G.dtype))


def mfac_ihvp(gradients, v, damping=1e-5):
    """``(damping I + G^T G / m)^-1 v`` for the gradients ``G`` (rows, shape ``(m, d)``)
    and ``v`` of shape ``(d,)`` or ``(d, k)``: one product of
    :class:`MFACInverseHessian` (O(d m^2) for the Gram matrix, then O(d m))."""
    return MFACInverseHessian(gradients, damping, copy=False).matvec(v)
