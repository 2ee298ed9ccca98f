"""Iterative solvers reject dask arrays with a TypeError that points to map_problems."""

import numpy as np
import pytest

import numopt
from numopt._backend import get_namespace
from numopt.problems import lasso_design, random_low_rank_completion, random_ot_problem


def _entry_points(wrap):
    """(name, call) for the public solvers, with ``wrap`` applied to one array each."""
    a, b, M = random_ot_problem(8)
    A, rhs = 4.0 * np.eye(6) - np.eye(6, k=1) - np.eye(6, k=-1), np.ones(6)
    X, y = lasso_design(20, 5, seed=0)[:2]
    observed = random_low_rank_completion(20, rank=2, rate=0.5, seed=0).observed
    return [
        ("ot.sinkhorn", lambda: numopt.ot.sinkhorn(wrap(a), wrap(b), wrap(M), 0.1)),
        ("ot.sinkhorn(M only)", lambda: numopt.ot.sinkhorn(a, b, wrap(M), 0.1)),
        ("ot.emd", lambda: numopt.ot.emd(a, b, wrap(M))),
        ("linalg.cg", lambda: numopt.linalg.cg(wrap(A), wrap(rhs))),
        ("linalg.sor", lambda: numopt.linalg.sor(A, wrap(rhs))),
        ("linalg.sketch_solve", lambda: numopt.linalg.sketch_solve(wrap(A), rhs)),
        ("coordinate.lasso", lambda: numopt.coordinate.lasso(wrap(X), wrap(y), 0.1)),
        ("completion.complete", lambda: numopt.completion.complete(
            wrap(np.asarray(observed.todense()) if hasattr(observed, "todense")
                 else observed), 2)),
    ]


def test_dask_arrays_rejected_at_every_entry_point():
    da = pytest.importorskip("dask.array")
    for name, call in _entry_points(lambda x: da.from_array(np.asarray(x))):
        with pytest.raises(TypeError, match="dask arrays") as info:
            call()
        assert "map_problems" in str(info.value), name


class _FakeDaskArray:
    """Detected by its module name alone: dask is not needed (nor imported) for it."""

    __module__ = "dask.array.core"
    shape, dtype, ndim = (3,), np.dtype("float64"), 1


def test_detection_needs_no_dask_import():
    import sys

    before = "dask" in sys.modules
    with pytest.raises(TypeError, match=r"shape \(3,\).*map_problems"):
        get_namespace(np.ones(3), _FakeDaskArray())
    assert ("dask" in sys.modules) == before
    assert get_namespace(np.ones(3)) is get_namespace([1.0])
