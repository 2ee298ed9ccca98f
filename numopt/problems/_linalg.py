"""Linear systems for numopt.linalg: Poisson matrices, the shifted-Poisson family of
"Learning to Relax" (Khodak et al., ICLR 2024), a Crank-Nicolson heat-equation sequence,
and SPD / least-squares test matrices.

Sparse matrices are SciPy ``csr_array`` in float64 with sorted indices; every random
problem takes a ``seed``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._validation import check_scalar

__all__ = [
    "LinearSystem",
    "poisson_1d",
    "poisson_2d",
    "poisson_3d",
    "ObstacleProblem",
    "poisson_obstacles",
    "shifted_poisson_sequence",
    "heat_equation_sequence",
    "random_spd_matrix",
    "least_squares_problem",
]


class LinearSystem(NamedTuple):
    """One instance of a sequence: solve ``A x = b``; ``context`` is an optional scalar
    known before the solve (the diagonal shift, the diffusion coefficient...)."""

    A: object
    b: np.ndarray
    context: float | None = None


def poisson_1d(n):
    """The ``n x n`` tridiagonal matrix ``tridiag(-1, 2, -1)``."""
    n = check_scalar(n, "n", low=1, integer=True)
    return sp.diags_array([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)],
                          offsets=[-1, 0, 1], format="csr")


def _kron_sum(blocks):
    """``sum_k I x .. x T_k x .. x I``: the Laplacian on a tensor grid."""
    sizes = [b.shape[0] for b in blocks]
    total = None
    for k, block in enumerate(blocks):
        term = None
        for m, size in enumerate(sizes):
            factor = block if m == k else sp.identity(size, format="csr")
            term = factor if term is None else sp.kron(term, factor, format="csr")
        total = term if total is None else total + term
    out = sp.csr_array(total)
    out.sort_indices()
    return out


def poisson_2d(n, m=None):
    """The 5-point Laplacian on an ``n x m`` interior grid (Dirichlet boundary), unscaled:
    4 on the diagonal, -1 for each neighbour (MATLAB's ``delsq(numgrid('S', n + 2))``)."""
    n = check_scalar(n, "n", low=1, integer=True)
    if m is not None:
        m = check_scalar(m, "m", low=1, integer=True)
    m = n if m is None else m
    return _kron_sum([poisson_1d(n), poisson_1d(m)])


def poisson_3d(n):
    """The 7-point Laplacian on an ``n x n x n`` interior grid (6 on the diagonal)."""
    n = check_scalar(n, "n", low=1, integer=True)
    return _kron_sum([poisson_1d(n)] * 3)


def _truncated_normal(rng, n):
    """A standard normal vector in R^n conditioned on norm <= sqrt(n) (the paper's
    right-hand sides)."""
    while True:
        b = rng.standard_normal(n)
        if np.linalg.norm(b) <= np.sqrt(n):
            return b


_BETA_LAWS = {"high": (0.5, 1.5), "low": (2.0, 6.0)}


def shifted_poisson_sequence(n_instances, *, grid=10, variance="high", low=-0.15,
                             width=0.6, seed=None):
    """The sequence of "Learning to Relax": ``A_t = A + c_t I`` with ``A`` the 2-D
    Poisson matrix on a ``grid x grid`` interior grid, ``c_t = low + width * Beta(a, b)``
    and a radially truncated Gaussian right-hand side.

    Parameters
    ----------
    variance : {"high", "low"} or (a, b)
        The Beta law of the shift: ``"high"`` is Beta(0.5, 1.5), ``"low"`` Beta(2, 6),
        as in the paper's two settings.

    Returns
    -------
    list of LinearSystem
        ``context`` is the shift ``c_t``.
    """
    n_instances = check_scalar(n_instances, "n_instances", low=0, integer=True)
    grid = check_scalar(grid, "grid", low=1, integer=True)
    a, b = _BETA_LAWS[variance] if isinstance(variance, str) else variance
    rng = np.random.default_rng(seed)
    base = poisson_2d(grid)
    eye = sp.identity(base.shape[0], format="csr")
    systems = []
    for _ in range(int(n_instances)):
        c = low + width * rng.beta(a, b)
        A = sp.csr_array(base + c * eye)
        A.sort_indices()
        systems.append(LinearSystem(A, _truncated_normal(rng, base.shape[0]), float(c)))
    return systems


def heat_equation_sequence(n_steps, *, grid=32, dt=None, kappa=None, seed=None):
    """Crank-Nicolson time steps of ``u_t = kappa(t) Laplace(u)`` on the unit square.

    Step ``k`` solves ``(I + dt/2 kappa_k L) u_{k+1} = (I - dt/2 kappa_k L) u_k`` with
    ``L`` the scaled 5-point Laplacian (``h^-2 * poisson_2d``); the diffusion coefficient
    ``kappa_k`` changes every step (default ``1 + 0.5 sin(2 pi k / 25)`` times a seeded
    jitter), so the best relaxation parameter drifts along the sequence. The right-hand
    sides come from the exact previous solution (direct solves), so every system is the
    one a simulation would face.

    Returns
    -------
    list of LinearSystem
        ``context`` is ``kappa_k``.
    """
    n_steps = check_scalar(n_steps, "n_steps", low=0, integer=True)
    grid = check_scalar(grid, "grid", low=1, integer=True)
    from scipy.sparse.linalg import spsolve

    rng = np.random.default_rng(seed)
    h = 1.0 / (grid + 1)
    L = poisson_2d(grid) / h**2
    dt = 1.0 * h if dt is None else float(dt)
    if kappa is None:
        steps = np.arange(n_steps)
        kappa = (1.0 + 0.5 * np.sin(2 * np.pi * steps / 25.0)) * rng.uniform(0.9, 1.1, n_steps)
    kappa = np.asarray(kappa, dtype=float)
    xs = (np.arange(grid) + 1) * h
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    u = (np.sin(np.pi * X) * np.sin(2 * np.pi * Y) + rng.uniform(0, 0.1, X.shape)).ravel()
    eye = sp.identity(L.shape[0], format="csr")
    systems = []
    for k in range(int(n_steps)):
        A = sp.csr_array(eye + 0.5 * dt * kappa[k] * L)
        A.sort_indices()
        b = (eye - 0.5 * dt * kappa[k] * L) @ u
        systems.append(LinearSystem(A, b, float(kappa[k])))
        u = spsolve(sp.csc_array(A), b)
    return systems


def random_spd_matrix(n, *, cond=100.0, seed=None):
    """A dense symmetric positive definite ``n x n`` matrix with condition number ``cond``
    (eigenvalues log-spaced in [1, cond], random orthogonal eigenvectors)."""
    n = check_scalar(n, "n", low=1, integer=True)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigs = np.logspace(0, np.log10(cond), n)
    A = (Q * eigs) @ Q.T
    return 0.5 * (A + A.T)


def least_squares_problem(m, n, *, consistent=True, noise=0.1, cond=10.0, seed=None):
    """A tall ``m x n`` full-rank matrix with singular values in [1, cond] and a
    right-hand side ``b = A x_true (+ noise)``.

    Returns
    -------
    A, b, x_ls
        ``x_ls`` is the least-squares solution (``x_true`` when ``consistent``).
    """
    m = check_scalar(m, "m", low=1, integer=True)
    n = check_scalar(n, "n", low=1, integer=True)
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (U * np.linspace(1.0, cond, n)) @ V.T
    x_true = rng.standard_normal(n)
    b = A @ x_true
    if not consistent:
        b = b + noise * rng.standard_normal(m)
    x_ls = x_true if consistent else np.linalg.lstsq(A, b, rcond=None)[0]
    return A, b, x_ls


class ObstacleProblem(NamedTuple):
    """A Poisson system on a grid with solid obstacles (see :func:`poisson_obstacles`).

    ``A`` is the ``N x N`` matrix (``N = prod(shape)``, cells in C order), ``fluid``
    the boolean mask of shape ``shape`` (``False`` in solid cells)."""

    A: object
    fluid: np.ndarray
    shape: tuple


def _obstacle_mask(shape, n_obstacles, kind, rng):
    grids = np.meshgrid(*[np.arange(s) + 0.5 for s in shape], indexing="ij")
    solid = np.zeros(shape, dtype=bool)
    low = min(shape)
    for _ in range(n_obstacles):
        centre = [rng.uniform(0.15 * s, 0.85 * s) for s in shape]
        if kind == "boxes":
            half = [rng.uniform(0.04, 0.14) * low for _ in shape]
            inside = np.ones(shape, dtype=bool)
            for g, c, h in zip(grids, centre, half):
                inside &= np.abs(g - c) <= h
        else:
            radius = rng.uniform(0.05, 0.15) * low
            inside = sum((g - c) ** 2 for g, c in zip(grids, centre)) <= radius**2
        solid |= inside
    return solid


def poisson_obstacles(shape, *, n_obstacles=4, kind="boxes", seed=None):
    """The 5-point (2-D) or 7-point (3-D) Laplacian on a grid with solid obstacles.

    Fluid cells carry the unscaled Laplacian: ``-1`` for each fluid neighbour, and on
    the diagonal the number of fluid neighbours plus the number of sides on the outer
    boundary (Dirichlet, ``u = 0`` outside the box). A side facing a solid cell adds
    nothing: a homogeneous Neumann wall, as for the pressure of an incompressible flow
    around an obstacle (the setting of Kaneda et al., ICML 2023). Solid cells keep an
    identity row, so the matrix stays on the full grid (a convolutional model sees an
    image) and ``x = 0`` there when ``b = 0`` there. Fluid pockets enclosed by solid
    cells would make the matrix singular (pure Neumann); they are filled as solid.
    Without obstacles the matrix is :func:`poisson_2d` / :func:`poisson_3d`.

    Parameters
    ----------
    shape : tuple of int
        The grid, 2 or 3 dimensions.
    n_obstacles : int
        How many boxes or balls are dropped at random (they may overlap).
    kind : {"boxes", "disks"}
        Axis-aligned boxes or disks / balls.
    seed : int or Generator, optional

    Returns
    -------
    ObstacleProblem
        ``(A, fluid, shape)``: ``A`` a float64 ``csr_array``, ``fluid`` a boolean mask.
    """
    from scipy import ndimage

    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    shape = tuple(check_scalar(s, "shape", low=1, integer=True) for s in shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must have 2 or 3 entries, got {shape}")
    n_obstacles = check_scalar(n_obstacles, "n_obstacles", low=0, integer=True)
    if kind not in ("boxes", "disks"):
        raise ValueError(f"kind must be 'boxes' or 'disks', got {kind!r}")
    rng = np.random.default_rng(seed)
    solid = _obstacle_mask(shape, n_obstacles, kind, rng)
    labels, count = ndimage.label(~solid)
    edge = np.zeros(shape, dtype=bool)
    for axis in range(len(shape)):
        index = [slice(None)] * len(shape)
        for end in (0, -1):
            index[axis] = end
            edge[tuple(index)] = True
    open_labels = np.unique(labels[edge & ~solid])
    fluid = np.isin(labels, open_labels[open_labels > 0])
    N = int(np.prod(shape))
    index = np.arange(N).reshape(shape)
    diag = np.zeros(shape)
    rows, cols = [], []
    for axis in range(len(shape)):
        lo = [slice(None)] * len(shape)
        hi = [slice(None)] * len(shape)
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        both = fluid[tuple(lo)] & fluid[tuple(hi)]
        a, b = index[tuple(lo)][both], index[tuple(hi)][both]
        rows += [a, b]
        cols += [b, a]
        np.add.at(diag, tuple(lo), both)
        np.add.at(diag, tuple(hi), both)
        for end in (0, -1):   # the outer boundary: Dirichlet
            face = [slice(None)] * len(shape)
            face[axis] = end
            diag[tuple(face)] += 1.0
    diag = np.where(fluid, diag, 1.0).ravel()
    rows = np.concatenate(rows + [np.arange(N)])
    cols = np.concatenate(cols + [np.arange(N)])
    vals = np.concatenate([-np.ones(rows.size - N), diag])
    A = sp.csr_array((vals, (rows, cols)), shape=(N, N))
    A.sum_duplicates()
    A.sort_indices()
    return ObstacleProblem(A, fluid, shape)
