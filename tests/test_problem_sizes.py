"""Gallery generators reject sizes that are not positive integers, naming the argument
(a float size used to surface as a NumPy error deep inside, a zero size as an empty
problem that solvers then rejected with a message about a different argument)."""

import pytest

from numopt import problems

CASES = [
    (problems.poisson_1d, {"n": 0}, "n"),
    (problems.poisson_2d, {"n": 4, "m": 2.5}, "m"),
    (problems.poisson_3d, {"n": -1}, "n"),
    (problems.random_spd_matrix, {"n": 0}, "n"),
    (problems.least_squares_problem, {"m": 5, "n": 0}, "n"),
    (problems.shifted_poisson_sequence, {"n_instances": -2}, "n_instances"),
    (problems.heat_equation_sequence, {"n_steps": 3, "grid": 0}, "grid"),
    (problems.random_ot_problem, {"n": 0}, "n"),
    (problems.random_point_clouds, {"n": 3, "dim": 0}, "dim"),
    (problems.random_low_rank_completion, {"m": 20, "rank": 0}, "rank"),
    (problems.lasso_design, {"n_samples": 0}, "n_samples"),
    (problems.coordinate_softmax, {"n_classes": 1}, "n_classes"),
    (problems.lattice_label_propagation, {"side": 1}, "side"),
    (problems.rosenbrock, {"n": 1}, "n"),
]


@pytest.mark.parametrize("make, kwargs, name", CASES,
                         ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
def test_bad_size_names_the_argument(make, kwargs, name):
    non_integer = any(isinstance(v, float) for v in kwargs.values())
    with pytest.raises(TypeError if non_integer else ValueError, match=f"^{name} must"):
        make(**kwargs)


def test_float_size_is_a_type_error():
    with pytest.raises(TypeError, match="^n must be an integer"):
        problems.random_ot_problem(10.0)
