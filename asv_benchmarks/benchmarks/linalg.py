"""numopt.linalg against its peers: PyAMG's SOR sweep, SciPy's CG, PyAMG's AMG-PCG.

The full learned-omega figures (5000 shifted-Poisson instances; the 100-solve 512^2
SSOR-PCG sequence) take minutes: they live in examples/linalg_learned_omega.py and
examples/linalg_ssor_pcg_sequence.py; here run shortened versions.
"""

import numpy as np
import scipy.sparse.linalg as spla

from numopt.linalg import (RelaxationLearner, cg, dcdm, default_omegas, ichol_preconditioner,
                           solve_sequence, sor, sor_sweep, ssor_preconditioner)
from numopt.problems import poisson_2d, shifted_poisson_sequence

from .common import PeerBenchmark, has_module, smoke_params

_SWEEPS = 10


def _numopt_sweeps(d):
    from numopt._backend import get_kernel

    sweep = get_kernel("linalg.sor_sweep", np)
    x = np.zeros_like(d["b"])
    for _ in range(_SWEEPS):
        sweep(np, d["indptr"], d["indices"], d["A"].data, d["b"], x, d["omega"], None, None,
              d["reverse"])
    return x


def _numopt_smoother(d):
    # the public smoother: validation, then the same kernel
    x = np.zeros_like(d["b"])
    return sor_sweep(d["A"], x, d["b"], omega=d["omega"], iterations=_SWEEPS,
                     sweep="backward" if d["reverse"] else "forward")


def _pyamg_sweeps(d):
    from pyamg.relaxation.relaxation import sor as pyamg_sor

    x = np.zeros_like(d["b"])
    pyamg_sor(d["A"], x, d["b"], d["omega"], iterations=_SWEEPS,
              sweep="backward" if d["reverse"] else "forward")
    return x


class SORSweepPoisson512(PeerBenchmark):
    """10 SOR sweeps on 2-D Poisson 512^2: Numba kernel and the public smoother
    ``sor_sweep`` vs PyAMG's C++ sor."""

    params = smoke_params(["forward", "backward"],)
    param_names = ["sweep"]
    solvers = {"numopt": _numopt_sweeps, "numopt_sor_sweep": _numopt_smoother}
    if has_module("pyamg"):
        solvers = {**solvers, "pyamg": _pyamg_sweeps}

    def make_input(self, sweep):
        A = poisson_2d(512)
        return {"A": A, "indptr": A.indptr.astype(np.int64),
                "indices": A.indices.astype(np.int64), "omega": 1.9,
                "b": np.random.default_rng(0).standard_normal(A.shape[0]),
                "reverse": sweep == "backward"}

    def time_numopt(self, sweep):
        self.run("numopt")

    def time_numopt_sor_sweep(self, sweep):
        self.run("numopt_sor_sweep")

    def time_pyamg(self, sweep):
        if "pyamg" not in self.solvers:
            raise NotImplementedError
        self.run("pyamg")

    def track_max_iterate_difference(self, sweep):
        if "pyamg" not in self.results:
            raise NotImplementedError
        return float(max(np.abs(self.results[name] - self.results["pyamg"]).max()
                         for name in ("numopt", "numopt_sor_sweep")))


def _scipy_cg(d):
    return spla.cg(d["A"], d["b"], rtol=1e-8, callback=d["counter"])


class CGPoisson(PeerBenchmark):
    """CG to rtol 1e-8 on 2-D Poisson: numopt.linalg.cg vs scipy.sparse.linalg.cg."""

    params = smoke_params([256, 512],)
    param_names = ["n"]

    def make_input(self, n):
        A = poisson_2d(n)
        counts = []
        return {"A": A, "b": np.random.default_rng(0).standard_normal(A.shape[0]),
                "counter": lambda xk: counts.append(1), "counts": counts}

    solvers = {"numopt": lambda d: cg(d["A"], d["b"], tol=1e-8),
               "scipy": lambda d: spla.cg(d["A"], d["b"], rtol=1e-8)}

    def time_numopt(self, n):
        self.run("numopt")

    def time_scipy(self, n):
        self.run("scipy")

    def track_nit_numopt(self, n):
        return self.results["numopt"].nit

    def track_nit_scipy(self, n):
        its = []
        spla.cg(self.inputs["A"], self.inputs["b"], rtol=1e-8, callback=its.append)
        return len(its)


class SSORPCGPoisson(PeerBenchmark):
    """One SSOR-PCG solve (omega = 1 and a near-optimal omega) vs PyAMG AMG-PCG,
    2-D Poisson 256^2, rtol 1e-8 (AMG setup included: it is paid per matrix)."""

    params = smoke_params([256],)
    param_names = ["n"]

    def make_input(self, n):
        A = poisson_2d(n)
        return {"A": A, "b": np.random.default_rng(0).standard_normal(A.shape[0])}

    @staticmethod
    def _amg(d):
        import pyamg

        ml = pyamg.smoothed_aggregation_solver(d["A"])
        return cg(d["A"], d["b"], M=ml.aspreconditioner(cycle="V"), tol=1e-8)

    solvers = {
        "ssor_1": lambda d: cg(d["A"], d["b"], M=ssor_preconditioner(d["A"], 1.0), tol=1e-8),
        "ssor_best": lambda d: cg(d["A"], d["b"], M=ssor_preconditioner(d["A"], 1.96),
                                  tol=1e-8),
    }
    if has_module("pyamg"):
        solvers = {**solvers, "amg": _amg.__func__}

    def time_ssor_omega_1(self, n):
        self.run("ssor_1")

    def time_ssor_omega_best(self, n):
        self.run("ssor_best")

    def time_amg_pcg(self, n):
        if "amg" not in self.solvers:
            raise NotImplementedError
        self.run("amg")

    def track_nit_ssor_omega_1(self, n):
        return self.results["ssor_1"].nit

    def track_nit_ssor_omega_best(self, n):
        return self.results["ssor_best"].nit

    def track_nit_amg_pcg(self, n):
        if "amg" not in self.results:
            raise NotImplementedError
        return self.results["amg"].nit


class LearnedOmegaShiftedPoisson:
    """The paper's sequence, shortened to 400 instances: Tsallis-INF's (default grid)
    and ChebCB's (the paper's grid) total SOR iterations over the best fixed omega of
    both grids in hindsight."""

    timeout = 900
    number = 1
    repeat = 1
    params = smoke_params(["high", "low"],)
    param_names = ["variance"]

    def setup_cache(self):
        paper_grid = np.linspace(1.0, 1.95, 20)
        grid = np.union1d(paper_grid, default_omegas("sor"))
        out = {}
        for variance in ("high", "low"):
            systems = shifted_poisson_sequence(400, variance=variance, seed=0)
            fixed = np.array([[sor(s.A, s.b, omega=w, tol=1e-8).nit for w in grid]
                              for s in systems])
            best = fixed.sum(axis=0).min()
            ratios = {}
            for policy in ("tsallis_inf", "chebyshev_cb"):
                omegas = None if policy == "tsallis_inf" else paper_grid
                learner = RelaxationLearner("sor", policy=policy, omegas=omegas, seed=1,
                                            context_range=(-0.15, 0.45))
                ratios[policy] = solve_sequence(systems, learner).nit / best
            out[variance] = ratios
        return out

    def track_tsallis_inf_over_best_fixed(self, cache, variance):
        return cache[variance]["tsallis_inf"]

    def track_chebyshev_cb_over_best_fixed(self, cache, variance):
        return cache[variance]["chebyshev_cb"]

    def time_learned_sequence_100(self, cache, variance):
        systems = shifted_poisson_sequence(100, variance=variance, seed=2)
        solve_sequence(systems, RelaxationLearner("sor", seed=1))


def _obstacle_system(grid):
    from numopt.problems import poisson_obstacles

    problem = poisson_obstacles(grid, n_obstacles=6, kind="disks", seed=1001)
    b = np.random.default_rng(len(grid) * 1000 + grid[0]).standard_normal(problem.A.shape[0])
    return {"A": problem.A, "b": b * problem.fluid.ravel()}


def _ic_pcg(d):
    # the factorization is part of the solve, as AMG's setup would be
    return cg(d["A"], d["b"], M=ichol_preconditioner(d["A"]), tol=1e-6)


class DCDMObstacles(PeerBenchmark):
    """DCDM with the shipped network (2-D: trained at 32^2/64^2, 3-D: at 16^3/32^3, on
    boxes) against CG, IC(0)-PCG and SciPy's CG, rtol 1e-6, Poisson with unseen disk /
    ball obstacles (iterations flat in n is the paper's claim; read track_nit_*)."""

    params = smoke_params(["64x64", "128x128", "32x32x32"],)
    param_names = ["grid"]

    def make_input(self, grid):
        return _obstacle_system(tuple(int(s) for s in grid.split("x")))

    solvers = {"dcdm": lambda d: dcdm(d["A"], d["b"], tol=1e-6),
               "cg": lambda d: cg(d["A"], d["b"], tol=1e-6),
               "ic_pcg": _ic_pcg,
               "scipy_cg": lambda d: spla.cg(d["A"], d["b"], rtol=1e-6)}

    def time_dcdm(self, grid):
        self.run("dcdm")

    def time_cg(self, grid):
        self.run("cg")

    def time_scipy_cg(self, grid):
        self.run("scipy_cg")

    def time_ic_pcg(self, grid):
        self.run("ic_pcg")

    def track_nit_dcdm(self, grid):
        return self.results["dcdm"].nit

    def track_nit_cg(self, grid):
        return self.results["cg"].nit

    def track_nit_ic_pcg(self, grid):
        return self.results["ic_pcg"].nit


class DCDMNetworkApplication:
    """One application of the shipped network: the Numba kernel against torch CPU on the
    same weights and input, both on one thread (as every benchmark here)."""

    params = smoke_params(["64x64", "128x128", "32x32x32", "64x64x64"],)
    param_names = ["grid"]
    timeout = 300

    def setup(self, grid):
        import numba

        from numopt.linalg._dcdm_model import load_model

        numba.set_num_threads(1)
        shape = tuple(int(s) for s in grid.split("x"))
        self.net = load_model(len(shape))
        rng = np.random.default_rng(shape[0])
        self.image = rng.standard_normal(shape).astype(np.float32)
        self.fluid = np.ones(shape, dtype=np.float32)
        self.net(self.image, self.fluid)
        self.torch_net = None
        if has_module("torch"):
            import torch

            from numopt.linalg._dcdm_train import build_torch_model

            torch.set_num_threads(1)
            self.torch_net = build_torch_model(len(shape)).load_numpy(self.net.params)
            self.torch_in = (torch.from_numpy(self.image)[None],
                             torch.from_numpy(self.fluid)[None])
            with torch.no_grad():
                self.torch_net(*self.torch_in)

    def time_numba(self, grid):
        self.net(self.image, self.fluid)

    if has_module("torch"):   # the optional train extra: without it there is no peer
        def time_torch_cpu(self, grid):
            import torch

            with torch.no_grad():
                self.torch_net(*self.torch_in)
