"""Sinkhorn's results do not depend on the loop's check cadence (issue 17): the
freezing, the halved targets and the end-of-run plan check are decided in ``step``."""

import numpy as np
import pytest

from numopt.ot import sinkhorn


def _problem(dtype):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a, b = rng.random(40), rng.random(30)
    return (a / a.sum()).astype(dtype), (b / b.sum()).astype(dtype), M.astype(dtype)


@pytest.mark.parametrize("method, dtype, tol, reg", [
    ("kernel", np.float64, 1e-9, 0.05),
    ("log", np.float64, 1e-9, 0.05),
    # float32 at tol = 1e-7: the plan check fails and halves the freezing target, which
    # a check every 7 iterations used to apply at another iteration (another plan)
    ("kernel", np.float32, 1e-7, 0.1),
    ("log", np.float32, 1e-7, 0.1),
])
def test_sinkhorn_results_do_not_depend_on_check_every(method, dtype, tol, reg):
    a, b, M = _problem(dtype)
    runs = [sinkhorn(a, b, M, reg, method=method, tol=tol, check_every=c) for c in (1, 7)]
    assert runs[0].nit == runs[1].nit
    assert runs[0].status == runs[1].status
    np.testing.assert_array_equal(runs[0].plan, runs[1].plan)
    np.testing.assert_array_equal(runs[0].f, runs[1].f)
