"""Sketching solvers against numpy.linalg.lstsq."""

import numpy as np
import pytest

from numopt.linalg import sketch_solve
from numopt.problems import least_squares_problem

SKETCHES = ["kaczmarz", "block_kaczmarz", "gaussian", "countsketch"]


@pytest.mark.parametrize("sketch", SKETCHES)
def test_consistent_system(sketch):
    A, b, _ = least_squares_problem(80, 12, consistent=True, cond=4.0, seed=1)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    res = sketch_solve(A, b, sketch=sketch, block_size=6, tol=1e-10, seed=0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-8, atol=1e-8)
    assert res.residual <= 1e-10 * np.linalg.norm(b)


@pytest.mark.parametrize("sketch", SKETCHES)
def test_least_squares(sketch):
    A, b, _ = least_squares_problem(60, 8, consistent=False, noise=0.5, cond=3.0, seed=2)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.linalg.norm(A @ x_ref - b) > 1.0  # truly inconsistent
    res = sketch_solve(A, b, sketch=sketch, block_size=3, least_squares=True, tol=1e-9,
                       seed=0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-7, atol=1e-7)
    # plain Kaczmarz does not converge to it: the residual stalls at the noise level
    if sketch == "kaczmarz":
        plain = sketch_solve(A, b, tol=1e-9, seed=0, maxiter=3000)
        assert not plain.success and "residual" in plain.message


def test_seeded():
    A, b, _ = least_squares_problem(30, 5, seed=3)
    a = sketch_solve(A, b, sketch="gaussian", block_size=2, seed=4, maxiter=7)
    c = sketch_solve(A, b, sketch="gaussian", block_size=2, seed=4, maxiter=7)
    np.testing.assert_array_equal(a.x, c.x)


def test_float32_and_x0():
    A, b, x_ref = least_squares_problem(40, 6, seed=5)
    res = sketch_solve(A.astype(np.float32), b.astype(np.float32), x0=np.zeros(6), tol=1e-5,
                       seed=0)
    assert res.success and res.x.dtype == np.float32
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-3, atol=1e-3)


def test_bad_input():
    A, b, _ = least_squares_problem(20, 4, seed=6)
    with pytest.raises(ValueError, match="sketch"):
        sketch_solve(A, b, sketch="srht")
    with pytest.raises(ValueError, match=r"\bb\b"):
        sketch_solve(A, b[:-1])
    with pytest.raises(ValueError, match="block_size"):
        sketch_solve(A, b, sketch="gaussian", block_size=30)
    with pytest.raises(ValueError, match="block_size"):
        sketch_solve(A, b, sketch="gaussian", block_size=5, least_squares=True)
    A0 = A.copy()
    A0[3] = 0
    with pytest.raises(ValueError, match="zero rows"):
        sketch_solve(A0, b)
    with pytest.raises(ValueError, match=r"\bA\b.*finite"):
        sketch_solve(np.full((3, 2), np.nan), np.ones(3))
    with pytest.raises(TypeError, match="dense"):
        import scipy.sparse as sp
        sketch_solve(sp.csr_array(A), b)
