"""Monotone inclusions: numopt's Halpern and variance-reduced methods.

* ``PerEpochVsTranscription``: time per epoch (``n`` component calls) of VR-EG and of
  Algorithm 2 (inexact Halpern with a VR-FoRB resolvent) on the authors' Policeman-Burglar
  game (``n = 500``, their step sizes), numopt's Numba kernels against two per-sample
  NumPy transcriptions run on the *same draws*, so all three follow the same sample path
  and end at the same residual (tracked): ``authors`` keeps the authors' scripts'
  simplex projection (a Python loop over the sorted entries), ``vectorized`` uses a
  sort/cumsum projection instead. Like the scripts (and like numopt's stopping rule),
  the transcriptions record the residual along the run: VR-EG at each snapshot,
  Algorithm 2 after each Halpern step.
* ``ResidualAtEqualCalls``: the operator residual each method reaches in a fixed budget
  of epochs on the authors' two problems with their step sizes (the paper's figures;
  ``examples/monotone_residual_curves.py`` draws the whole curves).
* ``GameVsHiGHS``: the dense ``n = 500`` Policeman-Burglar game to a duality gap of
  ``1e-4`` against HiGHS (``scipy.optimize.linprog``) solving its LP, on the CPU.
"""

import math

import numpy as np
from scipy.optimize import linprog

import numopt.monotone as mono
from numopt.problems._monotone import ouyang_xu_quadratic, policeman_burglar_matrix

from .common import smoke_params, smoke_size

N_GAME = smoke_size(500, 40)


def game_problem(n):
    """The authors' instance and their step sizes (their ``finite_halpern_PB`` script).
    Their script builds ``w * C`` (the wealth scales the columns), the transpose of
    :func:`policeman_burglar_matrix`, and solves ``min_x max_y y^T A x`` with it."""
    A = np.ascontiguousarray(policeman_burglar_matrix(n, seed=1).T)
    op = mono.bilinear_operator(A)
    L, fro, p = np.linalg.norm(A, 2), np.linalg.norm(A), 1.0 / n
    prox = mono.product((mono.simplex(), n), (mono.simplex(), n))
    steps = {
        "extragradient": {"step_size": 5 / L},
        "eag": {"step_size": 5 / L},
        "halpern": {},
        "vr-eg": {"step_size": 3 * math.sqrt(p) / fro},
        "vr-halpern": {"step_size": 5 / fro},
        "inexact-halpern": {"resolvent_step": math.sqrt(n) / fro, "inner": 0.05,
                            "step_size": 5 * math.sqrt(p * (1 - p)) / (math.sqrt(n) + 1)},
    }
    return {"A": A, "op": op, "prox": prox, "z0": np.full(2 * n, 1.0 / n), "steps": steps}


def quadratic_problem(n):
    """The Ouyang-Xu quadratic and the authors' steps (their ``finite_halpern_qp``)."""
    M, q, _ = ouyang_xu_quadratic(n)
    op = mono.matrix_operator(M, q, blocks=[[i, n + i] for i in range(n)])
    steps = {
        "extragradient": {"step_size": 0.5},
        "eag": {"step_size": 0.3},
        "halpern": {},
        "vr-eg": {"step_size": 0.01},
        "vr-halpern": {"step_size": 0.3},
        "inexact-halpern": {"resolvent_step": math.sqrt(n), "step_size": 0.001,
                            "inner": 0.05},
    }
    return {"op": op, "prox": None, "z0": np.full(2 * n, 1.0 / n), "steps": steps}


# ---------------------------------------------------------------- transcriptions

def authors_projection(y, a=1.0):
    """The simplex projection of the authors' scripts: a Python loop over the sorted
    entries for the threshold, and one over the entries for the result."""
    d = len(y)
    u = np.sort(y)[::-1]
    cumsum, tau = 0.0, 0.0
    for i in range(d):
        if cumsum + u[i] < u[i] * (i + 1) + a:
            cumsum += u[i]
            tau = (cumsum - a) / (i + 1)
        else:
            break
    out = np.zeros(d)
    for i in range(d):
        out[i] = max(y[i] - tau, 0)
    return out


def vectorized_projection(y, a=1.0):
    u = np.sort(y)[::-1]
    css = np.cumsum(u) - a
    rho = np.nonzero(u - css / np.arange(1, len(y) + 1) > 0)[0][-1]
    return np.maximum(y - css[rho] / (rho + 1), 0.0)


def _game_F(A, x, y):
    return A.T @ y, -(A @ x)


def _game_residual(A, x, y, project, L):
    """The operator residual, as the authors' scripts record it along the run (their
    formula at unit step; here at step 1/L, numopt's measure)."""
    gx, gy = _game_F(A, x, y)
    return L * np.sqrt(np.sum((x - project(x - gx / L)) ** 2)
                       + np.sum((y - project(y - gy / L)) ** 2))


def vr_eg_transcription(A, z0, step, rounds, seed, project):
    """VR-EG on the game ``min_x max_y y^T A x`` split by the rows of ``A``, one sample
    at a time (numopt's draws: a round is ``n`` coins then ``n`` indices)."""
    n, c = A.shape
    p = 1.0 / n
    alpha = 1.0 - p
    rng = np.random.default_rng(seed)
    L, history = np.linalg.norm(A, 2), []
    x, y = z0[:c].copy(), z0[c:].copy()
    wx, wy = x.copy(), y.copy()
    Fwx, Fwy = _game_F(A, wx, wy)
    for _ in range(rounds):
        coins = rng.random(n)
        indices = rng.integers(0, n, size=n, dtype=np.int64)
        for t in range(n):
            i = indices[t]
            xb = alpha * x + (1 - alpha) * wx
            yb = alpha * y + (1 - alpha) * wy
            xh = project(xb - step * Fwx)
            yh = project(yb - step * Fwy)
            gx = Fwx + n * (yh[i] - wy[i]) * A[i]
            gy = Fwy.copy()
            gy[i] -= n * (A[i] @ (xh - wx))
            x = project(xb - step * gx)
            y = project(yb - step * gy)
            if coins[t] < p:
                wx, wy = x, y
                Fwx, Fwy = _game_F(A, wx, wy)
                history.append(_game_residual(A, wx, wy, project, L))
    return np.concatenate([x, y])


def inexact_halpern_transcription(A, z0, options, outer, seed, project):
    """Algorithm 2 (inexact Halpern, VR-FoRB resolvent) one sample at a time."""
    n, cols = A.shape
    p = 1.0 / n
    alpha = 1.0 - p
    c, gamma, inner = options["resolvent_step"], options["step_size"], options["inner"]
    rng = np.random.default_rng(seed)
    L, history = np.linalg.norm(A, 2), []
    ux0, uy0 = z0[:cols].copy(), z0[cols:].copy()
    ux, uy = ux0.copy(), uy0.copy()
    for k in range(outer):
        m = max(1, math.ceil(inner * n * math.log(k + 2)))
        coins = rng.random(m)
        indices = rng.integers(0, n, size=m, dtype=np.int64)
        vx, vy = ux.copy(), uy.copy()
        wx, wy, px, py = vx, vy, vx, vy
        Fx, Fy = _game_F(A, wx, wy)
        Fx, Fy = c * Fx, c * Fy
        for t in range(m):
            i = indices[t]
            vbx = alpha * vx + (1 - alpha) * wx
            vby = alpha * vy + (1 - alpha) * wy
            gx = Fx + c * n * (vy[i] - py[i]) * A[i] + (vx - px)
            gy = Fy + (vy - py)
            gy[i] -= c * n * (A[i] @ (vx - px))
            vx, vy = project(vbx - gamma * gx), project(vby - gamma * gy)
            px, py = wx, wy
            if coins[t] < p:
                wx, wy = vx, vy
                Fx, Fy = _game_F(A, wx, wy)
                Fx, Fy = c * Fx + (wx - ux), c * Fy + (wy - uy)
        lam = 1.0 / (k + 2)
        ux, uy = lam * ux0 + (1 - lam) * vx, lam * uy0 + (1 - lam) * vy
        # numopt's iterate: the approximate resolvent (the authors record it at u)
        history.append(_game_residual(A, vx, vy, project, L))
    return np.concatenate([vx, vy])


def residual(problem, z):
    from numopt.monotone._residual import operator_residual

    return operator_residual(np, problem["op"], problem["prox"] or mono.product((None, len(z))),
                             z)


class PerEpochVsTranscription:
    """Seconds per epoch at n = 500 on the same sample path (equal residual)."""

    params = smoke_params(["vr-eg", "inexact-halpern"])
    param_names = ["method"]
    timeout = 600
    repeat = (1, 3, 60.0)
    number = 1
    # the same work for all three: one VR-EG round (n steps, 4 epochs); the first 40
    # Halpern steps of Algorithm 2 (58 epochs: M_k grows like log k, so the first ten
    # steps, 13 epochs, weigh the full evaluations that open each resolvent more than
    # the authors' runs of thousands of epochs do)
    WORK = {"vr-eg": 1, "inexact-halpern": 40}

    def setup(self, method):
        self.problem = game_problem(N_GAME)
        self.method = method
        self.results = {name: getattr(self, f"_run_{name}")() for name in
                        ("numopt", "authors", "vectorized")}

    def _run_numopt(self):
        pb = self.problem
        res = mono.solve_inclusion(pb["op"], pb["z0"], prox=pb["prox"], method=self.method,
                                   tol=0.0, maxiter=self.WORK[self.method], seed=0,
                                   **pb["steps"][self.method])
        return {"x": res.x, "epochs": res.epochs}

    def _transcription(self, project):
        pb, work = self.problem, self.WORK[self.method]
        if self.method == "vr-eg":
            x = vr_eg_transcription(pb["A"], pb["z0"], pb["steps"]["vr-eg"]["step_size"],
                                    work, 0, project)
        else:
            x = inexact_halpern_transcription(pb["A"], pb["z0"],
                                              pb["steps"]["inexact-halpern"], work, 0,
                                              project)
        return {"x": x}

    def _run_authors(self):
        return self._transcription(authors_projection)

    def _run_vectorized(self):
        return self._transcription(vectorized_projection)

    def time_numopt(self, method):
        self._run_numopt()

    def time_authors_transcription(self, method):
        self._run_authors()

    def time_vectorized_transcription(self, method):
        self._run_vectorized()

    def track_epochs(self, method):
        return self.results["numopt"]["epochs"]

    def track_residual_numopt(self, method):
        return residual(self.problem, self.results["numopt"]["x"])

    def track_residual_authors_transcription(self, method):
        return residual(self.problem, self.results["authors"]["x"])

    def track_max_iterate_difference(self, method):
        return float(np.max(np.abs(self.results["numopt"]["x"] - self.results["authors"]["x"])))


def residual_after(problem, method, epochs):
    """The residual of the last check at or past ``epochs`` epochs."""
    last = {}

    def stop(intermediate_result):
        last["residual"] = intermediate_result.residual
        if intermediate_result.epochs >= epochs:
            raise StopIteration

    mono.solve_inclusion(problem["op"], problem["z0"], prox=problem["prox"], method=method,
                         tol=0.0, maxiter=10**7, seed=0, callback=stop,
                         **problem["steps"][method])
    return last["residual"]


class ResidualAtEqualCalls:
    """Operator residual after a budget of epochs (component calls / n)."""

    params = smoke_params(["policeman_burglar", "ouyang_xu"],
                          ["extragradient", "eag", "halpern", "vr-eg", "vr-halpern",
                           "inexact-halpern"])
    param_names = ["problem", "method"]
    timeout = 600
    BUDGET = smoke_size(300, 3)

    def setup(self, problem, method):
        # built here rather than in setup_cache: asv pickles setup_cache's result, and an
        # operator holds its array namespace (a module)
        self.problem = (game_problem(N_GAME) if problem == "policeman_burglar"
                        else quadratic_problem(smoke_size(200, 20)))

    def track_residual(self, problem, method):
        return residual_after(self.problem, method, self.BUDGET)

    track_residual.unit = "residual"


class GameVsHiGHS:
    """The n = 500 Policeman-Burglar game to a duality gap of 1e-4, against HiGHS."""

    params = smoke_params(["vr-eg", "extragradient"])
    param_names = ["method"]
    timeout = 600
    repeat = (1, 3, 200.0)
    number = 1
    TOL = 1e-4

    def setup(self, method):
        self.A = policeman_burglar_matrix(N_GAME, seed=1)
        L, fro = np.linalg.norm(self.A, 2), np.linalg.norm(self.A)
        # the authors' steps
        self.options = {"extragradient": {"step_size": 5 / L},
                        "vr-eg": {"step_size": 3 / math.sqrt(N_GAME) / fro, "seed": 0}}[method]
        self.method = method
        self.res = self._numopt()
        self.lp = self._highs()

    def _numopt(self):
        return mono.solve_matrix_game(self.A, method=self.method, tol=self.TOL,
                                      maxiter=100000, **self.options)

    def _highs(self):
        A = self.A
        m, n = A.shape
        return linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)],
                       b_ub=np.zeros(n), A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                       bounds=[(0, None)] * m + [(None, None)], method="highs")

    def time_numopt(self, method):
        self._numopt()

    def time_highs(self, method):
        self._highs()

    def track_gap_numopt(self, method):
        return self.res.duality_gap

    def track_value_error_numopt(self, method):
        return abs(self.res.value - (-self.lp.fun))

    def track_nit_numopt(self, method):
        return self.res.nit
