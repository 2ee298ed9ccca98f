"""Per-row least-squares updates: the array-API reference versions of the kernels.

A CSR-like structure ``(indptr, indices, data)`` holds one least-squares problem per row
``i``: ``min_x sum_p (B[indices[p]] @ x - data[p])^2`` over ``p`` in
``indptr[i]:indptr[i+1]``. Alternating minimization solves all rows of one factor given
the other factor ``B``. The Numba and CuPy kernels compute the same thing faster.
"""

from __future__ import annotations

from .._backend import kernel, to_numpy

__all__ = ["exact_rows", "sketched_rows", "observed_residual"]


def _eps(xp, dtype):
    """64 units of rounding of ``dtype`` (the floor of the inner stopping rule)."""
    return 64.0 * float(xp.finfo(dtype).eps)


def _row_problem(xp, indptr_host, indices, data, B, i):
    lo, hi = int(indptr_host[i]), int(indptr_host[i + 1])
    A = xp.take(B, indices[lo:hi], axis=0)
    return A, data[lo:hi]


def _ridge_solve(xp, A, b, reg):
    """Normal-equation solve with a tiny ridge where the Gram matrix is singular."""
    k = A.shape[1]
    G = A.T @ A
    eye = xp.eye(k, dtype=A.dtype)
    jitter = float(reg)
    trace = float(xp.sum(xp.linalg.diagonal(G)))
    for _ in range(8):
        try:
            L = xp.linalg.cholesky(G + jitter * eye)
            if bool(xp.all(xp.isfinite(L))):
                return xp.linalg.solve(L.T, xp.linalg.solve(L, A.T @ b))
        except Exception:  # LinAlgError of whichever library
            pass
        jitter = max(jitter * 100.0, 1e-12 * (trace / k + 1e-300))
    return xp.zeros(k, dtype=A.dtype)


@kernel("completion.exact_rows",
        numba="numopt.completion._kernels_numba:exact_rows",
        cupy="numopt.completion._kernels_cupy:exact_rows")
def exact_rows(xp, indptr, indices, data, B, reg):
    """Exact per-row solves by the k-by-k normal equations (Cholesky).

    Returns ``(C, sq)``: the solutions stacked as rows and the summed squared
    residual over all observations.
    """
    indptr_host = to_numpy(indptr)
    n_rows, k = indptr.shape[0] - 1, B.shape[1]
    rows, sq = [], 0.0
    for i in range(n_rows):
        if indptr_host[i + 1] == indptr_host[i]:
            rows.append(xp.zeros(k, dtype=B.dtype))
            continue
        A, b = _row_problem(xp, indptr_host, indices, data, B, i)
        x = _ridge_solve(xp, A, b, reg)
        r = b - A @ x
        sq += float(xp.sum(r * r))
        rows.append(x)
    return xp.stack(rows), sq


@kernel("completion.sketched_rows",
        numba="numopt.completion._kernels_numba:sketched_rows")
def sketched_rows(xp, indptr, indices, data, B, C0, bucket, sign, sketch_size, inner_tol,
                  max_inner, reg):
    """Approximate per-row solves, sketch-preconditioned (Gu, Song, Yin, Zhang 2024).

    For a row with design matrix ``A`` (``n_i x k``): ``S A`` is a CountSketch of
    ``sketch_size`` rows (observation ``p`` goes to row ``bucket[p]`` with sign
    ``sign[p]``), ``R`` its triangular factor (``R^T R = (S A)^T S A``), and
    preconditioned CGLS on ``min ||A R^{-1} y - b||`` starts at the warm start ``C0[i]``
    and stops once the preconditioned gradient has shrunk by ``inner_tol`` or after
    ``max_inner`` steps. Rows no longer than ``sketch_size`` are not sketched.

    Mixed precision, as in iterative refinement: the residual ``r = b - A x`` and the
    gradient ``A^T r`` that start a solve are computed in working precision, while the
    sketch, its Gram matrix and the CG steps (which only compute a correction) use a
    single-precision copy of ``A``; ``r`` and the gradient are updated by those steps,
    so their rounding is relative to the correction, not to ``b``. When a solve asks
    for more than single precision resolves (``inner_tol`` below about 1e-5), ``r`` and
    the gradient are recomputed in working precision and CG restarts from there, so
    any accuracy down to working precision is reached. The sketch distorts by about
    ``sqrt(k / sketch_size)`` anyway, so its single-precision Gram matrix loses nothing.

    Returns ``(C, sq, n_inner)``: solutions, summed squared residual, total CG steps.
    """
    indptr_host = to_numpy(indptr)
    n_rows, k = indptr.shape[0] - 1, B.shape[1]
    f32 = xp.float32
    eye = xp.eye(k, dtype=xp.float64)
    eps = _eps(xp, B.dtype)
    floor32 = (32.0 * float(xp.finfo(f32).eps)) ** 2
    rows, sq, n_inner = [], 0.0, 0
    for i in range(n_rows):
        lo, hi = int(indptr_host[i]), int(indptr_host[i + 1])
        if hi == lo:
            rows.append(xp.zeros(k, dtype=B.dtype))
            continue
        A, b = _row_problem(xp, indptr_host, indices, data, B, i)
        A32 = xp.astype(A, f32)
        if hi - lo > sketch_size:
            onehot = xp.astype(xp.arange(sketch_size)[:, None] == bucket[lo:hi][None, :], f32)
            SA = (onehot * xp.astype(sign[lo:hi], f32)[None, :]) @ A32
            G = xp.astype(SA.T @ SA, xp.float64)
        else:
            G = xp.astype(A32.T @ A32, xp.float64)
        try:
            L = xp.linalg.cholesky(G + reg * eye)
            ok = bool(xp.all(xp.isfinite(L)))
        except Exception:
            ok = False
        if not ok:
            x = _ridge_solve(xp, A, b, reg)
            r = b - A @ x
            sq += float(xp.sum(r * r))
            rows.append(x)
            continue

        def exact_state(x):
            r = b - A @ x
            s = xp.linalg.solve(L, A.T @ r - reg * x)
            return r, s

        x = xp.astype(C0[i, :], xp.float64, copy=True)
        r, s = exact_state(x)
        p = s
        gamma = gamma_ref = float(xp.sum(s * s))
        stop = max(inner_tol ** 2 * gamma, eps ** 2 * float(xp.sum(b * b)))
        confirm = stop < 4.0 * floor32 * gamma_ref
        exact, it = True, 0
        while True:
            if not exact and ((gamma <= stop and confirm) or gamma <= floor32 * gamma_ref):
                r, s = exact_state(x)
                p = s
                gamma = gamma_ref = float(xp.sum(s * s))
                confirm = stop < 4.0 * floor32 * gamma_ref
                exact = True
            if gamma <= stop or it == max_inner:
                break
            it += 1
            z = xp.linalg.solve(L.T, p)
            q = A32 @ xp.astype(z, f32)
            q64 = xp.astype(q, xp.float64)
            alpha = gamma / (float(xp.sum(q64 * q64)) + reg * float(xp.sum(z * z)))
            x = x + alpha * z
            r = r - alpha * q64
            g = xp.linalg.solve(L, xp.astype(A32.T @ q, xp.float64) + reg * z)
            s = s - alpha * g
            gamma_new = float(xp.sum(s * s))
            p = s + (gamma_new / gamma) * p
            gamma = gamma_new
            exact = False
        n_inner += it
        sq += float(xp.sum(r * r))
        rows.append(xp.astype(x, B.dtype))
    return xp.stack(rows), sq, n_inner


@kernel("completion.observed_residual",
        numba="numopt.completion._kernels_numba:observed_residual",
        cupy="numopt.completion._kernels_cupy:observed_residual")
def observed_residual(xp, indptr, indices, data, C, B):
    """``data[p] - C[i] @ B[indices[p]]`` for every stored entry ``p`` of row ``i``."""
    indptr_host = to_numpy(indptr)
    counts = xp.asarray(indptr_host[1:] - indptr_host[:-1])
    row_of = xp.repeat(xp.arange(indptr.shape[0] - 1), counts)
    return data - xp.sum(xp.take(C, row_of, axis=0) * xp.take(B, indices, axis=0), axis=1)
