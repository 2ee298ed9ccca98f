"""One MeZO step (two evaluations and the update) at d = 10^6, float32: numopt's fused
counter-based perturbation kernel against a plain NumPy transcription of MeZO's
Algorithm 1 (a Generator reseeded per pass, ``z`` drawn whole each time)."""

import numpy as np

from numopt._backend import get_kernel
from numopt.zeroth_order._estimates import add_directions, spsa_projections

from .common import smoke_size

D = smoke_size(1_000_000, 20_000)
EPS, LR = 1e-3, 1e-6


def _fun(x):
    return float(x @ x)


def _numpy_mezo_step(x, seed):
    def perturb(scale):
        z = np.random.default_rng(seed).standard_normal(D, dtype=np.float32)
        x[...] += np.float32(scale) * z

    perturb(EPS)
    f_plus = _fun(x)
    perturb(-2 * EPS)
    f_minus = _fun(x)
    perturb(EPS)
    projected = (f_plus - f_minus) / (2 * EPS)
    perturb(-LR * projected)


def _numopt_mezo_step(x, key):
    projections = spsa_projections(np, _fun, x, [key], EPS, 0, 1.0, True)
    add_directions(np, x, [key], [-LR * projections[0]], 0, 1.0)


class MeZOStep:
    timeout = 300
    repeat = (3, 10, 60.0)
    rounds = 1
    number = 1
    min_run_count = 1

    def setup(self):
        self.x = np.random.default_rng(0).standard_normal(D, dtype=np.float32)
        get_kernel("zeroth_order.add_perturbation", np)  # load the module
        _numopt_mezo_step(self.x, 1)                       # JIT warm-up
        _numpy_mezo_step(self.x, 1)

    def time_numopt(self):
        _numopt_mezo_step(self.x, 12345)

    def time_numpy(self):
        _numpy_mezo_step(self.x, 12345)
