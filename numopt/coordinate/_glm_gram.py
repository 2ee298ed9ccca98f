"""The Gram-matrix path of the least-squares fits (scikit-learn's ``precompute``).

With many more samples than features, coordinate descent on the quadratic datafit
needs only ``G = X^T S X`` (centred when an intercept is fitted), ``X^T S y`` and
``y^T S y``: a move of coordinate ``j`` updates the gradient ``q = G w - X^T S y`` with
row ``j`` of ``G`` (``p`` operations instead of ``n``), and the duality gap follows from
the same quantities. :class:`GramCD` runs that solve; the caller then certifies the
result on the data themselves (:class:`numopt.coordinate._glm_l1.WorkingSetCD` started
there): the Gram expansion of ``||r||^2`` cancels digits that the residual keeps.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._backend import get_kernel, kernel
from .._result import Status

from ._glm_l1 import _extrapolate
from ._validation import is_scipy_sparse


@kernel("coordinate.gram_cd", numba="numopt.coordinate._glm_numba:gram_cd")
def gram_cd(xp, G, xty, yty, w, q, penalty, K, max_epochs, check_every, target):
    """Cyclic proximal CD on the Gram form, Anderson extrapolation every ``K + 1``
    sweeps, the gap checked every ``check_every`` sweeps (reference version).
    Returns ``(w, q, epochs, gap)``."""
    p = w.shape[0]
    history, n_hist, gap = [], 0, math.inf

    def objective(v, grad):
        return 0.5 * (yty - float(v @ xty) + float(v @ grad)) + penalty.value(xp, v)

    for epoch in range(max_epochs):
        for j in range(p):
            gjj = float(G[j, j])
            if gjj == 0.0:
                continue
            old = float(w[j])
            new = penalty.prox(old - float(q[j]) / gjj, gjj, j)
            if new != old:
                w[j] = new
                q = q + (new - old) * G[j, :]
        if K > 0:
            history.append(xp.asarray(w, copy=True))
            n_hist += 1
            if n_hist == K + 1:
                acc = _extrapolate(xp, xp.stack(history))
                history, n_hist = [], 0
                if acc is not None and not (penalty.positive and bool(xp.any(acc < 0))):
                    trial = G @ acc - xty
                    if objective(acc, trial) < objective(w, q):
                        w, q = acc, trial
        if (epoch + 1) % check_every:
            continue
        gap = gram_gap(xp, w, q, xty, yty, penalty)
        if gap <= target:
            return w, q, epoch + 1, gap
    return w, q, max_epochs, gram_gap(xp, w, q, xty, yty, penalty)


def gram_gap(xp, w, q, xty, yty, penalty):
    """The duality gap (sum scaling) from ``q = G w - X^T S y``: ``X^T S r = -q``,
    ``||r||_S^2 = y^T S y - w^T X^T S y + w^T q``, ``r^T S y = y^T S y - w^T X^T S y``."""
    wx = float(w @ xty)
    sq = max(yty - wx + float(w @ q), 0.0)
    scale = penalty.dual_scale(xp, -q)
    dual = scale * (yty - wx) - 0.5 * scale * scale * sq - penalty.conjugate(xp, -scale * q)
    return 0.5 * sq + penalty.value(xp, w) - dual


class GramData:
    """``G``, ``X^T S y_c``, ``y_c^T S y_c`` and the (weighted) means of the columns and
    of ``y`` of one least-squares fit."""

    def __init__(self, X, y, sample_weight, fit_intercept, gram=None):
        n = X.shape[0]
        s = np.ones(n, dtype=y.dtype) if sample_weight is None else sample_weight
        if fit_intercept:
            self.x_mean = np.asarray(s @ X).ravel() / n
            self.y_mean = float(s @ y) / n
        else:
            self.x_mean = np.zeros(X.shape[1], dtype=y.dtype)
            self.y_mean = 0.0
        yc = y - self.y_mean
        # centring X changes X^T S y_c by x_mean * sum(S y_c) = 0
        self.xty = np.asarray(X.T @ (s * yc)).ravel().astype(y.dtype, copy=False)
        self.yty = float(s @ (yc * yc))
        if gram is None:
            if is_scipy_sparse(X):
                weighted = X if sample_weight is None else X.multiply(s[:, None]).tocsc()
                G = (X.T @ weighted).toarray()
            else:
                G = _symmetric_product(X if sample_weight is None
                                       else X * np.sqrt(s)[:, None])
            if fit_intercept:
                G = G - n * np.outer(self.x_mean, self.x_mean)
            gram = G
        self.gram = np.ascontiguousarray(gram, dtype=y.dtype)


def _symmetric_product(A):
    """``A^T A`` by BLAS ``syrk`` (half the flops of a general product: one triangle,
    mirrored)."""
    from scipy.linalg import blas

    syrk = blas.dsyrk if A.dtype == np.float64 else blas.ssyrk
    upper = syrk(1.0, np.asfortranarray(A), trans=1)
    return np.triu(upper) + np.triu(upper, 1).T


def check_gram(gram, X, name="precompute"):
    """A user's Gram matrix: ``(p, p)``, finite, and ``X^T X`` on the column of ``X``
    with the largest norm (scikit-learn's spot check), else ValueError."""
    p = X.shape[1]
    G = np.asarray(gram)
    if G.shape != (p, p):
        raise ValueError(f"{name} must be a ({p}, {p}) Gram matrix X^T X, got shape "
                         f"{G.shape}")
    if not np.all(np.isfinite(G)):
        raise ValueError(f"{name} must be finite")
    j = int(np.argmax(np.abs(G.diagonal())))
    col = X[:, [j]].toarray().ravel() if is_scipy_sparse(X) else X[:, j]
    expected = np.asarray(X.T @ col).ravel()
    if not np.allclose(G[:, j], expected, rtol=1e-6,
                       atol=1e-6 * float(np.abs(expected).max())):
        raise ValueError(f"{name} is not the Gram matrix X^T X of X: column {j} differs "
                         f"from X^T X[:, {j}]")
    return G


def resolve_precompute(precompute, n_samples, n_features, fit_intercept, sample_weight):
    """``precompute`` as ``(use the Gram path, user matrix or None)``."""
    if isinstance(precompute, str):
        if precompute != "auto":
            raise ValueError(f"precompute must be True, False, 'auto' or a Gram matrix, "
                             f"got {precompute!r}")
        return n_samples > n_features, None
    if isinstance(precompute, (bool, np.bool_)):
        return bool(precompute), None
    if precompute is None:
        return False, None
    if fit_intercept or sample_weight is not None:
        # scikit-learn's rule: the matrix of the raw X is not that of the centred,
        # weighted data the solver sees; it is computed again
        warnings.warn("precompute: a Gram matrix was given, but X is centred (an "
                      "intercept) or weighted (sample_weight): computing the Gram matrix "
                      "of the data the solver sees", UserWarning, stacklevel=4)
        return True, None
    return True, precompute


class GramCD:
    """``run_solver`` object: the elastic net on the Gram form, from ``w0`` (solver
    units), until the gap (sum scaling) is at most ``target``. One step is one call of
    the kernel."""

    def __init__(self, data, penalty, w0, *, target, anderson_k, max_epochs, xp,
                 check_every=10):
        self.data, self.penalty, self.w0 = data, penalty, w0
        self.target, self.K, self.max_epochs = target, anderson_k, max_epochs
        self.check_every = check_every
        self.xp = xp
        self.kernel = get_kernel("coordinate.gram_cd", xp)

    def init(self):
        d = self.data
        w = np.array(self.w0, dtype=d.gram.dtype, copy=True)
        q = d.gram @ w - d.xty
        return {"w": w, "q": q, "n_epochs": 0,
                "gap": gram_gap(self.xp, w, q, d.xty, d.yty, self.penalty)}

    def step(self, st):
        d = self.data
        w, q, n, gap = self.kernel(self.xp, d.gram, d.xty, d.yty, st["w"], st["q"],
                                   self.penalty, self.K, self.max_epochs,
                                   self.check_every, self.target)
        return {"w": w, "q": q, "n_epochs": st["n_epochs"] + n, "gap": gap}

    def check(self, st):
        if not math.isfinite(st["gap"]):
            return Status.NONFINITE
        return Status.SUCCESS if st["gap"] <= self.target else None

    def result(self, st):
        return {"x": st["w"], "stats": {"n_epochs": st["n_epochs"]}}
