"""Bad input to numopt.monotone: errors that name the argument."""

import numpy as np
import pytest

import numopt.monotone as mono


@pytest.fixture
def op():
    return mono.matrix_operator(np.eye(3) + np.triu(np.ones((3, 3)), 1)
                                - np.tril(np.ones((3, 3)), -1))


def test_operator_must_be_a_finite_sum_operator():
    with pytest.raises(TypeError, match=r"\boperator\b"):
        mono.solve_inclusion(np.eye(3), np.zeros(3))


@pytest.mark.parametrize("z0, error", [(np.zeros(4), ValueError), (np.zeros((3, 1)), ValueError),
                                       (np.array([0.0, np.nan, 1.0]), ValueError),
                                       (np.array(["a", "b", "c"]), TypeError)])
def test_bad_start(op, z0, error):
    with pytest.raises(error, match=r"\bz0\b"):
        mono.solve_inclusion(op, z0)


def test_integer_start_becomes_float64(op):
    res = mono.solve_inclusion(op, np.zeros(3, dtype=int), tol=1e-8)
    assert res.x.dtype == np.float64 and res.success


@pytest.mark.parametrize("prox, error", [("cube", ValueError), (3.0, TypeError),
                                         (mono.product((mono.simplex(), 2)), ValueError)])
def test_bad_prox(op, prox, error):
    with pytest.raises(error, match=r"\bprox\b"):
        mono.solve_inclusion(op, np.zeros(3), prox=prox)


def test_bad_method_and_options(op):
    with pytest.raises(ValueError, match=r"\bmethod\b"):
        mono.solve_inclusion(op, np.zeros(3), method="sgd")
    with pytest.raises(ValueError, match=r"\bstep_size\b"):
        mono.solve_inclusion(op, np.zeros(3), step_size=-1.0)
    with pytest.raises(ValueError, match=r"\bp\b"):
        mono.solve_inclusion(op, np.zeros(3), method="vr-eg", p=1.5)
    with pytest.raises(ValueError, match=r"\btol\b"):
        mono.solve_inclusion(op, np.zeros(3), tol=-1.0)
    with pytest.raises(ValueError, match=r"\bmaxiter\b"):
        mono.solve_inclusion(op, np.zeros(3), maxiter=-1)
    with pytest.raises(TypeError, match=r"\bseed\b"):
        mono.solve_inclusion(op, np.zeros(3), method="vr-eg", seed="x")


def test_bad_prox_parameters():
    with pytest.raises(ValueError, match=r"\bradius\b"):
        mono.simplex(0.0)
    with pytest.raises(ValueError, match=r"\blower\b"):
        mono.box(1.0, 0.0)
    with pytest.raises(ValueError, match=r"\bradius\b"):
        mono.ball(-1.0)


def test_bad_operators():
    with pytest.raises(ValueError, match=r"\bM\b"):
        mono.matrix_operator(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\bq\b"):
        mono.matrix_operator(np.eye(2), np.ones(3))
    with pytest.raises(ValueError, match=r"\bblocks\b"):
        mono.matrix_operator(np.eye(3), blocks=[[0], [0, 1]])
    with pytest.raises(ValueError, match=r"\bM\b"):
        mono.matrix_operator(np.array([[1.0, np.inf], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\bA\b"):
        mono.bilinear_operator(np.ones(3))
    with pytest.raises(TypeError, match=r"\bcomponents\b"):
        mono.callable_operator([1, 2], 2, lipschitz=1.0)
    with pytest.raises(TypeError, match=r"\blipschitz\b"):
        mono.callable_operator([lambda z: z], 2)
    with pytest.raises(ValueError, match=r"\blipschitz\b"):
        mono.callable_operator([lambda z: z], 2, lipschitz=0.0)


def test_component_of_wrong_shape_is_reported():
    op = mono.callable_operator([lambda z: z[:1]], 2, lipschitz=1.0)
    with pytest.raises(ValueError, match="shape"):
        mono.solve_inclusion(op, np.zeros(2))


def test_matrix_game_bad_input():
    with pytest.raises(ValueError, match=r"\bA\b"):
        mono.solve_matrix_game(np.ones(3))
    with pytest.raises(ValueError, match=r"\bA\b"):
        mono.solve_matrix_game(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\bmethod\b"):
        mono.solve_matrix_game(np.eye(2), method="simplex")


def test_variance_reduced_methods_need_numpy(op):
    import array_api_strict as xp

    strict_op = mono.matrix_operator(xp.asarray(np.eye(2)))
    with pytest.raises(TypeError, match="NumPy"):
        mono.solve_inclusion(strict_op, xp.zeros(2, dtype=xp.float64), method="vr-eg")


def test_divergence_is_not_success():
    # a step far beyond 2/L makes Halpern on this skew operator blow up: never success
    S = np.array([[0.0, 1.0], [-1.0, 0.0]])
    op = mono.matrix_operator(S)
    with np.errstate(all="ignore"):
        res = mono.solve_inclusion(op, np.ones(2), method="extragradient", step_size=50.0,
                                   maxiter=2000)
    assert res.success is False


@pytest.mark.parametrize("make, kwargs, name, error", [
    ("policeman_burglar_matrix", {"n": 0}, "n", ValueError),
    ("policeman_burglar_matrix", {"n": 2.5}, "n", TypeError),
    ("policeman_burglar_matrix", {"n": 3, "theta": -1.0}, "theta", ValueError),
    ("ouyang_xu_quadratic", {"n": 0}, "n", ValueError)])
def test_gallery_sizes_name_the_argument(make, kwargs, name, error):
    from numopt import problems

    with pytest.raises(error, match=rf"\b{name}\b"):
        getattr(problems, make)(**kwargs)
