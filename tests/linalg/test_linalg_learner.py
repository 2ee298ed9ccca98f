"""The relaxation learner: bandit mechanics, regret against the best fixed omega,
reproducibility, contextual policies and SSOR-PCG."""

import numpy as np
import pytest

from numopt.linalg import RelaxationLearner, cg, solve_sequence, sor, ssor_preconditioner
from numopt.linalg._bandits import TsallisINF, UnimodalUCB
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
    # the closed form of the 1/2-Tsallis weights: p_i = 4 / (eta (L_i - x))^2, with
    # Zimmert & Seldin's rate for the reduced-variance estimator, eta_t = 4 / sqrt(t)
    eta = 4 / np.sqrt(10)
    x = bandit.cumulative - 2 / (eta * np.sqrt(p))
    np.testing.assert_allclose(x, x[0], rtol=1e-9)


def _replay(bandit, arms_and_costs):
    for arm, cost in arms_and_costs:
        bandit.probs = bandit.probabilities()
        bandit.arm = arm
        bandit.update(cost)


def test_tsallis_estimator_by_hand():
    # loss = (cost - min cost) / (mean cost - min cost), the importance-weighted update
    # B + (loss - B) / p, with B = 1/2 only where p >= eta^2
    bandit = TsallisINF(3, np.random.default_rng(0))
    _replay(bandit, [(0, 10.0), (1, 30.0)])
    # round 1: offset 10, unit max(0, 1) = 1, loss 0, B = 0 (eta^2 = 16 > p): no change
    # round 2: offset 10, unit 20 - 10 = 10, loss 2, p = 1/3, eta^2 = 8 > p: B = 0
    np.testing.assert_allclose(bandit.cumulative, [0.0, 2.0 * 3 * 10, 0.0])
    bandit.t = 400  # eta^2 = 0.04: every arm above it gets the baseline
    p = bandit.probabilities()
    bandit.probs, bandit.arm = p, 2
    before = bandit.cumulative.copy()
    bandit.update(20.0)  # offset 10, unit (60/3 - 10) = 10, loss 1
    expected = before + 0.5 * 10 * (p >= 0.04)
    expected[2] += (1.0 - 0.5) / p[2] * 10
    np.testing.assert_allclose(bandit.cumulative, expected)


def test_tsallis_is_affine_invariant():
    # shifting and scaling every iteration count leaves the choices unchanged
    rng = np.random.default_rng(1)
    costs = rng.integers(20, 200, size=(200, 5)).astype(float)
    choices = []
    for a, b in ((1.0, 0.0), (3.0, 17.0)):
        bandit = TsallisINF(5, np.random.default_rng(4))
        arms = []
        for t in range(200):
            arm = bandit.select()
            bandit.update(a * costs[t, arm] + b)
            arms.append(arm)
        choices.append(arms)
    assert choices[0] == choices[1]


def test_capped_run_does_not_inflate_the_unit():
    bandit = TsallisINF(2, np.random.default_rng(0))
    _replay(bandit, [(0, 40.0), (0, 60.0), (1, 10000.0)])
    # reported as converged, the capped run inflates the unit for every arm
    inflated = bandit._offset_and_unit()[1]
    capped = TsallisINF(2, np.random.default_rng(0))
    _replay(capped, [(0, 40.0), (0, 60.0)])
    capped.probs = capped.probabilities()
    capped.arm = 1
    capped.update(10000.0, converged=False)
    assert capped._offset_and_unit() == (40.0, 10.0)
    assert inflated > 100 * capped._offset_and_unit()[1]
    # and the capped arm is all but abandoned
    assert capped.probabilities()[1] < 0.05


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
        RelaxationLearner(policy="thompson")
    with pytest.raises(ValueError, match="omegas"):
        RelaxationLearner(omegas=[1.0, 2.0])
    with pytest.raises(ValueError, match="context_range"):
        RelaxationLearner(policy="chebyshev_cb")
    with pytest.raises(TypeError, match="learner"):
        solve_sequence([], "tsallis")
    with pytest.raises(RuntimeError, match="predict"):
        RelaxationLearner().update(3)


def test_default_grids_are_geometric_in_two_minus_omega():
    from numopt.linalg import default_omegas

    for method, n in (("sor", 10), ("ssor", 10), ("ssor_pcg", 6)):
        grid = default_omegas(method)
        assert grid.size == n and np.all(np.diff(grid) > 0)
        assert grid[0] >= 1.0 and grid[-1] < 2.0
        ratios = np.diff(np.log(2.0 - grid))
        # equal steps in log(2 - omega) (up to the two-decimal rounding of the SOR grid)
        np.testing.assert_allclose(ratios, ratios.mean(), rtol=0.2 if method != "ssor_pcg"
                                   else 1e-12)


def _synthetic_costs(n_rounds, seed):
    # an i.i.d. sequence with a unimodal mean cost along the grid (like SSOR-PCG counts
    # in log(2 - omega)) and a per-instance difficulty shared by every arm
    rng = np.random.default_rng(seed)
    profile = np.array([170.0, 125.0, 95.0, 72.0, 75.0, 104.0])
    difficulty = rng.uniform(0.85, 1.15, size=(n_rounds, 1))
    return np.round(profile * difficulty + rng.normal(0.0, 2.0, (n_rounds, 6)))


def _play(bandit, costs):
    arms = []
    for row in costs:
        arm = bandit.select()
        bandit.update(float(row[arm]))
        arms.append(arm)
    return np.array(arms)


@pytest.mark.parametrize("unimodal", [True, False])
def test_ucb_regret_falls_as_the_sequence_grows(unimodal):
    costs = _synthetic_costs(800, seed=11)
    arms = _play(UnimodalUCB(6, unimodal=unimodal), costs)
    paid = costs[np.arange(len(arms)), arms]
    avg_regret = [(paid[:T].sum() - costs[:T].sum(axis=0).min()) / T
                  for T in (50, 100, 200, 400, 800)]
    assert all(a > b for a, b in zip(avg_regret, avg_regret[1:])), avg_regret
    assert avg_regret[-1] < 0.25 * avg_regret[0]
    # logarithmic exploration: the last half of the rounds goes almost only to the best
    # arm and its close runner-up (4% worse, within the instance noise), mostly the best
    late = np.bincount(arms[400:], minlength=6)
    assert late[3] + late[4] > 0.95 * 400 and late[3] > late[4]
    if unimodal:
        # it starts at arm 2 (the middle) and walks to the optimum: arm 1, a neighbour of
        # the start only, is tried once, arm 0 never
        assert arms[0] == 2 and np.sum(arms == 1) == 1 and not np.any(arms == 0)
    else:
        assert np.all(np.bincount(arms, minlength=6) >= 1)


def test_unimodal_ucb_by_hand():
    bandit = UnimodalUCB(5)
    # the middle arm first, then the leader's unplayed neighbours: arm 1 leads after
    # round 2, so its neighbour 0 is tried and arm 3 never is
    for expected, cost in ((2, 50.0), (1, 40.0), (0, 45.0)):
        assert bandit.select() == expected
        bandit.update(cost)
    # round 4: arm 1 leads for the second time, so the least lower confidence bound
    # mean - s sqrt(2 log 2 / n) among {1, 0, 2} is played, s = mean cost - least cost
    unit = np.mean([50.0, 40.0, 45.0]) - 40.0
    index = {a: bandit.sums[a] - unit * np.sqrt(2 * np.log(2)) for a in (0, 1, 2)}
    assert bandit.select() == min(index, key=index.get) == 1 and bandit.led[1] == 2
    bandit.update(70.0)  # arm 1's mean becomes 55: arm 0 (45) leads
    # the first round of a leadership goes to the leader (OSUB's forced exploitation)
    assert bandit.select() == 0 and bandit.led[0] == 1
    bandit.update(45.0)
    # arm 0 has one neighbour; with n = (2, 2) and log(2) its bound is the least
    index = {a: bandit.sums[a] / bandit.counts[a]
             - (np.mean([50, 40, 45, 70, 45]) - 40) * np.sqrt(2 * np.log(2) / bandit.counts[a])
             for a in (0, 1)}
    assert bandit.select() == min(index, key=index.get) == 0


@pytest.mark.parametrize("unimodal", [True, False])
def test_ucb_is_affine_invariant_and_reproducible(unimodal):
    costs = _synthetic_costs(150, seed=2)
    runs = [_play(UnimodalUCB(6, unimodal=unimodal), a * costs + b)
            for a, b in ((1.0, 0.0), (3.0, 17.0), (1.0, 0.0))]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


@pytest.mark.parametrize("policy", ["ucb", "unimodal_ucb"])
def test_ucb_policies_on_sor_sequence(sequence, policy):
    systems, fixed = sequence
    out = solve_sequence(systems, RelaxationLearner("sor", policy=policy, omegas=GRID))
    assert out.success
    arms = np.searchsorted(GRID, out.omegas)
    np.testing.assert_array_equal(out.nits, fixed[np.arange(240), arms])
    best = fixed.sum(axis=0).min()
    assert out.nit <= 1.05 * best
    tsallis = solve_sequence(systems, RelaxationLearner("sor", omegas=GRID, seed=0))
    assert out.nit < tsallis.nit
    again = solve_sequence(systems[:30], RelaxationLearner("sor", policy=policy, omegas=GRID))
    np.testing.assert_array_equal(again.omegas, out.omegas[:30])


def test_unimodal_ucb_needs_a_sorted_grid():
    with pytest.raises(ValueError, match="omegas"):
        RelaxationLearner("ssor_pcg", policy="unimodal_ucb", omegas=[1.9, 1.8, 1.95])
    RelaxationLearner("ssor_pcg", policy="ucb", omegas=[1.9, 1.8, 1.95])


@pytest.fixture
def no_tqdm(monkeypatch):
    """Progress falls back to plain lines, one per update."""
    import sys

    import numopt._progress

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import raises ImportError
    monkeypatch.setattr(numopt._progress, "FALLBACK_INTERVAL", 0.0)


def test_solve_sequence_progress_lines_without_tqdm(no_tqdm, capsys):
    systems = shifted_poisson_sequence(4, grid=4, seed=0)
    out = solve_sequence(systems, RelaxationLearner("sor", seed=0), progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5  # one per system, and the closing line
    for done, line in zip(range(1, 5), lines):
        assert line.startswith(f"solve_sequence: {done}/4 done")
    mean = out.nits.mean()
    assert f"mean nit {mean:.1f}" in lines[3]
    assert f"omega {out.omegas[-1]:.4g}" in lines[3]


def test_solve_sequence_progress_bar_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    systems = shifted_poisson_sequence(3, grid=4, seed=0)
    solve_sequence(systems, RelaxationLearner("sor", seed=0), progress=True)
    err = capsys.readouterr().err
    assert "solve_sequence" in err and "3/3" in err and "omega=" in err


def test_progress_is_quiet_off_a_terminal_and_follows_the_learner(no_tqdm, capsys):
    systems = shifted_poisson_sequence(3, grid=4, seed=0)
    solve_sequence(systems, RelaxationLearner("sor", seed=0))  # stderr is not a tty
    assert capsys.readouterr().err == ""
    solve_sequence(systems, RelaxationLearner("sor", seed=0, progress=True))
    assert capsys.readouterr().err.count("solve_sequence: ") == 4  # one display only


def test_learner_progress_on_single_solves_and_pickles(no_tqdm, capsys):
    import pickle

    learner = RelaxationLearner("sor", seed=0, progress=True)
    for system in shifted_poisson_sequence(2, grid=4, seed=1):
        learner.solve(system.A, system.b)
    assert capsys.readouterr().err.count("RelaxationLearner: ") == 2
    copy = pickle.loads(pickle.dumps(learner))
    assert copy.history == learner.history


def test_progress_argument_checked():
    with pytest.raises(TypeError, match="progress"):
        RelaxationLearner("sor", progress="yes")
    with pytest.raises(TypeError, match="progress"):
        solve_sequence([], RelaxationLearner("sor"), progress=1)
