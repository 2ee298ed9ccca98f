"""Randomized iterative sketching solvers for ``A x = b`` (consistent) and
``min ||A x - b||`` (least squares): randomized Kaczmarz, block Kaczmarz, Gaussian and
count-sketch sketch-and-project (Gower & Richtarik, 2015)."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse

from .._backend import get_namespace, is_numpy
from .._loop import resolve_check_every, run_solver
from .._result import Status
from .._units import Pow2
from .._validation import (as_array, check_choice, check_flag, check_options, check_scalar,
                           check_seed, check_shape)
from .._validation import _is_sparse, is_linear_operator
from ._validation import system_dtype

SKETCHES = ("kaczmarz", "block_kaczmarz", "gaussian", "countsketch")
SKETCH_DEFAULTS = {"check_every": None}
# a block whose Gram matrix has a squared Cholesky pivot below this times its largest
# diagonal entry (Gram condition number above ~1e8 in float64, ~1e4 in float32) is
# ill-conditioned or rank-deficient: its step is then the pseudo-inverse's minimum-norm
# one, from the SVD of the block (the Gram matrix squares the condition number: a
# 12 x 12 KKT matrix of LUKVLE11 kept newton-sketch 1e-4 short of KKT 1e-4 that way)
_GRAM_RTOL = 1e-8
_GRAM_EPS_FACTOR = 1e3


class _SketchSolver:
    """Consistent systems sketch rows: ``x <- x + A^T S (S^T A A^T S)^+ S^T (b - A x)``.
    Least squares sketches columns (sketch-and-project on the normal equations):
    ``x <- x + S (A S)^+ (b - A x)``, keeping ``r = b - A x`` up to date; the
    single-row case is randomized extended Kaczmarz (Zouzias & Freris, 2013).

    ``A`` and ``b`` arrive divided by powers of two (see :class:`Pow2`): ``unit_x`` and
    ``unit_res`` turn ``x`` and the residual back into the caller's units.

    The column sketches update ``r = b - A x`` along with ``x``; every ``refresh_every``
    steps (a pass) ``step`` recomputes it from ``x``, so that it does not drift."""

    def __init__(self, xp, A, b, x0, sketch, block_size, least_squares, tol, atol, rng,
                 refresh_every, unit_x=Pow2(), unit_res=Pow2()):
        self.xp, self.A, self.b, self.x0 = xp, A, b, x0
        self.sketch, self.k, self.ls, self.rng = sketch, block_size, least_squares, rng
        self.refresh_every, self.unit_x, self.unit_res = refresh_every, unit_x, unit_res
        m, n = A.shape
        self.m, self.n = m, n
        self.operator = is_linear_operator(A)
        if self.operator:
            # rows and columns come from products: their norms are not known in
            # advance, so the single-row sketches sample uniformly
            self.row_sq = self.col_sq = None
            self.row_p, self.col_p = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
        else:
            row_sq = xp.sum(A * A, axis=1)
            col_sq = xp.sum(A * A, axis=0)
            self.row_sq, self.col_sq = row_sq, col_sq
            self.row_p = _probabilities(row_sq)
            self.col_p = _probabilities(col_sq)
        target = xp.linalg.vector_norm(A.T @ b) if least_squares else xp.linalg.vector_norm(b)
        self.threshold = max(tol * float(target), atol)

    # -- helpers ---------------------------------------------------------------------
    def _rows(self, idx):
        """``A[idx, :]``; of an operator, ``(A^T E)^T`` with ``E`` the unit columns
        ``idx`` (one product with ``A^T`` per row)."""
        if not self.operator:
            return self.xp.take(self.A, self._index(idx), axis=0)
        E = np.zeros((self.m, len(idx)))
        E[np.asarray(idx), np.arange(len(idx))] = 1.0
        return np.asarray(self.A.T @ E).T

    def _cols(self, idx):
        """``A[:, idx]``; of an operator, ``A E``."""
        if not self.operator:
            return self.xp.take(self.A, self._index(idx), axis=1)
        E = np.zeros((self.n, len(idx)))
        E[np.asarray(idx), np.arange(len(idx))] = 1.0
        return np.asarray(self.A @ E)

    def _sketched_rows(self, S):
        """``S^T A``; of an operator, ``(A^T S)^T``."""
        if not self.operator:
            return S.T @ self.A
        S = S.toarray() if _is_sparse(S) else S
        return np.asarray(self.A.T @ S).T

    def _sq(self, vec, known, i):
        return known[i] if known is not None else self.xp.vecdot(vec, vec)

    def _index(self, i):
        return self.xp.asarray(np.asarray(i, dtype=np.int64))

    def _dense(self, S):
        return self.xp.asarray(np.asarray(S, dtype=np.float64), dtype=self.A.dtype)

    def _countsketch(self, size):
        """``(bucket, sign)``: each of ``size`` indices goes to one of ``k`` buckets."""
        return self.rng.integers(0, self.k, size), self.rng.choice([-1.0, 1.0], size)

    def _bucket_matrix(self, bucket, sign, size):
        """The ``size x k`` count-sketch matrix, dense (``A S`` is then one BLAS call)."""
        S = np.zeros((size, self.k))
        S[np.arange(size), bucket] = sign
        return self._dense(S)

    def _sparse_bucket_matrix(self, bucket, sign, size):
        """The same as a SciPy sparse array (one nonzero per row): ``S^T A`` then costs
        O(size n) instead of the dense O(size n k); at m x n = 5000 x 500 a row sketch
        took 241 ms (float32) and 38 ms (float64) through ``np.add.at``, 2.3 and 4.2 ms
        this way."""
        return scipy.sparse.csr_array(
            (sign.astype(self.A.dtype), bucket, np.arange(size + 1)), shape=(size, self.k))

    # -- solver protocol ---------------------------------------------------------------
    def init(self):
        xp = self.xp
        x = self.x0
        r = self.b - self.A @ x
        state = {"x": x, "r": r, "residual": None, "steps": 0}
        if self.ls and self.sketch == "kaczmarz":
            state["z"] = xp.asarray(self.b, copy=True)  # REK: b minus its range part
        return state

    def step(self, s):
        xp, A = self.xp, self.A
        x = s["x"]
        s["residual"] = None
        if self.sketch == "kaczmarz" and not self.ls:
            i = int(self.rng.choice(self.m, p=self.row_p))
            row = self._rows([i])[0, ...]
            x = x + ((self.b[i] - xp.vecdot(row, x)) / self._sq(row, self.row_sq, i)) * row
        elif self.sketch == "kaczmarz":
            j = int(self.rng.choice(self.n, p=self.col_p))
            col = self._cols([j])[:, 0]
            s["z"] = s["z"] - (xp.vecdot(col, s["z"]) / self._sq(col, self.col_sq, j)) * col
            i = int(self.rng.choice(self.m, p=self.row_p))
            row = self._rows([i])[0, ...]
            x = x + ((self.b[i] - s["z"][i] - xp.vecdot(row, x))
                     / self._sq(row, self.row_sq, i)) * row
        elif not self.ls:
            SA, Sr = self._row_sketch(x)
            x = x + self._min_norm_step(SA, Sr)
        else:
            AS, delta_map = self._column_sketch()
            delta = self._least_squares_step(AS, s["r"])
            x = x + delta_map(delta)
            s["r"] = s["r"] - AS @ delta
        s["x"] = x
        s["steps"] += 1
        if self.ls and self.sketch != "kaczmarz" and s["steps"] % self.refresh_every == 0:
            r = self.b - A @ x
            s["r"] = r  # no drift
            s["residual"] = float(xp.linalg.vector_norm(A.T @ r))
        return s

    # -- the block projection: a Cholesky factor of the k x k Gram matrix, not an SVD ---
    def _gram_solve(self, M, v):
        """``(M^T M)^{-1} v`` through the Cholesky factor of the ``k x k`` Gram matrix
        ``M^T M``, or ``None`` where it is numerically singular (dependent rows or
        columns in the block): the caller then takes the pseudo-inverse, whose
        minimum-norm answer a triangular solve cannot give."""
        xp = self.xp
        gram = M.T @ M
        rtol = max(_GRAM_RTOL, _GRAM_EPS_FACTOR * float(xp.finfo(gram.dtype).eps))
        if is_numpy(xp):
            try:
                factor = scipy.linalg.cho_factor(gram, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                return None
            pivots = np.abs(np.diagonal(factor[0]))
            if not pivots.min() ** 2 > rtol * float(np.max(np.diagonal(gram))):
                return None
            return scipy.linalg.cho_solve(factor, v, check_finite=False)
        try:
            L = xp.linalg.cholesky(gram)
        except Exception:  # a library that raises on a matrix that is not positive definite
            return None
        pivots = xp.abs(xp.linalg.diagonal(L))
        if not float(xp.min(pivots)) ** 2 > rtol * float(xp.max(xp.linalg.diagonal(gram))):
            return None   # also NaN: CuPy returns NaN where NumPy raises
        return xp.linalg.solve(L.T, xp.linalg.solve(L, v))

    def _min_norm_step(self, SA, Sr):
        """``SA^+ Sr``, the shortest ``d`` with ``SA d = Sr``: ``SA^T (SA SA^T)^{-1} Sr``
        (300 x 300 KKT matrix, blocks of 50: 2.9 ms a step with the SVD of ``pinv``)."""
        y = self._gram_solve(SA.T, Sr)
        if y is None:   # the SVD of the block itself: no squared condition number
            return self.xp.linalg.pinv(SA) @ Sr
        return SA.T @ y

    def _least_squares_step(self, AS, r):
        """``AS^+ r``, the least-squares ``delta``: ``(AS^T AS)^{-1} AS^T r``."""
        delta = self._gram_solve(AS, AS.T @ r)
        if delta is None:
            return self.xp.linalg.pinv(AS) @ r
        return delta

    def _row_sketch(self, x):
        """``(S^T A, S^T (b - A x))`` for the row sketches."""
        xp, A, k = self.xp, self.A, self.k
        if self.sketch == "block_kaczmarz":
            idx = self.rng.choice(self.m, size=k, replace=False)
            SA = self._rows(idx)
            return SA, xp.take(self.b, self._index(idx)) - SA @ x
        if self.sketch == "gaussian":
            S = self._dense(self.rng.standard_normal((self.m, k)))
            SA = self._sketched_rows(S)
            return SA, S.T @ self.b - SA @ x
        bucket, sign = self._countsketch(self.m)
        if is_numpy(xp):
            S = self._sparse_bucket_matrix(bucket, sign, self.m)
        else:
            S = self._bucket_matrix(bucket, sign, self.m)
        SA = self._sketched_rows(S)
        return SA, S.T @ self.b - SA @ x

    def _column_sketch(self):
        """``(A S, delta -> S delta)`` for the column sketches (least squares)."""
        xp, A, k = self.xp, self.A, self.k
        if self.sketch == "block_kaczmarz":
            cols = self.rng.choice(self.n, size=k, replace=False)
            # scatter as a product: no index assignment in the array API
            S = self._dense(np.eye(self.n)[:, cols])
            return self._cols(cols), (lambda delta: S @ delta)
        if self.sketch == "gaussian":
            S = self._dense(self.rng.standard_normal((self.n, k)))
        else:
            bucket, sign = self._countsketch(self.n)
            S = self._bucket_matrix(bucket, sign, self.n)
        return np.asarray(A @ S) if self.operator else A @ S, (lambda delta: S @ delta)

    def residual(self, s):
        """The measure the stopping rule tests (computed here where ``step`` did not)."""
        if s["residual"] is not None:
            return s["residual"]
        r = self.b - self.A @ s["x"]
        if self.ls:
            r = self.A.T @ r
        return float(self.xp.linalg.vector_norm(r))

    def check(self, s):
        res = self.residual(s)
        if not math.isfinite(res):
            return Status.NONFINITE
        return Status.SUCCESS if res <= self.threshold else None

    def result(self, s):
        return {"x": self.unit_x.up(s["x"]), "residual": self.unit_res.up(self.residual(s))}

    def detail(self, s, status):
        res = self.residual(s)
        if res <= self.threshold:
            return ""
        up = self.unit_res.up
        what = "normal-equation residual ||A^T (b - A x)||" if self.ls else \
            "residual ||b - A x||"
        return f"The {what} {up(res):.3e} is above {up(self.threshold):.3e}."


def _probabilities(sq):
    p = np.asarray(sq, dtype=np.float64) if not hasattr(sq, "get") else sq.get()
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum()


def sketch_solve(A, b, x0=None, *, sketch="kaczmarz", block_size=None, least_squares=False,
                 tol=1e-6, atol=0.0, maxiter=None, seed=None, callback=None, **options):
    """Solve ``A x = b`` or ``min ||A x - b||_2`` by randomized sketch-and-project.

    Parameters
    ----------
    A : (m, n) dense array or scipy.sparse.linalg.LinearOperator
        NumPy, CuPy or another array-API array (no zero rows for the row sketches,
        full column rank for ``least_squares``). A LinearOperator (with NumPy ``b``)
        is used matrix-free: the rows of a sketch come from products with ``A^T``
        (``k`` per block), columns from products with ``A``, and the single-row
        Kaczmarz sketches sample rows (columns) uniformly, their norms not being known.
    b : (m,) array
    x0 : (n,) array, optional
    sketch : {"kaczmarz", "block_kaczmarz", "gaussian", "countsketch"}
        ``"kaczmarz"``: one row per step, sampled with probability proportional to its
        squared norm (Strohmer & Vershynin); ``"block_kaczmarz"``: project onto
        ``block_size`` random rows at once; ``"gaussian"``: a Gaussian ``m x k`` sketch
        ``S``, project onto ``S^T A x = S^T b``; ``"countsketch"``: the same with a
        sparse sign-hashing sketch (cost O(nnz(A)) per sketch).
    block_size : int, optional
        Rows (or columns) per sketch; default ``min(m, n, 10)``, 1 for ``"kaczmarz"``.
    least_squares : bool
        Solve the least-squares problem of an inconsistent system: randomized extended
        Kaczmarz for ``"kaczmarz"``, sketch-and-project on the normal equations (column
        sketches) for the others. Stops when ``||A^T (b - A x)|| <= max(tol ||A^T b||,
        atol)``; a consistent solve stops when ``||b - A x|| <= max(tol ||b||, atol)``.
    tol, atol : float
    maxiter : int, optional
        Maximum number of sketch steps (default ``200 * max(m, n) / block_size``).
    seed : int or numpy.random.Generator, optional
        Sampling is done by NumPy on the host, so results are reproducible across array
        libraries.
    callback : callable, optional
    **options
        ``check_every`` : residual test every so many steps (default: one pass over the
        rows, or columns, ``ceil(m / block_size)``; every step for the dense sketches).
        The least-squares column sketches recompute ``b - A x`` from ``x`` once a pass,
        whatever ``check_every``.

    Returns
    -------
    OptimizeResult
        ``x``, ``success``, ``status``, ``message``, ``nit`` (sketch steps) and
        ``residual`` (the quantity the stopping rule tests).
    """
    operator = is_linear_operator(A)
    xp = get_namespace(b=b, x0=x0) if operator else get_namespace(A=A, b=b, x0=x0)
    opts = check_options(options, SKETCH_DEFAULTS, "sketch_solve")
    check_choice(sketch, "sketch", SKETCHES)
    if _is_sparse(A):
        raise TypeError("A must be a dense array or a LinearOperator for sketch_solve (got "
                        "a sparse matrix); convert it with A.toarray() or wrap it with "
                        "scipy.sparse.linalg.aslinearoperator")
    if operator:
        if not is_numpy(xp):
            raise TypeError("a LinearOperator A needs NumPy b and x0")
        dtype = np.result_type(A.dtype, np.asarray(b).dtype, np.float32)
        if dtype not in (np.float32, np.float64):
            dtype = np.float64
    else:
        dtype = system_dtype(xp, A, b)
        A = as_array(A, "A", xp, ndim=2, dtype=dtype)
    m, n = A.shape
    b = as_array(b, "b", xp, ndim=1, dtype=dtype)
    check_shape(b, "b", (m,), against="A")
    if x0 is None:
        x0 = xp.zeros(n, dtype=dtype)
    else:
        x0 = as_array(x0, "x0", xp, ndim=1, dtype=dtype)
        check_shape(x0, "x0", (n,), against="A")
    least_squares = check_flag(least_squares, "least_squares")
    if sketch == "kaczmarz":
        block_size = 1
    elif block_size is None:
        block_size = min(m, n, 10)
    block_size = check_scalar(block_size, "block_size", low=1, integer=True)
    limit = n if least_squares else m
    if block_size > limit:
        raise ValueError(f"block_size must be at most {limit} "
                         f"({'columns' if least_squares else 'rows'} of A), got {block_size}")
    tol = check_scalar(tol, "tol", low=0.0)
    atol = check_scalar(atol, "atol", low=0.0)
    if maxiter is None:
        maxiter = int(200 * max(m, n) / block_size) + 1
    maxiter = check_scalar(maxiter, "maxiter", low=0, integer=True)
    # solve A' x' = b' with A' = A / 2**a, b' = b / 2**c, max |A'|, max |b'| in [0.5, 1)
    # (exact scalings): x = x' 2**(c - a), the residual b - A x is 2**c times b' - A' x'
    # and A^T (b - A x) 2**(a + c) times its primed self, so data near 1e+-150 neither
    # overflows nor underflows in the squared norms (which then read as zero rows)
    # (an operator's entries are not known: it is taken as it is)
    unit_A, unit_b = (Pow2() if operator else Pow2.of(xp, A)), Pow2.of(xp, b)
    unit_x = unit_b * Pow2(-unit_A.exp)
    unit_res = unit_b * unit_A if least_squares else unit_b
    A = A if operator else unit_A.down(A)
    b, x0 = unit_b.down(b), unit_x.down(x0)
    atol = unit_res.down(atol)
    sq = None if operator else xp.sum(
        A * A, axis=1 if not least_squares or sketch == "kaczmarz" else 0)
    if sq is not None and not bool(xp.all(sq > 0)):
        raise ValueError("A must have no zero rows" if not least_squares
                         else "A must have no zero rows or columns")
    # one pass over the rows (columns) of A, every step for the dense sketches: the
    # default check cadence, and how often the column sketches recompute b - A x
    sketch_pass = 1 if sketch in ("gaussian", "countsketch") else math.ceil(limit / block_size)
    check_every = opts["check_every"]
    check_every = sketch_pass if check_every is None else resolve_check_every(check_every, xp)
    rng = check_seed(seed)
    solver = _SketchSolver(xp, A, b, x0, sketch, block_size, least_squares, tol, atol, rng,
                           sketch_pass, unit_x, unit_res)
    return run_solver(solver, maxiter=maxiter, callback=callback, check_every=check_every,
                      xp=xp, disp=opts["disp"])
