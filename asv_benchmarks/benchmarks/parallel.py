"""Many entropic OT problems sharing one cost matrix: the serial loop, map_problems on 2
loky workers, the batched path (sinkhorn_many) and POT's ot.batch.solve_batch, timed on
the same input in the same run; plus the fixed cost of a map_problems task.

The bigger figures of the issue (64 problems of 200 x 200, the 50 ms overhead case, a
Dask LocalCluster) come from ``asv_benchmarks/parallel_timings.py``, run by hand.
"""

import sys

import numpy as np
import cloudpickle  # joblib's serializer for loky workers

from numopt.ot import sinkhorn
from numopt.parallel import map_problems, sinkhorn_many
from numopt.problems._ot import random_ot_problem

from .common import PeerBenchmark, has_module, smoke_params

if has_module("ot"):
    import ot
else:  # pragma: no cover
    ot = None

# loky workers cannot import asv's benchmark package: ship this module's functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

REG, TOL = 1e-2, 1e-9


def _solve_one(problem, M):
    return sinkhorn(problem[0], problem[1], M, REG, tol=TOL)


def _serial(d):
    return [_solve_one(p, d["M"]) for p in d["problems"]]


def _mapped(d):
    M = d["M"]
    return map_problems(lambda p: _solve_one(p, M), d["problems"], n_jobs=2)


def _pot(d):
    count, n, m = len(d["A"]), *d["M"].shape
    return ot.batch.solve_batch(np.broadcast_to(d["M"], (count, n, m)), REG, a=d["A"],
                                b=d["B"], max_iter=100000, tol=TOL, method="sinkhorn",
                                grad="detach")


def _max_l1_error(plans, A, B):
    return max(float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())
               for P, a, b in zip(plans, A, B))


class ManyEntropicOT(PeerBenchmark):
    """``count`` problems of n x n, random weights, reg 1e-2, tol 1e-9 (L1 marginals)."""

    params = smoke_params([16, 64], [100, 200])
    param_names = ["count", "n"]

    def make_input(self, count, n):
        _, _, M = random_ot_problem(n, seed=0)
        rng = np.random.default_rng(1)
        A = rng.uniform(0.5, 1.5, (count, n))
        A /= A.sum(1, keepdims=True)
        B = rng.uniform(0.5, 1.5, (count, n))
        B /= B.sum(1, keepdims=True)
        return {"M": M, "A": A, "B": B, "problems": list(zip(A, B))}

    solvers = {
        "serial": _serial,
        "map_problems": _mapped,
        "batched": lambda d: sinkhorn_many(d["A"], d["B"], d["M"], REG, tol=TOL),
        "batched_2_workers": lambda d: sinkhorn_many(d["A"], d["B"], d["M"], REG, tol=TOL,
                                                     n_jobs=2),
        **({"pot": _pot} if ot is not None and hasattr(ot, "batch") else {}),
    }

    def time_serial_loop(self, count, n):
        self.run("serial")

    def time_map_problems_2_workers(self, count, n):
        self.run("map_problems")

    def time_sinkhorn_many_batched(self, count, n):
        self.run("batched")

    def time_sinkhorn_many_batched_2_workers(self, count, n):
        self.run("batched_2_workers")

    def time_pot_solve_batch(self, count, n):
        if "pot" not in self.solvers:
            raise NotImplementedError("POT without ot.batch")
        self.run("pot")

    def track_error_batched(self, count, n):
        return _max_l1_error([r.plan for r in self.results["batched"]],
                             self.inputs["A"], self.inputs["B"])

    def track_error_pot(self, count, n):
        if "pot" not in self.results:
            raise NotImplementedError("POT without ot.batch")
        return _max_l1_error(np.asarray(self.results["pot"].plan), self.inputs["A"],
                             self.inputs["B"])


class MapProblemsTaskCost(PeerBenchmark):
    """Empty tasks: the fixed cost map_problems adds per problem on 2 loky workers."""

    params = smoke_params([200, 1000])
    param_names = ["count"]

    def make_input(self, count):
        return {"problems": list(range(count))}

    solvers = {"empty": lambda d: map_problems(int, d["problems"], n_jobs=2)}

    def time_empty_tasks(self, count):
        self.run("empty")
