"""Monotone inclusion test problems from Cai, Alacaoglu & Diakonikolas (ICLR 2024)."""

from __future__ import annotations

import numpy as np

from .._validation import check_scalar

__all__ = ["policeman_burglar_matrix", "ouyang_xu_quadratic"]


def policeman_burglar_matrix(n, *, theta=0.8, seed=0):
    """The Policeman-Burglar game of Nemirovski (Juditsky & Nemirovski's tutorial):
    house ``i`` holds wealth ``w_i = |N(0, 1)|``; the burglar (row player, maximizer)
    robs house ``i`` while the policeman (column player) patrols house ``j``, and keeps
    ``A[i, j] = w_i (1 - exp(-theta |i - j|))``. The wealths come from NumPy's legacy
    ``RandomState(seed)``, so ``seed=1``, ``n=500`` is the instance of the authors'
    experiments. (Their scripts store the transpose, ``w * C``, and solve
    ``min_x max_y y^T (w * C) x``: the same game with the players' names swapped;
    ``bilinear_operator`` of this matrix and of theirs differ only in that order.)"""
    n = check_scalar(n, "n", low=1, integer=True)
    theta = check_scalar(theta, "theta", low=0.0)
    w = np.abs(np.random.RandomState(seed).standard_normal(n))
    idx = np.arange(n)
    return w[:, None] * (1.0 - np.exp(-theta * np.abs(idx[:, None] - idx[None, :])))


def ouyang_xu_quadratic(n):
    """The min-max quadratic ``min_x max_y x^T H x / 2 - h^T x - <A x - b, y>`` of Ouyang
    & Xu's lower bound (as in the authors' experiments): ``A`` has ``1/4`` on the
    anti-diagonal and ``-1/4`` just above it, ``H = 2 A^T A``, ``b = 1/4``,
    ``h = e_n / 4``. Returns ``(M, q, z_star)`` for ``F(z) = M z + q``,
    ``M = [[H, -A^T], [A, 0]]``, ``q = (-h, -b)``, ``z = (x, y)``, and its unique
    solution (``A`` is invertible)."""
    n = check_scalar(n, "n", low=1, integer=True)
    A = np.zeros((n, n))
    for i in range(n):
        A[i, n - 1 - i] = 1.0
        if i < n - 1:
            A[i, n - 2 - i] = -1.0
    A /= 4.0
    H = 2.0 * A.T @ A
    b = np.full(n, 0.25)
    h = np.zeros(n)
    h[-1] = 0.25
    M = np.block([[H, -A.T], [A, np.zeros((n, n))]])
    q = np.concatenate([-h, -b])
    x = np.linalg.solve(A, b)
    y = np.linalg.solve(A.T, H @ x - h)
    return M, q, np.concatenate([x, y])
