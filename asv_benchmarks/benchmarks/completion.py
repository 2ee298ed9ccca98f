"""Matrix completion: numopt's robust alternating minimization against baselines.

Peers, timed on the same input in the same run:

* ``numpy_als``: a plain exact-ALS reference written with NumPy (per-row
  ``np.linalg.solve`` on the normal equations, spectral start from ``scipy.sparse.linalg.svds``),
  the baseline of the issue's first figure;
* numopt's own ``als`` (Numba normal equations) and ``softimpute``. fancyimpute (the
  issue's SoftImpute peer) cannot be imported in the numopt environment (its package
  imports cvxpy and it needs scikit-learn < 1.6); it is timed against numopt on the same
  data from a venv of its own by ``asv_benchmarks/fancyimpute_completion.py``.

The 20000 x 20000 rank-100 case is too heavy for asv's quick mode on two cores; it lives
in ``asv_benchmarks/scaling_completion.py``.
"""

import numpy as np
import scipy.sparse.linalg as spla

from numopt.completion import complete
from numopt.problems import random_low_rank_completion

from .common import PeerBenchmark, smoke_params

TOL = 1e-9


def numpy_exact_als(M, rank, tol=TOL, maxiter=100):
    """Plain exact alternating least squares, one ``np.linalg.solve`` per row."""
    M = M.tocsr()
    Mt = M.T.tocsr()
    m, n = M.shape
    rate = M.nnz / (m * n)
    U, s, Vt = spla.svds(M / rate, k=rank)
    U = U * s
    V = Vt.T
    norm = np.linalg.norm(M.data)

    def solve_rows(X, B):
        out = np.zeros((X.shape[0], rank))
        sq = 0.0
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            if hi == lo:
                continue
            A = B[X.indices[lo:hi]]
            b = X.data[lo:hi]
            out[i] = np.linalg.solve(A.T @ A, A.T @ b)
            r = b - A @ out[i]
            sq += r @ r
        return out, sq

    for it in range(1, maxiter + 1):
        V, _ = solve_rows(Mt, U)
        U, sq = solve_rows(M, V)
        if np.sqrt(sq) <= tol * norm:
            break
    return {"U": U, "V": V, "nit": it}


def _numopt(method, **options):
    def solve(d):
        res = complete(d["problem"].observed, d["rank"], method=method, tol=TOL, seed=0,
                       **options)
        return {"U": res.U, "V": res.V, "nit": res.nit}

    return solve


class CompletionVsNumpyALS(PeerBenchmark):
    """The issue's 2000 x 2000, rank 10, 5% observed case (plus a smaller quick one)."""

    params = smoke_params([(1000, 5, 0.05), (2000, 10, 0.05)],)
    param_names = ["m, rank, rate"]

    def make_input(self, case):
        m, rank, rate = case
        return {"problem": random_low_rank_completion(m, rank=rank, rate=rate, seed=0),
                "rank": rank}

    solvers = {
        "altmin": _numopt("altmin"),
        "altmin_sketched": _numopt("altmin", row_solver="sketched"),
        "als": _numopt("als"),
        "softimpute": _numopt("softimpute", maxiter=300),
        "numpy_als": lambda d: numpy_exact_als(d["problem"].observed, d["rank"]),
    }

    def _error(self, name):
        out = self.results[name]
        return self.inputs["problem"].relative_error(out["U"], out["V"])

    def time_altmin(self, case):
        self.run("altmin")

    def time_altmin_sketched(self, case):
        self.run("altmin_sketched")

    def time_als(self, case):
        self.run("als")

    def time_softimpute(self, case):
        self.run("softimpute")

    def time_numpy_als(self, case):
        self.run("numpy_als")

    def track_error_altmin(self, case):
        return self._error("altmin")

    def track_error_altmin_sketched(self, case):
        return self._error("altmin_sketched")

    def track_error_als(self, case):
        return self._error("als")

    def track_error_softimpute(self, case):
        return self._error("softimpute")

    def track_error_numpy_als(self, case):
        return self._error("numpy_als")

    def track_nit_altmin(self, case):
        return self.results["altmin"]["nit"]


class CompletionScaling:
    """Time of 5 iterations against |Omega| and the rank k (2000 x 2000)."""

    params = smoke_params([100_000, 200_000, 400_000], [10, 20, 40], ["altmin", "als"])
    param_names = ["n_observed", "rank", "method"]
    timeout = 300
    repeat = (1, 3, 30.0)
    number = 1

    def setup(self, n_observed, rank, method):
        self.problem = random_low_rank_completion(2000, rank=rank, n_observed=n_observed,
                                                  seed=0)
        self.rank, self.method = rank, method
        # the sketched solve at every rank, so that its own scaling shows
        self.options = {"row_solver": "sketched"} if method == "altmin" else {}
        complete(self.problem.observed, rank, method=method, maxiter=1, seed=0,
                 **self.options)

    def time_five_iterations(self, n_observed, rank, method):
        complete(self.problem.observed, self.rank, method=self.method, tol=0.0, maxiter=5,
                 seed=0, **self.options)
