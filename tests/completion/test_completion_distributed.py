"""Block ALS across Dask workers (issue 23, item 3): ``complete(..., client=client)``
gives the iterates of the single-machine ALS, from a scipy sparse matrix or a dask
dataframe of (row, col, value) triples, on a real LocalCluster (two in-process workers)."""

import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from numopt.completion import complete
from numopt.exceptions import OptimizeWarning
from numopt.problems import random_low_rank_completion

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _run(M, rank, **kwargs):
    """The result and the iterates ``(U, V)`` that the callback saw."""
    iterates = []

    def record(intermediate_result):
        iterates.append((np.array(intermediate_result.U), np.array(intermediate_result.V)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        res = complete(M, rank, method="als", seed=3, callback=record, **kwargs)
    return res, iterates


def _assert_same_run(got, want):
    (res, iterates), (ref, ref_iterates) = got, want
    assert res.nit == ref.nit and res.status == ref.status and res.success == ref.success
    assert len(iterates) == len(ref_iterates) > 0
    for (U, V), (U_ref, V_ref) in zip(iterates, ref_iterates):
        np.testing.assert_allclose(U, U_ref, rtol=0, atol=1e-10)
        np.testing.assert_allclose(V, V_ref, rtol=0, atol=1e-10 * np.abs(V_ref).max())
    np.testing.assert_allclose(res.U, ref.U, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.V, ref.V, rtol=0, atol=1e-10 * np.abs(ref.V).max())
    assert res.relative_residual == pytest.approx(ref.relative_residual, rel=1e-8, abs=1e-15)


def _solve_tasks(client, call):
    """What ``call()`` returns, and how many per-block solves the workers ran for it."""
    with distributed.get_task_stream(client) as stream:
        out = call()
    return out, sum(task["key"].startswith("_solve_block") for task in stream.data
                    if isinstance(task["key"], str))


@pytest.mark.parametrize("case", [
    dict(m=70, n=50, rank=3, rate=0.4, options={}),
    # thinly observed: the residual-scaled ridge follows the summed residual
    dict(m=60, n=45, rank=3, rate=0.12, options={}),
    dict(m=60, n=45, rank=2, rate=0.4, options={"clip": 1.0, "reg": 1e-3}),
], ids=["plain", "auto-ridge", "clip-reg"])
def test_block_als_iterates_equal_the_single_machine_ones(client, case):
    prob = random_low_rank_completion(case["m"], case["n"], rank=case["rank"],
                                      rate=case["rate"], seed=1)
    M = prob.observed * 1e3   # M's units travel with the blocks
    kwargs = dict(tol=1e-11, maxiter=40, **case["options"])
    local = _run(M, case["rank"], **kwargs)
    on_cluster, n_solves = _solve_tasks(client,
                                        lambda: _run(M, case["rank"], client=client,
                                                     **kwargs))
    # two row blocks and two column blocks, one solve each per iteration
    assert n_solves == 4 * on_cluster[0].nit
    _assert_same_run(on_cluster, local)


def test_empty_lines_are_filled_as_on_one_machine(client):
    prob = random_low_rank_completion(50, 40, rank=2, rate=0.5, seed=4)
    M = prob.observed.tolil()
    M[7, :] = 0
    M[:, 11] = 0
    M = sp.csr_matrix(M)
    M.eliminate_zeros()   # row 7 and column 11 have no observation
    local = _run(M, 2, tol=1e-10)
    on_cluster, n_solves = _solve_tasks(client, lambda: _run(M, 2, tol=1e-10, client=client))
    assert n_solves == 4 * on_cluster[0].nit
    assert on_cluster[0].n_empty_rows == 1 and on_cluster[0].n_empty_cols == 1
    _assert_same_run(on_cluster, local)


def _frame(M, npartitions, *, seed=0, split_duplicates=False):
    """The stored entries of ``M`` as a dask dataframe, shuffled; with
    ``split_duplicates`` every value is stored as two halves in different rows."""
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    coo = M.tocoo()
    rows, cols, values = coo.row, coo.col, coo.data
    if split_duplicates:
        rows, cols = np.tile(rows, 2), np.tile(cols, 2)
        values = np.concatenate([values / 2, values / 2])   # halves of a float: exact
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    frame = pd.DataFrame({"row": rows[order], "col": cols[order], "value": values[order]})
    return dd.from_pandas(frame, npartitions=npartitions, sort=False)


@pytest.mark.parametrize("npartitions, split_duplicates", [(3, False), (1, True)])
def test_dask_dataframe_of_triples_gives_the_same_run(client, npartitions,
                                                     split_duplicates):
    prob = random_low_rank_completion(70, 50, rank=3, rate=0.4, seed=2)
    M = prob.observed
    local = _run(M, 3, tol=1e-11)
    frame = _frame(M, npartitions, split_duplicates=split_duplicates)
    _assert_same_run(_run(frame, 3, tol=1e-11, client=client), local)


def test_float32_triples_solve_in_float32(client):
    prob = random_low_rank_completion(40, 30, rank=2, rate=0.5, seed=5)
    M = prob.observed.astype(np.float32)
    frame = _frame(M, 2)
    res, _ = _run(frame, 2, tol=1e-5, client=client)
    local, _ = _run(M, 2, tol=1e-5)
    assert res.U.dtype == res.V.dtype == np.float32
    assert res.nit == local.nit
    np.testing.assert_allclose(res.U, local.U, rtol=0, atol=1e-5)


def test_bad_input_names_the_argument(client):
    M = random_low_rank_completion(30, 20, rank=2, rate=0.5, seed=0).observed
    with pytest.raises(ValueError, match="client runs method='als' only"):
        complete(M, 2, method="altmin", client=client)
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        complete(M, 2, method="als", client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="sample_splits"):
        complete(M, 2, method="als", client=client, sample_splits=2)
    with pytest.raises(ValueError, match="rank must be at most"):
        complete(M, 25, method="als", client=client)
    frame = _frame(M, 2)
    with pytest.raises(ValueError, match="columns 'row', 'col', 'value'"):
        complete(frame.rename(columns={"value": "rating"}), 2, method="als", client=client)
    with pytest.raises(TypeError, match="'row' and 'col' columns must hold integers"):
        complete(frame.astype({"row": "float64"}), 2, method="als", client=client)
    bad = frame.assign(value=frame["value"].where(frame["col"] != 3, np.nan))
    with pytest.raises(ValueError, match="finite observed values"):
        complete(bad, 2, method="als", client=client)
    negative = frame.assign(row=frame["row"] - 1)
    with pytest.raises(ValueError, match="nonnegative"):
        complete(negative, 2, method="als", client=client)


def test_missing_dask_names_the_extra(monkeypatch):
    M = random_low_rank_completion(30, 20, rank=2, rate=0.5, seed=0).observed
    monkeypatch.setitem(sys.modules, "distributed", None)   # import raises ImportError
    with pytest.raises(ImportError, match=r"numopt\[distributed\]"):
        complete(M, 2, method="als", client=object())
