"""Gallery: random incoherent low-rank matrices observed on a random set of entries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import check_scalar

__all__ = ["LowRankCompletionProblem", "random_low_rank_completion"]


@dataclass
class LowRankCompletionProblem:
    """A completion problem with its exact answer.

    ``observed`` (scipy.sparse CSR) stores the observed entries of ``U_true @ V_true.T``;
    ``rows``/``cols``/``values`` are the same observations as COO triplets.
    """

    observed: sp.csr_matrix
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    U_true: np.ndarray
    V_true: np.ndarray
    rate: float

    @property
    def shape(self):
        return self.observed.shape

    def dense(self):
        """The full ground-truth matrix (only for small problems)."""
        return self.U_true @ self.V_true.T

    def dense_with_nan(self):
        """The observed matrix as a dense array with NaN in the missing entries."""
        out = np.full(self.shape, np.nan, dtype=self.values.dtype)
        out[self.rows, self.cols] = self.values
        return out

    def relative_error(self, U, V, *, block=4096):
        """||U V^T - M||_F / ||M||_F over all entries, computed in row blocks."""
        from numopt._backend import to_numpy

        U, V = to_numpy(U).astype(np.float64), to_numpy(V).astype(np.float64)
        num = 0.0
        den = 0.0
        for start in range(0, U.shape[0], block):
            stop = start + block
            truth = self.U_true[start:stop] @ self.V_true.T
            num += float(np.sum((U[start:stop] @ V.T - truth) ** 2))
            den += float(np.sum(truth ** 2))
        return (num / den) ** 0.5


def random_low_rank_completion(m=200, n=None, rank=5, rate=0.2, *, n_observed=None,
                               seed=0, dtype=np.float64, min_per_line=None):
    """Random rank-``rank`` matrix ``U V^T`` (Gaussian factors, hence incoherent) observed
    on a uniformly random set of entries.

    Parameters
    ----------
    m, n : int
        Shape (``n`` defaults to ``m``).
    rank : int
    rate : float
        Fraction of observed entries (ignored when ``n_observed`` is given).
    n_observed : int, optional
        Number of observations (sampled with replacement then deduplicated, which
        scales to 10^7 entries without building the full index set).
    min_per_line : int, optional
        Guarantee at least this many observations in every row and column (extra
        entries are added), so that every per-row least-squares problem is determined.
        Defaults to ``rank``.
    """
    m = check_scalar(m, "m", low=1, integer=True)
    if n is not None:
        n = check_scalar(n, "n", low=1, integer=True)
    rank = check_scalar(rank, "rank", low=1, integer=True)
    if n_observed is not None:
        n_observed = check_scalar(n_observed, "n_observed", low=1, integer=True)
    if min_per_line is not None:
        min_per_line = check_scalar(min_per_line, "min_per_line", low=0, integer=True)
    n = m if n is None else n
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((m, rank)) / np.sqrt(rank)
    V = rng.standard_normal((n, rank))
    if n_observed is None:
        n_observed = int(round(rate * m * n))
    n_observed = min(n_observed, m * n)
    if n_observed > 0.3 * m * n:
        flat = rng.choice(m * n, size=n_observed, replace=False)
    else:
        flat = np.unique(rng.integers(0, m * n, size=int(n_observed * 1.02) + 16))
        flat = rng.permutation(flat)[:n_observed]
    rows, cols = np.divmod(flat, n)
    need = rank if min_per_line is None else min_per_line
    extra_r, extra_c = [], []
    for count, size, other, axis in ((np.bincount(rows, minlength=m), m, n, 0),
                                     (np.bincount(cols, minlength=n), n, m, 1)):
        for line in np.flatnonzero(count < need):
            pick = rng.choice(other, size=need, replace=False)
            if axis == 0:
                extra_r.append(np.full(need, line)), extra_c.append(pick)
            else:
                extra_r.append(pick), extra_c.append(np.full(need, line))
    if extra_r:
        flat = np.unique(np.concatenate([rows * n + cols] + [r * n + c for r, c in zip(extra_r, extra_c)]))
        rows, cols = np.divmod(flat, n)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    values = np.empty(len(rows), dtype=dtype)
    chunk = max(1, 2**22 // rank)  # keeps the gathered factor rows small at 10^7 entries
    for s in range(0, len(rows), chunk):
        r, c = rows[s:s + chunk], cols[s:s + chunk]
        values[s:s + chunk] = np.einsum("ij,ij->i", U[r], V[c])
    observed = sp.csr_matrix((values, (rows, cols)), shape=(m, n))
    return LowRankCompletionProblem(observed, rows, cols, values, U, V,
                                    rate=len(values) / (m * n))
