"""Foundation: the minimize front door costs nothing over SciPy's own."""

import numpy as np
import scipy.optimize as so

import numopt

from .common import PeerBenchmark, smoke_params


class MinimizeRosenbrock(PeerBenchmark):
    params = smoke_params(["BFGS", "L-BFGS-B"],)
    param_names = ["method"]

    def make_input(self, method):
        return {"x0": np.full(20, 1.3), "method": method}

    solvers = {
        "numopt": lambda d: numopt.minimize(so.rosen, d["x0"], method=d["method"], jac=so.rosen_der),
        "scipy": lambda d: so.minimize(so.rosen, d["x0"], method=d["method"], jac=so.rosen_der),
    }

    def time_numopt(self, method):
        self.run("numopt")

    def time_scipy(self, method):
        self.run("scipy")

    def track_nit_numopt(self, method):
        return self.results["numopt"].nit
