"""Problem objects for block coordinate descent (small plain-Python objects, as in skglm).

Each problem is ``f(x) + l1 * ||x||_1`` (``l1 = 0``: smooth; ``positive=True`` adds
``x >= 0``) with a smooth part that keeps its gradient up to date *incrementally*: after a
block ``b`` moves by ``delta`` only what depends on ``x_b`` is touched.

* :class:`QuadraticProblem` ``1/2 x^T Q x - c^T x``: ``g += Q[:, b] delta``
  (``O(nnz(Q[:, b]))``); least squares with a Gram matrix and label propagation.
* :class:`GLMProblem` ``sum_i loss(a_i^T x, y_i) + l2/2 ||x||^2``: the linear predictor
  ``z = A x`` changes on the rows the block touches, and only gradient entries of columns
  that share those rows change (a Numba kernel for sparse ``A``).
* :class:`SoftmaxProblem`: multinomial logistic regression, ``x`` is the flattened
  ``(n_features, n_classes)`` weight matrix.

Interface used by :func:`numopt.coordinate.bcd`: ``n``, ``xp``, ``dtype``,
``lipschitz`` (coordinate constants), ``l1``, ``positive``, ``quadratic`` (the smooth
part is quadratic: Newton steps need no line search), ``init(x) -> state``,
``grad(state)``, ``value(state)``, ``move(state, block, delta)``, ``block_hessian(state,
block)``, ``block_lipschitz(block)``, ``value_change(state, block, delta)``, for
quadratic problems ``hessian_graph()`` (the sparsity pattern used by forest blocks),
and ``compiled_batch(scheme)``: a fused compiled loop of several iterations the
problem offers, or None. The kernels take the problems' arrays and the datafit
objects of ``_glm_objects``, never the problems themselves.
"""

from __future__ import annotations

from .._backend import float_dtype, get_kernel, get_namespace, is_numpy, kernel, to_numpy
from .._validation import as_array, check_choice, check_flag, check_scalar, check_shape
from ._bcd_partitions import forest_block, positive_scores
from ._bcd_updates import prox, solve_forest
from ._glm_objects import L1L2, Logistic, Quadratic, min_norm_subgradient, softmax
from ._validation import check_binary_labels, check_design, column_sq_norms, is_scipy_sparse

__all__ = ["QuadraticProblem", "GLMProblem", "SoftmaxProblem", "LeastSquares",
           "BinaryLogistic", "SoftmaxLogistic", "LabelPropagationProblem", "L1LeastSquares",
           "L1Logistic"]


class _State:
    """Mutable per-run state: the iterate, the gradient of the smooth part and the
    problem's auxiliary vector (``A x`` for GLMs)."""

    def __init__(self, x, grad, aux=None):
        self.x, self.grad, self.aux = x, grad, aux


def _penalty_args(l1, positive):
    l1 = check_scalar(l1, "l1", low=0)
    return l1, check_flag(positive, "positive")


class _Base:
    l1 = 0.0
    positive = False
    quadratic = False

    def compiled_batch(self, scheme):
        """A compiled loop of up to ``n_iter`` iterations of ``scheme``:
        ``run(state, L, block_size, scaled, n_iter, tol) -> (iterations run, measure)``
        (see :func:`sparse_bcd_batch`), or None when the problem has none."""
        return None

    def objective(self, state):
        """Smooth part plus the L1 penalty."""
        val = self.value(state)
        if self.l1:
            val += self.l1 * float(self.xp.sum(self.xp.abs(state.x)))
        return val

    def block_lipschitz(self, block):
        """``lambda_max`` of a uniform bound on the block Hessian."""
        H = self.block_bound(block)
        if H.shape[0] == 1:
            return float(H[0, 0])
        if is_numpy(self.xp):
            return float(self.xp.max(self.xp.linalg.eigvalsh(H)))
        # a block's bound is tiny (block_size^2 numbers): on a GPU a dense eigensolver
        # call costs far more than copying it to the host, and float() syncs anyway
        import numpy as np

        return float(np.max(np.linalg.eigvalsh(to_numpy(H))))


@kernel("coordinate.block_gradient_update",
        cupy="numopt.coordinate._kernels_cupy:block_gradient_update")
def block_gradient_update(xp, Q, block, delta, grad):
    """``grad + Q[:, block] @ delta`` for a dense symmetric ``Q`` (reference version;
    it reads the rows ``Q[block, :]``, contiguous in C order, instead of the columns)."""
    return grad + delta @ xp.take(Q, block, axis=0)


class QuadraticProblem(_Base):
    """``f(x) = 1/2 x^T Q x - c^T x + const`` with ``Q`` symmetric positive semi-definite
    (dense array or SciPy sparse matrix)."""

    quadratic = True

    def __init__(self, Q, c, const=0.0, *, l1=0.0, positive=False):
        sparse = is_scipy_sparse(Q)
        xp = get_namespace(c) if sparse else get_namespace(Q, c)
        if sparse:
            import numpy as np
            import scipy.sparse as sp

            Q = sp.csc_matrix(Q, dtype=np.float64)
            if not np.all(np.isfinite(Q.data)):
                raise ValueError("Q must be finite, but it contains NaN or inf values")
            c = as_array(c, "c", xp, ndim=1, dtype=xp.float64)
            self.dtype = xp.float64
        else:
            Q = as_array(Q, "Q", xp, ndim=2)
            c = as_array(c, "c", xp, ndim=1)
            self.dtype = float_dtype(xp, Q, c)
            Q, c = xp.astype(Q, self.dtype), xp.astype(c, self.dtype)
        n = c.shape[0]
        check_shape(Q, "Q", (n, n), against="c")
        const = check_scalar(const, "const")
        self.xp, self.Q, self.c, self.const, self.n, self.sparse = xp, Q, c, const, n, sparse
        self.l1, self.positive = _penalty_args(l1, positive)
        self._update = get_kernel("coordinate.block_gradient_update", xp)
        diag = Q.diagonal() if sparse else xp.linalg.diagonal(Q)
        self.lipschitz = xp.asarray(diag, dtype=self.dtype)
        if bool(xp.any(self.lipschitz < 0)):
            raise ValueError("Q must be positive semi-definite, but it has a negative "
                             "diagonal entry")

    def _matvec(self, x):
        return self.Q @ x

    def init(self, x):
        return _State(x, self._matvec(x) - self.c)

    def grad(self, state):
        return state.grad

    def value(self, state):
        xp = self.xp
        # 1/2 x^T Q x - c^T x = 1/2 x^T (g - c)
        return 0.5 * float(xp.sum(state.x * (state.grad - self.c))) + self.const

    def _columns(self, block):
        if self.sparse:
            import numpy as np

            return self.Q[:, np.asarray(block)]
        return self.xp.take(self.Q, block, axis=1)

    def move(self, state, block, delta):
        xp = self.xp
        state.x[block] = state.x[block] + delta
        if self.sparse:
            import numpy as np

            cols = self.Q[:, np.asarray(block)]
            state.grad += cols @ delta
        else:
            state.grad = self._update(xp, self.Q, block, delta, state.grad)

    def block_hessian(self, state, block):
        return self.block_bound(block)

    def block_bound(self, block):
        xp = self.xp
        if self.sparse:
            import numpy as np

            b = np.asarray(block)
            # Q is symmetric: slice columns (fast in CSC), then rows of the thin result
            return xp.asarray(self.Q[:, b].tocsr()[b].toarray())
        return xp.take(xp.take(self.Q, block, axis=0), block, axis=1)

    def value_change(self, state, block, delta):
        xp = self.xp
        H = self.block_hessian(state, block)
        g = xp.take(state.grad, block)
        return float(xp.sum(g * delta) + 0.5 * xp.sum(delta * (H @ delta)))

    def hessian_graph(self):
        """Sparsity pattern of ``Q`` as a SciPy CSR matrix (forest-structured blocks)."""
        import scipy.sparse as sp

        Q = self.Q if self.sparse else sp.csr_matrix(to_numpy(self.Q))
        return sp.csr_matrix(Q)

    def compiled_batch(self, scheme):
        if scheme != "forest_message_passing" or not self.sparse or self.l1 \
                or self.positive:
            return None
        kernel = get_kernel("coordinate.forest_bcd_batch", self.xp)
        Q = (self.Q.data, self.Q.indices, self.Q.indptr)

        def run(state, L, block_size, scaled, n_iter, tol):
            return kernel(self.xp, Q, self.lipschitz, state.x, state.grad, L, block_size,
                          scaled, n_iter, tol)
        return run


@kernel("coordinate.forest_bcd_batch",
        numba="numopt.coordinate._kernels_numba:forest_bcd_batch")
def forest_bcd_batch(xp, Q, diag, x, grad, L, block_size, scaled, n_iter, tol):
    """Up to ``n_iter`` iterations of greedy (GS or GSL) forest-structured blocks with
    the exact message-passing update on a sparse symmetric ``Q`` (the CSC triple;
    ``diag`` its diagonal), in place on ``x`` and ``grad`` (reference version).
    Returns ``(iterations run, measure)`` as :func:`sparse_bcd_batch`."""
    import scipy.sparse as sp

    data, indices, indptr = Q
    Q = sp.csc_matrix((data, indices, indptr), shape=(x.shape[0], x.shape[0]))
    graph = (indptr.tolist(), indices.tolist())   # Q is symmetric: columns = rows
    for it in range(n_iter):
        worst = float(xp.max(xp.abs(grad)))
        if not worst > tol:
            return it, worst
        scores = grad * grad / L if scaled else grad * grad
        block = forest_block(scores, graph, block_size, candidates=8 * block_size)
        cols = Q[:, block]
        d = solve_forest(cols[block].toarray(), -grad[block])
        x[block] += d
        grad += cols @ d
    return n_iter, -1.0


# ------------------------------------------------------------------------------- GLMs
_DATAFITS = {"squared": Quadratic, "logistic": Logistic}


def _csc_block(csc, n_rows, block):
    """``A[:, block]`` of a CSC triple as a dense array."""
    import numpy as np

    data, indices, indptr = csc
    out = np.zeros((n_rows, block.shape[0]), dtype=data.dtype)
    for t, j in enumerate(block.tolist()):
        out[indices[indptr[j]:indptr[j + 1]], t] = data[indptr[j]:indptr[j + 1]]
    return out


def _largest_eigenvalue(H):
    import numpy as np

    return float(H[0, 0]) if H.shape[0] == 1 else float(np.max(np.linalg.eigvalsh(H)))


@kernel("coordinate.sparse_glm_block_step",
        numba="numopt.coordinate._kernels_numba:sparse_glm_block_step")
def sparse_glm_block_step(xp, csc, csr, y, state, grad, block, delta, datafit, work):
    """Incremental GLM update for sparse ``A`` (the CSC and CSR triples): the datafit's
    state moves by ``A[:, block] @ delta`` and the gradient ``A^T f'(state)`` is
    refreshed on the touched rows (reference version)."""
    import numpy as np
    import scipy.sparse as sp

    n_rows = state.shape[0]
    A = sp.csc_matrix(csc, shape=(n_rows, csc[2].shape[0] - 1))
    cols = A[:, np.asarray(block)]
    rows = np.unique(cols.indices)
    old = datafit.sample_grad(np, y[rows], state[rows])
    state[rows] += (cols @ delta)[rows]
    grad += A[rows].T @ (datafit.sample_grad(np, y[rows], state[rows]) - old)
    return state, grad


@kernel("coordinate.sparse_bcd_batch",
        numba="numopt.coordinate._kernels_numba:sparse_bcd_batch")
def sparse_bcd_batch(xp, csc, csr, y, x, state, grad, L, datafit, penalty, l2, block_size,
                     scaled, n_iter, tol, work):
    """Up to ``n_iter`` greedy (GS or GSL) BCD iterations with variable blocks and the
    block Lipschitz step on ``datafit(A x) + l2/2 ||x||^2 + penalty(x)`` for a sparse
    ``A`` (CSC and CSR triples), in place on ``x``, the datafit's ``state`` and
    ``grad`` (reference version; ``penalty`` an :class:`L1L2` without its own l2).
    Before each iteration the optimality measure (largest minimum-norm subgradient) is
    compared with ``tol``. Returns ``(iterations run, measure)``, the measure being -1
    when all ``n_iter`` iterations ran."""
    import numpy as np

    k = min(block_size, x.shape[0])
    for it in range(n_iter):
        s = min_norm_subgradient(xp, x, grad, penalty.l1, penalty.positive)
        worst = float(xp.max(xp.abs(s)))
        if not worst > tol:
            return it, worst
        scores = s * s / L if scaled else s * s
        block = positive_scores(scores, np.argsort(-scores, kind="stable")[:k])
        cols = _csc_block(csc, state.shape[0], block)
        lam = _largest_eigenvalue(datafit.curvature * (cols.T @ cols)
                                  + l2 * np.eye(block.shape[0]))
        xb = x[block]
        delta = prox(xp, xb - grad[block] / lam, 1.0 / lam, penalty.l1[block],
                     penalty.positive) - xb
        x[block] += delta
        grad[block] += l2 * delta
        sparse_glm_block_step(xp, csc, csr, y, state, grad, block, delta, datafit, work)
    return n_iter, -1.0


class GLMProblem(_Base):
    """``f(x) = sum_i loss(a_i^T x, y_i) + l2/2 ||x||^2`` with ``loss`` "squared"
    (``1/2 (z - y)^2``) or "logistic" (``log(1 + exp(-y z))``, labels in {-1, 1}): the
    :class:`~numopt.coordinate._glm_objects.Quadratic` or ``Logistic`` datafit, whose
    state (the residual ``Ax - y``, or ``Ax``) is the auxiliary vector."""

    def __init__(self, A, y, loss="squared", *, l2=0.0, l1=0.0, positive=False):
        check_choice(loss, "loss", tuple(_DATAFITS))
        xp = get_namespace(A, y)
        A, y, dtype = check_design(A, y, xp, name_X="A", name_y="y")
        self.l2 = check_scalar(l2, "l2", low=0)
        self.l1, self.positive = _penalty_args(l1, positive)
        if loss == "logistic":
            check_binary_labels(y, xp)
        self.xp, self.A, self.y, self.dtype = xp, A, y, dtype
        self.datafit = _DATAFITS[loss]()
        self.n = A.shape[1]
        self.sparse = is_scipy_sparse(A)
        self.curvature_bound = self.datafit.curvature
        self.lipschitz = self.curvature_bound * xp.asarray(column_sq_norms(A, xp, "A"),
                                                           dtype=dtype) + self.l2
        if self.sparse:
            import numpy as np

            csr = A.tocsr()
            self._csc = (A.data, A.indices, A.indptr)
            self._csr = (csr.data, csr.indices.astype(np.int32), csr.indptr.astype(np.int32))
            m = A.shape[0]
            self._work = (np.zeros(m, dtype=np.int8), np.zeros(m, dtype=np.int64),
                          np.zeros(m, dtype=dtype))
            self._step = get_kernel("coordinate.sparse_glm_block_step", xp)

    def init(self, x):
        xp = self.xp
        state = self.datafit.state_of(self.y, xp.asarray(self.A @ x, dtype=self.dtype))
        g = self.A.T @ self.datafit.sample_grad(xp, self.y, state)
        if self.l2:
            g = g + self.l2 * x
        return _State(x, xp.asarray(g, dtype=self.dtype), state)

    def grad(self, state):
        return state.grad

    def value(self, state):
        xp = self.xp
        val = self.datafit.value(xp, self.y, state.aux)
        if self.l2:
            val += 0.5 * self.l2 * float(xp.sum(state.x * state.x))
        return val

    def _cols(self, block):
        """``A[:, block]`` as a dense array (read straight from the CSC arrays for a
        sparse ``A``: SciPy's fancy indexing costs far more than the few columns)."""
        if self.sparse:
            import numpy as np

            return _csc_block(self._csc, self.A.shape[0], np.asarray(block))
        return self.xp.take(self.A, block, axis=1)

    def move(self, state, block, delta):
        xp = self.xp
        state.x[block] = state.x[block] + delta
        if self.l2:
            state.grad[block] = state.grad[block] + self.l2 * delta
        if self.sparse:
            self._step(xp, self._csc, self._csr, self.y, state.aux, state.grad,
                       xp.astype(block, xp.int64), xp.asarray(delta, dtype=self.dtype),
                       self.datafit, self._work)
            return
        old = self.datafit.sample_grad(xp, self.y, state.aux)
        state.aux = state.aux + self._cols(block) @ delta
        change = self.datafit.sample_grad(xp, self.y, state.aux) - old
        state.grad = state.grad + change @ self.A

    def block_hessian(self, state, block):
        xp = self.xp
        cols = self._cols(block)
        w = self.datafit.hessian_weights(xp, self.y, state.aux)
        H = cols.T @ (cols * w[:, None])
        if self.l2:
            H = H + self.l2 * xp.eye(H.shape[0], dtype=H.dtype)
        return H

    def block_bound(self, block):
        xp = self.xp
        cols = self._cols(block)
        H = self.curvature_bound * (cols.T @ cols)
        if self.l2:
            H = H + self.l2 * xp.eye(H.shape[0], dtype=H.dtype)
        return H

    def value_change(self, state, block, delta):
        xp = self.xp
        cols = self._cols(block)
        dz = cols @ delta
        if self.sparse:
            import numpy as np

            rows = np.flatnonzero(np.any(cols != 0, axis=1))
            z_old, yy, dz = state.aux[rows], self.y[rows], dz[rows]
        else:
            z_old, yy = state.aux, self.y
        change = float(xp.sum(self.datafit.value_changes(xp, yy, z_old, dz)))
        if self.l2:
            xb = xp.take(state.x, block)
            change += 0.5 * self.l2 * float(xp.sum(delta * (2.0 * xb + delta)))
        return change

    def compiled_batch(self, scheme):
        if scheme != "greedy_lipschitz" or not self.sparse:
            return None
        import numpy as np

        kernel = get_kernel("coordinate.sparse_bcd_batch", self.xp)
        penalty = L1L2(np.full(self.n, self.l1, dtype=self.dtype), 0.0, self.positive)

        def run(state, L, block_size, scaled, n_iter, tol):
            return kernel(self.xp, self._csc, self._csr, self.y, state.x, state.aux,
                          state.grad, L, self.datafit, penalty, self.l2, block_size,
                          scaled, n_iter, tol, self._work)
        return run


@kernel("coordinate.softmax_block_step",
        numba="numopt.coordinate._kernels_numba:softmax_block_step")
def softmax_block_step(xp, csc, csr, Z, G, feats, D, work):
    """Incremental softmax update for sparse ``A`` (in place): ``Z += A[:, feats] @ D``
    and the gradient ``G = A^T (P - Y)`` refreshed on the rows those features touch
    (reference version)."""
    import numpy as np
    import scipy.sparse as sp

    m = Z.shape[0]
    A = sp.csc_matrix(csc, shape=(m, csc[2].shape[0] - 1))
    cols = A[:, np.asarray(feats)]
    rows = np.unique(cols.indices)
    old = softmax(np, Z[rows])
    Z[rows] += (cols @ D)[rows]
    G += A[rows].T @ (softmax(np, Z[rows]) - old)
    return Z, G


@kernel("coordinate.softmax_bcd_batch",
        numba="numopt.coordinate._kernels_numba:softmax_bcd_batch")
def softmax_bcd_batch(xp, csc, csr, x, Z, grad, L, l2, n_classes, block_size, scaled,
                      n_iter, tol, work):
    """:func:`sparse_bcd_batch` for sparse softmax regression (variable ``j *
    n_classes + c``; ``Z = A W``), without an L1 term (reference version)."""
    import numpy as np

    k = min(block_size, x.shape[0])
    G = grad.reshape((-1, n_classes))
    for it in range(n_iter):
        worst = float(xp.max(xp.abs(grad)))
        if not worst > tol:
            return it, worst
        scores = grad * grad / L if scaled else grad * grad
        block = positive_scores(scores, np.argsort(-scores, kind="stable")[:k])
        cols = _csc_block(csc, Z.shape[0], block // n_classes)
        lam = _largest_eigenvalue(0.5 * (cols.T @ cols) + l2 * np.eye(block.shape[0]))
        delta = -grad[block] / lam
        x[block] += delta
        feats, D = _split_block(xp, block, delta, n_classes, x.dtype)
        softmax_block_step(xp, csc, csr, Z, G, feats, D, work)
        grad[block] += l2 * delta
    return n_iter, -1.0


def _split_block(xp, block, delta, n_classes, dtype):
    """Block variables of ``W.reshape(-1)`` -> (feature indices, ``(n_feat, k)``
    change of those rows of ``W``)."""
    feats = block // n_classes
    classes = block % n_classes
    uniq = xp.sort(xp.unique_values(feats))    # the standard leaves its order open
    pos = xp.searchsorted(uniq, feats)
    D = xp.zeros((uniq.shape[0], n_classes), dtype=dtype)
    D[pos, classes] = delta
    return uniq, D


class SoftmaxProblem(_Base):
    """Multinomial logistic regression ``sum_i [logsumexp(a_i^T W) - a_i^T W_{:, y_i}]
    + l2/2 ||W||^2``; the variable is ``W.reshape(-1)`` (feature-major: variable
    ``j * n_classes + c`` is feature ``j``, class ``c``). With a SciPy sparse ``A`` a
    block move touches only the rows of its features' non-zeros (a Numba kernel), so
    an iteration costs ``O(rows touched x their non-zeros x n_classes)``."""

    def __init__(self, A, labels, n_classes=None, *, l2=1.0):
        self.sparse = is_scipy_sparse(A)
        if self.sparse:
            xp = get_namespace(labels)
            A, _, _ = check_design(A, xp.zeros(A.shape[0]), xp, name_X="A")
        else:
            xp = get_namespace(A, labels)
            A = as_array(A, "A", xp, ndim=2)
        labels = as_array(labels, "labels", xp, ndim=1)
        check_shape(labels, "labels", (A.shape[0],), against="the rows of A")
        if not bool(xp.all(labels == xp.round(xp.astype(labels, xp.float64)))) or \
                bool(xp.any(labels < 0)):
            raise ValueError("labels must be non-negative integers (class indices)")
        labels = xp.astype(labels, xp.int64)
        k = int(xp.max(labels)) + 1 if n_classes is None else check_scalar(
            n_classes, "n_classes", integer=True)
        if k < 2 or int(xp.max(labels)) >= k:
            raise ValueError(f"n_classes must exceed every label and be at least 2, got {k}")
        self.xp, self.k = xp, k
        self.l2 = check_scalar(l2, "l2", low=0)
        self.m, self.p = A.shape
        self.n = self.p * k
        if self.sparse:
            import numpy as np

            self.dtype = A.dtype
            self.A = A
            csr = A.tocsr()
            self._csc = (A.data, A.indices, A.indptr)
            self._csr = (csr.data, csr.indices.astype(np.int32), csr.indptr.astype(np.int32))
            self._work = (np.zeros(self.m, dtype=np.int8), np.zeros(self.m, dtype=np.int64),
                          np.zeros((self.m, k), dtype=self.dtype))
            self._step = get_kernel("coordinate.softmax_block_step", xp)
            col_sq = xp.asarray(column_sq_norms(A, xp, "A"), dtype=self.dtype)
        else:
            self.dtype = float_dtype(xp, A)
            self.A = xp.astype(A, self.dtype)
            col_sq = xp.sum(self.A * self.A, axis=0)
        self.Y = xp.astype(labels[:, None] == xp.arange(k)[None, :], self.dtype)
        # the softmax Hessian diag(p) - p p^T is bounded by 1/2 I
        self.lipschitz = xp.reshape(xp.broadcast_to(0.5 * col_sq[:, None], (self.p, k)),
                                    (-1,)) + self.l2

    def _cols(self, feats):
        """``A[:, feats]`` as a dense array (from the CSC arrays when ``A`` is sparse)."""
        if self.sparse:
            import numpy as np

            return _csc_block(self._csc, self.m, np.asarray(feats))
        return self.xp.take(self.A, feats, axis=1)

    def _probs(self, Z):
        return softmax(self.xp, Z)

    def init(self, x):
        xp = self.xp
        W = xp.reshape(x, (self.p, self.k))
        Z = xp.asarray(self.A @ W, dtype=self.dtype)
        G = xp.asarray(self.A.T @ (self._probs(Z) - self.Y), dtype=self.dtype) + self.l2 * W
        return _State(x, xp.reshape(G, (-1,)), Z)

    def grad(self, state):
        return state.grad

    def value(self, state):
        xp = self.xp
        Z = state.aux
        zmax = xp.max(Z, axis=1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(Z - zmax), axis=1)) + zmax[:, 0]
        data = float(xp.sum(lse) - xp.sum(Z * self.Y))
        return data + 0.5 * self.l2 * float(xp.sum(state.x * state.x))

    def _split(self, block, delta):
        return _split_block(self.xp, block, delta, self.k, self.dtype)

    def move(self, state, block, delta):
        xp = self.xp
        state.x[block] = state.x[block] + delta
        feats, D = self._split(block, delta)
        if self.sparse:
            # only the rows the block's features touch change their probabilities
            G = xp.reshape(state.grad, (self.p, self.k))
            self._step(xp, self._csc, self._csr, state.aux, G, xp.astype(feats, xp.int64),
                       D, self._work)
            state.grad[block] = state.grad[block] + self.l2 * delta
            return
        P_old = self._probs(state.aux)
        state.aux = state.aux + xp.take(self.A, feats, axis=1) @ D
        change = self._probs(state.aux) - P_old
        G = xp.reshape(state.grad, (self.p, self.k)) + self.A.T @ change
        state.grad = xp.reshape(G, (-1,))
        state.grad[block] = state.grad[block] + self.l2 * delta

    def block_hessian(self, state, block):
        xp = self.xp
        feats = block // self.k
        classes = block % self.k
        P = self._probs(state.aux)
        cols = self._cols(feats)
        Pc = xp.take(P, classes, axis=1)
        same = xp.astype(classes[:, None] == classes[None, :], self.dtype)
        # H[(j,c),(j',c')] = sum_i a_ij a_ij' (P_ic [c == c'] - P_ic P_ic')
        H = (cols * Pc).T @ cols * same - (cols * Pc).T @ (cols * Pc)
        return H + self.l2 * xp.eye(H.shape[0], dtype=self.dtype)

    def block_bound(self, block):
        xp = self.xp
        feats = block // self.k
        cols = self._cols(feats)
        H = 0.5 * (cols.T @ cols)
        return H + self.l2 * xp.eye(H.shape[0], dtype=self.dtype)

    def value_change(self, state, block, delta):
        """Row-wise ``lse(z + dz) - lse(z) = log(sum_c p_c exp(dz_c))``, computed with
        ``log1p``/``expm1`` so that small changes keep their precision."""
        xp = self.xp
        feats, D = self._split(block, delta)
        dZ = self._cols(feats) @ D
        P = self._probs(state.aux)
        shift = xp.max(dZ, axis=1, keepdims=True)
        small = xp.log1p(xp.sum(P * xp.expm1(dZ - shift), axis=1)) + shift[:, 0]
        change = float(xp.sum(small) - xp.sum(dZ * self.Y))
        xb = xp.take(state.x, block)
        return change + 0.5 * self.l2 * float(xp.sum(delta * (2.0 * xb + delta)))

    def compiled_batch(self, scheme):
        if scheme != "greedy_lipschitz" or not self.sparse:
            return None
        kernel = get_kernel("coordinate.softmax_bcd_batch", self.xp)

        def run(state, L, block_size, scaled, n_iter, tol):
            return kernel(self.xp, self._csc, self._csr, state.x, state.aux, state.grad, L,
                          self.l2, self.k, block_size, scaled, n_iter, tol, self._work)
        return run


# ------------------------------------------------------------------------ constructors
def LeastSquares(A, b, *, l2=0.0, l1=0.0, positive=False, gram="auto"):
    """``1/2 ||A x - b||^2 + l2/2 ||x||^2 (+ l1 ||x||_1)``.

    ``gram="auto"`` precomputes ``A^T A`` when ``A`` is dense with at most 4000 columns
    (then each block update costs ``O(n |b|)`` instead of ``O(m n)``).
    """
    check_choice(gram, "gram", (True, False, "auto"))
    xp = get_namespace(A, b)
    use_gram = gram is True or (gram == "auto" and not is_scipy_sparse(A)
                                and getattr(A, "ndim", 0) == 2 and A.shape[1] <= 4000)
    if not use_gram:
        return GLMProblem(A, b, "squared", l2=l2, l1=l1, positive=positive)
    A = as_array(A, "A", xp, ndim=2)
    b = as_array(b, "b", xp, ndim=1)
    check_shape(b, "b", (A.shape[0],), against="the rows of A")
    dtype = float_dtype(xp, A, b)
    A, b = xp.astype(A, dtype), xp.astype(b, dtype)
    Q = A.T @ A
    if l2:
        Q = Q + check_scalar(l2, "l2", low=0) * xp.eye(Q.shape[0], dtype=dtype)
    return QuadraticProblem(Q, A.T @ b, 0.5 * float(xp.sum(b * b)), l1=l1,
                            positive=positive)


def BinaryLogistic(A, y, *, l2=1.0, l1=0.0, positive=False):
    """``sum_i log(1 + exp(-y_i a_i^T x)) + l2/2 ||x||^2`` with labels in {-1, 1}."""
    return GLMProblem(A, y, "logistic", l2=l2, l1=l1, positive=positive)


def SoftmaxLogistic(A, labels, n_classes=None, *, l2=1.0):
    """Multinomial logistic regression (see :class:`SoftmaxProblem`)."""
    return SoftmaxProblem(A, labels, n_classes, l2=l2)


def L1LeastSquares(A, b, l1, *, positive=False, gram="auto"):
    """``1/2 ||A x - b||^2 + l1 ||x||_1`` (``positive=True``: also ``x >= 0``)."""
    return LeastSquares(A, b, l1=l1, positive=positive, gram=gram)


def L1Logistic(A, y, l1, *, l2=0.0, positive=False):
    """``sum_i log(1 + exp(-y_i a_i^T x)) + l1 ||x||_1``."""
    return GLMProblem(A, y, "logistic", l2=l2, l1=l1, positive=positive)


def LabelPropagationProblem(W, labels, labeled, *, label_weight=1.0, prior_weight=1e-3,
                     prior=0.0):
    r"""Graph-based label propagation (the paper's experiments D and E).

    Minimises, over the values ``x_u`` of the unlabelled nodes ``u``,

    .. math::

       \frac12\sum_{i<j\in u} W_{ij}(x_i - x_j)^2
       + \frac{\lambda}{2}\sum_{i\in u,\ j\ \mathrm{labelled}} W_{ij}(x_i - y_j)^2
       + \frac{\mu}{2}\sum_{i\in u}(x_i - \mathrm{prior})^2

    with ``lambda = label_weight`` and ``mu = prior_weight`` (which keeps it strongly
    convex). Returns a :class:`QuadraticProblem` in the unlabelled variables (its
    Hessian has the graph's sparsity, so forest blocks apply); its ``unlabeled``
    attribute lists their node indices.

    Parameters
    ----------
    W : scipy.sparse matrix or array, shape (N, N)
        Symmetric non-negative edge weights.
    labels : array, shape (N,)
        Values of the labelled nodes (others ignored).
    labeled : bool array, shape (N,)
    """
    import numpy as np
    import scipy.sparse as sp

    if not is_scipy_sparse(W):
        W = sp.csr_matrix(to_numpy(as_array(W, "W", get_namespace(W), ndim=2)))
    W = sp.csr_matrix(W, dtype=np.float64)
    N = W.shape[0]
    if W.shape != (N, N):
        raise ValueError(f"W has shape {W.shape}, expected a square matrix")
    if not np.all(np.isfinite(W.data)):
        raise ValueError("W must be finite, but it contains NaN or inf values")
    if (W.data < 0).any():
        raise ValueError("W must be non-negative")
    if abs(W - W.T).max() > 1e-12 * max(1.0, abs(W).max()):
        raise ValueError("W must be symmetric")
    labels = np.asarray(to_numpy(labels), dtype=np.float64)
    labeled = np.asarray(to_numpy(labeled), dtype=bool)
    if labels.shape != (N,):
        raise ValueError(f"labels has shape {labels.shape}, expected ({N},) to match W")
    if labeled.shape != (N,):
        raise ValueError(f"labeled has shape {labeled.shape}, expected ({N},) to match W")
    if not np.all(np.isfinite(labels[labeled])):
        raise ValueError("labels must be finite on the labelled nodes")
    check_scalar(label_weight, "label_weight", low=0)
    check_scalar(prior_weight, "prior_weight", low=0, low_open=True)
    prior = check_scalar(prior, "prior")
    u = np.flatnonzero(~labeled)
    if u.size == 0:
        raise ValueError("labeled marks every node: nothing to propagate")
    W = W.tolil()
    W.setdiag(0)
    W = W.tocsr()
    W.eliminate_zeros()
    degree = np.asarray(W.sum(axis=1)).ravel()
    lw = label_weight
    Wl = W[:, labeled]
    # edges to labelled nodes scale by label_weight
    d_u = degree[u] - np.asarray(Wl[u].sum(axis=1)).ravel() * (1 - lw)
    Wuu = W[u][:, u]
    Q = sp.diags(d_u + prior_weight) - Wuu
    c = lw * (Wl[u] @ labels[labeled]) + prior_weight * prior
    with np.errstate(over="ignore"):
        const = 0.5 * lw * float(np.asarray(Wl[u].sum(axis=0)).ravel()
                                 @ labels[labeled] ** 2) + 0.5 * prior_weight * prior ** 2 * u.size
    if not np.isfinite(const):
        raise ValueError("labels (or prior) are too large: the objective overflows")
    problem = QuadraticProblem(sp.csc_matrix(Q), c, const)
    problem.unlabeled = u
    return problem
