"""The BCD framework: incremental gradients, the paper's orderings, message passing,
support identification, numopt.minimize(method="bcd")."""

import warnings

import numpy as np
import pytest
import scipy.optimize as so
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import numopt
from numopt import config_context
from numopt.coordinate import (BinaryLogistic, L1LeastSquares, LabelPropagationProblem,
                               LeastSquares, QuadraticProblem, SoftmaxLogistic, bcd)
from numopt.coordinate._bcd_partitions import forest_block
from numopt.coordinate._bcd_updates import solve_forest
from numopt.problems import (coordinate_least_squares, coordinate_logistic,
                             coordinate_nonneg_l1, coordinate_softmax,
                             lattice_label_propagation, two_moons_label_propagation)


def _full_gradient(problem, x):
    return problem.init(np.array(x, copy=True)).grad


@pytest.fixture(scope="module")
def ls():
    A, b, f_star = coordinate_least_squares(120, 60, seed=2)
    return A, b, f_star


# ---------------------------------------------------------------- incremental gradient
@pytest.mark.parametrize("make", [
    lambda: LeastSquares(*coordinate_least_squares(50, 30, seed=1)[:2]),
    lambda: LeastSquares(*coordinate_least_squares(50, 30, seed=1)[:2], gram=False),
    lambda: BinaryLogistic(*coordinate_logistic(60, 25, seed=1)),
    lambda: BinaryLogistic(*coordinate_logistic(60, 25, density=0.2, seed=1)),
    lambda: SoftmaxLogistic(*coordinate_softmax(40, 6, 4)),
    lambda: SoftmaxLogistic(sp.random(40, 6, density=0.3, random_state=2, format="csr"),
                            np.arange(40) % 4),
    lambda: LabelPropagationProblem(*lattice_label_propagation(6, n_labeled=5)),
], ids=["ls-gram", "ls-glm", "logistic-dense", "logistic-sparse", "softmax",
        "softmax-sparse", "labelprop"])
def test_incremental_gradient_equals_recomputed(make):
    problem = make()
    rng = np.random.default_rng(0)
    st = problem.init(np.zeros(problem.n))
    for _ in range(15):
        block = np.sort(rng.choice(problem.n, 3, replace=False))
        problem.move(st, block, 0.3 * rng.standard_normal(3))
    np.testing.assert_allclose(st.grad, _full_gradient(problem, st.x), rtol=1e-9, atol=1e-9)
    # value_change agrees with the difference of values
    block = np.array([0, 2])
    d = np.array([0.1, -0.2])
    before = problem.value(st)
    predicted = problem.value_change(st, block, d)
    problem.move(st, block, d)
    assert problem.value(st) - before == pytest.approx(predicted, rel=1e-8, abs=1e-10)


def test_sparse_glm_kernel_matches_reference():
    A, y = coordinate_logistic(80, 30, density=0.15, seed=3)
    rng = np.random.default_rng(1)
    moves = [(np.sort(rng.choice(30, 4, replace=False)), rng.standard_normal(4))
             for _ in range(10)]
    out = []
    for mode in ("auto", "reference"):
        with config_context(kernels=mode):
            problem = BinaryLogistic(A, y)
            st = problem.init(np.zeros(30))
            for block, d in moves:
                problem.move(st, block, d)
            out.append(st.grad.copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, atol=1e-12)


def test_sparse_softmax_kernel_matches_reference_and_dense_path():
    """The sparse softmax move (Numba kernel and reference) takes the dense path's
    steps: same iterates for GSL blocks with Lipschitz and Newton updates."""
    A = sp.random(120, 30, density=0.15, random_state=4, format="csc")
    labels = np.random.default_rng(4).integers(0, 5, 120)
    kw = dict(rule="gsl", block_size=4, maxiter=60, tol=1e-300)
    for update in ("lipschitz", "newton"):
        dense = bcd(SoftmaxLogistic(A.toarray(), labels, 5), update=update, **kw)
        fast = bcd(SoftmaxLogistic(A, labels, 5), update=update, **kw)
        with config_context(kernels="reference"):
            ref = bcd(SoftmaxLogistic(A, labels, 5), update=update, **kw)
        np.testing.assert_allclose(fast.x, dense.x, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ref.x, dense.x, rtol=1e-9, atol=1e-12)
    # the compiled batches (GS/GSL variable blocks, Lipschitz steps) take the same steps
    for rule in ("gs", "gsl"):
        kw.update(rule=rule)
        single = bcd(SoftmaxLogistic(A, labels, 5), check_every=1, **kw)
        batched = bcd(SoftmaxLogistic(A, labels, 5), check_every=25, **kw)
        assert batched.nit == single.nit == 60
        np.testing.assert_allclose(batched.x, single.x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rule", ["gs", "gsl"])
def test_forest_batches_match_per_iteration_loop_and_reference(rule):
    """Compiled forest blocks + message passing take the per-iteration loop's steps
    (two moons: no exact ties between scores) and converge to the sparse LU solution."""
    problem = LabelPropagationProblem(*two_moons_label_propagation(300, n_labeled=10))
    kw = dict(partition="forest", rule=rule, update="message_passing", block_size=25,
              tol=1e-300, maxiter=150)
    batched = bcd(problem, check_every=40, **kw)
    single = bcd(problem, check_every=1, **kw)
    with config_context(kernels="reference"):
        ref = bcd(problem, check_every=40, **kw)
    assert batched.nit == single.nit == ref.nit == 150
    np.testing.assert_allclose(batched.x, single.x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref.x, single.x, rtol=1e-9, atol=1e-12)
    x_ref = spla.spsolve(sp.csc_matrix(problem.Q), problem.c)
    done = bcd(problem, partition="forest", rule=rule, update="message_passing",
               block_size=25, tol=1e-9, maxiter=20_000)
    assert done.success and done.optimality <= 1e-9
    np.testing.assert_allclose(done.x, x_ref, atol=1e-6)


def test_variable_blocks_leave_out_zero_scores():
    """Coordinates with a zero score do not enter a variable block: with one non-zero
    gradient entry the block is that coordinate and the step is its exact minimiser."""
    Q = np.diag([2.0, 3.0, 4.0])
    c = np.array([0.0, 3.0, 0.0])
    res = bcd(QuadraticProblem(Q, c), rule="gs", block_size=3, maxiter=1, tol=1e-300)
    np.testing.assert_allclose(res.x, [0.0, 1.0, 0.0])


# ------------------------------------------------------------------ paper's orderings
def test_gsl_progress_at_least_gs_progress(ls):
    """With exact coordinate constants, one GSL step decreases f at least as much as
    one GS step (both with the 1/L_i step), from many points."""
    A, b, _ = ls
    problem = LeastSquares(A, b)
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.standard_normal(problem.n)
        dec = {}
        for rule in ("gs", "gsl"):
            st = problem.init(x.copy())
            f0 = problem.value(st)
            res = bcd(problem, x, partition="variable", rule=rule, block_size=1,
                      maxiter=1, tol=1e-300)
            dec[rule] = f0 - res.fun
        assert dec["gsl"] >= dec["gs"] * (1 - 1e-12)


def test_gsq_progress_at_least_gs_and_gsl_on_fixed_blocks(ls):
    """GSQ (block quadratic bound = exact Hessian of a quadratic) with the matching
    Newton update makes at least the progress of GS/GSL blocks with the same update."""
    A, b, _ = ls
    problem = LeastSquares(A, b)
    rng = np.random.default_rng(1)
    for _ in range(10):
        x = rng.standard_normal(problem.n)
        f0 = problem.value(problem.init(x.copy()))
        dec = {r: f0 - bcd(problem, x, partition="order", rule=r, update="newton",
                           block_size=4, maxiter=1, tol=1e-300).fun
               for r in ("gs", "gsl", "gsq")}
        assert dec["gsq"] >= max(dec["gs"], dec["gsl"]) * (1 - 1e-12)


def test_greedy_beats_cyclic_and_random(ls):
    A, b, f_star = ls
    problem = LeastSquares(A, b)
    gap = {}
    for rule in ("cyclic", "random", "lipschitz", "gs", "gsl"):
        res = bcd(problem, partition="order", rule=rule, block_size=5, maxiter=300,
                  tol=1e-300)
        gap[rule] = res.fun - f_star
    assert gap["gsl"] < min(gap["cyclic"], gap["random"], gap["lipschitz"])
    assert gap["gs"] < min(gap["cyclic"], gap["random"])


def test_variable_blocks_and_newton_beat_fixed_gradient_blocks(ls):
    A, b, f_star = ls
    problem = LeastSquares(A, b)
    kw = dict(rule="gsl", block_size=5, maxiter=200, tol=1e-300)
    fixed_grad = bcd(problem, partition="order", update="lipschitz", **kw).fun - f_star
    variable_grad = bcd(problem, partition="variable", update="lipschitz", **kw).fun - f_star
    variable_newton = bcd(problem, partition="variable", update="newton", **kw).fun - f_star
    fixed_newton = bcd(problem, partition="order", update="newton", **kw).fun - f_star
    assert variable_grad < fixed_grad
    assert fixed_newton < fixed_grad
    assert variable_newton < min(variable_grad, fixed_newton)


def test_sorted_partition_groups_similar_constants():
    from numopt.coordinate._bcd_partitions import fixed_partition

    L = np.random.default_rng(0).uniform(0, 10, 40)
    blocks = fixed_partition("sorted", L, 5)
    spread = [np.ptp(L[bb]) for bb in blocks]
    avg_blocks = fixed_partition("averaged", L, 5)
    means = [L[bb].mean() for bb in avg_blocks]
    assert np.ptp(means) < np.median(spread) * 2 + np.ptp(L) / 4
    assert sorted(np.concatenate(blocks).tolist()) == list(range(40))
    assert sorted(np.concatenate(avg_blocks).tolist()) == list(range(40))


# ---------------------------------------------------------------- message passing
def test_solve_forest_is_exact_on_a_tree():
    rng = np.random.default_rng(0)
    m = 30
    H = np.zeros((m, m))
    for i in range(1, m):           # random tree: each node hangs off an earlier one
        p = rng.integers(i)
        H[i, p] = H[p, i] = rng.uniform(-1, 1)
    H += np.diag(np.abs(H).sum(axis=1) + rng.uniform(0.1, 1, m))
    r = rng.standard_normal(m)
    np.testing.assert_allclose(solve_forest(H, r), np.linalg.solve(H, r), rtol=1e-10)
    H[0, 5] = H[5, 0] = 0.1 if H[0, 5] == 0 else H[0, 5]
    H[5, 9] = H[9, 5] = 0.1 if H[5, 9] == 0 else H[5, 9]
    H[0, 9] = H[9, 0] = 0.1 if H[0, 9] == 0 else H[0, 9]
    with pytest.raises(ValueError, match="forest"):
        solve_forest(H, r)


def test_message_passing_solves_forest_block_exactly():
    W, labels, labeled = lattice_label_propagation(10, n_labeled=8)
    problem = LabelPropagationProblem(W, labels, labeled)
    x0 = np.zeros(problem.n)
    st = problem.init(x0.copy())
    block = forest_block(st.grad ** 2 / problem.lipschitz, problem.hessian_graph(), 40)
    Q = problem.Q.toarray()
    sub = Q[np.ix_(block, block)]
    edges = (np.count_nonzero(sub) - block.size) // 2
    assert edges <= block.size - 1     # a forest
    res = bcd(problem, x0, partition="forest", rule="gsl", update="message_passing",
              block_size=40, maxiter=1, tol=1e-300)
    g = Q @ res.x - problem.c
    np.testing.assert_allclose(g[block], 0.0, atol=1e-10)   # the block is solved exactly


def test_forest_message_passing_beats_gradient_blocks_and_converges():
    W, labels, labeled = lattice_label_propagation(8, n_labeled=12, seed=1)
    problem = LabelPropagationProblem(W, labels, labeled)
    x_ref = spla.spsolve(sp.csc_matrix(problem.Q), problem.c)
    f_ref = 0.5 * x_ref @ (problem.Q @ x_ref) - problem.c @ x_ref + problem.const
    kw = dict(rule="gsl", block_size=30, maxiter=40, tol=1e-300)
    forest = bcd(problem, partition="forest", update="message_passing", **kw)
    fixed = bcd(problem, partition="order", update="lipschitz", **kw)
    variable = bcd(problem, partition="variable", update="lipschitz", **kw)
    assert forest.fun - f_ref < min(fixed.fun, variable.fun) - f_ref
    done = bcd(problem, partition="forest", update="message_passing", rule="gsl",
               block_size=30, maxiter=3000, tol=1e-9)
    assert done.success
    np.testing.assert_allclose(done.x, x_ref, atol=1e-7)


# ---------------------------------------------------------------- L1 / active sets
def test_l1_support_is_identified_in_finitely_many_iterations():
    A, b, l1 = coordinate_nonneg_l1(80, 120, seed=2)
    ref = so.nnls(np.vstack([A, np.zeros((0, 120))]), b)  # noqa: F841  (shape sanity)
    problem = L1LeastSquares(A, b, l1, positive=True)
    supports = []
    res = bcd(problem, partition="variable", rule="gsl", update="lipschitz", block_size=5,
              maxiter=5000, tol=1e-9,
              callback=lambda xk: supports.append(frozenset(np.flatnonzero(xk))))
    assert res.success and res.x.min() >= 0
    final = supports[-1]
    # after some iteration the support never changes again (finite identification)
    first_stable = max(i for i, s in enumerate(supports) if s != final) + 1
    assert first_stable < len(supports) - 10
    # KKT for the non-negative L1 problem, checked independently
    g = A.T @ (A @ res.x - b)
    on = res.x > 0
    np.testing.assert_allclose(g[on], -l1, atol=1e-8)
    assert np.all(g[~on] + l1 >= -1e-8)


def test_prox_newton_update_needs_fewer_iterations_than_prox_gradient():
    A, b, l1 = coordinate_nonneg_l1(80, 120, seed=3)
    problem = L1LeastSquares(A, b, l1)
    kw = dict(partition="variable", rule="gsl", block_size=8, maxiter=5000, tol=1e-9)
    grad = bcd(problem, update="lipschitz", **kw)
    newton = bcd(problem, update="newton", **kw)
    assert grad.success and newton.success
    assert newton.nit < grad.nit
    np.testing.assert_allclose(newton.x, grad.x, atol=1e-6)


def test_logistic_and_softmax_reach_scipy_optimum():
    A, y = coordinate_logistic(80, 20, seed=4)
    problem = BinaryLogistic(A, y, l2=1.0)
    res = bcd(problem, partition="variable", rule="gsl", update="newton", block_size=5,
              maxiter=3000, tol=1e-8)

    def f(x):
        z = A @ x
        return (np.sum(np.logaddexp(0, -y * z)) + 0.5 * x @ x,
                A.T @ (-y / (1 + np.exp(y * z))) + x)

    ref = so.minimize(f, np.zeros(20), jac=True, method="BFGS", options={"gtol": 1e-10})
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)

    A, labels = coordinate_softmax(60, 5, 3, seed=1)
    problem = SoftmaxLogistic(A, labels)
    res = bcd(problem, partition="variable", rule="gsl", update="newton", block_size=6,
              maxiter=3000, tol=1e-7)

    def g(w):
        W = w.reshape(5, 3)
        Z = A @ W
        lse = np.logaddexp.reduce(Z, axis=1)
        P = np.exp(Z - lse[:, None])
        Y = np.eye(3)[labels]
        return lse.sum() - np.sum(Z * Y) + 0.5 * w @ w, (A.T @ (P - Y) + W).ravel()

    ref = so.minimize(g, np.zeros(15), jac=True, method="BFGS", options={"gtol": 1e-10})
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)


# ---------------------------------------------------------------- numopt.minimize
def test_minimize_bcd_matches_scipy():
    A, y = coordinate_logistic(60, 15, seed=6)

    def f(x):
        return np.sum(np.logaddexp(0, -y * (A @ x))) + 0.5 * x @ x

    def jac(x):
        return A.T @ (-y / (1 + np.exp(y * (A @ x)))) + x

    res = numopt.minimize(f, np.zeros(15), method="bcd", jac=jac, tol=1e-8,
                          options={"block_size": 3})
    ref = so.minimize(f, np.zeros(15), jac=jac, method="BFGS", options={"gtol": 1e-10})
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    # no jac: SciPy's forward differences (absolute step sqrt(eps)), as BFGS uses
    fd = numopt.minimize(f, np.zeros(15), method="bcd", tol=1e-6,
                         options={"block_size": 3})
    assert fd.success
    np.testing.assert_allclose(fd.x, ref.x, atol=1e-5)
    with pytest.raises(ValueError, match="objective function must return a scalar value"):
        numopt.minimize(lambda x: x, np.zeros(15), method="bcd", jac=jac)


@pytest.mark.parametrize("scale", [2.0**-330, 2.0**330, 2.0**660])
def test_minimize_bcd_does_not_depend_on_the_units_of_f(scale):
    # with a fixed first Lipschitz estimate of 1, f * 2**330 ran out of step doublings
    # on the first step (line search failed) and f * 2**660 overflowed g^2
    d = np.arange(1.0, 21.0)
    ref = numopt.minimize(lambda x: 0.5 * d @ x**2, np.ones(20), method="bcd",
                          jac=lambda x: d * x, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = numopt.minimize(lambda x: scale * 0.5 * d @ x**2, np.ones(20), method="bcd",
                              jac=lambda x: scale * d * x, tol=1e-8 * scale)
    assert ref.success and res.success
    assert res.nit == ref.nit
    np.testing.assert_array_equal(res.x, ref.x)


class _InterfaceOnly:
    """A problem object with the documented interface but neither the optional
    ``quadratic`` flag nor ``compiled_batch``, as a user's own problem may be."""

    def __init__(self, problem):
        self._problem = problem

    def __getattr__(self, name):
        if name in ("quadratic", "compiled_batch"):
            raise AttributeError(name)
        return getattr(self._problem, name)


@pytest.mark.parametrize("update", ["lipschitz", "newton"])
def test_bcd_runs_problems_without_the_optional_attributes(update):
    """Without ``compiled_batch`` the per-iteration strategies run (the same iterates
    as the compiled batch); without ``quadratic`` Newton steps are line-searched."""
    A, y = coordinate_logistic(80, 30, density=0.2, seed=3)
    kw = dict(rule="gsl", update=update, block_size=4, maxiter=80, tol=1e-300)
    own = bcd(BinaryLogistic(A, y), **kw)
    plain = bcd(_InterfaceOnly(BinaryLogistic(A, y)), **kw)
    assert plain.nit == own.nit == 80
    np.testing.assert_allclose(plain.x, own.x, rtol=1e-9, atol=1e-12)
    assert own.fun < BinaryLogistic(A, y).objective(BinaryLogistic(A, y).init(np.zeros(30)))


# ---------------------------------------------------------------- bad input
def test_bcd_bad_input_messages(ls):
    A, b, _ = ls
    problem = LeastSquares(A, b)
    with pytest.raises(ValueError, match=r"\brule\b"):
        bcd(problem, rule="steepest")
    with pytest.raises(ValueError, match=r"\bpartition\b"):
        bcd(problem, partition="random", rule="cyclic")
    with pytest.raises(ValueError, match=r"message_passing"):
        bcd(problem, update="message_passing")
    with pytest.raises(ValueError, match=r"\bx0\b"):
        bcd(problem, np.zeros(problem.n + 1))
    with pytest.raises(ValueError, match=r"\bblock_size\b"):
        bcd(problem, block_size=0)
    with pytest.raises(TypeError, match=r"\bproblem\b"):
        bcd(np.eye(3))
    with pytest.raises(ValueError, match=r"\bQ\b"):
        QuadraticProblem(np.eye(3), np.ones(4))
    with pytest.raises(ValueError, match=r"\bl1\b"):
        L1LeastSquares(A, b, -1.0)
    with pytest.raises(ValueError, match=r"\by\b.*binary"):
        BinaryLogistic(A, b)
    bad = A.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bA\b"):
        BinaryLogistic(bad, np.sign(b), l2=1.0)


def test_unconverged_bcd_reports_the_measure_reached(ls):
    A, b, _ = ls
    problem = LeastSquares(A, b)
    res = bcd(problem, maxiter=3, tol=1e-12)
    assert not res.success and "optimality" in res.message
    g = A.T @ (A @ res.x - b)
    assert res.optimality == pytest.approx(np.max(np.abs(g)), rel=1e-8)


# ------------------------------------------------------------------ compiled batch path
@pytest.mark.parametrize("rule", ["gs", "gsl"])
@pytest.mark.parametrize("penalty", [{}, {"l1": 0.5}, {"l1": 0.5, "positive": True}],
                         ids=["smooth", "l1", "l1-positive"])
def test_bcd_batches_match_per_iteration_loop_and_reference(rule, penalty):
    """The compiled batches (sparse GLM, greedy variable blocks) take the same steps as
    the per-iteration loop (``check_every=1``) and the reference kernel."""
    A, b, _ = coordinate_least_squares(120, 200, density=0.05, seed=2)

    def problem():
        if penalty:
            return L1LeastSquares(A, b, penalty["l1"], positive=penalty.get("positive", False))
        return LeastSquares(A, b)

    batched = bcd(problem(), rule=rule, maxiter=230, tol=1e-300, check_every=40)
    single = bcd(problem(), rule=rule, maxiter=230, tol=1e-300, check_every=1)
    with config_context(kernels="reference"):
        ref = bcd(problem(), rule=rule, maxiter=230, tol=1e-300, check_every=40)
    assert batched.nit == single.nit == ref.nit == 230
    np.testing.assert_allclose(batched.x, single.x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref.x, single.x, rtol=1e-9, atol=1e-12)
    assert batched.fun < 0.5 * float(b @ b)


def test_bcd_batches_stop_at_the_same_iterate_and_report_iterations():
    A, b, _ = coordinate_least_squares(80, 120, density=0.08, seed=5)
    seen = []
    batched = bcd(LeastSquares(A, b), tol=1e-5, maxiter=50_000, check_every=64,
                  callback=lambda intermediate_result: seen.append(intermediate_result.nit))
    single = bcd(LeastSquares(A, b), tol=1e-5, maxiter=50_000, check_every=1)
    assert batched.success and single.success
    assert batched.nit == single.nit
    assert batched.optimality <= 1e-5
    # the callback sees every 64th iterate, and the converged one last
    assert seen[:-1] == [64 * (k + 1) for k in range(len(seen) - 1)]
    assert seen[-1] == batched.nit
    short = bcd(LeastSquares(A, b), tol=1e-12, maxiter=100, check_every=64)
    assert short.nit == 100 and not short.success


def test_small_block_solves_on_the_host_for_other_namespaces():
    """The non-NumPy branch (CuPy's, where tiny block solves go to the host) with
    array_api_strict arrays: same answers, arrays back in the caller's namespace."""
    xps = pytest.importorskip("array_api_strict")
    from numopt.coordinate import LeastSquares
    from numopt.coordinate._bcd_updates import solve_small

    d = solve_small(xps, xps.asarray([[2.0, 0.0], [1.0, 4.0]]), xps.asarray([2.0, 9.0]))
    assert type(d).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(d), [1.0, 2.0])
    A = np.random.default_rng(0).normal(size=(20, 6))
    problem = LeastSquares(xps.asarray(A), xps.asarray(np.ones(20)))
    want = np.linalg.eigvalsh(A[:, :3].T @ A[:, :3]).max()
    assert problem.block_lipschitz(xps.asarray([0, 1, 2])) == pytest.approx(want, rel=1e-12)
