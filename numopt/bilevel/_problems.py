"""Ready bilevel problems: a quadratic with a closed-form value function, per-feature L2
hyperparameter tuning of (multinomial) logistic regression, data hyper-cleaning, and
multi-block logistic regressions with per-block temperatures."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.special import expit, log_expit

from ._problem import BilevelProblem, MultiBlockBilevel

__all__ = ["QuadraticBilevel", "LogisticTuning", "HyperCleaning", "TemperatureBlock",
           "quadratic_bilevel", "multi_block_temperatures"]


def _rows(M, batch):
    return M if batch is None else M[batch]


def _scaled(rng, n, d, top):
    """An ``n x d`` Gaussian matrix scaled so that the largest eigenvalue of ``M^T M / n``
    is ``top``."""
    M = rng.standard_normal((n, d))
    return M * np.sqrt(top / np.linalg.eigvalsh(M.T @ M / n)[-1])


class QuadraticBilevel(BilevelProblem):
    """Least-squares upper and lower levels, with a closed-form value function.

    ``g_j(x, y) = (a_j.y + c_j.x + h_j)^2 / 2 + mu/2 ||y||^2`` and
    ``f_i(x, y) = (e_i.y + d_i.x - t_i)^2 / 2 + nu/2 ||x||^2``, so ``y*(x) = M x + m0`` is
    affine, ``F`` a strongly convex quadratic, and :meth:`value_gradient`,
    :meth:`solution` and :meth:`penalty_gradient` are dense closed forms (independent of
    the iterative oracles).
    """

    def __init__(self, A, C, h, E, D, t, *, mu=0.1, nu=0.1):
        self.A, self.C, self.h = (np.asarray(a, dtype=float) for a in (A, C, h))
        self.E, self.D, self.t = (np.asarray(a, dtype=float) for a in (E, D, t))
        self.mu, self.nu = float(mu), float(nu)
        n_g, d = self.A.shape
        n_f, p = self.D.shape
        H = self.A.T @ self.A / n_g + self.mu * np.eye(d)
        eig = np.linalg.eigvalsh(H)
        self._H = H
        self._M = -np.linalg.solve(H, self.A.T @ self.C / n_g)
        self._m0 = -np.linalg.solve(H, self.A.T @ self.h / n_g)
        G = self.E @ self._M + self.D
        # the certificate's full-batch products through the Gram matrices of the data
        # (d x d and smaller), the implicit system through one Cholesky factor: the
        # exact hypergradient in ~30 us instead of ~430 us (two 1024-row passes and an
        # LU solve), checked every few iterations of the stochastic methods
        self._H_factor = scipy.linalg.cho_factor(H)
        self._gram_EE, self._gram_ED = self.E.T @ self.E / n_f, self.E.T @ self.D / n_f
        self._gram_DD = self.D.T @ self.D / n_f
        self._gram_Et, self._gram_Dt = self.E.T @ self.t / n_f, self.D.T @ self.t / n_f
        self._gram_CA = self.C.T @ self.A / n_g
        self._t_sq = float(self.t @ self.t) / n_f
        super().__init__(dim_x=p, dim_y=d, n_upper=n_f, n_lower=n_g,
                         lower_smoothness=float(eig[-1]), lower_strong_convexity=float(eig[0]),
                         value_smoothness=float(np.linalg.eigvalsh(G.T @ G / n_f)[-1]
                                                + self.nu))

    def _f(self, x, y, batch):
        r = _rows(self.E, batch) @ y + _rows(self.D, batch) @ x - _rows(self.t, batch)
        return 0.5 * float(r @ r) / r.size + 0.5 * self.nu * float(x @ x)

    def _g(self, x, y, batch):
        r = _rows(self.A, batch) @ y + _rows(self.C, batch) @ x + _rows(self.h, batch)
        return 0.5 * float(r @ r) / r.size + 0.5 * self.mu * float(y @ y)

    def _grad_f(self, x, y, batch):
        E, D = _rows(self.E, batch), _rows(self.D, batch)
        r = (E @ y + D @ x - _rows(self.t, batch)) / E.shape[0]
        return D.T @ r + self.nu * x, E.T @ r

    def _grad_g(self, x, y, batch):
        A, C = _rows(self.A, batch), _rows(self.C, batch)
        r = (A @ y + C @ x + _rows(self.h, batch)) / A.shape[0]
        return C.T @ r, A.T @ r + self.mu * y

    def _hvp_g(self, x, y, v, batch):
        A = _rows(self.A, batch)
        return A.T @ (A @ v) / A.shape[0] + self.mu * v

    def _cross_g(self, x, y, v, batch):
        A = _rows(self.A, batch)
        return _rows(self.C, batch).T @ (A @ v) / A.shape[0]

    def _lower_oracles(self, x, y, v, batch):
        # one slice of A and C and one product A v for the three oracles (the same
        # operations as _grad_g, _hvp_g and _cross_g, so the same rounding)
        A, C = _rows(self.A, batch), _rows(self.C, batch)
        n = A.shape[0]
        r = (A @ y + C @ x + _rows(self.h, batch)) / n
        Av = A @ v
        return A.T @ r + self.mu * y, A.T @ Av / n + self.mu * v, C.T @ Av / n

    def _hessian_g(self, x, y, batch):
        A = _rows(self.A, batch)
        return A.T @ A / A.shape[0] + self.mu * np.eye(A.shape[1])

    def lower_solution(self, x, y0=None, *, rtol=1e-13):
        return self._M @ np.asarray(x, dtype=float) + self._m0

    def _full_grad_f(self, x, y):
        """``(df/dx, df/dy)`` on all samples, through the Gram matrices."""
        fy = self._gram_EE @ y + self._gram_ED @ x - self._gram_Et
        fx = self._gram_ED.T @ y + self._gram_DD @ x - self._gram_Dt + self.nu * x
        return fx, fy

    def _solve_H(self, b):
        # LAPACK's potrs on the stored factor: scipy.linalg.cho_solve's checks cost
        # twice the solve at d = 100
        factor, lower = self._H_factor
        return scipy.linalg.lapack.dpotrs(factor, b, lower=lower)[0]

    def implicit_vector(self, x, y, *, rtol=1e-13):
        return self._solve_H(self._full_grad_f(x, y)[1])

    def hypergradient(self, x, y0=None):
        """``(grad F(x), y*(x), F(x))`` through ``y*(x) = M x + m0``, the Gram matrices
        and a Cholesky solve (the chain rule through ``M`` is :meth:`value_gradient`)."""
        x = np.asarray(x, dtype=float)
        y = self.lower_solution(x)
        fx, fy = self._full_grad_f(x, y)
        grad = fx - self._gram_CA @ self._solve_H(fy)
        # ||E y + D x - t||^2 / n expanded in the Gram matrices (terms of order one:
        # absolute rounding ~1e-16)
        sq = (y @ (self._gram_EE @ y) + 2.0 * (y @ (self._gram_ED @ x))
              + x @ (self._gram_DD @ x) - 2.0 * (y @ self._gram_Et + x @ self._gram_Dt)
              + self._t_sq)
        return grad, y, 0.5 * float(sq) + 0.5 * self.nu * float(x @ x)

    # -- closed forms -------------------------------------------------------------------
    def value(self, x):
        """``F(x) = f(x, y*(x))``."""
        x = np.asarray(x, dtype=float)
        r = self.E @ (self._M @ x + self._m0) + self.D @ x - self.t
        return 0.5 * float(r @ r) / r.size + 0.5 * self.nu * float(x @ x)

    def value_gradient(self, x):
        """``grad F(x)`` by the chain rule through the explicit ``y*(x) = M x + m0``."""
        x = np.asarray(x, dtype=float)
        G = self.E @ self._M + self.D
        r = G @ x + self.E @ self._m0 - self.t
        return G.T @ r / r.size + self.nu * x

    def solution(self):
        """The minimizer ``x*`` of ``F``."""
        G = self.E @ self._M + self.D
        n = G.shape[0]
        return np.linalg.solve(G.T @ G / n + self.nu * np.eye(G.shape[1]),
                               G.T @ (self.t - self.E @ self._m0) / n)

    def penalty_solution(self, x, sigma):
        """``argmin_y sigma f(x, y) + g(x, y)`` (dense solve)."""
        x = np.asarray(x, dtype=float)
        n_f, n_g = self.E.shape[0], self.A.shape[0]
        K = sigma * self.E.T @ self.E / n_f + self._H
        rhs = (sigma * self.E.T @ (self.D @ x - self.t) / n_f
               + self.A.T @ (self.C @ x + self.h) / n_g)
        return -np.linalg.solve(K, rhs)

    def penalty_gradient(self, x, sigma):
        """Gradient of the penalty function ``[min_y(sigma f + g) - min_y g] / sigma``
        (Kwon et al. 2024) by Danskin's theorem, with dense solves."""
        x = np.asarray(x, dtype=float)
        z, y = self.penalty_solution(x, sigma), self.lower_solution(x)
        n_f, n_g = self.E.shape[0], self.A.shape[0]
        fx = self.D.T @ (self.E @ z + self.D @ x - self.t) / n_f + self.nu * x
        gx_z = self.C.T @ (self.A @ z + self.C @ x + self.h) / n_g
        gx_y = self.C.T @ (self.A @ y + self.C @ x + self.h) / n_g
        return fx + (gx_z - gx_y) / sigma


def quadratic_bilevel(dim_x=10, dim_y=100, *, n_upper=1024, n_lower=1024, mu=0.1, nu=0.1,
                      seed=0):
    """A random :class:`QuadraticBilevel` in the shape of benchopt's quadratic benchmark:
    lower Hessian spectrum in ``[mu, 1]``, cross and upper blocks of unit scale."""
    rng = np.random.default_rng(seed)
    A = _scaled(rng, n_lower, dim_y, 1.0 - mu)
    C = _scaled(rng, n_lower, dim_x, 1.0)
    h = rng.standard_normal(n_lower)
    E = _scaled(rng, n_upper, dim_y, 1.0)
    D = _scaled(rng, n_upper, dim_x, 1.0)
    t = rng.standard_normal(n_upper)
    return QuadraticBilevel(A, C, h, E, D, t, mu=mu, nu=nu)


# -- multinomial logistic pieces shared by the tuning and cleaning problems -------------
def _onehot(labels, n_classes):
    Y = np.zeros((labels.size, n_classes))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def _softmax_parts(Z):
    """``(log-sum-exp of each row, softmax)`` of the scores ``Z`` (one exponential
    pass: scipy.special's logsumexp and softmax each took 25 ms on 50000 x 2)."""
    top = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - top)
    total = E.sum(axis=1, keepdims=True)
    return (top + np.log(total)).ravel(), E / total


def _scores(A, W, reference):
    """``A W``, with the zero scores of the reference class 0 prepended when
    ``reference`` (two classes: binary logistic regression, one weight column)."""
    Z = A @ W
    return np.hstack([np.zeros((Z.shape[0], 1)), Z]) if reference else Z


def _cross_entropy(A, Y, W, reference=False):
    """``(per-sample cross entropies, residual P - Y of the free classes)``."""
    if reference and W.shape[1] == 1:   # binary: the sigmoid, no (n, 2) reductions
        z = A @ W[:, 0]
        return np.logaddexp(0.0, z) - Y[:, 1] * z, (expit(z) - Y[:, 1])[:, None]
    Z = _scores(A, W, reference)
    lse, P = _softmax_parts(Z)
    R = P - Y
    return lse - np.einsum("ij,ij->i", Z, Y), R[:, 1:] if reference else R


def _softmax_hvp(A, W, V, reference=False):
    """Per-sample ``(diag(p) - p p^T) (A V)_j`` rows (free classes) for the direction
    ``V``."""
    if reference and W.shape[1] == 1:
        p = expit(A @ W[:, 0])
        return (p * (1 - p) * (A @ V[:, 0]))[:, None]
    P = _softmax_parts(_scores(A, W, reference))[1]
    ZV = _scores(A, V, reference)
    out = P * ZV - P * np.sum(P * ZV, axis=1, keepdims=True)
    return out[:, 1:] if reference else out


def _softmax_hessian(A, W, ridge, weights=None, reference=False):
    """The dense Hessian of the mean (optionally sample-weighted) cross entropy in the
    row-major flattened ``W``, plus ``diag(ridge)``: block ``(k, l)`` of feature pairs is
    ``A^T diag(w p_k (delta_kl - p_l)) A / n`` over the free classes."""
    n, d = A.shape
    if reference and W.shape[1] == 1:
        p = expit(A @ W[:, 0])
        P = p[:, None]
    else:
        P = _softmax_parts(_scores(A, W, reference))[1]
        if reference:
            P = P[:, 1:]
    K = P.shape[1]
    w = np.ones(n) if weights is None else weights
    H = np.empty((d, K, d, K))
    for k in range(K):
        for m in range(k, K):
            c = w * P[:, k] * ((k == m) - P[:, m])
            if k == m:   # c >= 0: B^T B of one array runs as a symmetric rank-k update
                B = A * np.sqrt(np.maximum(c, 0.0))[:, None]
                block = B.T @ B / n
            else:
                block = (A.T * c) @ A / n
            H[:, k, :, m] = block
            H[:, m, :, k] = block
    H = H.reshape(d * K, d * K)
    H[np.diag_indices_from(H)] += ridge
    return H


def _with_intercept(X, fit_intercept):
    X = np.asarray(X, dtype=float)
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


class LogisticTuning(BilevelProblem):
    """L2 penalties of a multinomial logistic regression tuned on a validation set.

    ``x`` holds log-penalties (one per feature, or one in all with
    ``per_feature=False``), ``y`` the flattened ``(n_features [+1], n_classes)``
    coefficients (one column for two classes: binary logistic regression). ``g`` is
    the training cross entropy plus ``1/2 sum_k exp(x_k) ||W_k||^2`` (the intercept row
    gets the fixed ``intercept_penalty``), ``f`` the validation cross entropy.
    """

    def __init__(self, X_train, y_train, X_val, y_val, *, per_feature=True,
                 fit_intercept=True, intercept_penalty=1e-6, classes=None):
        classes = np.unique(np.concatenate([np.asarray(y_train), np.asarray(y_val)])) \
            if classes is None else np.asarray(classes)
        self.classes = classes
        self.n_classes = K = max(2, classes.size)
        # two classes: binary logistic regression (class 0 the reference, one weight
        # column); the symmetric two-column softmax has a direction that only the
        # penalty curves, which a 1/n ridge leaves nearly singular
        self.reference = K == 2
        self.n_columns = 1 if self.reference else K
        self.A = _with_intercept(X_train, fit_intercept)
        self.A_val = _with_intercept(X_val, fit_intercept)
        self.Y = _onehot(np.searchsorted(classes, y_train), K)
        self.Y_val = _onehot(np.searchsorted(classes, y_val), K)
        self.n_features = np.asarray(X_train).shape[1]
        self.fit_intercept, self.per_feature = fit_intercept, per_feature
        self.intercept_penalty = float(intercept_penalty)
        d = self.A.shape[1]
        self.shape_W = (d, self.n_columns)
        # softmax Hessians are at most 1/2 (A^T A / n): the data part of the curvature
        self.data_smoothness = 0.5 * float(np.linalg.eigvalsh(self.A.T @ self.A
                                                              / self.A.shape[0])[-1])
        super().__init__(dim_x=self.n_features if per_feature else 1, dim_y=d * self.n_columns,
                         n_upper=self.A_val.shape[0], n_lower=self.A.shape[0])

    def penalties(self, x):
        """The per-row penalties of ``W`` for the log-penalties ``x``."""
        x = np.asarray(x, dtype=float)
        lam = np.exp(x) if self.per_feature else np.full(self.n_features, np.exp(x[0]))
        return np.append(lam, self.intercept_penalty) if self.fit_intercept else lam

    def _W(self, y):
        return y.reshape(self.shape_W)

    def _g(self, x, y, batch):
        W = self._W(y)
        losses, _ = _cross_entropy(_rows(self.A, batch), _rows(self.Y, batch), W,
                                   self.reference)
        return float(losses.mean()) + 0.5 * float(self.penalties(x) @ np.sum(W * W, axis=1))

    def _f(self, x, y, batch):
        losses, _ = _cross_entropy(_rows(self.A_val, batch), _rows(self.Y_val, batch),
                                   self._W(y), self.reference)
        return float(losses.mean())

    def _reduce_x(self, per_row):
        """A per-feature vector as the gradient in ``x`` (summed for one penalty)."""
        per_row = per_row[:self.n_features]
        return per_row if self.per_feature else np.array([per_row.sum()])

    def _grad_g(self, x, y, batch):
        W = self._W(y)
        A = _rows(self.A, batch)
        _, R = _cross_entropy(A, _rows(self.Y, batch), W, self.reference)
        lam = self.penalties(x)
        gy = A.T @ R / A.shape[0] + lam[:, None] * W
        return self._reduce_x(0.5 * lam * np.sum(W * W, axis=1)), gy.ravel()

    def _grad_f(self, x, y, batch):
        A = _rows(self.A_val, batch)
        _, R = _cross_entropy(A, _rows(self.Y_val, batch), self._W(y),
                              self.reference)
        return np.zeros(self.dim_x), (A.T @ R / A.shape[0]).ravel()

    def _hvp_g(self, x, y, v, batch):
        A, V = _rows(self.A, batch), self._W(v)
        out = A.T @ _softmax_hvp(A, self._W(y), V, self.reference) / A.shape[0]
        return (out + self.penalties(x)[:, None] * V).ravel()

    def _cross_g(self, x, y, v, batch):
        return self._reduce_x(self.penalties(x) * np.sum(self._W(y) * self._W(v), axis=1))

    def _hessian_g(self, x, y, batch):
        return _softmax_hessian(_rows(self.A, batch), self._W(y),
                                np.repeat(self.penalties(x), self.n_columns),
                                reference=self.reference)

    def lower_smoothness_at(self, x):
        lam = self.penalties(x)
        return self.data_smoothness + float(lam.max()), float(lam.min())

    def validation_loss(self, y):
        return self._f(None, np.asarray(y, dtype=float), None)


class HyperCleaning(BilevelProblem):
    """Data hyper-cleaning (Franceschi et al. 2017): per-sample weights
    ``sigmoid(x_j)`` on the training losses of a multinomial logistic regression
    (``reg``-ridge), tuned so that the validation cross entropy is low; corrupted labels
    get weights near zero."""

    def __init__(self, X_train, y_train, X_val, y_val, *, reg=1e-3, n_classes=None):
        y_train, y_val = np.asarray(y_train), np.asarray(y_val)
        K = int(max(y_train.max(), y_val.max()) + 1) if n_classes is None else n_classes
        self.A = _with_intercept(X_train, True)
        self.A_val = _with_intercept(X_val, True)
        self.Y, self.Y_val = _onehot(y_train, K), _onehot(y_val, K)
        self.labels_val = y_val
        self.reg = float(reg)
        self.shape_W = (self.A.shape[1], K)
        n, d = self.A.shape
        L = 0.5 * float(np.linalg.eigvalsh(self.A.T @ self.A / n)[-1]) + self.reg
        super().__init__(dim_x=n, dim_y=d * K, n_upper=self.A_val.shape[0], n_lower=n,
                         lower_smoothness=L, lower_strong_convexity=self.reg)

    def _W(self, y):
        return y.reshape(self.shape_W)

    def _batch(self, batch):
        if batch is None or isinstance(batch, slice):
            return np.arange(self.A.shape[0])[batch if batch is not None else slice(None)]
        return np.asarray(batch)

    def _g(self, x, y, batch):
        idx = self._batch(batch)
        W = self._W(y)
        losses, _ = _cross_entropy(self.A[idx], self.Y[idx], W)
        return float(expit(x[idx]) @ losses) / idx.size + 0.5 * self.reg * float(np.sum(W * W))

    def _f(self, x, y, batch):
        losses, _ = _cross_entropy(_rows(self.A_val, batch), _rows(self.Y_val, batch),
                                   self._W(y))
        return float(losses.mean())

    def _grad_g(self, x, y, batch):
        idx = self._batch(batch)
        W = self._W(y)
        A = self.A[idx]
        losses, R = _cross_entropy(A, self.Y[idx], W)
        s = expit(x[idx])
        gx = np.zeros(self.dim_x)
        np.add.at(gx, idx, s * (1 - s) * losses / idx.size)
        gy = A.T @ (s[:, None] * R) / idx.size + self.reg * W
        return gx, gy.ravel()

    def _grad_f(self, x, y, batch):
        A = _rows(self.A_val, batch)
        _, R = _cross_entropy(A, _rows(self.Y_val, batch), self._W(y))
        return np.zeros(self.dim_x), (A.T @ R / A.shape[0]).ravel()

    def _hvp_g(self, x, y, v, batch):
        idx = self._batch(batch)
        A, V = self.A[idx], self._W(v)
        s = expit(x[idx])
        out = A.T @ (s[:, None] * _softmax_hvp(A, self._W(y), V)) / idx.size
        return (out + self.reg * V).ravel()

    def _hessian_g(self, x, y, batch):
        idx = self._batch(batch)
        H = _softmax_hessian(self.A[idx], self._W(y), self.reg, expit(x[idx]))
        return H

    def _cross_g(self, x, y, v, batch):
        idx = self._batch(batch)
        A = self.A[idx]
        _, R = _cross_entropy(A, self.Y[idx], self._W(y))
        s = expit(x[idx])
        out = np.zeros(self.dim_x)
        np.add.at(out, idx, s * (1 - s) * np.sum(R * (A @ self._W(v)), axis=1) / idx.size)
        return out

    def validation_accuracy(self, y):
        """Accuracy on the validation set of the coefficients ``y``."""
        pred = np.argmax(self.A_val @ self._W(np.asarray(y, dtype=float)), axis=1)
        return float(np.mean(pred == self.labels_val))


class TemperatureBlock(BilevelProblem):
    """Block ``i`` of a multi-block problem: a binary logistic regression whose logits
    are scaled by the inverse temperature ``exp(-x_i)`` of its block during training
    (ridge ``mu`` on the lower level); the upper level is the validation loss of the
    unscaled logits, so the temperature acts as a per-block regularization strength
    with an interior optimum. Labels are +-1."""

    def __init__(self, X_train, y_train, X_val, y_val, *, index, n_blocks, mu=0.1):
        self.A, self.b = np.asarray(X_train, dtype=float), np.asarray(y_train, dtype=float)
        self.A_val, self.b_val = np.asarray(X_val, dtype=float), np.asarray(y_val, dtype=float)
        self.index, self.mu = int(index), float(mu)
        n, d = self.A.shape
        self.data_smoothness = 0.25 * float(np.linalg.eigvalsh(self.A.T @ self.A / n)[-1])
        super().__init__(dim_x=n_blocks, dim_y=d, n_upper=self.A_val.shape[0], n_lower=n,
                         lower_strong_convexity=self.mu)

    def _scores(self, A, b, x, y):
        """``(s, q, r)``: scaled scores, ``dl/ds`` and ``d2l/ds2`` of the logistic loss."""
        s = np.exp(-x[self.index]) * (A @ y)
        return s, -b * expit(-b * s), expit(b * s) * expit(-b * s)

    def _loss(self, A, b, x, y):
        s = np.exp(-x[self.index]) * (A @ y)
        return -float(np.mean(log_expit(b * s)))

    def _g(self, x, y, batch):
        return self._loss(_rows(self.A, batch), _rows(self.b, batch), x, y) + \
            0.5 * self.mu * float(y @ y)

    def _f(self, x, y, batch):
        b = _rows(self.b_val, batch)
        return -float(np.mean(log_expit(b * (_rows(self.A_val, batch) @ y))))

    def _grad_g(self, x, y, batch):
        A = _rows(self.A, batch)
        s, q, _ = self._scores(A, _rows(self.b, batch), x, y)
        gx = np.zeros(self.dim_x)
        gx[self.index] = -float(np.mean(q * s))
        gy = np.exp(-x[self.index]) * (A.T @ q) / A.shape[0]
        return gx, gy + self.mu * y

    def _grad_f(self, x, y, batch):
        A, b = _rows(self.A_val, batch), _rows(self.b_val, batch)
        q = -b * expit(-b * (A @ y))
        return np.zeros(self.dim_x), A.T @ q / A.shape[0]

    def _hvp_g(self, x, y, v, batch):
        A = _rows(self.A, batch)
        _, _, r = self._scores(A, _rows(self.b, batch), x, y)
        t = np.exp(-x[self.index])
        return t * t * (A.T @ (r * (A @ v))) / A.shape[0] + self.mu * v

    def _cross_g(self, x, y, v, batch):
        A = _rows(self.A, batch)
        s, q, r = self._scores(A, _rows(self.b, batch), x, y)
        out = np.zeros(self.dim_x)
        out[self.index] = -np.exp(-x[self.index]) * float((q + r * s) @ (A @ v)) / A.shape[0]
        return out

    def lower_smoothness_at(self, x):
        return float(np.exp(-2 * x[self.index])) * self.data_smoothness + self.mu, self.mu

    def _hessian_g(self, x, y, batch):
        """The dense lower Hessian on ``batch`` (the blocks are small)."""
        A = _rows(self.A, batch)
        _, _, r = self._scores(A, _rows(self.b, batch), x, y)
        t = np.exp(-x[self.index])
        return t * t * (A.T * r) @ A / A.shape[0] + self.mu * np.eye(A.shape[1])


def multi_block_temperatures(n_blocks=4, n_samples=200, n_features=5, *, mu=0.1, seed=0):
    """A :class:`~numopt.bilevel.MultiBlockBilevel` of ``n_blocks`` synthetic binary
    logistic tasks (each its own weights and label noise), each with its temperature."""
    rng = np.random.default_rng(seed)
    blocks = []
    for i in range(n_blocks):
        w = rng.standard_normal(n_features)
        X = rng.standard_normal((2 * n_samples, n_features))
        flip = rng.random(2 * n_samples) < 0.05 + 0.1 * i / max(1, n_blocks - 1)
        labels = np.where((X @ w > 0) ^ flip, 1.0, -1.0)
        blocks.append(TemperatureBlock(X[:n_samples], labels[:n_samples], X[n_samples:],
                                       labels[n_samples:], index=i, n_blocks=n_blocks, mu=mu))
    return MultiBlockBilevel(blocks)
