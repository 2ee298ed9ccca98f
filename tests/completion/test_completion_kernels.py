"""Per-row kernels against exact least squares (NumPy lstsq) and against each other."""

import numpy as np
import pytest

from numopt._backend import get_kernel
from numopt._config import config_context
from numopt.completion import _rows  # noqa: F401
import array_api_compat.numpy as np_xp


def _row_problems(n_rows=30, n=200, k=5, per_row=40, noise=0.1, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.standard_normal((n, k)))[0].astype(dtype)
    counts = rng.integers(k, per_row, n_rows)
    counts[3] = 0        # an unobserved row
    counts[4] = per_row * 3
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([rng.choice(n, c, replace=False) for c in counts]).astype(np.int64)
    truth = rng.standard_normal((n_rows, k))
    rows = np.repeat(np.arange(n_rows), counts)
    data = (np.einsum("ij,ij->i", truth[rows], B[indices]) + noise * rng.standard_normal(len(rows))).astype(dtype)
    return indptr, indices, data, B, rng


def _lstsq_rows(indptr, indices, data, B):
    out = np.zeros((len(indptr) - 1, B.shape[1]))
    for i in range(len(indptr) - 1):
        lo, hi = indptr[i], indptr[i + 1]
        if hi > lo:
            out[i] = np.linalg.lstsq(B[indices[lo:hi]].astype(float), data[lo:hi].astype(float), rcond=None)[0]
    return out


def _sketch(indices, size, rng, dtype=None):
    """The CountSketch draws exactly as complete() stores them (numopt's add_sketch)."""
    from numopt.completion._observations import Lines, add_sketch

    lines = add_sketch(Lines(None, indices, None), size, rng, dtype)
    assert lines.bucket.dtype == np.int32 and lines.sign.dtype == np.int8
    return lines.bucket, lines.sign


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_exact_rows_match_lstsq(backend):
    indptr, indices, data, B, _ = _row_problems()
    with config_context(kernels="reference" if backend == "reference" else "auto"):
        C, sq = get_kernel("completion.exact_rows", np_xp)(np_xp, indptr, indices, data, B, 0.0)
    expected = _lstsq_rows(indptr, indices, data, B)
    np.testing.assert_allclose(C, expected, atol=1e-10)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    resid = data - np.einsum("ij,ij->i", expected[rows], B[indices])
    assert sq == pytest.approx(float(resid @ resid), rel=1e-10)


def test_sketched_update_accuracy_is_controlled_by_inner_tol():
    indptr, indices, data, B, rng = _row_problems(n=500, per_row=120, noise=0.3)
    exact = _lstsq_rows(indptr, indices, data, B)
    bucket, sign = _sketch(indices, 10, rng)      # sketch of 2k rows: a rough preconditioner
    warm = np.zeros_like(exact)
    kernel = get_kernel("completion.sketched_rows", np_xp)
    errors = []
    for inner_tol in (0.5, 1e-2, 1e-4, 1e-8, 1e-12):
        C, _, _ = kernel(np_xp, indptr, indices, data, B, warm, bucket, sign, 10, inner_tol, 100, 0.0)
        errors.append(np.linalg.norm(C - exact, axis=1).max())
    # Tighter inner_tol, smaller error, down to the rounding floor of the stopping rule:
    # past single precision (the CG steps' own), the working-precision refreshes take it.
    assert all(b < a or b < 1e-10 for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 1e-3 and errors[1] < errors[0] and errors[-2] < 1e-6, errors
    assert errors[-1] < 1e-10, errors


def test_sketched_warm_start_at_solution_needs_no_steps():
    indptr, indices, data, B, rng = _row_problems()
    exact = _lstsq_rows(indptr, indices, data, B)
    bucket, sign = _sketch(indices, 20, rng)
    C, sq, n_inner = get_kernel("completion.sketched_rows", np_xp)(
        np_xp, indptr, indices, data, B, exact, bucket, sign, 20, 1e-3, 10, 0.0)
    np.testing.assert_allclose(C, exact, atol=1e-9)
    assert n_inner <= len(indptr)  # at most one step per row, to confirm the optimum


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sketched_numba_matches_reference(dtype):
    indptr, indices, data, B, rng = _row_problems(dtype=dtype)
    bucket, sign = _sketch(indices, 15, rng, dtype)
    warm = (0.1 * rng.standard_normal((len(indptr) - 1, B.shape[1]))).astype(dtype)
    args = (indptr, indices, data, B, warm, bucket, sign, 15, 1e-2, 6, 0.0)
    fast = get_kernel("completion.sketched_rows", np_xp)(np_xp, *args)
    with config_context(kernels="reference"):
        ref = get_kernel("completion.sketched_rows", np_xp)(np_xp, *args)
    assert fast[0].dtype == dtype
    # Both take single-precision CG steps, so they agree to single precision relative to
    # the correction (the steps' summation orders differ), and take the same steps.
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-4, atol=1e-4)
    assert fast[2] == ref[2]
    # Asked for working precision, both reach the least-squares solutions.
    args = (indptr, indices, data, B, warm, bucket, sign, 15, 1e-14, 200, 0.0)
    fast = get_kernel("completion.sketched_rows", np_xp)(np_xp, *args)
    with config_context(kernels="reference"):
        ref = get_kernel("completion.sketched_rows", np_xp)(np_xp, *args)
    exact = _lstsq_rows(indptr, indices, data, B)
    tol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(fast[0], exact, atol=tol)
    np.testing.assert_allclose(ref[0], exact, atol=tol)


def test_ridge_and_underdetermined_rows():
    indptr, indices, data, B, _ = _row_problems()
    k = B.shape[1]
    # Rows with fewer observations than k: the kernel must stay finite (tiny ridge).
    short_ptr = np.array([0, 2, 3], dtype=np.int64)
    C, _ = get_kernel("completion.exact_rows", np_xp)(np_xp, short_ptr, indices[:3], data[:3], B, 0.0)
    assert np.all(np.isfinite(C))
    # Ridge: (A^T A + reg I) x = A^T b.
    reg = 0.7
    C, _ = get_kernel("completion.exact_rows", np_xp)(np_xp, indptr, indices, data, B, reg)
    lo, hi = indptr[0], indptr[1]
    A = B[indices[lo:hi]]
    np.testing.assert_allclose(C[0], np.linalg.solve(A.T @ A + reg * np.eye(k), A.T @ data[lo:hi]),
                               atol=1e-10)


def test_observed_residual_matches_dense_formula():
    indptr, indices, data, B, rng = _row_problems()
    C = rng.standard_normal((len(indptr) - 1, B.shape[1]))
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    expected = data - (C @ B.T)[rows, indices]
    fast = get_kernel("completion.observed_residual", np_xp)(np_xp, indptr, indices, data, C, B)
    with config_context(kernels="reference"):
        ref = get_kernel("completion.observed_residual", np_xp)(np_xp, indptr, indices, data, C, B)
    np.testing.assert_allclose(fast, expected, atol=1e-12)
    np.testing.assert_allclose(ref, expected, atol=1e-12)
