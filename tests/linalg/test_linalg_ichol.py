"""numopt.linalg.ichol_preconditioner: IC(0), the incomplete-Cholesky PCG baseline."""

import numpy as np
import pytest
import scipy.sparse as sp

from numopt._config import config_context
from numopt.linalg import cg, ichol_preconditioner
from numopt.problems import poisson_2d, poisson_obstacles


def test_tridiagonal_ic0_is_the_exact_cholesky_factor():
    # no fill-in for a tridiagonal matrix: IC(0) is Cholesky and PCG needs one step
    n = 30
    A = sp.diags([-np.ones(n - 1), 2.5 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tocsr()
    M = ichol_preconditioner(A)
    np.testing.assert_allclose(M.factor.toarray(), np.linalg.cholesky(A.toarray()),
                               rtol=1e-12, atol=1e-14)
    b = np.random.default_rng(0).standard_normal(n)
    res = cg(A, b, M=M, tol=1e-10)
    assert res.success and res.nit <= 2


@pytest.mark.parametrize("kernels", ["auto", "reference"])
def test_ic0_matches_a_on_its_pattern(kernels):
    # the defining property: (L L^T)_ij = A_ij wherever A_ij is stored
    A = poisson_obstacles((12, 12), n_obstacles=3, kind="disks", seed=4).A
    with config_context(kernels=kernels):
        M = ichol_preconditioner(A)
        L = M.factor
        product = (L @ L.T).tocsr()
        pattern = A.tocoo()
        np.testing.assert_allclose(product[pattern.row, pattern.col], pattern.data,
                                   rtol=1e-12, atol=1e-12)
        assert sp.triu(L, 1).nnz == 0
        v = np.random.default_rng(1).standard_normal(A.shape[0])
        np.testing.assert_allclose(product @ (M @ v), v, rtol=1e-10, atol=1e-10)


def test_ic_pcg_beats_cg_on_poisson():
    A = poisson_2d(40)
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    plain = cg(A, b, tol=1e-8)
    pre = cg(A, b, M=ichol_preconditioner(A), tol=1e-8)
    assert pre.success and np.linalg.norm(b - A @ pre.x) <= 1e-8 * np.linalg.norm(b)
    assert pre.nit < 0.6 * plain.nit, (pre.nit, plain.nit)


def test_bad_input():
    A = poisson_2d(5).tolil()
    A[3, 3] = -1.0
    with pytest.raises(ValueError, match="IC\\(0\\) of A broke down at row 3"):
        ichol_preconditioner(A.tocsr())
    B = poisson_2d(5).tolil()
    B[2, 2] = 0.0
    with pytest.raises(ValueError, match="A"):
        ichol_preconditioner(B.tocsr())
    with pytest.raises(ValueError, match="A"):
        ichol_preconditioner(np.ones((3, 4)))
