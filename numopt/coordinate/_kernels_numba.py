"""Numba kernels for coordinate descent.

* ``inner_cd``: the working-set inner solver of the L1 GLMs -- cyclic proximal
  coordinate descent with the linear predictor maintained incrementally, Anderson
  extrapolation every ``K + 1`` epochs and a KKT check, all in one compiled call;
* ``newton_direction``: prox-Newton direction of the L1-logistic model by CD;
* ``columns_dot``, ``column_sq_norms``: ``X[:, ws]^T v`` and squared column norms;
* ``sparse_glm_block_step``: the incremental gradient update of the general BCD
  framework for sparse ``A``: after a block of coordinates moves, only the rows touched
  by those columns change, so only the gradient entries of the columns sharing those
  rows are updated (never the full gradient).

Datafit codes: 0 = least squares (``state = Xw + b - y``, the signed residual),
1 = binary logistic with labels in {-1, 1} (``state = Xw + b``). Objectives are the
*sums* over samples (the 1/n scaling is folded into ``n_alpha``). Dense and sparse
storage share one compiled function per kernel (an ``is_sparse`` flag), so there is one
signature per dtype and the on-disk cache loads fast.

The dense loops are compiled with ``fastmath={"reassoc", "contract"}``: re-associating
the sums lets LLVM vectorise the column dot products (about 6x faster epochs on the
442x1000 diabetes design); no flag that assumes finite values is set, so NaN/inf checks
keep working.
"""

import numpy as np
from numba import njit

QUADRATIC = 0
LOGISTIC = 1


@njit(cache=True, nogil=True, inline="always")
def _soft_threshold(value, threshold):
    if value > threshold:
        return value - threshold
    if value < -threshold:
        return value + threshold
    return 0.0 * value


@njit(cache=True, nogil=True, inline="always")
def _sample_derivative(datafit, y_i, state_i):
    """d loss_i / d z_i for the sum-of-losses objective."""
    if datafit == QUADRATIC:
        return state_i
    # logistic: d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z))
    t = y_i * state_i
    if t > 0:
        e = np.exp(-t)
        return -y_i * e / (1.0 + e)
    return -y_i / (1.0 + np.exp(t))


@njit(cache=True, nogil=True)
def _intercept_step(datafit, y, w, state, n_samples):
    p = w.shape[0] - 1
    grad = 0.0
    for i in range(n_samples):
        grad += _sample_derivative(datafit, y[i], state[i])
    lips = float(n_samples) if datafit == QUADRATIC else 0.25 * n_samples
    delta = -grad / lips
    w[p] += delta
    for i in range(n_samples):
        state[i] += delta


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
def _sparse_glm_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                           csr_indptr, y, state, grad, block, delta, datafit, mark,
                           touched, old_deriv):
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
                old_deriv[n_touched] = _sample_derivative(datafit, y[i], state[i])
                n_touched += 1
            state[i] += d * csc_data[q]
    for t in range(n_touched):
        i = touched[t]
        mark[i] = 0
        change = _sample_derivative(datafit, y[i], state[i]) - old_deriv[t]
        if change != 0.0:
            for q in range(csr_indptr[i], csr_indptr[i + 1]):
                grad[csr_indices[q]] += change * csr_data[q]


def sparse_glm_block_step(xp, csc, csr, y, state, grad, block, delta, datafit, work):
    """Numba version of :func:`numopt.coordinate._problems.sparse_glm_block_step`."""
    mark, touched, old_deriv = work
    _sparse_glm_block_step(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], y, state, grad,
                           block, delta, datafit, mark, touched, old_deriv)
    return state, grad


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _columns_dot_dense(X, ws, v, out):
    n_samples = X.shape[0]
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        for i in range(n_samples):
            acc += X[i, j] * v[i]
        out[k] = acc


@njit(cache=True, nogil=True)
def _columns_dot_sparse(data, indices, indptr, ws, v, out):
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            acc += data[q] * v[indices[q]]
        out[k] = acc


def columns_dot(xp, X, ws, v):
    """``X[:, ws].T @ v`` without gathering the columns (Numba version)."""
    out = np.empty(ws.shape[0], dtype=v.dtype)
    if isinstance(X, tuple):
        data, indices, indptr = X
        _columns_dot_sparse(data, indices, indptr, ws, v, out)
    else:
        _columns_dot_dense(X, ws, v, out)
    return out


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


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _newton_direction(X_dense, data, indices, indptr, is_sparse, ws, w, grad_ws, weights,
                      n_alpha, fit_intercept, max_epochs, tol, delta, x_delta):
    """Cyclic CD on the prox-Newton model of an L1 GLM restricted to ``ws``.

    Model: ``grad^T d + 1/2 d^T X^T diag(weights) X d + n_alpha * ||w + d||_1``; the
    intercept (last entry of ``delta`` when fitted) is unpenalised.
    """
    n_samples = weights.shape[0]
    n_ws = ws.shape[0]
    hess = np.zeros(n_ws, dtype=w.dtype)
    for k in range(n_ws):
        j = ws[k]
        acc = 0.0
        if is_sparse:
            for q in range(indptr[j], indptr[j + 1]):
                acc += data[q] * data[q] * weights[indices[q]]
        else:
            for i in range(n_samples):
                acc += X_dense[i, j] * X_dense[i, j] * weights[i]
        hess[k] = acc
    hess_b = 0.0
    grad_b = 0.0
    if fit_intercept:
        for i in range(n_samples):
            hess_b += weights[i]
        grad_b = grad_ws[n_ws]
    for _ in range(max_epochs):
        biggest = 0.0
        for k in range(n_ws):
            if hess[k] == 0.0:
                continue
            j = ws[k]
            acc = 0.0
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    acc += data[q] * weights[indices[q]] * x_delta[indices[q]]
            else:
                for i in range(n_samples):
                    acc += X_dense[i, j] * weights[i] * x_delta[i]
            old = w[j] + delta[k]
            new = _soft_threshold(old - (grad_ws[k] + acc) / hess[k], n_alpha / hess[k])
            step = new - old
            if step != 0.0:
                delta[k] += step
                if is_sparse:
                    for q in range(indptr[j], indptr[j + 1]):
                        x_delta[indices[q]] += step * data[q]
                else:
                    for i in range(n_samples):
                        x_delta[i] += step * X_dense[i, j]
                change = abs(step) * hess[k]
                if change > biggest:
                    biggest = change
        if fit_intercept and hess_b > 0.0:
            acc = 0.0
            for i in range(n_samples):
                acc += weights[i] * x_delta[i]
            step = -(grad_b + acc) / hess_b
            delta[n_ws] += step
            for i in range(n_samples):
                x_delta[i] += step
            change = abs(step) * hess_b
            if change > biggest:
                biggest = change
        if biggest <= tol:
            break


def newton_direction(xp, X, ws, w, grad_ws, weights, n_alpha, fit_intercept, max_epochs,
                     tol):
    """Numba version of :func:`numopt.coordinate._glm_l1.newton_direction`."""
    n_track = ws.shape[0] + int(fit_intercept)
    delta = np.zeros(n_track, dtype=w.dtype)
    x_delta = np.zeros(weights.shape[0], dtype=w.dtype)
    one = w.dtype.type
    if isinstance(X, tuple):
        data, indices, indptr = X
        dummy = np.zeros((1, 1), dtype=w.dtype)
        _newton_direction(dummy, data, indices, indptr, True, ws, w, grad_ws, weights,
                          one(n_alpha), fit_intercept, max_epochs, one(tol), delta, x_delta)
    else:
        dummy_i = np.zeros(1, dtype=np.int32)
        _newton_direction(X, X[:1, 0], dummy_i, dummy_i, False, ws, w, grad_ws, weights,
                          one(n_alpha), fit_intercept, max_epochs, one(tol), delta, x_delta)
    return delta, x_delta


@njit(cache=True, nogil=True)
def _solve_small(C, rhs):
    """Gaussian elimination with partial pivoting for the K x K Anderson system;
    returns (solution, ok) with ok False when C is numerically singular."""
    m = C.shape[0]
    A = C.copy()
    b = rhs.copy()
    scale = 0.0
    for i in range(m):
        scale = max(scale, abs(A[i, i]))
    if scale == 0.0:
        return b, False
    for k in range(m):
        piv = k
        for i in range(k + 1, m):
            if abs(A[i, k]) > abs(A[piv, k]):
                piv = i
        if abs(A[piv, k]) <= 1e-14 * scale:
            return b, False
        if piv != k:
            for j in range(m):
                A[k, j], A[piv, j] = A[piv, j], A[k, j]
            b[k], b[piv] = b[piv], b[k]
        for i in range(k + 1, m):
            f = A[i, k] / A[k, k]
            for j in range(k, m):
                A[i, j] -= f * A[k, j]
            b[i] -= f * b[k]
    x = np.empty(m, dtype=b.dtype)
    for i in range(m - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, m):
            acc -= A[i, j] * x[j]
        x[i] = acc / A[i, i]
    return x, True


@njit(cache=True, nogil=True)
def _sum_loss(datafit, y, state):
    acc = 0.0
    if datafit == QUADRATIC:
        for i in range(state.shape[0]):
            acc += 0.5 * state[i] * state[i]
    else:
        for i in range(state.shape[0]):
            t = -y[i] * state[i]
            if t > 0:
                acc += t + np.log1p(np.exp(-t))
            else:
                acc += np.log1p(np.exp(t))
    return acc


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _ws_dual_norm(X, data, indices, indptr, is_sparse, ws, v, positive):
    """``max_k |X[:, ws[k]]^T v|`` (or ``max_k X[:, ws[k]]^T v`` when ``positive``)."""
    n_samples = v.shape[0]
    worst = 0.0
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        if is_sparse:
            for q in range(indptr[j], indptr[j + 1]):
                acc += data[q] * v[indices[q]]
        else:
            for i in range(n_samples):
                acc += X[i, j] * v[i]
        if not positive:
            acc = abs(acc)
        if acc > worst:
            worst = acc
    return worst


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _rescaled_dual(X, data, indices, indptr, is_sparse, ws, theta, y_dual, n_alpha,
                   positive):
    """Scale ``theta`` in place into the dual feasible set of the Lasso restricted to
    ``ws`` and return its dual objective ``theta^T y - ||theta||^2 / 2``."""
    norm = _ws_dual_norm(X, data, indices, indptr, is_sparse, ws, theta, positive)
    if norm > n_alpha:
        scale = n_alpha / norm
        for i in range(theta.shape[0]):
            theta[i] *= scale
    dot = 0.0
    sq = 0.0
    for i in range(theta.shape[0]):
        dot += theta[i] * y_dual[i]
        sq += theta[i] * theta[i]
    return dot - 0.5 * sq


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _inner_cd(X, data, indices, indptr, is_sparse, y, w, state, ws, lipschitz, n_alpha,
              datafit, fit_intercept, positive, K, max_epochs, check_every, inner_tol,
              y_dual, theta_best, dual_hist):
    """Cyclic proximal CD on ``ws`` with Anderson extrapolation of the iterates every
    ``K + 1`` epochs (kept only when it lowers the objective) and an optimality check
    every ``check_every`` epochs; returns ``(epochs run, best dual objective)``.

    Least squares: the check is the duality gap of the problem restricted to ``ws``
    (sum scaling) with the best of the plain dual point (the rescaled residual) and the
    extrapolated one (Anderson on the residuals kept at the checks, ``dual_hist``
    rows), as in celer; the best dual point is written to ``theta_best``. Logistic: the
    largest distance of the gradient to the subdifferential on ``ws`` (mean scaling).
    """
    n_samples = state.shape[0]
    n_ws = ws.shape[0]
    p = w.shape[0] - 1 if fit_intercept else w.shape[0]
    m = n_ws + 1 if fit_intercept else n_ws
    hist = np.zeros((K + 1, m), dtype=w.dtype)
    n_hist = 0
    alpha = n_alpha / n_samples
    n_dual_hist = dual_hist.shape[0]
    n_checks = 0
    best_dual = -np.inf
    theta = np.empty(n_samples, dtype=w.dtype)
    for epoch in range(max_epochs):
        for k in range(n_ws):
            j = ws[k]
            lj = lipschitz[j]
            if lj == 0.0:
                continue
            grad = 0.0
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    i = indices[q]
                    grad += data[q] * _sample_derivative(datafit, y[i], state[i])
            elif datafit == QUADRATIC:
                for i in range(n_samples):
                    grad += X[i, j] * state[i]
            else:
                for i in range(n_samples):
                    grad += X[i, j] * _sample_derivative(datafit, y[i], state[i])
            old = w[j]
            new = _soft_threshold(old - grad / lj, n_alpha / lj)
            if positive and new < 0.0:
                new = 0.0 * new
            if new != old:
                w[j] = new
                delta = new - old
                if is_sparse:
                    for q in range(indptr[j], indptr[j + 1]):
                        state[indices[q]] += delta * data[q]
                else:
                    for i in range(n_samples):
                        state[i] += delta * X[i, j]
        if fit_intercept:
            _intercept_step(datafit, y, w, state, n_samples)
        if K > 0:
            for k in range(n_ws):
                hist[n_hist, k] = w[ws[k]]
            if fit_intercept:
                hist[n_hist, n_ws] = w[p]
            n_hist += 1
            if n_hist == K + 1:
                n_hist = 0
                _anderson_primal(X, data, indices, indptr, is_sparse, y, w, state, ws,
                                 n_alpha, datafit, fit_intercept, positive, hist, p)
        if (epoch + 1) % check_every != 0:
            continue
        if datafit == QUADRATIC:
            # plain dual point: the residual -state, rescaled
            pen = 0.0
            for k in range(n_ws):
                pen += abs(w[ws[k]])
            primal = _sum_loss(datafit, y, state) + n_alpha * pen
            for i in range(n_samples):
                theta[i] = -state[i]
            d = _rescaled_dual(X, data, indices, indptr, is_sparse, ws, theta, y_dual,
                               n_alpha, positive)
            if d > best_dual:
                best_dual = d
                theta_best[:] = theta
            if n_dual_hist > 1:
                # residual history (oldest first); Anderson on it once it is full
                if n_checks < n_dual_hist:
                    for i in range(n_samples):
                        dual_hist[n_checks, i] = -state[i]
                else:
                    for r in range(n_dual_hist - 1):
                        dual_hist[r, :] = dual_hist[r + 1, :]
                    for i in range(n_samples):
                        dual_hist[n_dual_hist - 1, i] = -state[i]
                n_checks += 1
                if n_checks >= n_dual_hist:
                    if _extrapolate_rows(dual_hist, theta):
                        d = _rescaled_dual(X, data, indices, indptr, is_sparse, ws,
                                           theta, y_dual, n_alpha, positive)
                        if d > best_dual:
                            best_dual = d
                            theta_best[:] = theta
            if primal - best_dual <= inner_tol:
                return epoch + 1, best_dual
            continue
        worst = 0.0
        for k in range(n_ws):
            j = ws[k]
            grad = 0.0
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    i = indices[q]
                    grad += data[q] * _sample_derivative(datafit, y[i], state[i])
            else:
                for i in range(n_samples):
                    grad += X[i, j] * _sample_derivative(datafit, y[i], state[i])
            grad /= n_samples
            wj = w[j]
            if positive:
                if wj > 0:
                    v = abs(grad + alpha)
                else:
                    v = max(-grad - alpha, 0.0)
            elif wj != 0:
                v = abs(grad + alpha) if wj > 0 else abs(grad - alpha)
            else:
                v = max(abs(grad) - alpha, 0.0)
            if v > worst:
                worst = v
        if worst <= inner_tol:
            return epoch + 1, best_dual
    return max_epochs, best_dual


@njit(cache=True, nogil=True)
def _extrapolate_rows(rows, out):
    """Anderson extrapolation of the sequence ``rows`` (oldest first) into ``out``:
    the affine combination of the last ``len(rows) - 1`` rows whose combination of
    successive differences has the smallest norm. Returns False when it fails."""
    K = rows.shape[0] - 1
    C = np.zeros((K, K), dtype=rows.dtype)
    for a in range(K):
        for b in range(a, K):
            acc_ab = 0.0
            for k in range(rows.shape[1]):
                acc_ab += (rows[a + 1, k] - rows[a, k]) * (rows[b + 1, k] - rows[b, k])
            C[a, b] = acc_ab
            C[b, a] = acc_ab
    z, ok = _solve_small(C, np.ones(K, dtype=rows.dtype))
    total = 0.0
    for k in range(K):
        total += z[k]
    if not ok or total == 0.0 or not np.isfinite(total):
        return False
    out[:] = 0.0
    for a in range(K):
        ca = z[a] / total
        for k in range(rows.shape[1]):
            out[k] += ca * rows[a + 1, k]
    return np.all(np.isfinite(out))


@njit(cache=True, nogil=True)
def _anderson_primal(X, data, indices, indptr, is_sparse, y, w, state, ws, n_alpha,
                     datafit, fit_intercept, positive, hist, p):
    """Replace the iterate by the Anderson extrapolation of ``hist`` when it is
    feasible and lowers the objective."""
    n_samples = state.shape[0]
    n_ws = ws.shape[0]
    acc = np.empty(hist.shape[1], dtype=w.dtype)
    if not _extrapolate_rows(hist, acc):
        return
    if positive:
        for k in range(n_ws):
            if acc[k] < 0.0:
                return
    trial = state.copy()
    pen_old = 0.0
    pen_new = 0.0
    for k in range(n_ws):
        j = ws[k]
        d = acc[k] - w[j]
        pen_old += abs(w[j])
        pen_new += abs(acc[k])
        if d != 0.0:
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    trial[indices[q]] += d * data[q]
            else:
                for i in range(n_samples):
                    trial[i] += d * X[i, j]
    if fit_intercept:
        d = acc[n_ws] - w[p]
        for i in range(n_samples):
            trial[i] += d
    old_obj = _sum_loss(datafit, y, state) + n_alpha * pen_old
    new_obj = _sum_loss(datafit, y, trial) + n_alpha * pen_new
    if new_obj < old_obj:
        for k in range(n_ws):
            w[ws[k]] = acc[k]
        if fit_intercept:
            w[p] = acc[n_ws]
        state[:] = trial


def inner_cd(xp, X, y, w, state, ws, lipschitz, n_alpha, datafit, fit_intercept, positive,
             K, max_epochs, check_every, inner_tol, y_dual=None, dual_k=5):
    """Numba version of :func:`numopt.coordinate._glm_l1.inner_cd` (in place)."""
    t = w.dtype.type
    n_samples = state.shape[0]
    theta = np.zeros(n_samples, dtype=w.dtype)
    if datafit == QUADRATIC and dual_k > 0:
        dual_hist = np.zeros((dual_k + 1, n_samples), dtype=w.dtype)
    else:
        dual_hist = np.zeros((0, n_samples), dtype=w.dtype)
    if y_dual is None:
        y_dual = y
    if isinstance(X, tuple):
        data, indices, indptr = X
        dummy = np.zeros((1, 1), dtype=w.dtype)
        n, dual = _inner_cd(dummy, data, indices, indptr, True, y, w, state, ws,
                            lipschitz, t(n_alpha), datafit, fit_intercept, positive, K,
                            max_epochs, check_every, t(inner_tol), y_dual, theta,
                            dual_hist)
    else:
        dummy_i = np.zeros(1, dtype=np.int32)
        n, dual = _inner_cd(X, X[:1, 0], dummy_i, dummy_i, False, y, w, state, ws,
                            lipschitz, t(n_alpha), datafit, fit_intercept, positive, K,
                            max_epochs, check_every, t(inner_tol), y_dual, theta,
                            dual_hist)
    return w, state, n, theta, float(dual)


@njit(cache=True, nogil=True)
def _min_norm_subgradient(g, x, l1, positive):
    if positive:
        return g + l1 if x > 0 else min(g + l1, 0.0)
    if l1 == 0.0:
        return g
    if x > 0:
        return g + l1
    if x < 0:
        return g - l1
    return _soft_threshold(g, l1)


@njit(cache=True, nogil=True)
def _sparse_bcd_batch(csc_data, csc_indices, csc_indptr, csr_data, csr_indices, csr_indptr,
                      y, x, z, grad, L, l2, l1, positive, datafit, curvature, block_size,
                      scaled, n_iter, tol, mark, touched, old_deriv, dense_col):
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
            s = _min_norm_subgradient(grad[j], x[j], l1, positive)
            a = abs(s)
            if a > worst:
                worst = a
            score = s * s / L[j] if scaled else s * s
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
            v = x[j] - grad[j] / lam
            if positive:
                new = max(v - l1 / lam, 0.0)
            elif l1 != 0.0:
                new = _soft_threshold(v, l1 / lam)
            else:
                new = v
            delta[t] = new - x[j]
            x[j] = new
            if l2 != 0.0:
                grad[j] += l2 * delta[t]
        _sparse_glm_block_step(csc_data, csc_indices, csc_indptr, csr_data, csr_indices,
                               csr_indptr, y, z, grad, top[:kb], delta[:kb], datafit, mark,
                               touched, old_deriv)
    return n_iter, -1.0


def sparse_bcd_batch(xp, problem, x, z, grad, L, block_size, scaled, n_iter, tol):
    """Numba version of :func:`numopt.coordinate._bcd.sparse_bcd_batch` (in place)."""
    csc, csr = problem._csc, problem._csr
    mark, touched, old_deriv = problem._work
    dense_col = np.zeros(z.shape[0], dtype=x.dtype)
    t = x.dtype.type
    done, worst = _sparse_bcd_batch(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2],
                                    problem.y, x, z, grad, L, t(problem.l2), t(problem.l1),
                                    problem.positive, problem.code,
                                    t(problem.curvature_bound), block_size, scaled, n_iter,
                                    t(tol), mark, touched, old_deriv, dense_col)
    return int(done), float(worst)


@njit(cache=True, nogil=True, inline="always")
def _softmax_row(Z, i, out):
    k = Z.shape[1]
    zmax = Z[i, 0]
    for c in range(1, k):
        if Z[i, c] > zmax:
            zmax = Z[i, c]
    total = 0.0
    for c in range(k):
        e = np.exp(Z[i, c] - zmax)
        out[c] = e
        total += e
    for c in range(k):
        out[c] /= total


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


def forest_bcd_batch(xp, problem, x, aux, grad, L, block_size, scaled, n_iter, tol):
    """Numba version of :func:`numopt.coordinate._bcd.forest_bcd_batch` (in place)."""
    Q = problem.Q
    t = x.dtype.type
    done, worst = _forest_bcd_batch(Q.data, Q.indices, Q.indptr, problem.lipschitz, x,
                                    grad, L, block_size, scaled, n_iter, t(tol),
                                    8 * block_size)
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


def softmax_bcd_batch(xp, problem, x, z, grad, L, block_size, scaled, n_iter, tol):
    """Numba version of :func:`numopt.coordinate._bcd.softmax_bcd_batch` (in place)."""
    csc, csr = problem._csc, problem._csr
    mark, touched, old_probs = problem._work
    dense_col = np.zeros(z.shape[0], dtype=x.dtype)
    t = x.dtype.type
    done, worst = _softmax_bcd_batch(csc[0], csc[1], csc[2], csr[0], csr[1], csr[2], x, z,
                                     grad, L, t(problem.l2), problem.k, block_size, scaled,
                                     n_iter, t(tol), mark, touched, old_probs, dense_col)
    return int(done), float(worst)
