"""numopt.ot against POT on 2-D uniform point clouds (squared Euclidean cost scaled to
max 1, uniform weights, one BLAS thread). Fixed iteration counts make per-iteration
times comparable; track_* report iterations and errors."""

import contextlib
import io
import warnings

import numpy as np

from numopt.ot import emd, sinkhorn, sparse_ot
from numopt.ot._emd import transport_constraints
from numopt.problems._ot import random_ot_problem

from .common import SMOKE, PeerBenchmark, has_module, smoke_params, smoke_size

if has_module("ot"):
    import ot
else:  # pragma: no cover
    ot = None


def _quiet(fn):
    def run(d):
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return fn(d)
    return run


def _error(P, a, b):
    P = P.toarray() if hasattr(P, "toarray") else P
    return float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())


class SinkhornKernelPerIteration(PeerBenchmark):
    """Kernel Sinkhorn, 50 iterations (issue: <= 0.65x POT ot.sinkhorn at n = 3000)."""

    params = smoke_params([1000, 3000],)
    param_names = ["n"]
    iterations = 50

    def make_input(self, n):
        a, b, M = random_ot_problem(n)
        return {"a": a, "b": b, "M": M}

    solvers = {
        "numopt": lambda d: sinkhorn(d["a"], d["b"], d["M"], 0.05, method="kernel",
                                     tol=1e-300, maxiter=50),
        "pot": _quiet(lambda d: ot.sinkhorn(d["a"], d["b"], d["M"], 0.05, stopThr=0,
                                            numItermax=50)),
    }

    def time_numopt(self, n):
        self.run("numopt")

    def time_pot(self, n):
        self.run("pot")


class SinkhornLogPerIteration(PeerBenchmark):
    """Log-domain Sinkhorn, 4 iterations each (issue: >= 15x POT sinkhorn_log)."""

    params = smoke_params([1000, 3000],)
    param_names = ["n"]

    def make_input(self, n):
        a, b, M = random_ot_problem(n)
        return {"a": a, "b": b, "M": M}

    solvers = {
        "numopt": lambda d: sinkhorn(d["a"], d["b"], d["M"], 0.05, method="log",
                                     tol=1e-300, maxiter=4, eps_scaling=False),
        "pot": _quiet(lambda d: ot.bregman.sinkhorn_log(d["a"], d["b"], d["M"], 0.05,
                                                        stopThr=0, numItermax=4)),
    }

    def time_numopt(self, n):
        self.run("numopt")

    def time_pot(self, n):
        self.run("pot")


class SinkhornNewtonSparse(PeerBenchmark):
    """SNS to L1 marginal error 1e-9 at reg = 1e-3 vs POT's kernel Sinkhorn."""

    params = smoke_params([500],)
    param_names = ["n"]

    def make_input(self, n):
        a, b, M = random_ot_problem(n)
        return {"a": a, "b": b, "M": M}

    solvers = {
        "numopt_sns": lambda d: sinkhorn(d["a"], d["b"], d["M"], 1e-3, method="sns", tol=1e-9),
        "pot": _quiet(lambda d: ot.sinkhorn(d["a"], d["b"], d["M"], 1e-3, stopThr=1e-10,
                                            numItermax=20000)),
    }

    def time_numopt_sns(self, n):
        self.run("numopt_sns")

    def time_pot(self, n):
        self.run("pot")

    def track_error_numopt_sns(self, n):
        return self.results["numopt_sns"].marginal_error

    def track_error_pot(self, n):
        return _error(self.results["pot"], self.inputs["a"], self.inputs["b"])


class SparseOT(PeerBenchmark):
    """Sparsity-constrained OT, n = 200 (the issue's n = 500 runs in the report script)."""

    params = smoke_params([200], [2, 5])
    param_names = ["n", "k"]

    def make_input(self, n, k):
        a, b, M = random_ot_problem(n)
        return {"a": a, "b": b, "M": M, "k": k}

    solvers = {
        "numopt": lambda d: sparse_ot(d["a"], d["b"], d["M"], d["k"], gamma=1.0),
        "pot": _quiet(lambda d: ot.smooth.smooth_ot_semi_dual(
            d["a"], d["b"], d["M"], 1.0, reg_type="sparsity_constrained", max_nz=d["k"])),
    }

    def time_numopt(self, n, k):
        self.run("numopt")

    def time_pot(self, n, k):
        self.run("pot")

    def track_error_numopt(self, n, k):
        return self.results["numopt"].marginal_error

    def track_error_pot(self, n, k):
        return _error(self.results["pot"], self.inputs["a"], self.inputs["b"])


def _grid_problem(n, dtype=np.float32):
    """Squared distances between sorted uniform points on [0, 1], scaled to max 1;
    uniform weights (the float32 problem of the peak-memory figures)."""
    rng = np.random.default_rng(0)
    x, y = np.sort(rng.random(n)), np.sort(rng.random(n))
    M = (x[:, None] - y[None, :]) ** 2
    a = np.full(n, 1.0 / n)
    return a.astype(dtype), a.astype(dtype), (M / M.max()).astype(dtype)


class SinkhornPeakMemory:
    """Peak memory of each Sinkhorn method, float32, n = 4000, reg = 1e-2, tol = 1e-5.

    ``peakmem_*`` is asv's process peak (M, the inputs and the interpreter included);
    ``track_peak_beyond_M_*`` the peak of the allocations made by the call itself
    (tracemalloc: NumPy arrays are traced), as a multiple of M's size: the figure of
    docs/ot.rst (issue: SNS <= 3x)."""

    params = smoke_params(["log", "kernel", "sns"],)
    param_names = ["method"]
    timeout = 600

    def setup(self, method):
        n = smoke_size(4000, 300)
        self.a, self.b, self.M = _grid_problem(n)
        small = slice(0, 20)
        sinkhorn(self.a[small], self.b[small], self.M[small, small], 1e-2, method=method)

    def _solve(self, method):
        return sinkhorn(self.a, self.b, self.M, 1e-2, method=method, tol=1e-5)

    def peakmem_numopt(self, method):
        self._solve(method)

    def track_peak_beyond_M(self, method):
        import tracemalloc

        tracemalloc.start()
        try:
            self._solve(method)
            return tracemalloc.get_traced_memory()[1] / self.M.nbytes
        finally:
            tracemalloc.stop()

    track_peak_beyond_M.unit = "multiple of M"


class SinkhornGauss1D(PeerBenchmark):
    """POT's 1-D example (make_1D_gauss n = 100 at 20/5 and 60/10, dist0 costs up to
    9801) at small reg: log and SNS converge or stop at the rounding floor (issue: within
    2x the time of a converging log run); POT's sinkhorn_log with the same 10000
    iterations at most."""

    params = smoke_params([1e-2, 1e-3, 1e-5],)
    param_names = ["reg"]

    def make_input(self, reg):
        n = 100
        return {"a": ot.datasets.make_1D_gauss(n, m=20, s=5),
                "b": ot.datasets.make_1D_gauss(n, m=60, s=10),
                "M": ot.utils.dist0(n), "reg": reg}

    solvers = {
        "numopt_log": lambda d: sinkhorn(d["a"], d["b"], d["M"], d["reg"], method="log"),
        "numopt_sns": lambda d: sinkhorn(d["a"], d["b"], d["M"], d["reg"], method="sns"),
        "pot": _quiet(lambda d: ot.bregman.sinkhorn_log(d["a"], d["b"], d["M"], d["reg"],
                                                        stopThr=1e-9, numItermax=10000)),
    }

    def time_numopt_log(self, reg):
        self.run("numopt_log")

    def time_numopt_sns(self, reg):
        self.run("numopt_sns")

    def time_pot(self, reg):
        self.run("pot")

    def track_error_numopt_log(self, reg):
        return self.results["numopt_log"].marginal_error

    def track_error_numopt_sns(self, reg):
        return self.results["numopt_sns"].marginal_error

    def track_error_pot(self, reg):
        return _error(self.results["pot"], self.inputs["a"], self.inputs["b"])


def _highs_emd(a, b, M):
    """The HiGHS path emd took before the network simplex: SciPy's linprog on the
    transport LP with M / max|M| (it is the tests' oracle now)."""
    import scipy.optimize as so

    n, m = M.shape
    return so.linprog((M / np.abs(M).max()).ravel(), A_eq=transport_constraints(n, m),
                      b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")


def _emd_input(n, weights):
    a, b, M = random_ot_problem(n, weights=weights)
    return {"a": a, "b": b, "M": M}


class EMD(PeerBenchmark):
    """Exact OT by the network simplex vs POT's ot.emd (issue: within 1.5x at n = 1000
    and 3000) on 2-D clouds, squared Euclidean cost, uniform and random weights."""

    params = smoke_params([1000, 3000], ["uniform", "random"])
    param_names = ["n", "weights"]

    def make_input(self, n, weights):
        return _emd_input(n, weights)

    solvers = {
        "numopt": lambda d: emd(d["a"], d["b"], d["M"]),
        "pot": lambda d: ot.emd(d["a"], d["b"], d["M"], numItermax=10**8),
    }

    def time_numopt(self, n, weights):
        self.run("numopt")

    def time_pot(self, n, weights):
        self.run("pot")

    def track_nit_numopt(self, n, weights):
        return self.results["numopt"].nit

    def track_relative_cost_difference(self, n, weights):
        pot = float(np.sum(self.results["pot"] * self.inputs["M"]))
        return abs(self.results["numopt"].cost - pot) / pot


class EMDvsHiGHS(PeerBenchmark):
    """The network simplex vs the former HiGHS path (issue: >= 10x faster at n = 1000;
    random weights, where the old path ran HiGHS rather than an assignment)."""

    params = smoke_params([1000],) if not SMOKE else ([200],)
    param_names = ["n"]

    def make_input(self, n):
        return _emd_input(n, "random")

    solvers = {
        "numopt": lambda d: emd(d["a"], d["b"], d["M"]),
        "highs": lambda d: _highs_emd(d["a"], d["b"], d["M"]),
    }

    def time_numopt(self, n):
        self.run("numopt")

    def time_highs(self, n):
        self.run("highs")
