"""numopt.parallel.map_problems on joblib, and sinkhorn_many's batches."""

import os
import sys
import threading

import numpy as np
import pytest

from numopt.ot import sinkhorn
from numopt.parallel import map_problems, sinkhorn_many
from numopt.parallel._tasks import _ThreadCap
from numopt.problems import random_ot_problem

joblib = pytest.importorskip("joblib")


def solve_ot(problem):
    a, b, M = problem
    return sinkhorn(a, b, M, reg=0.05)


def draw(problem, *, seed):
    return problem, seed.random(3)


def fail_on_odd(problem):
    if problem % 2:
        raise ValueError(f"odd problem {problem}")
    return problem * 10


@pytest.fixture(scope="module")
def ot_problems():
    return [random_ot_problem(25, seed=s, weights="random") for s in range(6)]


def test_results_identical_for_one_and_two_workers(ot_problems):
    serial = [solve_ot(p) for p in ot_problems]
    for n_jobs in (1, 2):
        results = map_problems(solve_ot, ot_problems, n_jobs=n_jobs)
        assert len(results) == len(serial)
        for got, want in zip(results, serial):
            assert got.success and got.nit == want.nit
            np.testing.assert_array_equal(got.plan, want.plan)
            assert got.cost == want.cost


def test_seeds_spawned_per_problem_whatever_the_workers():
    one = map_problems(draw, range(5), seed=7, n_jobs=1)
    two = map_problems(draw, range(5), seed=7, n_jobs=2)
    children = np.random.SeedSequence(7).spawn(5)
    for i, ((p1, x1), (p2, x2)) in enumerate(zip(one, two)):
        assert p1 == p2 == i
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(x1, np.random.default_rng(children[i]).random(3))
    # independent streams: no two problems draw the same numbers
    assert len({tuple(x) for _, x in one}) == 5
    other = map_problems(draw, range(5), seed=8, n_jobs=1)
    assert not np.array_equal(other[0][1], one[0][1])


def test_seed_rule():
    def keeps_default(problem, seed="default"):
        return seed

    assert map_problems(keeps_default, [0, 1]) == ["default", "default"]
    with pytest.raises(TypeError, match="seed"):
        map_problems(solve_ot, [0], seed=0)          # no seed parameter
    with pytest.raises(TypeError, match="seed"):
        map_problems(lambda p, **kw: p, [0], seed=0)  # a catch-all does not count
    with pytest.raises(TypeError, match="seed must be"):
        map_problems(draw, [0], seed="abc")


def test_exceptions_in_their_slots_and_order_kept():
    results = map_problems(fail_on_odd, range(7), n_jobs=2, return_exceptions=True)
    assert [r for r in results if not isinstance(r, Exception)] == [0, 20, 40, 60]
    for i in (1, 3, 5):
        assert isinstance(results[i], ValueError)
        assert str(results[i]) == f"odd problem {i}"
        assert any(f"problem {i}" in note for note in results[i].__notes__)


def test_order_kept_when_workers_finish_out_of_order():
    import time

    def slow_first(problem):
        time.sleep(0.3 if problem == 0 else 0.0)
        return problem

    assert map_problems(slow_first, range(8), n_jobs=2) == list(range(8))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_first_exception_propagates_with_its_index(n_jobs):
    with pytest.raises(ValueError, match="odd problem 1") as info:
        map_problems(fail_on_odd, range(6), n_jobs=n_jobs)
    assert any("raised by problem 1" in note for note in info.value.__notes__)


def test_problems_after_a_failure_are_not_started():
    started = []

    def record(problem):
        started.append(problem)
        if problem == 2:
            raise RuntimeError("stop here")
        return problem

    with pytest.raises(RuntimeError):
        map_problems(record, range(50), n_jobs=1)
    assert started == [0, 1, 2]


def test_active_parallel_config_decides_the_backend():
    def where(problem):
        return os.getpid(), threading.current_thread() is threading.main_thread()

    with joblib.parallel_config(backend="threading", n_jobs=2):
        pids = map_problems(where, range(4))
    assert {pid for pid, _ in pids} == {os.getpid()}
    assert not any(main for _, main in pids)          # ran in joblib's threads
    pids = map_problems(where, range(4), n_jobs=2)     # loky: other processes
    assert os.getpid() not in {pid for pid, _ in pids}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to cap below")
def test_thread_cap_limits_blas_and_numba_while_a_task_runs():
    numba = pytest.importorskip("numba")
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with threadpool_limits(limits=2):
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        before_numba = numba.get_num_threads()
        with _ThreadCap(1):
            assert blas_threads() <= {1}
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == before_numba
        assert blas_threads() <= {2}
        with _ThreadCap(os.cpu_count()):   # every core: nothing to cap
            assert blas_threads() <= {2}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to cap below")
def test_workers_cap_their_threads():
    # Numba's thread count is per thread, so joblib's threads show each task's cap
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba runs one thread here")

    def numba_threads(problem):
        return numba.get_num_threads()

    with joblib.parallel_config(backend="threading"):
        caps = map_problems(numba_threads, range(4), n_jobs=2)
        assert caps == [(os.cpu_count() or 1) // 2] * 4
        # one worker: every core for it, nothing capped
        assert map_problems(numba_threads, range(2), n_jobs=1) == [numba.get_num_threads()] * 2


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to cap below")
def test_overlapping_caps_in_one_process_restore_the_blas_limit():
    # two tasks inside the cap at once (a Dask worker's or joblib's threads), the first
    # one leaving first: it must not lift the limit under the other, and the last one
    # out must restore the original limit (the BLAS limit is process-wide)
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        first, second = _ThreadCap(1), _ThreadCap(1)
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert blas_threads() <= {1}
        second.__exit__(None, None, None)
        assert blas_threads() <= {2}


@pytest.fixture
def no_tqdm(monkeypatch):
    import numopt._progress

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(numopt._progress, "FALLBACK_INTERVAL", 0.0)


def test_progress_lines(no_tqdm, capsys):
    map_problems(fail_on_odd, [0, 2, 4], progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln.split(" done")[0] for ln in lines] == [
        "map_problems: 1/3", "map_problems: 2/3", "map_problems: 3/3", "map_problems: 3/3"]
    map_problems(fail_on_odd, [0, 2])
    assert capsys.readouterr().err == ""


def test_bad_arguments():
    with pytest.raises(TypeError, match="solve"):
        map_problems(None, [1])
    with pytest.raises(TypeError, match="problems"):
        map_problems(fail_on_odd, 3)
    with pytest.raises(ValueError, match="n_jobs"):
        map_problems(fail_on_odd, [0], n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        map_problems(fail_on_odd, [0], n_jobs="2")
    with pytest.raises(TypeError, match="return_exceptions"):
        map_problems(fail_on_odd, [0], return_exceptions="yes")
    with pytest.raises(TypeError, match="progress"):
        map_problems(fail_on_odd, [0], progress="yes")
    assert map_problems(fail_on_odd, []) == []


# --- sinkhorn_many: batches of problems sharing M -------------------------------------

@pytest.fixture(scope="module")
def histograms():
    rng = np.random.default_rng(3)
    n, m = 30, 20
    a = rng.dirichlet(np.ones(n), size=7)
    b = rng.dirichlet(np.ones(m), size=7)
    M = rng.random((n, m))
    return a, b, M


@pytest.mark.parametrize("n_jobs, batch_size", [(1, None), (2, 3), (1, 1)])
def test_sinkhorn_many_matches_one_call_per_problem(histograms, n_jobs, batch_size):
    a, b, M = histograms
    results = sinkhorn_many(a, b, M, 0.05, n_jobs=n_jobs, batch_size=batch_size, tol=1e-10)
    assert len(results) == len(a)
    for i, res in enumerate(results):
        single = sinkhorn(a[i], b[i], M, 0.05, tol=1e-10)
        assert res.success and res.method == single.method
        assert res.plan.shape == (30, 20) and isinstance(res.cost, float)
        np.testing.assert_allclose(res.plan, single.plan, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(res.cost, single.cost, rtol=1e-10)
        # the invariant success claims: the returned plan has the marginals a_i, b_i
        err = np.abs(res.plan.sum(1) - a[i]).sum() + np.abs(res.plan.sum(0) - b[i]).sum()
        assert err <= 1e-10 and res.marginal_error == pytest.approx(err, abs=1e-15)


def test_sinkhorn_many_weight_layouts(histograms):
    a, b, M = histograms
    by_list = sinkhorn_many(list(a), b[0], M, 0.05)
    by_b = sinkhorn_many(None, b, M, 0.05)
    for i in range(len(a)):
        np.testing.assert_allclose(by_list[i].plan.sum(0), b[0] * a[i].sum(), atol=1e-8)
        np.testing.assert_allclose(by_list[i].plan.sum(1), a[i], atol=1e-8)
        np.testing.assert_allclose(by_b[i].plan.sum(1), np.full(30, 1 / 30), atol=1e-8)
    sns = sinkhorn_many(a[:2], b[:2], M, 0.05, method="sns", batch_size=2)
    for i, res in enumerate(sns):
        assert res.success and res.method == "sns"
        assert res.cost == pytest.approx(sinkhorn(a[i], b[i], M, 0.05).cost, rel=1e-6)


def test_sinkhorn_many_problem_converged_in_an_unfinished_batch():
    # alone, problem 0 converges in about 30 iterations and problem 1 in about 100: at
    # maxiter=60 the batch stops unfinished, and problem 0 still meets tol on its plan
    n = 12
    M = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) / n
    uniform = np.full(n, 1.0 / n)
    skewed = np.linspace(1, 30, n) ** 2
    skewed /= skewed.sum()
    a, b = np.stack([skewed, uniform]), np.stack([uniform, uniform])
    alone = [sinkhorn(a[i], b[i], M, 0.05, method="kernel").nit for i in range(2)]
    assert alone[0] < 60 < alone[1]
    easy, hard = sinkhorn_many(a, b, M, 0.05, maxiter=60, batch_size=2, method="kernel")
    assert easy.success and easy.status == 0 and "batch of 2" in easy.message
    err = np.abs(easy.plan.sum(1) - skewed).sum() + np.abs(easy.plan.sum(0) - uniform).sum()
    assert err <= 1e-9 and easy.nit == alone[0]
    assert not hard.success and hard.status == 1 and "tol" in hard.message
    assert hard.nit == 60


def test_sinkhorn_many_bad_input(histograms):
    a, b, M = histograms
    with pytest.raises(ValueError, match="several problems"):
        sinkhorn_many(a[0], b[0], M, 0.05)
    with pytest.raises(ValueError, match="same number of problems"):
        sinkhorn_many(a[:3], b[:2], M, 0.05)
    with pytest.raises(ValueError, match="a must be a sequence"):
        sinkhorn_many([a[0], a[0][:5]], None, M, 0.05)
    with pytest.raises(ValueError, match="batch_size"):
        sinkhorn_many(a, b, M, 0.05, batch_size=0)
    with pytest.raises(TypeError, match="callback"):
        sinkhorn_many(a, b, M, 0.05, callback=print)
    with pytest.raises(ValueError, match="a has shape"):
        sinkhorn_many(a[:, :5], b, M, 0.05)
