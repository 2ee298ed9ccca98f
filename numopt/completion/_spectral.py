"""Randomized truncated SVD of an operator given by its products (Halko, Martinsson,
Tropp 2011), used for the spectral initialization and by SoftImpute."""

from __future__ import annotations

import numpy as np


def randomized_svd(matmat, rmatmat, shape, rank, rng, dtype, *, oversample=10, n_iter=3,
                   start=None, lib=np):
    """Top-``rank`` singular triplets ``(U, s, Vt)`` of the operator ``X`` with
    ``matmat(Y) = X @ Y`` and ``rmatmat(Y) = X.T @ Y``, computed with the array library
    ``lib`` (``numpy`` or ``cupy``, where the products' results live).

    ``start`` (``n x l``) replaces the Gaussian test matrix (a warm start).
    """
    m, n = shape
    width = min(rank + oversample, min(m, n))
    if start is None:
        G = lib.asarray(rng.standard_normal((n, width)).astype(dtype))
    else:
        G = start
    Q, _ = lib.linalg.qr(matmat(G))
    for _ in range(n_iter):
        W, _ = lib.linalg.qr(rmatmat(Q))
        Q, _ = lib.linalg.qr(matmat(W))
    Bt = rmatmat(Q)                      # n x l, equals (Q^T X)^T
    P, s, Wt = lib.linalg.svd(Bt, full_matrices=False)
    U = Q @ Wt.T                         # X ~ Q Bt^T = (Q Wt^T) diag(s) P^T
    return U[:, :rank], s[:rank], P[:, :rank].T


def spectral_init(obs, rank, rng, *, clip=None, n_iter=3):
    """Top-``rank`` SVD of ``P_Omega(M) / p`` (``p`` the sampling rate), optionally with
    the rows of the left factor whose norm exceeds ``clip * sqrt(rank / m)`` zeroed (the
    incoherence clipping of Jain, Netrapalli, Sanghavi 2013).

    Returns ``(U, V)``: ``U`` orthonormal ``m x rank`` and ``V`` the ``n x rank``
    coefficients, so that ``U @ V.T`` is the spectral estimate of ``M``.
    """
    m, n = obs.shape
    lib = obs.lib
    X = obs.sparse()
    rate = obs.n_observed / (m * n)
    U, s, Vt = randomized_svd(lambda Y: X @ Y, lambda Y: X.T @ Y, obs.shape, rank, rng,
                              obs.dtype, n_iter=n_iter, lib=lib)
    V = Vt.T * (s / rate)
    if clip is not None:
        too_big = lib.linalg.norm(U, axis=1) > clip * np.sqrt(rank / m)
        if bool(too_big.any()) and not bool(too_big.all()):
            U = U.copy()
            U[too_big] = 0.0
            U, _ = lib.linalg.qr(U)
            V = (X.T @ U) / rate   # coefficients of P_Omega(M) / p in the clipped basis
    return U.astype(obs.dtype), V.astype(obs.dtype)
