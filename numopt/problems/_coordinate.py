"""Gallery problems for block coordinate descent and sparse linear models.

Seeded, reduced versions of the experiments of Nutini, Laradji & Schmidt (JMLR 2022)
and the Lasso benchmark designs. Each returns plain NumPy/SciPy data.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_scalar

__all__ = ["lasso_design", "coordinate_least_squares", "coordinate_logistic",
           "coordinate_softmax", "lattice_label_propagation",
           "two_moons_label_propagation", "coordinate_nonneg_l1"]


def lasso_design(n_samples=1000, n_features=5000, *, design="gaussian", rho=0.6,
                 n_nonzero=50, noise=0.5, seed=0):
    """Lasso benchmark data: returns ``X`` (Fortran order), ``y`` and ``alpha_max``.

    ``design="gaussian"``: i.i.d. N(0, 1) entries; ``"correlated"``: each column is an
    AR(1) continuation of the previous one with correlation ``rho`` (Toeplitz
    correlation ``rho^|i - j|``). ``alpha_max = ||X^T y||_inf / n`` is the smallest
    penalty with an all-zero solution (no intercept).
    """
    n_samples = check_scalar(n_samples, "n_samples", low=1, integer=True)
    n_features = check_scalar(n_features, "n_features", low=1, integer=True)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    if design == "correlated":
        scale = np.sqrt(1.0 - rho * rho)
        for j in range(1, n_features):
            X[:, j] = rho * X[:, j - 1] + scale * X[:, j]
    elif design != "gaussian":
        raise ValueError(f"design must be 'gaussian' or 'correlated', got {design!r}")
    w = np.zeros(n_features)
    support = rng.choice(n_features, min(n_nonzero, n_features), replace=False)
    w[support] = rng.standard_normal(support.size)
    y = X @ w + noise * rng.standard_normal(n_samples)
    X = np.asfortranarray(X)
    alpha_max = float(np.max(np.abs(X.T @ y)) / n_samples)
    return X, y, alpha_max


def coordinate_least_squares(m=1000, n=1000, *, density=None, seed=0):
    """Experiment A (reduced): ``A`` with column scales spread over two orders of
    magnitude (so the Lipschitz constants differ, where GSL beats GS), ``b`` and the
    optimal value ``f* = 1/2 ||A x* - b||^2``. ``density`` makes ``A`` sparse."""
    m = check_scalar(m, "m", low=1, integer=True)
    n = check_scalar(n, "n", low=1, integer=True)
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(0.1), np.log(10.0), n))
    if density is None:
        A = rng.standard_normal((m, n)) * scales
    else:
        A = sp.random(m, n, density=density, random_state=rng,
                      data_rvs=rng.standard_normal, format="csc") @ sp.diags(scales)
        A = sp.csc_matrix(A)
    x = rng.standard_normal(n)
    b = A @ x + rng.standard_normal(m)
    dense = A.toarray() if sp.issparse(A) else A
    xs = np.linalg.lstsq(dense, b, rcond=None)[0]
    f_star = 0.5 * float(np.sum((dense @ xs - b) ** 2))
    return A, b, f_star


def coordinate_logistic(m=500, n=200, *, density=None, seed=0):
    """Experiment B (reduced): binary labels in {-1, 1} from a planted model with
    column scales over two orders of magnitude; ``density`` makes ``A`` sparse CSC."""
    m = check_scalar(m, "m", low=1, integer=True)
    n = check_scalar(n, "n", low=1, integer=True)
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(0.1), np.log(10.0), n))
    if density is None:
        A = rng.standard_normal((m, n)) * scales
    else:
        A = sp.csc_matrix(sp.random(m, n, density=density, random_state=rng,
                                    data_rvs=rng.standard_normal, format="csc")
                          @ sp.diags(scales))
    w = rng.standard_normal(n) / np.sqrt(n) / scales
    z = A @ w
    y = np.where(z + 0.5 * rng.standard_normal(m) > 0, 1.0, -1.0)
    return A, y


def coordinate_softmax(m=300, n=30, n_classes=10, *, seed=0):
    """Experiment C (reduced): multinomial labels from a planted softmax model."""
    m = check_scalar(m, "m", low=1, integer=True)
    n = check_scalar(n, "n", low=1, integer=True)
    n_classes = check_scalar(n_classes, "n_classes", low=2, integer=True)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) * np.exp(rng.uniform(-1, 1, n))
    W = rng.standard_normal((n, n_classes))
    Z = A @ W + rng.gumbel(size=(m, n_classes))
    return A, np.argmax(Z, axis=1)


def lattice_label_propagation(side=30, *, n_labeled=40, seed=0):
    """Experiment D (reduced): a ``side x side`` 4-neighbour lattice, labels ``+1`` on
    the left half and ``-1`` on the right at ``n_labeled`` random nodes. Returns
    ``(W, labels, labeled)`` for :func:`numopt.coordinate.LabelPropagation`."""
    side = check_scalar(side, "side", low=2, integer=True)
    n_labeled = check_scalar(n_labeled, "n_labeled", low=1, integer=True)
    rng = np.random.default_rng(seed)
    N = side * side
    idx = np.arange(N).reshape(side, side)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    W = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(N, N))
    W = sp.csr_matrix(W + W.T)
    labels = np.where((idx % side) < side // 2, 1.0, -1.0).ravel()
    labeled = np.zeros(N, dtype=bool)
    labeled[rng.choice(N, n_labeled, replace=False)] = True
    return W, labels, labeled


def two_moons_label_propagation(n=600, *, n_neighbors=8, n_labeled=10, noise=0.08,
                                seed=0):
    """Experiment E (reduced): two moons, a symmetrised k-nearest-neighbour graph with
    Gaussian weights, a few labelled points per moon. Returns ``(W, labels, labeled)``."""
    n = check_scalar(n, "n", low=4, integer=True)
    n_neighbors = check_scalar(n_neighbors, "n_neighbors", low=1, integer=True)
    n_labeled = check_scalar(n_labeled, "n_labeled", low=1, integer=True)
    rng = np.random.default_rng(seed)
    half = n // 2
    t = rng.uniform(0, np.pi, n)
    P = np.empty((n, 2))
    P[:half] = np.c_[np.cos(t[:half]), np.sin(t[:half])]
    P[half:] = np.c_[1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])]
    P += noise * rng.standard_normal(P.shape)
    labels = np.r_[np.ones(half), -np.ones(n - half)]
    D2 = ((P[:, None, :] - P[None, :, :]) ** 2).sum(-1)
    nn = np.argsort(D2, axis=1)[:, 1:n_neighbors + 1]
    rows = np.repeat(np.arange(n), n_neighbors)
    cols = nn.ravel()
    sigma2 = np.median(D2[rows, cols])
    W = sp.coo_matrix((np.exp(-D2[rows, cols] / sigma2), (rows, cols)), shape=(n, n))
    W = sp.csr_matrix(W.maximum(W.T))
    labeled = np.zeros(n, dtype=bool)
    labeled[rng.choice(half, n_labeled // 2, replace=False)] = True
    labeled[half + rng.choice(n - half, n_labeled - n_labeled // 2, replace=False)] = True
    return W, labels, labeled


def coordinate_nonneg_l1(m=300, n=600, *, seed=0):
    """Non-negative L1 least squares (reduced version of the paper's sparse
    experiment): a sparse non-negative planted ``x``, ``A``, ``b`` and a penalty
    ``l1`` at a tenth of the smallest one with an all-zero solution."""
    m = check_scalar(m, "m", low=1, integer=True)
    n = check_scalar(n, "n", low=1, integer=True)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x = np.zeros(n)
    support = rng.choice(n, 20, replace=False)
    x[support] = rng.uniform(0.5, 2.0, 20)
    b = A @ x + 0.1 * rng.standard_normal(m)
    l1 = 0.1 * float(np.max(A.T @ b))
    return A, b, l1
