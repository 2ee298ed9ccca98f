"""The linalg solvers keep the loop's contract (numopt/_loop.py): ``check`` has no side
effects, ``result`` holds public fields only (the loop owns ``nit``; the message detail
comes from ``detail``), and results do not depend on how often the loop checks."""

import copy

import numpy as np
import pytest

from numopt.linalg import _cg, _sketch, _sor, cg, sketch_solve, sor
from numopt.problems import least_squares_problem, poisson_2d


def _captured(monkeypatch, module):
    """The solver objects ``module``'s public function hands to ``run_solver``."""
    solvers = []
    real = module.run_solver

    def capture(solver, **kwargs):
        solvers.append(solver)
        return real(solver, **kwargs)

    monkeypatch.setattr(module, "run_solver", capture)
    return solvers


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k])
                                                                    for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if hasattr(a, "shape"):
        return hasattr(b, "shape") and np.array_equal(a, b)
    return a is b or a == b or (a != a and b != b)


def _solvers(monkeypatch):
    A = poisson_2d(10)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    M, y, _ = least_squares_problem(40, 6, consistent=False, cond=3.0, seed=5)
    C, z, _ = least_squares_problem(40, 6, consistent=True, cond=3.0, seed=6)
    runs = [(_sor, lambda: sor(A, b, omega=1.5, tol=1e-10, maxiter=3)),
            (_sor, lambda: sor(A.astype(np.float32), b.astype(np.float32), omega=1.0,
                               tol=1e-12, maxiter=3)),
            (_cg, lambda: cg(A, b, tol=1e-12, maxiter=3)),
            (_sketch, lambda: sketch_solve(M, y, sketch="gaussian", least_squares=True,
                                           block_size=3, seed=0, maxiter=3)),
            (_sketch, lambda: sketch_solve(C, z, sketch="block_kaczmarz", block_size=2,
                                           seed=0, maxiter=3))]
    for module, run in runs:
        solvers = _captured(monkeypatch, module)
        run()
        monkeypatch.undo()
        yield solvers[-1]


def test_check_has_no_side_effects_and_result_holds_public_fields(monkeypatch):
    for solver in _solvers(monkeypatch):
        name = type(solver).__name__
        state = solver.init()
        for _ in range(3):
            state = solver.step(state)
        before_state, before_solver = copy.deepcopy(state), copy.copy(vars(solver))
        first, second = solver.check(state), solver.check(state)
        assert first == second is None, name  # not converged, not stalled: twice
        assert _same(state, before_state), name  # check wrote nothing into the state
        assert _same(vars(solver), before_solver), name  # ... nor into the solver
        fields = solver.result(state)
        assert "x" in fields and not {"nit", "message_detail"} & set(fields), name
        assert "above" in solver.detail(state, None), name  # says which criterion failed


def test_sketch_iterates_do_not_depend_on_check_every():
    # the column sketches recompute b - A x once a pass, not at each check
    M, y, _ = least_squares_problem(40, 6, consistent=False, cond=3.0, seed=5)
    for sketch in ("gaussian", "countsketch", "block_kaczmarz"):
        runs = [sketch_solve(M, y, sketch=sketch, least_squares=True, block_size=3, seed=1,
                             tol=0.0, maxiter=30, check_every=every) for every in (1, 4, 7)]
        assert all(res.nit == 30 for res in runs)
        for res in runs[1:]:
            np.testing.assert_array_equal(res.x, runs[0].x)


@pytest.mark.parametrize("every", [1, 3, 8])
def test_sor_stall_and_iterates_do_not_depend_on_check_every(every):
    # float32 at a tol below its reach: the sweep reaches a fixed point (STALLED)
    A = poisson_2d(6).astype(np.float32)
    b = np.random.default_rng(1).standard_normal(A.shape[0]).astype(np.float32)
    res = sor(A, b, omega=1.0, tol=1e-14, maxiter=2000, check_every=every)
    ref = sor(A, b, omega=1.0, tol=1e-14, maxiter=2000)
    assert res.status == ref.status == 4 and "floor" in res.message
    assert abs(res.nit - ref.nit) <= 8 * every  # noticed at a later check at most
    np.testing.assert_array_equal(sor(A, b, omega=1.0, tol=0.0, maxiter=50,
                                      check_every=every).x,
                                  sor(A, b, omega=1.0, tol=0.0, maxiter=50).x)
