"""numopt.monotone against independent oracles: linprog for games, the closed-form
solution of the Ouyang-Xu quadratic, plain NumPy transcriptions of the update rules,
Lieder's bound for Halpern, and Monte Carlo for the variance-reduced estimators."""

import numpy as np
import pytest
from scipy.optimize import linprog

import numopt.monotone as mono
from numopt import config_context
from numopt.problems._monotone import ouyang_xu_quadratic, policeman_burglar_matrix


def lp_game(A):
    """Value and a row strategy of ``max_x min_y x^T A y`` by HiGHS, and a column one."""
    m, n = A.shape
    row = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * m + [(None, None)], method="highs")
    col = linprog(np.r_[np.zeros(n), 1.0], A_ub=np.c_[A, -np.ones(m)], b_ub=np.zeros(m),
                  A_eq=np.r_[np.ones(n), 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * n + [(None, None)], method="highs")
    assert row.status == 0 and col.status == 0
    return -row.fun, row.x[:m], col.x[:n]


@pytest.mark.parametrize("method", ["extragradient", "fbf", "optimistic"])
def test_random_game_matches_linprog(method):
    A = np.random.default_rng(1).standard_normal((7, 5))
    value, x_lp, y_lp = lp_game(A)
    res = mono.solve_matrix_game(A, method=method, tol=1e-8, maxiter=200000)
    assert res.success, res.message
    # the certificate: the returned pair guarantees the value up to the gap
    lower, upper = res.value_bounds
    assert lower - 1e-12 <= value <= upper + 1e-12
    assert res.duality_gap <= 1e-8 and abs(res.value - value) <= 1e-8
    assert abs(np.sum(res.x) - 1) < 1e-12 and np.all(res.x >= 0)
    # a generic random game has a unique equilibrium: the strategies agree with HiGHS
    np.testing.assert_allclose(res.x, x_lp, atol=1e-5)
    np.testing.assert_allclose(res.y, y_lp, atol=1e-5)


def test_policeman_burglar_matches_linprog():
    A = policeman_burglar_matrix(20, seed=2)
    value, _, _ = lp_game(A)
    res = mono.solve_matrix_game(A, tol=1e-6, maxiter=200000)
    assert res.success, res.message
    assert abs(res.value - value) <= 1e-6
    # the burglar's guarantee min_j (x^T A)_j and the policeman's max_i (A y)_i
    assert np.min(res.x @ A) >= value - 1e-6 and np.max(A @ res.y) <= value + 1e-6


def test_game_gap_is_what_success_means():
    A = policeman_burglar_matrix(15, seed=0)
    res = mono.solve_matrix_game(A, tol=1e-3, maxiter=20)
    gap = np.max(A @ res.y) - np.min(res.x @ A)
    assert res.success is False and res.duality_gap == pytest.approx(gap, rel=1e-12)
    assert "duality_gap" in res.message


def _ouyang_xu(n):
    M, q, z_star = ouyang_xu_quadratic(n)
    return mono.matrix_operator(M, q, blocks=[[i, n + i] for i in range(n)]), M, q, z_star


@pytest.mark.parametrize("method", ["extragradient", "fbf"])
def test_ouyang_xu_quadratic_solution(method):
    n = 6
    op, M, q, z_star = _ouyang_xu(n)
    res = mono.solve_inclusion(op, np.full(2 * n, 1.0 / n), method=method, tol=1e-9,
                               maxiter=100000)
    assert res.success, res.message
    assert np.linalg.norm(M @ res.x + q) <= 1e-9          # the residual, recomputed
    np.testing.assert_allclose(res.x, z_star, atol=1e-6)


def _least_squares(seed=0, m=16, d=10):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((m, d))
    M, q = B.T @ B / m, -B.T @ rng.standard_normal(m) / m
    return mono.matrix_operator(M, q), M, q, np.linalg.solve(M, -q)


def _history(op, z0, method, maxiter, **options):
    hist = []

    def record(intermediate_result):
        hist.append((intermediate_result.nit, intermediate_result.epochs,
                     intermediate_result.residual))

    mono.solve_inclusion(op, z0, method=method, tol=0.0, maxiter=maxiter, seed=0,
                         callback=record, **options)
    return np.array(hist)


def test_halpern_meets_lieders_bound():
    # ||u_k - T u_k|| <= 2 ||u_0 - u*|| / (k + 1) for nonexpansive T (Lieder 2021); with
    # T = I - F/L and a 1/L-cocoercive F this is ||F(u_k)|| <= 2 L ||u_0 - u*|| / (k + 1)
    op, M, q, z_star = _least_squares()
    z0 = np.zeros(10)
    hist = _history(op, z0, "halpern", 500)
    bound = 2 * op.lipschitz * np.linalg.norm(z0 - z_star) / (hist[:, 0] + 1)
    assert np.all(hist[:, 2] <= bound * (1 + 1e-12))


@pytest.mark.parametrize("method, maxiter", [("halpern", 800), ("eag", 800),
                                             ("vr-halpern", 800), ("inexact-halpern", 300)])
def test_anchored_residual_decreases_like_one_over_epochs(method, maxiter):
    # the O(1/k) rate of the anchored methods (Algorithm 1 and 2: O(1/(sqrt(n) k)) per
    # epoch, with a log for Algorithm 2): residual x epochs stays bounded
    op, _, _, _ = _least_squares()
    hist = _history(op, np.zeros(10), method, maxiter)
    k = len(hist)
    scaled = hist[:, 1] * hist[:, 2]
    assert hist[-1, 2] < 0.05 * hist[0, 2]
    assert np.max(scaled[k // 2:]) <= 1.5 * np.max(scaled[k // 4:k // 2])


def _F(M, q, z):
    return M @ z + q


def _iterates(op, z0, method, k, prox=None, **options):
    seen = []
    mono.solve_inclusion(op, z0, method=method, tol=0.0, maxiter=k, prox=prox,
                         callback=lambda xk: seen.append(xk), **options)
    return np.array(seen)


def test_extragradient_and_eag_iterates_match_numpy_transcription():
    op, M, q, _ = _least_squares(seed=3)
    rng = np.random.default_rng(0)
    S = rng.standard_normal((10, 10))
    M = M + (S - S.T) / 4                      # monotone, not symmetric
    op = mono.matrix_operator(M, q)
    z0 = rng.standard_normal(10)
    eta = 0.3 / op.lipschitz
    P = lambda v: np.clip(v, -0.2, 0.2)  # noqa: E731

    # extragradient, projected
    z, expected = z0.copy(), []
    for _ in range(6):
        zh = P(z - eta * _F(M, q, z))
        z = P(z - eta * _F(M, q, zh))
        expected.append(z)
    got = _iterates(op, z0, "extragradient", 6, prox=mono.box(-0.2, 0.2), step_size=eta)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)

    # EAG-C (Yoon & Ryu), unconstrained
    z, expected = z0.copy(), []
    for k in range(6):
        beta = 1.0 / (k + 2)
        zh = z + beta * (z0 - z) - eta * _F(M, q, z)
        z = z + beta * (z0 - z) - eta * _F(M, q, zh)
        expected.append(z)
    got = _iterates(op, z0, "eag", 6, step_size=eta)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)

    # optax's optimistic gradient: (alpha + beta) g_t - beta g_{t-1}, g_{-1} = g_0
    alpha, beta_ = 0.7, 0.4
    z, g_prev, expected = z0.copy(), _F(M, q, z0), []
    for _ in range(6):
        g = _F(M, q, z)
        z = z - eta * ((alpha + beta_) * g - beta_ * g_prev)
        g_prev = g
        expected.append(z)
    got = _iterates(op, z0, "optimistic", 6, step_size=eta, alpha=alpha, beta=beta_)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)

    # Tseng's forward-backward-forward
    z, expected = z0.copy(), []
    for _ in range(6):
        zh = P(z - eta * _F(M, q, z))
        z = zh - eta * (_F(M, q, zh) - _F(M, q, z))
        expected.append(z)
    got = _iterates(op, z0, "fbf", 6, prox=mono.box(-0.2, 0.2), step_size=eta)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["columns", "bilinear"])
def test_variance_reduced_estimate_is_unbiased(kind):
    # E_i[F(w) + F_i(z) - F_i(w)] = F(z): the Monte Carlo mean of the estimate, through
    # the Numba kernel's component difference, lies within 4 standard errors of F(z)
    from numopt.monotone._kernels_numba import _add_difference

    rng = np.random.default_rng(5)
    if kind == "columns":
        op = mono.matrix_operator(rng.standard_normal((6, 6)), n_components=3)
    else:
        op = mono.bilinear_operator(rng.standard_normal((5, 4)))
    code, Mk, _, ptr, cols = op.kernel_data
    z, w = rng.standard_normal(op.dim), rng.standard_normal(op.dim)
    Fz, Fw = op.full(np, z), op.full(np, w)
    draws = rng.integers(0, op.n_components, size=20000)
    samples = np.empty((draws.size, op.dim))
    for t, i in enumerate(draws):
        est = Fw.copy()
        _add_difference(code, Mk, ptr, cols, i, 1.0, z, w, est)
        samples[t] = est
    # the kernel and the reference component difference agree sample by sample
    for i in range(op.n_components):
        est = Fw.copy()
        _add_difference(code, Mk, ptr, cols, i, 1.0, z, w, est)
        np.testing.assert_allclose(est, Fw + op.component_difference(np, i, z, w),
                                   rtol=1e-12, atol=1e-12)
    mean, se = samples.mean(axis=0), samples.std(axis=0) / np.sqrt(draws.size)
    assert np.all(np.abs(mean - Fz) <= 4 * se + 1e-12)
    assert np.any(samples.std(axis=0) > 0)   # the estimate is random: the test has teeth


def test_page_estimator_unbiased_over_a_round():
    # Algorithm 1 from u_prev with Ft = F(u_prev): one step's estimate has mean F(u)
    from numopt.monotone._variance_reduced import halpern_page_round

    op, M, q, _ = _least_squares(seed=1)
    rng = np.random.default_rng(2)
    u_prev, u = rng.standard_normal(10), rng.standard_normal(10)
    prox = mono.product((None, 10))
    estimates = []
    for s in range(3000):
        draw = np.random.default_rng(s)
        coins = np.array([1.0])       # no full evaluation: the correction path
        idx = draw.integers(0, op.n_components, size=(1, 3))
        _, _, _, Ft, _ = halpern_page_round(np, op, prox, u, u.copy(), u_prev.copy(),
                                            op.full(np, u_prev), 5, 0.1, coins, idx)
        estimates.append(Ft)
    estimates = np.array(estimates)
    mean, se = estimates.mean(axis=0), estimates.std(axis=0) / np.sqrt(len(estimates))
    assert np.all(np.abs(mean - (M @ u + q)) <= 4 * se + 1e-12)


def _box_problem(seed, skew):
    # F(z) = M z + q on the box [-0.2, 0.2]^6, four column blocks: cocoercive, or (skew)
    # monotone only; the box is active at the solution, so a point off its faces shows
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((6, 6)) / np.sqrt(6)
    M = B.T @ B + 0.5 * np.eye(6)
    if skew:
        S = rng.standard_normal((6, 6))
        M = M + (S - S.T) / 2
    q = 2.0 * rng.standard_normal(6)
    blocks = np.array_split(np.arange(6), 4)
    return mono.matrix_operator(M, q, blocks=blocks), M, q, blocks


def _component_difference(M, blocks, i, z, w):
    cols = blocks[i]
    return len(blocks) * (M[:, cols] @ (z - w)[cols])


def test_algorithm1_returns_the_forward_backward_point():
    # a NumPy transcription of Algorithm 1 on the solver's draws: x is the last
    # T = P(u - eta Ft), not the Halpern point u = l u0 + (1 - l) T
    op, M, q, blocks = _box_problem(0, skew=False)
    n, b, eta, rounds = 4, 2, 0.1, 3
    P = lambda v: np.clip(v, -0.2, 0.2)  # noqa: E731
    z0 = np.zeros(6)
    res = mono.solve_inclusion(op, z0, prox=mono.box(-0.2, 0.2), method="vr-halpern",
                               tol=0.0, maxiter=rounds, seed=0, step_size=eta, batch_size=b)
    rng = np.random.default_rng(0)
    u, u_prev, Ft, k = z0.copy(), z0.copy(), np.zeros(6), 0
    for _ in range(rounds):
        coins = rng.random(2)                       # a round is ceil(sqrt(n)) steps
        indices = rng.integers(0, n, size=(2, b), dtype=np.int64)
        for t in range(2):
            p_k = 1.0 if k <= 1 else (4 / (k + 4) if k - 1 <= 2 else 4 / 7)
            if coins[t] < p_k:
                Ft = M @ u + q
            else:
                Ft = Ft + sum(_component_difference(M, blocks, i, u, u_prev)
                              for i in indices[t]) / b
            lam = 2 / (k + 4)
            u_prev, T = u, P(u - eta * Ft)
            u = lam * z0 + (1 - lam) * T
            k += 1
    np.testing.assert_allclose(res.x, T, rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(T - u)) > 1e-3            # the two points differ: the test has teeth


def test_algorithm2_returns_the_resolvent_point():
    # a NumPy transcription of Algorithm 2 (VR-FoRB inner loop) on the solver's draws:
    # x is the last approximate resolvent v ~ J(u), not u = l u0 + (1 - l) v
    op, M, q, blocks = _box_problem(1, skew=True)
    n, c, gamma, p, inner, outer = 4, 0.5, 0.05, 0.25, 2.0, 3
    P = lambda v: np.clip(v, -0.2, 0.2)  # noqa: E731
    z0 = np.zeros(6)
    res = mono.solve_inclusion(op, z0, prox=mono.box(-0.2, 0.2), method="inexact-halpern",
                               tol=0.0, maxiter=outer, seed=0, resolvent_step=c,
                               step_size=gamma, p=p, inner=inner)
    rng = np.random.default_rng(0)
    F = lambda z: M @ z + q  # noqa: E731
    u = z0.copy()
    for k in range(outer):
        m = max(1, int(np.ceil(inner * n * np.log(k + 2))))
        coins = rng.random(m)
        indices = rng.integers(0, n, size=m, dtype=np.int64)
        v, w, w_prev = u.copy(), u.copy(), u.copy()
        Fhat_w = c * F(u)
        for t in range(m):
            vbar = (1 - p) * v + p * w
            g = (Fhat_w + c * _component_difference(M, blocks, indices[t], v, w_prev)
                 + v - w_prev)
            v = P(vbar - gamma * g)
            w_prev = w
            if coins[t] < p:
                w = v
                Fhat_w = c * F(w) + w - u
        lam = 1 / (k + 2)
        u = lam * z0 + (1 - lam) * v
    np.testing.assert_allclose(res.x, v, rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(v - u)) > 1e-3            # the two points differ: the test has teeth


def test_algorithm2_mixes_F_for_an_affine_operator():
    # the matrix operator's F(u) = l F(u0) + (1 - l) F(v) (no second product) against a
    # callable operator, which evaluates F(u): the same iterates up to rounding
    op, M, q, blocks = _box_problem(2, skew=True)
    comps = [lambda z, i=i: len(blocks) * (M[:, blocks[i]] @ z[blocks[i]]) + q
             for i in range(len(blocks))]
    calls = []

    def full(z):
        calls.append(1)
        return M @ z + q

    op2 = mono.callable_operator(comps, 6, lipschitz=op.lipschitz, full=full)
    kwargs = dict(prox=mono.box(-0.2, 0.2), method="inexact-halpern", tol=0.0, maxiter=6,
                  seed=1, resolvent_step=0.5, step_size=0.05, p=0.25, inner=2.0)
    res = mono.solve_inclusion(op, np.zeros(6), **kwargs)
    res2 = mono.solve_inclusion(op2, np.zeros(6), **kwargs)
    np.testing.assert_allclose(res.x, res2.x, rtol=1e-10, atol=1e-12)
    assert res.ncalls == res2.ncalls


@pytest.mark.parametrize("method", ["vr-eg", "vr-halpern", "inexact-halpern"])
def test_kernel_matches_reference_on_a_game(method):
    # the Numba loops (bilinear rows, simplex projections) against the array-API ones
    A = policeman_burglar_matrix(6, seed=1)
    fast = mono.solve_matrix_game(A, method=method, tol=0.0, maxiter=4, seed=3)
    with config_context(kernels="reference"):
        ref = mono.solve_matrix_game(A, method=method, tol=0.0, maxiter=4, seed=3)
    np.testing.assert_allclose(fast.x, ref.x, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.y, ref.y, rtol=1e-10, atol=1e-13)
    assert fast.ncalls == ref.ncalls


@pytest.mark.parametrize("method", ["vr-eg", "inexact-halpern"])
def test_variance_reduced_game_converges(method):
    A = policeman_burglar_matrix(12, seed=0)
    value, _, _ = lp_game(A)
    res = mono.solve_matrix_game(A, method=method, tol=1e-3, maxiter=20000, seed=0)
    assert res.success, res.message
    assert abs(res.value - value) <= 1e-3


def test_simplex_projection_kernel_matches_sort_reference():
    from numopt.monotone._kernels_numba import project_simplex as fast
    from numopt.monotone._prox import project_simplex as reference

    rng = np.random.default_rng(0)
    for d in (1, 2, 7, 100):
        for scale in (0.01, 1.0, 100.0):
            v = scale * rng.standard_normal(d)
            p = fast(np, v, 2.0)
            np.testing.assert_allclose(p, reference(np, v, 2.0), atol=1e-12 * max(1, scale))
            assert abs(p.sum() - 2.0) < 1e-10 * max(1, scale) and np.all(p >= 0)


def test_warm_started_simplex_threshold_is_the_cold_one():
    # the per-sample loops start each projection's threshold from the previous one:
    # from any guess (above or below, near or far) it settles on the cold routine's
    # threshold, or says NaN and leaves it to the cold routine
    from numopt.monotone._kernels_numba import _simplex_threshold, _simplex_threshold_from

    rng = np.random.default_rng(1)
    settled = 0
    for trial in range(400):
        d = int(rng.integers(1, 60))
        v = rng.standard_normal(d) * 10.0 ** rng.uniform(-3, 1)
        cold = _simplex_threshold(v.copy(), 1.0, np.empty(d))
        guess = cold + rng.standard_normal() * 10.0 ** rng.uniform(-6, 0)
        warm = _simplex_threshold_from(v, 1.0, guess)
        if not np.isnan(warm):
            settled += 1
            assert warm == cold, (trial, warm, cold)
        assert abs(np.maximum(v - cold, 0).sum() - 1.0) < 1e-9 * max(1.0, np.abs(v).max())
    assert settled > 300          # the warm start does the work in most cases


def test_callable_and_gradient_operators_agree_with_matrix_form():
    # f_i(x, y) = a_i x^2 / 2 + b_i x y - c_i y^2 / 2 (convex-concave), 1-D x and y
    rng = np.random.default_rng(4)
    a, b, c = rng.uniform(0.5, 1, 5), rng.standard_normal(5), rng.uniform(0.5, 1, 5)
    h = rng.standard_normal(2)
    grads = [lambda x, y, i=i: (a[i] * x + b[i] * y + h[0], b[i] * x - c[i] * y - h[1])
             for i in range(5)]
    M = np.array([[a.mean(), b.mean()], [-b.mean(), c.mean()]])
    q = np.array([h[0], h[1]])
    z_star = np.linalg.solve(M, -q)
    L = np.linalg.norm(M, 2)
    op = mono.gradient_operator(grads, 1, 1, lipschitz=3.0)
    res = mono.solve_inclusion(op, np.zeros(2), tol=1e-10, maxiter=10000)
    assert res.success and np.allclose(res.x, z_star, atol=1e-9)
    comps = [lambda z, i=i: np.array([a[i] * z[0] + b[i] * z[1] + h[0],
                                      -(b[i] * z[0] - c[i] * z[1] - h[1])])
             for i in range(5)]
    op2 = mono.callable_operator(comps, 2, lipschitz=L)
    res2 = mono.solve_inclusion(op2, np.zeros(2), method="vr-eg", tol=1e-8, maxiter=10000,
                                seed=0)
    assert res2.success and np.allclose(res2.x, z_star, atol=1e-7)


@pytest.mark.parametrize("kind", ["columns", "blocks", "bilinear"])
def test_mean_square_lipschitz_is_the_smallest_constant(kind):
    # E_i ||F_i(z) - F_i(w)||^2 <= L_Q^2 ||z - w||^2 for every pair, with near equality
    # in the worst direction (the exact expectation over the n components)
    rng = np.random.default_rng(7)
    if kind == "columns":
        op = mono.matrix_operator(rng.standard_normal((6, 6)))
    elif kind == "blocks":
        op = mono.matrix_operator(rng.standard_normal((6, 6)), n_components=2)
    else:
        op = mono.bilinear_operator(rng.standard_normal((5, 4)))
    w = np.zeros(op.dim)

    def ratio(dz):
        diffs = [op.component_difference(np, i, dz, w) for i in range(op.n_components)]
        return np.sqrt(np.mean([d @ d for d in diffs]) / (dz @ dz))

    worst = max(ratio(rng.standard_normal(op.dim)) for _ in range(200))
    assert worst <= op.mean_square_lipschitz * (1 + 1e-12)
    # the supremum is attained: maximize the quadratic form E_i ||F_i dz||^2 exactly
    Q = sum(np.column_stack([op.component_difference(np, i, e, w) for e in np.eye(op.dim)]).T
            @ np.column_stack([op.component_difference(np, i, e, w) for e in np.eye(op.dim)])
            for i in range(op.n_components)) / op.n_components
    assert np.sqrt(np.linalg.eigvalsh(Q)[-1]) == pytest.approx(op.mean_square_lipschitz,
                                                               rel=1e-10)


def test_deterministic_residual_costs_no_extra_evaluation():
    # extragradient: F(z0), then F(zh) and F(z+) per iteration; the residual checks reuse
    # F(z+) (ncalls counts the method's calls, a full evaluation as n)
    calls = []
    M = np.array([[1.0, 2.0], [-2.0, 1.0]])

    def full(z):
        calls.append(1)
        return M @ z

    op = mono.callable_operator([lambda z: M @ z] * 3, 2, lipschitz=np.linalg.norm(M, 2),
                                full=full)
    res = mono.solve_inclusion(op, np.ones(2), method="extragradient", tol=0.0, maxiter=5)
    assert len(calls) == 1 + 2 * 5
    assert res.ncalls == 3 * len(calls) and res.epochs == len(calls)


def test_strided_game_matrix_runs_the_kernels():
    # a strided view of A (not contiguous) reaches the Numba kernels as well
    A = policeman_burglar_matrix(24, seed=0)[::2, ::2]
    assert not (A.flags.c_contiguous or A.flags.f_contiguous)
    ref = mono.solve_matrix_game(np.ascontiguousarray(A), method="vr-eg", tol=0.0,
                                 maxiter=3, seed=1)
    res = mono.solve_matrix_game(A, method="vr-eg", tol=0.0, maxiter=3, seed=1)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-12, atol=1e-15)
