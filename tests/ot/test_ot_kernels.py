"""Numba kernels of numopt.ot against their array-API / SciPy reference versions."""

import numpy as np
import pytest
import scipy.sparse as sp

from numopt.ot import _sinkhorn, _sns, _sparse
from numopt.ot._kernels_numba import (_exp, _exp2, log_plan, sinkhorn_log_step,
                                      sns_hessian_matvec, sparse_top_k)
from numopt.problems._ot import random_ot_problem


def test_vectorized_exp_is_accurate():
    # (2**(r/2))**2 with a degree-7 minimax polynomial: 3.2e-13 relative, far below the
    # solvers' tolerances
    y = np.linspace(-1000.0, 1000.0, 200_001)
    got = np.array([_exp2(v) for v in y[::97]])
    np.testing.assert_allclose(got, np.exp2(y[::97]), rtol=4e-13)
    r = np.linspace(-0.5, 0.5, 1001)  # the reduced range, where the polynomial acts
    np.testing.assert_allclose([_exp2(v) for v in r], np.exp2(r), rtol=4e-13)
    x = np.linspace(-700.0, 700.0, 10_001)
    np.testing.assert_allclose([_exp(v) for v in x], np.exp(x), rtol=1e-12)
    assert 0 < _exp2(-5000.0) < 1e-300 and 0 < _exp2(-np.inf) < 1e-300
    assert np.isfinite(_exp2(5000.0)) and _exp2(5000.0) > 1e300


def _log_problem():
    a, b, M = random_ot_problem(70, 45, weights="random", seed=5)
    A = np.stack([a, np.full_like(a, 1 / a.size), a])
    A[0, :3] = 0  # zero weights: -inf potentials and zero rows
    A[0] /= A[0].sum()
    B = np.stack([b, b, np.full_like(b, 1 / b.size)])
    B[2, -2:] = 0
    B[2] /= B[2].sum()
    with np.errstate(divide="ignore"):
        return M, np.log(A), np.log(B)


@pytest.mark.parametrize("reg", [0.05, 2e-3])
def test_log_step_kernel_matches_reference(reg):
    """The fused Numba log step against the array-API reference step: from a cold start,
    from warm potentials, and from potentials far from consistent (row sums from 1e-170
    to 1e170: the exact max-shift fall-back), with zero weights and an inactive
    problem; then the plan of the final potentials."""
    M, logA, logB = _log_problem()
    F, G = np.zeros_like(logA), np.zeros_like(logB)
    active = np.array([True, True, False])
    for start in ("cold", "warm", "inconsistent"):
        if start == "inconsistent":
            F = F + 400 * reg * np.linspace(-1, 1, F.shape[1])  # row sums 1e-170..1e170
            G = G + 30 * reg
        got = sinkhorn_log_step(np, M, F, G, logA, logB, reg, active)
        want = _sinkhorn.sinkhorn_log_step(np, M, F, G, logA, logB, reg, active)
        for k, (g, w) in enumerate(zip(got[:2], want[:2])):
            g, w = g[active], w[active]
            assert np.array_equal(np.isinf(g), np.isinf(w))
            finite = np.isfinite(w)
            # in units of reg: the potentials are reg times exponents of size M / reg
            scale = max(1.0, float(np.abs(w[finite]).max()) / reg)
            np.testing.assert_allclose(g[finite] / reg, w[finite] / reg, rtol=0,
                                       atol=2e-12 * scale)
            inactive = (F, G)[k][~active]
            np.testing.assert_array_equal(got[k][~active], inactive)
        if start != "cold":  # cold: zero-weight rows have F = 0, the error means nothing
            np.testing.assert_allclose(got[2][active], want[2][active], rtol=1e-9)
        for _ in range(5):
            F, G, _ = want
            want = _sinkhorn.sinkhorn_log_step(np, M, F, G, logA, logB, reg,
                                               np.ones(3, dtype=bool))
        F, G = want[0], want[1]
    plan = log_plan(np, M, F, G, reg)
    ref = _sinkhorn.log_plan(np, M, F, G, reg)
    np.testing.assert_allclose(plan, ref, rtol=2e-12, atol=1e-300)
    assert np.all(plan[0, :3] == 0)


@pytest.mark.parametrize("k", [1, 2, 7, 40])
def test_top_k_kernel_matches_reference(k):
    a, b, M = random_ot_problem(120, 90, seed=11)
    MT = np.ascontiguousarray(M.T)
    rng = np.random.default_rng(0)
    alpha, beta = rng.normal(size=120) * 0.1, rng.normal(size=90) * 0.1
    scale = 1.0 / b
    for simplex in (True, False):
        got = sparse_top_k(np, MT, alpha, beta, scale, k, simplex)
        want = _sparse.sparse_top_k.__wrapped__(np, MT, alpha, beta, scale, k, simplex) \
            if hasattr(_sparse.sparse_top_k, "__wrapped__") else \
            _sparse.sparse_top_k(np, MT, alpha, beta, scale, k, simplex)
        np.testing.assert_array_equal(np.sort(got[0], axis=1), np.sort(want[0], axis=1))
        np.testing.assert_allclose(got[1], want[1], rtol=1e-14)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-15)


def test_sns_hessian_matvec_matches_scipy():
    rng = np.random.default_rng(1)
    P = sp.random_array((50, 40), density=0.2, random_state=rng, format="csr")
    rows, cols = rng.random(50), rng.random(40)
    x = rng.normal(size=90)
    got = sns_hessian_matvec(np, P.data, P.indices.astype(np.int64),
                             P.indptr.astype(np.int64), rows, cols, x)
    want = _sns.sns_hessian_matvec(np, P.data, P.indices, P.indptr, rows, cols, x)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    dense = np.block([[np.diag(rows), P.toarray()], [P.toarray().T, np.diag(cols)]])
    np.testing.assert_allclose(got, dense @ x, rtol=1e-13)


def test_flow_repair_keeps_support_and_fixes_marginals():
    a, b, M = random_ot_problem(80, 60, weights="random", seed=12)
    rng = np.random.default_rng(2)
    # a feasible plan (exact OT has n + m - 1 nonzeros), perturbed on its support
    from numopt.ot import emd

    P = sp.coo_array(emd(a, b, M).plan)
    P.data *= np.exp(0.05 * rng.normal(size=P.nnz))
    repaired = _sparse._repair_by_flow(sp.csr_array(P), a, b)
    assert repaired is not None
    assert (repaired.data >= 0).all()
    support = set(zip(P.row.tolist(), P.col.tolist()))
    assert set(zip(*[v.tolist() for v in repaired.nonzero()])) <= support
    err = (np.abs(repaired.sum(axis=1) - a).sum() + np.abs(repaired.sum(axis=0) - b).sum())
    assert err <= 1e-12
    # a support that cannot carry the marginals: None (the LP fall-back decides)
    single = sp.csr_array(([1.0], ([0], [0])), shape=(80, 60))
    assert _sparse._repair_by_flow(single, a, b) is None


@pytest.mark.parametrize("k", [1, 3, 30])
def test_sparse_top_k_keeps_indices_valid_on_nan(k):
    # a diverged L-BFGS iterate gives NaN scores: no comparison holds, and the small-k
    # path once read indices it never wrote (a segmentation fault)
    rng = np.random.default_rng(0)
    MT = rng.random((20, 40))
    alpha = np.full(40, np.nan)
    idx, vals, theta = sparse_top_k(np, MT, alpha, np.zeros(20), np.ones(20), k, True)
    assert idx.min() >= 0 and idx.max() < 40
    alpha[::3] = rng.random(14)   # some finite scores: those are kept first
    idx, vals, _ = sparse_top_k(np, MT, alpha, np.zeros(20), np.ones(20), k, True)
    assert idx.min() >= 0 and idx.max() < 40
    if k <= 14:
        assert np.all(np.isfinite(vals))
