"""newton-sketch's globalization on a nonconvex problem: the Hessian shift makes the
reduced Hessian positive definite, the penalties follow the paper's rule (eta1 up, eta2
down where its term is no descent), and the iterates reach the fast local phase with
unit steps. Checked against the problem's own KKT measure and second-order conditions."""

import numpy as np
import pytest
import scipy.linalg

import numopt
from numopt import problems


@pytest.fixture(scope="module")
def nonconvex():
    # Q - diag(cos x) is indefinite near x0 = 0 and so is the reduced Hessian: the
    # unshifted KKT step heads for a saddle of the Lagrangian
    return problems.random_quadratic_equality(200, 100, seed=0)


def test_nonconvex_quadratic_equalities_converge_with_unit_steps(nonconvex):
    p = nonconvex
    steps = []
    res = numopt.minimize(method="newton-sketch", tol=1e-6,
                          callback=lambda intermediate_result: steps.append(
                              intermediate_result.step_size),
                          options={"maxiter": 40, "seed": 0, "kkt_solver": "direct"},
                          **p.minimize_kwargs(hessian="matrix"))
    # before: 100 iterations left KKT at 0.77 (steps 2^-5 .. 2^-12, Newton steps of
    # length 140 from x0 = 0 toward a point 14 away); now about 25
    assert res.success, res.message
    assert p.kkt_residual(res.x, res.multipliers) <= 1e-6 * (1 + 1e-6)
    assert res.descent_fallbacks == 0
    assert steps[-3:] == [1.0, 1.0, 1.0]
    assert res.hessian_shift == 0.0   # a local minimizer: no shift in the end
    # second-order sufficiency at the returned point: a local minimizer, not a saddle
    H = p.hess(res.x) + p.constraint_hess(res.x, res.multipliers)
    Z = scipy.linalg.null_space(p.jacobian(res.x))
    assert np.linalg.eigvalsh(Z.T @ H @ Z).min() > 0
