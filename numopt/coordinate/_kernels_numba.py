"""Numba kernels of the block coordinate descent framework (``bcd``).

* ``column_sq_norms``: squared column norms (the coordinate Lipschitz constants);
* ``sparse_glm_block_step``: the incremental gradient update of the general BCD
  framework for sparse ``A``: after a block of coordinates moves, only the rows touched
  by those columns change, so only the gradient entries of the columns sharing those
  rows are updated (never the full gradient);
* the compiled batches of the greedy paths (``sparse_bcd_batch``,
  ``softmax_bcd_batch``, ``forest_bcd_batch``).

The kernels take plain arrays and, for the GLMs, the datafit and penalty objects of
``_glm_objects`` lowered to the structrefs of ``_glm_numba`` (``as_numba``), whose
methods hold the formulas (the sample derivative, the prox, the distance to the
subdifferential): no loss codes here, one specialisation per datafit type and dtype.

The dense loops are compiled with ``fastmath={"reassoc", "contract"}``: re-associating
the sums lets LLVM vectorise the column dot products; no flag that assumes finite
values is set, so NaN/inf checks keep working.
"""

import numpy as np
from numba import njit

from .._backend._numba_cache import depends_on
from . import _glm_numba
from ._glm_numba import _softmax_row, as_numba

# the kernels below inline the structref methods of _glm_numba: an edit there must
# recompile them (Numba's cache only watches this file)
depends_on(__file__, _glm_numba.__file__)


@njit(cache=True, nogil=True, inline="always")
def _offer_top_k(top, top_val, count, low, k, j, score):
    """Keep the k largest scores seen so far in (top, top_val); ``low`` is the position
    of the smallest kept one. Returns the updated (count, low)."""
    if count < k:
        top[count] = j
        top_val[count] = score
        count += 1
        if count < k:
            return count, low
    elif score > top_val[low]:
        top[low] = j
        top_val[low] = score
    else:
        return count, low
    low = 0
    for t in range(1, k):
        if top_val[t] < top_val[low]:
            low = t
    return count, low


@njit(cache=True, nogil=True, inline="always")
def _positive_block(top, top_val, count):
    """Compact the kept coordinates to those with a positive score (a zero-score
    coordinate would not move but would raise the block's Lipschitz constant), at least
    one, sorted; returns the block size."""
    kb = 0
    for t in range(count):
        if top_val[t] > 0:
            top[kb] = top[t]
            kb += 1
    if kb == 0:
        kb = 1
    top[:kb].sort()
    return kb


@njit(cache=True, nogil=True)
def _derivative(df, y_i, z_i):
    """The datafit's ``f'(z_i)`` as a function of its own: inlined into the loops below
    at the IR level, the structref method trips Numba's inliner (a variable out of
    scope); LLVM still inlines the call."""
    return df.derivative(y_i, z_i)


@njit(cache=True, nogil=True)
def _sparse_glm_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                           csr_indptr, y, state, grad, block, delta, df, mark, touched,
                           old_deriv):
    n_touched = 0
    for k in range(block.shape[0]):
        d = delta[k]
        if d == 0.0:
            continue
        j = block[k]
        for q in range(csc_indptr[j], csc_indptr[j + 1]):
            i = csc_indices[q]
            if mark[i] == 0:
                mark[i] = 1
                touched[n_touched] = i
                old_deriv[n_touched] = _derivative(df, y[i], state[i])
                n_touched += 1
            state[i] += d * csc_data[q]
    for t in range(n_touched):
        i = touched[t]
        mark[i] = 0
        change = _derivative(df, y[i], state[i]) - old_deriv[t]
        if change != 0.0:
            for q in range(csr_indptr[i], csr_indptr[i + 1]):
                grad[csr_indices[q]] += change * csr_data[q]


def sparse_glm_block_step(xp, csc, csr, y, state, grad, block, delta, datafit, work):
    """Numba version of :func:`numopt.coordinate._problems.sparse_glm_block_step`."""
    mark, touched, old_deriv = work
    df = as_numba(datafit, state.shape[0], state.dtype)
    _sparse_glm_block_step(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], y, state, grad,
                           block, delta, df, mark, touched, old_deriv)
    return state, grad


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _column_sq_norms_f(X, out):
    for j in range(X.shape[1]):
        acc = 0.0
        for i in range(X.shape[0]):
            acc += X[i, j] * X[i, j]
        out[j] = acc


def column_sq_norms(xp, X):
    """Squared column norms in one pass over a Fortran-ordered ``X`` (Numba version)."""
    if not X.flags.f_contiguous:
        return np.einsum("ij,ij->j", X, X)
    out = np.empty(X.shape[1], dtype=X.dtype)
    _column_sq_norms_f(X, out)
    return out


@njit(cache=True, nogil=True)
def _sparse_bcd_batch(csc_data, csc_indices, csc_indptr, csr_data, csr_indices, csr_indptr,
                      y, x, state, grad, L, df, pen, l2, curvature, block_size, scaled,
                      n_iter, tol, mark, touched, old_deriv, dense_col):
    n = x.shape[0]
    k = min(block_size, n)
    top = np.empty(k, dtype=np.int64)
    top_val = np.empty(k, dtype=x.dtype)
    G = np.empty((k, k), dtype=x.dtype)
    delta = np.empty(k, dtype=x.dtype)
    for it in range(n_iter):
        # one pass: the optimality measure and the k best greedy scores
        worst = 0.0
        count = 0
        low = 0          # position of the smallest kept score
        for j in range(n):
            a = pen.subdiff_distance(x[j], grad[j], j)
            if a > worst:
                worst = a
            score = a * a / L[j] if scaled else a * a
            count, low = _offer_top_k(top, top_val, count, low, k, j, score)
        if not worst > tol:
            return it, worst
        kb = _positive_block(top, top_val, count)
        # block bound curvature * A_b^T A_b + l2 I and its largest eigenvalue
        for a in range(kb):
            ja = top[a]
            for q in range(csc_indptr[ja], csc_indptr[ja + 1]):
                dense_col[csc_indices[q]] = csc_data[q]
            for b in range(a, kb):
                jb = top[b]
                acc = 0.0
                for q in range(csc_indptr[jb], csc_indptr[jb + 1]):
                    acc += csc_data[q] * dense_col[csc_indices[q]]
                G[a, b] = curvature * acc
                G[b, a] = curvature * acc
            G[a, a] += l2
            for q in range(csc_indptr[ja], csc_indptr[ja + 1]):
                dense_col[csc_indices[q]] = 0.0
        lam = G[0, 0] if kb == 1 else np.linalg.eigvalsh(
            np.ascontiguousarray(G[:kb, :kb]))[kb - 1]
        for t in range(kb):
            j = top[t]
            new = pen.prox(x[j] - grad[j] / lam, lam, j)
            delta[t] = new - x[j]
            x[j] = new
            if l2 != 0.0:
                grad[j] += l2 * delta[t]
        _sparse_glm_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                               csr_indptr, y, state, grad, top[:kb], delta[:kb], df, mark,
                               touched, old_deriv)
    return n_iter, -1.0


def sparse_bcd_batch(xp, csc, csr, y, x, state, grad, L, datafit, penalty, l2, block_size,
                     scaled, n_iter, tol, work):
    """Numba version of :func:`numopt.coordinate._problems.sparse_bcd_batch` (in
    place)."""
    mark, touched, old_deriv = work
    dense_col = np.zeros(state.shape[0], dtype=x.dtype)
    t = x.dtype.type
    df = as_numba(datafit, state.shape[0], x.dtype)
    pen = as_numba(penalty, state.shape[0], x.dtype)
    done, worst = _sparse_bcd_batch(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], y, x,
                                    state, grad, L, df, pen, t(l2), t(datafit.curvature),
                                    block_size, scaled, n_iter, t(tol), mark, touched,
                                    old_deriv, dense_col)
    return int(done), float(worst)


@njit(cache=True, nogil=True)
def _softmax_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                        csr_indptr, Z, G, feats, D, mark, touched, old_probs):
    n_touched = 0
    k = Z.shape[1]
    for f in range(feats.shape[0]):
        j = feats[f]
        for q in range(csc_indptr[j], csc_indptr[j + 1]):
            i = csc_indices[q]
            if mark[i] == 0:
                mark[i] = 1
                touched[n_touched] = i
                _softmax_row(Z, i, old_probs[n_touched])
                n_touched += 1
            a = csc_data[q]
            for c in range(k):
                Z[i, c] += a * D[f, c]
    change = np.empty(k, dtype=Z.dtype)
    for t in range(n_touched):
        i = touched[t]
        mark[i] = 0
        _softmax_row(Z, i, change)
        for c in range(k):
            change[c] -= old_probs[t, c]
        for q in range(csr_indptr[i], csr_indptr[i + 1]):
            j = csr_indices[q]
            a = csr_data[q]
            for c in range(k):
                G[j, c] += a * change[c]


def softmax_block_step(xp, csc, csr, Z, G, feats, D, work):
    """Numba version of :func:`numopt.coordinate._problems.softmax_block_step`."""
    mark, touched, old_probs = work
    _softmax_block_step(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], Z, G, feats, D,
                        mark, touched, old_probs)
    return Z, G


@njit(cache=True, nogil=True, inline="always")
def _find_root(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def _forest_bcd_batch(data, indices, indptr, diag, x, grad, L, block_size, scaled, n_iter,
                      tol, n_candidates):
    """Greedy forest blocks + exact Gaussian belief propagation on a sparse symmetric
    ``Q`` (CSC: column ``j`` lists the neighbours of ``j``); see ``forest_bcd_batch``."""
    n = x.shape[0]
    scores = np.empty(n, dtype=x.dtype)
    parent = np.full(n, -1, dtype=np.int64)     # union-find over the chosen nodes
    pos = np.full(n, -1, dtype=np.int64)        # node -> position in the block
    block = np.empty(min(block_size, n), dtype=np.int64)
    roots = np.empty(n, dtype=np.int64)
    m_max = block.shape[0]
    J = np.empty(m_max, dtype=x.dtype)
    h = np.empty(m_max, dtype=x.dtype)
    w_up = np.empty(m_max, dtype=x.dtype)       # Q entry to the BFS parent
    up = np.empty(m_max, dtype=np.int64)
    order = np.empty(m_max, dtype=np.int64)
    out = np.empty(m_max, dtype=x.dtype)
    for it in range(n_iter):
        worst = 0.0
        for j in range(n):
            g = grad[j]
            if abs(g) > worst:
                worst = abs(g)
            scores[j] = g * g / L[j] if scaled else g * g
        if not worst > tol:
            return it, worst
        # the best candidates in decreasing score, ties by index (a stable sort of
        # only the entries at or above the n_candidates-th score)
        c = min(n_candidates, n)
        neg = -scores
        cut = np.partition(neg, c - 1)[c - 1]
        top = np.flatnonzero(neg <= cut)
        ranking = top[np.argsort(neg[top], kind="mergesort")]
        n_chosen = 0
        for t in range(c):
            i = ranking[t]
            if not scores[i] > 0 and n_chosen > 0:
                break
            n_roots = 0
            ok = True
            for q in range(indptr[i], indptr[i + 1]):
                j = indices[q]
                if j != i and parent[j] >= 0:
                    r = _find_root(parent, j)
                    for s in range(n_roots):
                        if roots[s] == r:
                            ok = False
                            break
                    if not ok:
                        break
                    roots[n_roots] = r
                    n_roots += 1
            if not ok:
                continue
            parent[i] = i
            for s in range(n_roots):
                parent[roots[s]] = i
            block[n_chosen] = i
            n_chosen += 1
            if n_chosen == m_max:
                break
        for s in range(n_chosen):
            parent[block[s]] = -1
        b = np.sort(block[:n_chosen])
        m = b.shape[0]
        for l in range(m):
            pos[b[l]] = l
            J[l] = diag[b[l]]
            h[l] = -grad[b[l]]
            up[l] = -2                          # -2: not reached yet
        # exact solve of Q_bb d = -g_b on the forest: leaf-to-root elimination per
        # tree (breadth-first order from its first node), then back substitution
        for root in range(m):
            if up[root] != -2:
                continue
            up[root] = -1
            order[0] = root
            n_tree = 1
            k = 0
            while k < n_tree:
                l = order[k]
                k += 1
                node = b[l]
                for q in range(indptr[node], indptr[node + 1]):
                    l2 = pos[indices[q]]
                    if l2 >= 0 and l2 != l and up[l2] == -2:
                        up[l2] = l
                        w_up[l2] = data[q]
                        order[n_tree] = l2
                        n_tree += 1
            for k in range(n_tree - 1, 0, -1):
                l = order[k]
                p = up[l]
                J[p] -= w_up[l] * w_up[l] / J[l]
                h[p] -= w_up[l] * h[l] / J[l]
            for k in range(n_tree):
                l = order[k]
                p = up[l]
                if p < 0:
                    out[l] = h[l] / J[l]
                else:
                    out[l] = (h[l] - w_up[l] * out[p]) / J[l]
        for l in range(m):
            node = b[l]
            pos[node] = -1
            d = out[l]
            x[node] += d
            for q in range(indptr[node], indptr[node + 1]):
                grad[indices[q]] += data[q] * d
    return n_iter, -1.0


def forest_bcd_batch(xp, Q, diag, x, grad, L, block_size, scaled, n_iter, tol):
    """Numba version of :func:`numopt.coordinate._problems.forest_bcd_batch` (in
    place)."""
    t = x.dtype.type
    done, worst = _forest_bcd_batch(Q[0], Q[1], Q[2], diag, x, grad, L, block_size, scaled,
                                    n_iter, t(tol), 8 * block_size)
    return int(done), float(worst)


@njit(cache=True, nogil=True)
def _softmax_bcd_batch(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                       csr_indptr, x, Z, grad, L, l2, n_classes, block_size, scaled, n_iter,
                       tol, mark, touched, old_probs, dense_col):
    """Greedy variable blocks with the block Lipschitz step on sparse softmax
    regression (variable ``j * n_classes + c``); see ``sparse_bcd_batch``."""
    n = x.shape[0]
    k = min(block_size, n)
    top = np.empty(k, dtype=np.int64)
    top_val = np.empty(k, dtype=x.dtype)
    Gm = np.empty((k, k), dtype=x.dtype)
    delta = np.empty(k, dtype=x.dtype)
    feats = np.empty(k, dtype=np.int64)
    D = np.zeros((k, n_classes), dtype=x.dtype)
    G2 = grad.reshape((n // n_classes, n_classes))
    for it in range(n_iter):
        worst = 0.0
        count = 0
        low = 0
        for j in range(n):
            g = grad[j]
            if abs(g) > worst:
                worst = abs(g)
            score = g * g / L[j] if scaled else g * g
            count, low = _offer_top_k(top, top_val, count, low, k, j, score)
        if not worst > tol:
            return it, worst
        kb = _positive_block(top, top_val, count)
        # bound 1/2 A_f^T A_f + l2 I over the block's feature columns
        for a in range(kb):
            fa = top[a] // n_classes
            for q in range(csc_indptr[fa], csc_indptr[fa + 1]):
                dense_col[csc_indices[q]] = csc_data[q]
            for b in range(a, kb):
                fb = top[b] // n_classes
                acc = 0.0
                for q in range(csc_indptr[fb], csc_indptr[fb + 1]):
                    acc += csc_data[q] * dense_col[csc_indices[q]]
                Gm[a, b] = 0.5 * acc
                Gm[b, a] = 0.5 * acc
            Gm[a, a] += l2
            for q in range(csc_indptr[fa], csc_indptr[fa + 1]):
                dense_col[csc_indices[q]] = 0.0
        lam = Gm[0, 0] if kb == 1 else np.linalg.eigvalsh(
            np.ascontiguousarray(Gm[:kb, :kb]))[kb - 1]
        # the step, grouped by feature (the block is sorted, so features are too)
        nf = 0
        for t in range(kb):
            j = top[t]
            old = x[j]
            new = old - grad[j] / lam
            delta[t] = new - old
            x[j] = new
            f = j // n_classes
            if nf == 0 or feats[nf - 1] != f:
                feats[nf] = f
                D[nf, :] = 0.0
                nf += 1
            D[nf - 1, j % n_classes] = delta[t]
        _softmax_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                            csr_indptr, Z, G2, feats[:nf], D[:nf], mark, touched,
                            old_probs)
        if l2 != 0.0:
            for t in range(kb):
                grad[top[t]] += l2 * delta[t]
    return n_iter, -1.0


def softmax_bcd_batch(xp, csc, csr, x, Z, grad, L, l2, n_classes, block_size, scaled,
                      n_iter, tol, work):
    """Numba version of :func:`numopt.coordinate._problems.softmax_bcd_batch` (in
    place)."""
    mark, touched, old_probs = work
    dense_col = np.zeros(Z.shape[0], dtype=x.dtype)
    t = x.dtype.type
    done, worst = _softmax_bcd_batch(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], x, Z,
                                     grad, L, t(l2), n_classes, block_size, scaled, n_iter,
                                     t(tol), mark, touched, old_probs, dense_col)
    return int(done), float(worst)
