"""The linear-systems gallery against PyAMG's gallery and closed forms."""

import numpy as np
import scipy.sparse as sp

from numopt.problems import (heat_equation_sequence, least_squares_problem, poisson_2d,
                             poisson_3d, random_spd_matrix, shifted_poisson_sequence)


def test_poisson_matches_pyamg():
    from pyamg.gallery import poisson

    for shape, ours in (((7, 7), poisson_2d(7)), ((4, 4, 4), poisson_3d(4))):
        ref = poisson(shape, format="csr")
        assert abs(ours - ref).max() == 0
        assert ours.has_sorted_indices


def test_poisson_eigenvalues():
    n = 9
    eig = np.linalg.eigvalsh(poisson_2d(n).toarray())
    k = np.arange(1, n + 1)
    one_d = 2 - 2 * np.cos(k * np.pi / (n + 1))
    np.testing.assert_allclose(np.sort(eig), np.sort(np.add.outer(one_d, one_d).ravel()),
                               atol=1e-12)


def test_shifted_poisson_sequence():
    seq = shifted_poisson_sequence(400, variance="high", seed=0)
    c = np.array([s.context for s in seq])
    assert np.all((c >= -0.15) & (c <= 0.45))
    # mean of -0.15 + 0.6 Beta(0.5, 1.5) is -0.15 + 0.6 * 0.25 = 0
    assert abs(c.mean()) < 0.03
    A, b, ctx = seq[0]
    np.testing.assert_allclose((A - poisson_2d(10)).diagonal(), ctx)
    assert np.linalg.norm(b) <= np.sqrt(100)
    low = np.array([s.context for s in shifted_poisson_sequence(400, variance="low", seed=0)])
    assert low.std() < c.std()
    again = shifted_poisson_sequence(3, seed=0)
    assert [s.context for s in again] == [s.context for s in seq[:3]]


def test_heat_equation_sequence_is_crank_nicolson():
    seq = heat_equation_sequence(4, grid=8, seed=0)
    for k in range(3):
        A, b, kappa = seq[k]
        u_next = sp.linalg.spsolve(sp.csc_array(A), b)
        # the next right-hand side is (2I - A_{k+1}) u_{k+1}
        A1 = seq[k + 1].A
        np.testing.assert_allclose(seq[k + 1].b, (2 * sp.identity(64) - A1) @ u_next,
                                   rtol=1e-10, atol=1e-12)
    assert len({s.context for s in seq}) == 4


def test_spd_and_least_squares():
    A = random_spd_matrix(20, cond=50.0, seed=1)
    eig = np.linalg.eigvalsh(A)
    np.testing.assert_allclose(eig.max() / eig.min(), 50.0, rtol=1e-8)
    A, b, x = least_squares_problem(30, 5, consistent=False, seed=2)
    np.testing.assert_allclose(A.T @ (A @ x - b), 0, atol=1e-10)
