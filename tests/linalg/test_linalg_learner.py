"""The relaxation learner: bandit mechanics, regret against the best fixed omega,
reproducibility, contextual policies and SSOR-PCG."""

import numpy as np
import pytest

from numopt.linalg import RelaxationLearner, cg, solve_sequence, sor, ssor_preconditioner
from numopt.linalg._bandits import TsallisINF
from numopt.problems import LinearSystem, poisson_2d, shifted_poisson_sequence

GRID = np.array([1.0, 1.2, 1.4, 1.6, 1.8])


@pytest.fixture(scope="module")
def sequence():
    systems = shifted_poisson_sequence(240, grid=6, variance="low", seed=3)
    fixed = np.array([[sor(s.A, s.b, omega=w, tol=1e-8).nit for w in GRID] for s in systems])
    return systems, fixed


def test_tsallis_probabilities():
    bandit = TsallisINF(4, np.random.default_rng(0))
    np.testing.assert_allclose(bandit.probabilities(), 0.25)
    bandit.cumulative[:] = [0.0, 5.0, 10.0, 50.0]
    bandit.t = 10
    p = bandit.probabilities()
    assert abs(p.sum() - 1) < 1e-12 and np.all(np.diff(p) < 0)
    # the closed form of the 1/2-Tsallis weights: p_i = 4 / (eta (L_i - x))^2
    eta = 2 / np.sqrt(10)
    x = bandit.cumulative - 2 / (eta * np.sqrt(p))
    np.testing.assert_allclose(x, x[0], rtol=1e-9)


def test_regret_against_best_fixed_omega_falls(sequence):
    systems, fixed = sequence
    learner = RelaxationLearner("sor", omegas=GRID, seed=0)
    out = solve_sequence(systems, learner)
    assert out.success and out.n_systems == 240 and out.nit == out.nits.sum()
    # the learner paid exactly what the fixed runs of the omegas it chose cost
    arms = np.searchsorted(GRID, out.omegas)
    np.testing.assert_array_equal(out.nits, fixed[np.arange(240), arms])
    avg_regret = [(out.nits[:T].sum() - fixed[:T].sum(axis=0).min()) / T
                  for T in (30, 60, 120, 240)]
    assert all(a > b for a, b in zip(avg_regret, avg_regret[1:])), avg_regret
    assert avg_regret[-1] < 0.5 * avg_regret[0]
    # and it ends up playing the best fixed omega most of the time
    best = GRID[np.argmin(fixed.sum(axis=0))]
    assert np.mean(out.omegas[-80:] == best) > 0.5


def test_seeded_and_reproducible(sequence):
    systems = sequence[0][:40]
    a = solve_sequence(systems, RelaxationLearner("sor", omegas=GRID, seed=7))
    b = solve_sequence(systems, RelaxationLearner("sor", omegas=GRID, seed=7))
    np.testing.assert_array_equal(a.omegas, b.omegas)
    np.testing.assert_array_equal(a.nits, b.nits)


@pytest.mark.parametrize("policy", ["binned_tsallis_inf", "chebyshev_cb"])
def test_contextual_policies(policy):
    systems = shifted_poisson_sequence(120, grid=6, variance="high", seed=4)
    learner = RelaxationLearner("sor", policy=policy, omegas=GRID,
                                context_range=(-0.15, 0.45), seed=1)
    out = solve_sequence(systems, learner)
    assert out.success and np.all(np.isin(out.omegas, GRID))
    for res, system in zip(out.results, systems):
        assert res.context == system.context
        assert np.linalg.norm(system.b - system.A @ res.x) <= 1e-8 * np.linalg.norm(system.b)
    with pytest.raises(ValueError, match="context"):
        learner.solve(systems[0].A, systems[0].b)


def test_ssor_pcg_learner_matches_its_solves():
    A = poisson_2d(12)
    rng = np.random.default_rng(5)
    systems = [(A, rng.standard_normal(A.shape[0])) for _ in range(15)]
    learner = RelaxationLearner("ssor_pcg", seed=2, tol=1e-8)
    out = solve_sequence(systems, learner)
    assert out.success
    for res, (A_k, b) in zip(out.results, systems):
        again = cg(A_k, b, M=ssor_preconditioner(A_k, res.omega), tol=1e-8)
        assert again.nit == res.nit


def test_callback_stops_sequence(sequence):
    def stop(index, result):
        if index == 4:
            raise StopIteration

    out = solve_sequence(sequence[0], RelaxationLearner("sor", seed=0), callback=stop)
    assert not out.success and out.n_systems == 5


def test_solve_sequence_accepts_tuples():
    A = poisson_2d(4)
    out = solve_sequence([(A, np.ones(16)), LinearSystem(A, np.arange(16.0))],
                         RelaxationLearner("ssor", omegas=[1.2, 1.5], seed=0))
    assert out.success and out.n_systems == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        RelaxationLearner("jacobi")
    with pytest.raises(ValueError, match="policy"):
        RelaxationLearner(policy="ucb")
    with pytest.raises(ValueError, match="omegas"):
        RelaxationLearner(omegas=[1.0, 2.0])
    with pytest.raises(ValueError, match="context_range"):
        RelaxationLearner(policy="chebyshev_cb")
    with pytest.raises(TypeError, match="learner"):
        solve_sequence([], "tsallis")
    with pytest.raises(RuntimeError, match="predict"):
        RelaxationLearner().update(3)
