"""numopt.linalg.dcdm: the deep conjugate direction method, its network and gallery."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from numopt._config import config_context
from numopt.linalg import cg, dcdm, ssor_preconditioner
from numopt.linalg._dcdm_model import ConvNet, layer_shapes, load_model, shipped_weights
from numopt.problems import poisson_2d, poisson_3d, poisson_obstacles


def _rhs(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


def _a_norm_error(A, x, x_star):
    e = x - x_star
    return float(np.sqrt(e @ (A @ e)))


# ----------------------------------------------------------------- callable models

def test_exact_model_converges_in_one_step():
    A = poisson_2d(20)
    b = _rhs(A.shape[0])
    lu = spla.splu(A.tocsc())
    res = dcdm(A, b, model=lu.solve, tol=1e-10)
    assert res.success and res.nit == 1, res.message
    assert np.linalg.norm(b - A @ res.x) <= 1e-10 * np.linalg.norm(b)
    assert (res.n_matvec, res.n_model) == (3, 1)


def test_ssor_model_is_pcg():
    # a symmetric positive definite linear model: DCDM with n_orth >= 1 is PCG, so the
    # iteration count is CG's with that preconditioner (up to rounding)
    A = poisson_2d(24)
    b = _rhs(A.shape[0], 1)
    M = ssor_preconditioner(A, 1.5)
    res = dcdm(A, b, model=M, tol=1e-8)
    ref = cg(A, b, M=M, tol=1e-8)
    assert res.success, res.message
    assert np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)
    assert abs(res.nit - ref.nit) <= 2, (res.nit, ref.nit)


def test_amg_model_converges_fast():
    pyamg = pytest.importorskip("pyamg")
    A = poisson_2d(48)
    b = _rhs(A.shape[0], 2)
    M = pyamg.smoothed_aggregation_solver(A).aspreconditioner()
    res = dcdm(A, b, model=M, tol=1e-8)
    assert res.success, res.message
    assert res.residual <= 1e-8 * np.linalg.norm(b)
    assert res.nit < 30   # CG needs about 200 here
    assert abs(res.residual - np.linalg.norm(b - A @ res.x)) <= 1e-12 * np.linalg.norm(b)


def test_identity_model_directions_are_a_orthogonal_and_error_falls():
    A = poisson_2d(12)
    b = _rhs(A.shape[0], 3)
    x_star = spla.spsolve(A.tocsc(), b)
    n_orth = 2
    iterates = [np.zeros_like(b)]

    def record(intermediate_result):
        iterates.append(np.array(intermediate_result.x))

    res = dcdm(A, b, model=lambda r: r, n_orth=n_orth, tol=1e-9, callback=record)
    assert res.success, res.message
    steps = np.diff(np.array(iterates), axis=0)    # alpha_k d_k
    for k in range(1, len(steps)):
        for j in range(max(0, k - n_orth), k):
            cos = steps[k] @ (A @ steps[j]) / (_a_norm_error(A, steps[k], 0)
                                               * _a_norm_error(A, steps[j], 0))
            assert abs(cos) < 1e-8, (k, j, cos)
    errors = [_a_norm_error(A, x, x_star) for x in iterates]
    assert all(e1 <= e0 * (1 + 1e-12) for e0, e1 in zip(errors, errors[1:]))


def test_identity_model_without_orthogonalization_is_steepest_descent():
    A = poisson_2d(10).toarray()
    b = _rhs(A.shape[0], 4)
    res = dcdm(A, b, model=lambda r: 3.0 * r, n_orth=0, maxiter=7, tol=0.0)
    x = np.zeros_like(b)
    for _ in range(7):
        r = b - A @ x
        x = x + (r @ r) / (r @ (A @ r)) * r
    assert res.nit == 7 and not res.success
    np.testing.assert_allclose(res.x, x, rtol=1e-12, atol=1e-14)


def test_zero_rhs_returns_zero():
    A = poisson_2d(5)
    res = dcdm(A, np.zeros(25), model=lambda r: r)
    assert res.success and res.nit == 0 and not res.x.any()


@pytest.mark.parametrize("model, reason", [
    (lambda r: 0.0 * r, "d^T A d <= 0"),
    (lambda r: np.full_like(r, np.nan), "NaN or inf"),
    (lambda r: r[:-1], "shape"),
])
def test_broken_model_stalls_with_reason(model, reason):
    A = poisson_2d(6)
    res = dcdm(A, _rhs(36), model=model)
    assert not res.success and res.status == 4
    assert reason in res.message and "Residual norm" in res.message


def test_bad_input():
    A = poisson_2d(4)
    b = _rhs(16)
    with pytest.raises(ValueError, match="model"):
        dcdm(A, b, model="resnet")
    with pytest.raises(TypeError, match="model"):
        dcdm(A, b, model=3)
    with pytest.raises(ValueError, match="n_orth"):
        dcdm(A, b, model=lambda r: r, n_orth=-1)
    with pytest.raises(ValueError, match="grid_shape"):
        dcdm(A, b, grid_shape=(3, 5))
    with pytest.raises(ValueError, match="grid_shape"):
        dcdm(poisson_2d(4, 3), _rhs(12))         # 12 is neither a square nor a cube
    with pytest.raises(ValueError, match=r"\bb\b"):
        dcdm(A, b[:-1], model=lambda r: r)
    with pytest.raises(ValueError, match=r"\bA\b"):
        dcdm(np.ones((3, 4)), np.ones(3), model=lambda r: r)
    with pytest.raises(ValueError, match="tol"):
        dcdm(A, b, model=lambda r: r, tol=-1.0)


# ----------------------------------------------------------------- the network

def _random_params(ndim, seed):
    rng = np.random.default_rng(seed)
    params = {}
    for name, (c_out, c_in) in layer_shapes(ndim).items():
        params[name + ".weight"] = (rng.standard_normal((c_out, c_in) + (3,) * ndim)
                                    / np.sqrt(3**ndim * c_in)).astype(np.float32)
        params[name + ".bias"] = (0.1 * rng.standard_normal(c_out)).astype(np.float32)
    return params


@pytest.mark.parametrize("ndim, grid", [(2, (16, 16)), (2, (9, 14)), (3, (6, 7, 8))])
def test_numba_network_matches_reference(ndim, grid):
    net = ConvNet(_random_params(ndim, 0), ndim)
    rng = np.random.default_rng(1)
    image = rng.standard_normal(grid).astype(np.float32)
    fluid = (rng.random(grid) > 0.2).astype(np.float32)
    fast = net(image, fluid)
    with config_context(kernels="reference"):
        ref = net(image, fluid)
    assert fast.shape == grid and not fast[fluid == 0].any()
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("grid", [(7, 10), (5, 4, 9)])
def test_numba_conv_fuses_relu_and_residual_in_place(grid):
    # the residual block writes conv_b's output over its input h: out is residual
    from numopt.linalg._dcdm_kernels_numba import dcdm_conv as numba_conv
    from numopt.linalg._dcdm_model import dcdm_conv as reference_conv

    rng = np.random.default_rng(7)
    ndim = len(grid)
    x = rng.standard_normal((4, *grid)).astype(np.float32)
    weight = rng.standard_normal((3, 4) + (3,) * ndim).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    h = rng.standard_normal((3, *grid)).astype(np.float32)
    for relu in (False, True):
        expected = reference_conv(np, x, weight, bias, relu, np.empty_like(h), residual=h)
        conv = reference_conv(np, x, weight, bias, relu, np.empty_like(h))
        assert np.abs(expected - conv - h).max() <= 1e-5 * np.abs(expected).max()
        inplace = h.copy()
        numba_conv(np, x, weight, bias, relu, inplace, residual=inplace)
        np.testing.assert_allclose(inplace, expected, rtol=1e-5,
                                   atol=1e-5 * np.abs(expected).max())
        if relu:
            assert (conv >= 0).all() and (conv == 0).any()


@pytest.mark.parametrize("grid", [(7, 10), (5, 4, 9)])
def test_matmul_conv_matches_reference(grid):
    # the GPU's algorithm (shifted products on the flattened haloed grid), run on NumPy
    from numopt.linalg._dcdm_model import dcdm_conv as reference_conv
    from numopt.linalg._dcdm_model import dcdm_conv_matmul

    rng = np.random.default_rng(8)
    ndim = len(grid)
    x = rng.standard_normal((4, *grid))
    weight = rng.standard_normal((3, 4) + (3,) * ndim)
    bias = rng.standard_normal(3)
    h = rng.standard_normal((3, *grid))
    for relu in (False, True):
        expected = reference_conv(np, x, weight, bias, relu, np.empty_like(h), residual=h)
        got = dcdm_conv_matmul(np, x, weight, bias, relu, np.empty_like(h), residual=h)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("ndim, grid", [(2, (64, 64)), (3, (16, 16, 16))])
def test_cupy_network_matches_numpy_reference(ndim, grid):
    cupy = pytest.importorskip("cupy")
    from numopt._backend import kernel_backend

    params = _random_params(ndim, 4)
    rng = np.random.default_rng(9)
    image = rng.standard_normal(grid).astype(np.float32)
    fluid = (rng.random(grid) > 0.2).astype(np.float32)
    with config_context(kernels="reference"):
        ref = ConvNet(params, ndim)(image, fluid)
    gpu_net = ConvNet({k: cupy.asarray(v) for k, v in params.items()}, ndim)
    assert kernel_backend("linalg.dcdm_conv", gpu_net.xp) == "cupy"
    got = cupy.asnumpy(gpu_net(cupy.asarray(image), cupy.asarray(fluid)))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.gpu
def test_cupy_dcdm_converges_on_poisson():
    cupy = pytest.importorskip("cupy")
    import cupyx.scipy.sparse as csp

    problem = poisson_obstacles((32, 32), n_obstacles=2, kind="disks", seed=3)
    b = _rhs(problem.A.shape[0], 5) * problem.fluid.ravel()
    res = dcdm(csp.csr_matrix(problem.A), cupy.asarray(b), tol=1e-6)
    x = cupy.asnumpy(res.x)
    assert res.success, res.message
    assert np.linalg.norm(b - problem.A @ x) <= 1e-6 * np.linalg.norm(b)


def test_parameter_counts():
    assert ConvNet(_random_params(3, 0), 3).n_parameters == 98305   # ~97k, the paper's
    assert ConvNet(_random_params(2, 0), 2).n_parameters == 32929


@pytest.mark.parametrize("ndim", [2, 3])
def test_network_matches_torch(ndim):
    torch = pytest.importorskip("torch")
    from numopt.linalg._dcdm_train import build_torch_model

    params = _random_params(ndim, 2)
    tnet = build_torch_model(ndim).load_numpy(params)
    grid = (12, 10) if ndim == 2 else (6, 8, 4)
    rng = np.random.default_rng(3)
    image = rng.standard_normal(grid).astype(np.float32)
    fluid = (rng.random(grid) > 0.2).astype(np.float32)
    with torch.no_grad():
        ref = tnet(torch.from_numpy(image)[None], torch.from_numpy(fluid)[None])[0].numpy()
    ours = ConvNet(params, ndim)(image, fluid)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


needs_2d_model = pytest.mark.skipif(2 not in shipped_weights(), reason="no shipped 2-D model")


@needs_2d_model
def test_shipped_model_is_small_and_matches_torch():
    path = shipped_weights()[2]
    import os

    assert os.path.getsize(path) < 1_000_000
    net = load_model(2)
    image = np.random.default_rng(5).standard_normal((32, 32)).astype(np.float32)
    fluid = np.ones((32, 32), dtype=np.float32)
    d = net(image, fluid)
    assert np.isfinite(d).all() and np.abs(d).max() > 0
    torch = pytest.importorskip("torch")
    from numopt.linalg._dcdm_train import build_torch_model

    tnet = build_torch_model(2).load_numpy(net.params)
    with torch.no_grad():
        ref = tnet(torch.from_numpy(image)[None], torch.from_numpy(fluid)[None])[0].numpy()
    np.testing.assert_allclose(d, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@needs_2d_model
@pytest.mark.parametrize("kind, seed", [("disks", 11), ("boxes", 12)])
def test_network_converges_on_unseen_geometry(kind, seed):
    # trained on boxes with other seeds, at 64 x 64; disks are never seen
    problem = poisson_obstacles((48, 48), n_obstacles=5, kind=kind, seed=seed)
    A = problem.A
    b = _rhs(A.shape[0], seed) * problem.fluid.ravel()
    res = dcdm(A, b, tol=1e-6, maxiter=300)
    assert res.success, res.message
    assert np.linalg.norm(b - A @ res.x) <= 1e-6 * np.linalg.norm(b)
    assert res.nit < cg(A, b, tol=1e-6).nit


@needs_2d_model
def test_network_solves_nonzero_rhs_in_solid_cells():
    # a solid row is decoupled: its entry of the direction is r_i / a_ii
    problem = poisson_obstacles((16, 16), n_obstacles=3, seed=4)
    b = _rhs(256, 6)
    res = dcdm(problem.A, b, tol=1e-8, maxiter=200)
    assert res.success, res.message
    solid = ~problem.fluid.ravel()
    np.testing.assert_allclose(res.x[solid], b[solid], rtol=1e-6)


# ----------------------------------------------------------------- the gallery

def test_poisson_obstacles_without_obstacles_is_poisson():
    assert abs(poisson_obstacles((7, 7), n_obstacles=0).A - poisson_2d(7)).max() == 0
    assert abs(poisson_obstacles((4, 4, 4), n_obstacles=0).A - poisson_3d(4)).max() == 0


@pytest.mark.parametrize("shape, kind", [((20, 20), "boxes"), ((20, 20), "disks"),
                                         ((10, 10, 10), "disks")])
def test_poisson_obstacles_structure(shape, kind):
    problem = poisson_obstacles(shape, n_obstacles=4, kind=kind, seed=1)
    A, fluid = problem.A.toarray(), problem.fluid.ravel()
    assert 0 < (~fluid).sum() and fluid.sum() > 0
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0        # no enclosed (pure Neumann) pocket
    solid = np.flatnonzero(~fluid)
    np.testing.assert_array_equal(A[solid], np.eye(A.shape[0])[solid])
    # fluid rows: -1 per fluid neighbour; the diagonal counts fluid neighbours and
    # outer (Dirichlet) sides, never solid (Neumann) ones
    idx = np.arange(A.shape[0]).reshape(shape)
    for cell in np.flatnonzero(fluid)[::7]:
        pos = np.unravel_index(cell, shape)
        count = 0
        for axis in range(len(shape)):
            for step in (-1, 1):
                q = list(pos)
                q[axis] += step
                if not 0 <= q[axis] < shape[axis]:
                    count += 1
                elif fluid[idx[tuple(q)]]:
                    count += 1
                    assert A[cell, idx[tuple(q)]] == -1
                else:
                    assert A[cell, idx[tuple(q)]] == 0
        assert A[cell, cell] == count


def test_poisson_obstacles_bad_input():
    with pytest.raises(ValueError, match="shape"):
        poisson_obstacles((4,))
    with pytest.raises(ValueError, match="kind"):
        poisson_obstacles((8, 8), kind="stars")


def test_cycling_model_stalls():
    # two fixed directions, no orthogonalization: exact steps converge inside their
    # span, after which the residual no longer falls; the stall window ends the run
    A = poisson_2d(8)
    b = _rhs(64, 9)
    basis = np.random.default_rng(10).standard_normal((2, 64))
    calls = []

    def cycling(r):
        calls.append(1)
        return basis[len(calls) % 2]

    res = dcdm(A, b, model=cycling, n_orth=0, maxiter=500, stall_window=10)
    assert res.status == 4 and not res.success
    assert "over the last 10 iterations" in res.message or "orthogonal" in res.message
    assert res.nit <= 30
    res = dcdm(A, b, model=cycling, n_orth=0, maxiter=50, stall_window=0)
    assert "over the last" not in res.message and not res.success


def test_ritz_vectors_match_the_spectrum():
    from numopt.linalg._dcdm_train import ritz_vectors

    A = poisson_2d(6)
    values, vectors = ritz_vectors(A, 36, np.random.default_rng(0))
    # a Krylov space sees each distinct eigenvalue once: Lanczos stops when it is exhausted
    distinct = np.unique(np.round(np.linalg.eigvalsh(A.toarray()), 8))
    np.testing.assert_allclose(values, distinct, atol=1e-8)
    np.testing.assert_allclose(A @ vectors, vectors * values, atol=1e-8)


def test_training_smoke_run_writes_a_loadable_model(tmp_path):
    pytest.importorskip("torch")
    from numopt.linalg._dcdm_train import main

    out = tmp_path / "tiny.npz"
    main(["--grid", "8", "--steps", "3", "--lanczos", "8", "--geometries", "2",
          "--batch", "2", "--out", str(out)])
    net = load_model(str(out))
    assert net.ndim == 2 and net.n_parameters == 32929
    with np.load(out) as data:
        assert int(data["meta.steps"]) == 3 and np.isfinite(data["meta.final_loss"])
    # several sizes at once, started from that file: its weights move, the file loads
    again = tmp_path / "again.npz"
    main(["--grid", "8,12", "--steps", "2", "--lanczos", "8", "--geometries", "3",
          "--batch", "2", "--init", str(out), "--out", str(again)])
    moved = load_model(str(again))
    assert list(np.load(again)["meta.grid"]) == [8, 12]
    change = np.abs(moved.params["conv_in.weight"] - net.params["conv_in.weight"]).max()
    assert 0 < change < 0.1   # two Adam steps from the start, not a fresh network


def test_3d_grid_picks_the_shipped_3d_model_and_converges():
    import os

    assert os.path.getsize(shipped_weights()[3]) < 1_000_000
    assert load_model(3).n_parameters == 98305
    # an unseen geometry of balls (trained on boxes) on a grid it was not trained at
    problem = poisson_obstacles((12, 12, 12), n_obstacles=3, kind="disks", seed=21)
    A = problem.A
    b = _rhs(A.shape[0], 21) * problem.fluid.ravel()
    res = dcdm(A, b, tol=1e-6, maxiter=300)
    assert res.success, res.message
    assert np.linalg.norm(b - A @ res.x) <= 1e-6 * np.linalg.norm(b)
    assert res.nit < cg(A, b, tol=1e-6).nit


def test_network_n_orth_keeps_long_history_within_memory_cap():
    # 40 kept directions stall at 128^2 on smooth b (measured), 200 converge: the
    # shipped network keeps 200 where 2 * n_orth vectors fit in the cap, never below 40
    from numopt.linalg._dcdm import NETWORK_ORTH_BYTES, _network_n_orth

    assert _network_n_orth(128 * 128, 8) == 200
    for n in (32**3, 64**3, 96**3, 128**3):
        k = _network_n_orth(n, 8)
        assert 40 <= k <= 200
        assert k == 40 or 2 * k * n * 8 <= NETWORK_ORTH_BYTES
    assert _network_n_orth(64**3, 4) == 2 * _network_n_orth(64**3, 8)
