"""newton-sketch with Hessian products only: past the dense size the KKT matrix is a
LinearOperator whose rows the sketch takes as products, and the Lagrangian Hessian is
never formed. Checked against the closed-form solution of the Poisson control QP and
against the dense run."""

import numpy as np
import pytest

import numopt
from numopt import problems
from numopt.constrained import _newton_sketch, _nlp


@pytest.fixture
def no_dense_hessian(monkeypatch):
    """Every size counts as large, and forming B densely is an error."""
    monkeypatch.setattr(_newton_sketch, "_DENSE_INERTIA", 0)

    def refuse(self):
        raise AssertionError("the Lagrangian Hessian was formed densely")

    monkeypatch.setattr(_nlp.LagrangianHessian, "matrix", refuse)


def test_poisson_control_from_products_alone(no_dense_hessian):
    p = problems.poisson_control(4)   # n = 32, m = 16, a QP with a closed form
    res = numopt.minimize(method="newton-sketch", tol=1e-8,
                          options={"seed": 0, "maxiter": 50},
                          **p.minimize_kwargs(hessian="product"))
    assert res.success, res.message
    assert p.kkt_residual(res.x, res.multipliers) <= 1e-8 * (1 + 1e-6)
    np.testing.assert_allclose(res.x, p.x_star, atol=1e-7)
    assert res.nhev > 0 and res.inner_nit > 0


def test_matrix_free_matches_the_dense_hessian_run(no_dense_hessian, monkeypatch):
    p = problems.random_quadratic_equality(30, 10, curvature=0.0, seed=1)  # convex
    res = numopt.minimize(method="newton-sketch", tol=1e-8,
                          options={"seed": 0, "maxiter": 100},
                          **p.minimize_kwargs(hessian="product"))
    assert res.success, res.message
    monkeypatch.undo()
    ref = numopt.minimize(method="newton-sketch", tol=1e-10,
                          options={"kkt_solver": "direct"},
                          **p.minimize_kwargs(hessian="matrix"))
    assert ref.success, ref.message
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.multipliers, ref.multipliers, atol=1e-6)
