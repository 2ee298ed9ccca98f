"""Numba kernels for coordinate descent.

Two families:

* the L1-GLM inner loop (``cd_epochs_*``): cyclic proximal coordinate descent on a
  working set, with the linear predictor maintained incrementally;
* the sparse incremental gradient update used by the general BCD framework
  (``glm_block_update``): after a block of coordinates moves, only the rows touched by
  those columns change, so only the gradient entries of columns sharing those rows are
  updated (never the full gradient).

Datafit codes: 0 = least squares (``state = Xw + b - y``, the signed residual),
1 = binary logistic with labels in {-1, 1} (``state = Xw + b``).
Objectives are the *sums* over samples (the 1/n scaling is folded into ``n_alpha``).
The number of distinct signatures is kept small (one per dtype and storage) so the
on-disk cache loads fast.
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


@njit(cache=True, nogil=True)
def _cd_epochs_dense(X, y, w, state, ws, lipschitz, n_alpha, datafit, fit_intercept,
                     positive, n_epochs):
    n_samples = X.shape[0]
    for _ in range(n_epochs):
        for j in ws:
            lj = lipschitz[j]
            if lj == 0.0:
                continue
            grad = 0.0
            if datafit == QUADRATIC:
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
                for i in range(n_samples):
                    state[i] += delta * X[i, j]
        if fit_intercept:
            _intercept_step(datafit, y, w, state, n_samples)


@njit(cache=True, nogil=True)
def _cd_epochs_sparse(data, indices, indptr, y, w, state, ws, lipschitz, n_alpha, datafit,
                      fit_intercept, positive, n_epochs):
    n_samples = state.shape[0]
    for _ in range(n_epochs):
        for j in ws:
            lj = lipschitz[j]
            if lj == 0.0:
                continue
            grad = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                i = indices[k]
                grad += data[k] * _sample_derivative(datafit, y[i], state[i])
            old = w[j]
            new = _soft_threshold(old - grad / lj, n_alpha / lj)
            if positive and new < 0.0:
                new = 0.0 * new
            if new != old:
                w[j] = new
                delta = new - old
                for k in range(indptr[j], indptr[j + 1]):
                    state[indices[k]] += delta * data[k]
        if fit_intercept:
            _intercept_step(datafit, y, w, state, n_samples)


def cd_epochs(xp, X, y, w, state, ws, lipschitz, n_alpha, datafit, fit_intercept,
              positive, n_epochs):
    """Numba version of :func:`numopt.coordinate._glm_l1.cd_epochs` (in place)."""
    one = w.dtype.type(n_alpha)
    if isinstance(X, tuple):
        data, indices, indptr = X
        _cd_epochs_sparse(data, indices, indptr, y, w, state, ws, lipschitz, one,
                          datafit, fit_intercept, positive, n_epochs)
    else:
        _cd_epochs_dense(X, y, w, state, ws, lipschitz, one, datafit, fit_intercept,
                         positive, n_epochs)
    return w, state


@njit(cache=True, nogil=True)
def _shift_state_dense(X, ws, delta, state):
    n_samples = X.shape[0]
    for k in range(ws.shape[0]):
        d = delta[k]
        if d != 0.0:
            j = ws[k]
            for i in range(n_samples):
                state[i] += d * X[i, j]


@njit(cache=True, nogil=True)
def _shift_state_sparse(data, indices, indptr, ws, delta, state):
    for k in range(ws.shape[0]):
        d = delta[k]
        if d != 0.0:
            j = ws[k]
            for q in range(indptr[j], indptr[j + 1]):
                state[indices[q]] += d * data[q]


def shift_state(xp, X, ws, delta, state):
    """``state += X[:, ws] @ delta`` in place (Numba version)."""
    if isinstance(X, tuple):
        data, indices, indptr = X
        _shift_state_sparse(data, indices, indptr, ws, delta, state)
    else:
        _shift_state_dense(X, ws, delta, state)
    return state


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
