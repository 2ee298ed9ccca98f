"""M-FAC inverse-Hessian-vector products at d = 10^6, m = 512 (the issue's size).

The window is float32: 512 x 10^6 float64 would be 4 GB, too much for a shared machine
(the figure per byte is the same). Products read the window twice (``G v``, then
``G^T c``), an update once (``G g``) plus an O(m^3) inverse of the 512 x 512 matrix:
``track_*_gbps`` report those bytes over the median time, against the plain NumPy
loop over the window's rows (the peer: the same algebra, one row at a time).
"""

import time

import numpy as np

from numopt.linalg import MFACInverseHessian

from .common import smoke_size

M = 512
D = smoke_size(1_000_000, 20_000)
DAMPING = 1e-5


def _window(rng):
    """A full window without the static O(d m^2) Gram product (about a minute on one
    thread, in every benchmark process): an empty window whose rows are then written
    directly, rolls of one random row. The Gram matrix stays zero: the timed passes
    over G cost the same whatever the values."""
    H = MFACInverseHessian.zeros(M, D, DAMPING, dtype=np.float32)
    base = rng.standard_normal(D, dtype=np.float32)
    for i in range(M):
        H.G[i] = np.roll(base, 997 * i)
    return H


def _loop_product(G, inner_inverse, v):
    """``(v - G^T S^-1 G v) / lambda`` one window row at a time."""
    Gv = np.empty(M)
    for i in range(M):
        Gv[i] = G[i] @ v
    c = (inner_inverse @ Gv).astype(np.float32)
    out = v.copy()
    for i in range(M):
        out -= c[i] * G[i]
    return out / DAMPING


def _loop_update(G, gram, row, g):
    """Replace row ``row`` by ``g``: the Gram column one dot product at a time, then
    the O(m^3) inverse."""
    G[row] = g
    for i in range(M):
        gram[row, i] = gram[i, row] = G[i] @ g
    return np.linalg.inv(gram + M * DAMPING * np.eye(M))


class MFACProducts:
    """Time one IHVP and one sliding-window update: numopt vs the NumPy loop."""

    timeout = 900
    repeat = (3, 5, 60.0)
    rounds = 1
    number = 1
    min_run_count = 1

    def setup(self):
        rng = np.random.default_rng(0)
        self.H = _window(rng)
        self.v = rng.standard_normal(D, dtype=np.float32)
        self.gram = self.H.gram.copy()
        self.row = 0
        # warm-up (page in the window)
        self.H.matvec(self.v)
        _loop_product(self.H.G, self.H.inner_inverse, self.v)

    def time_product(self):
        self.H.matvec(self.v)

    def time_product_numpy_loop(self):
        _loop_product(self.H.G, self.H.inner_inverse, self.v)

    def time_update(self):
        self.H.update(self.v)

    def time_update_numpy_loop(self):
        self.row = (self.row + 1) % M
        _loop_update(self.H.G, self.gram, self.row, self.v)

    def _gbps(self, func, passes, repeats=5):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        return passes * M * D * 4 / float(np.median(times)) / 1e9

    def track_product_gbps(self):
        return self._gbps(lambda: self.H.matvec(self.v), 2)

    def track_product_numpy_loop_gbps(self):
        return self._gbps(lambda: _loop_product(self.H.G, self.H.inner_inverse, self.v), 2)

    def track_update_gbps(self):
        return self._gbps(lambda: self.H.update(self.v), 1)

    def track_update_numpy_loop_gbps(self):
        return self._gbps(lambda: _loop_update(self.H.G, self.gram, 0, self.v), 1)

    track_product_gbps.unit = track_product_numpy_loop_gbps.unit = "GB/s"
    track_update_gbps.unit = track_update_numpy_loop_gbps.unit = "GB/s"
