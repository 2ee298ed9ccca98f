"""numopt.distributed and map_problems on Dask: a real LocalCluster, two worker processes."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import numopt.parallel
from numopt.ot import sinkhorn


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def histograms():
    rng = np.random.default_rng(11)
    return rng.dirichlet(np.ones(40), size=6), rng.random((40, 30))


def test_results_equal_the_serial_ones_bit_for_bit(client, histograms):
    import joblib

    import numopt.distributed

    a, M = histograms
    serial = [sinkhorn(ai, None, M, 0.05) for ai in a]

    def one(ai, M):
        return sinkhorn(ai, None, M, 0.05)

    futures = numopt.distributed.map_problems(client, one, list(a), shared=M, progress=False)
    with joblib.parallel_config(backend="dask"):   # the joblib path, on the same cluster
        via_joblib = numopt.parallel.map_problems(lambda ai: one(ai, M), list(a))
    for results in (futures, via_joblib):
        for got, want in zip(results, serial, strict=True):
            assert got.success and got.nit == want.nit and got.cost == want.cost
            np.testing.assert_array_equal(got.plan, want.plan)
    # the seeds are those of the joblib path: same seed, same numbers
    def draw(problem, *, seed):
        return seed.random(2)

    on_dask = numopt.distributed.map_problems(client, draw, range(4), seed=5)
    local = numopt.parallel.map_problems(draw, range(4), seed=5)
    np.testing.assert_array_equal(np.stack(on_dask), np.stack(local))


def test_exceptions_in_slots_or_raised_with_the_index(client):
    import numopt.distributed

    def fail_on_two(problem):
        if problem == 2:
            raise ValueError("problem two")
        return problem

    results = numopt.distributed.map_problems(client, fail_on_two, range(5),
                                              return_exceptions=True)
    assert results[:2] == [0, 1] and results[3:] == [3, 4]
    assert isinstance(results[2], ValueError) and str(results[2]) == "problem two"
    with pytest.raises(ValueError, match="problem two") as info:
        numopt.distributed.map_problems(client, fail_on_two, range(5))
    assert any("raised by problem 2" in note for note in info.value.__notes__)
    with pytest.raises(TypeError, match="client"):
        numopt.distributed.map_problems(None, fail_on_two, range(2))


def test_a_killed_worker_loses_no_result(client, tmp_path):
    import numopt.distributed

    flag = tmp_path / "killed-once"

    def die_once(problem):
        time.sleep(0.2)
        if problem == 3 and not flag.exists():
            flag.touch()
            os._exit(1)   # the worker process dies; its nanny starts a new one
        return problem * 10

    results = numopt.distributed.map_problems(client, die_once, range(8), retries=1)
    assert flag.exists()
    assert results == [p * 10 for p in range(8)]


def test_import_does_not_import_dask():
    code = ("import sys, numopt, numopt.distributed, numopt.parallel; "
            "assert 'dask' not in sys.modules and 'distributed' not in sys.modules; "
            "assert 'joblib' not in sys.modules; print('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(numopt.__file__)))
    assert out.stdout.strip() == "clean", out.stderr


def test_missing_dask_names_the_extra(monkeypatch):
    import numopt.distributed

    monkeypatch.setitem(sys.modules, "distributed", None)   # import raises ImportError
    with pytest.raises(ImportError, match=r"numopt\[distributed\]"):
        numopt.distributed.map_problems(None, print, [1])


def test_block_als_on_worker_processes_gives_the_local_als(client):
    # the block ALS of numopt.completion (issue 23, item 3) across two worker processes:
    # its blocks and factors pickled both ways, its per-row kernels run by the workers
    import distributed

    from numopt.completion import complete
    from numopt.problems import random_low_rank_completion

    M = random_low_rank_completion(60, 40, rank=2, rate=0.4, seed=0).observed
    local = complete(M, 2, method="als", seed=0, tol=1e-10)
    with distributed.get_task_stream(client) as stream:
        res = complete(M, 2, method="als", seed=0, tol=1e-10, client=client)
    workers = {task["worker"] for task in stream.data
               if str(task["key"]).startswith("_solve_block")}
    assert len(workers) == 2     # one row block and one column block on each
    assert res.success and res.nit == local.nit
    np.testing.assert_allclose(res.U, local.U, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.V, local.V, rtol=0, atol=1e-10 * np.abs(local.V).max())
