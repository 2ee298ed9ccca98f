"""A gallery of test problems, one private module per problem class.

Each function is seeded and returns plain arrays (and, where one exists, the exact
answer), so the same problem serves tests, benchmarks and the demo.
"""

from ._completion import LowRankCompletionProblem, random_low_rank_completion
from ._coordinate import (
    coordinate_least_squares,
    coordinate_logistic,
    coordinate_nonneg_l1,
    coordinate_softmax,
    lasso_design,
    lattice_label_propagation,
    two_moons_label_propagation,
)
from ._equality import (
    EqualityConstrainedProblem,
    constrained_logistic_regression,
    poisson_control,
    random_quadratic_equality,
)
from ._linalg import (
    LinearSystem,
    ObstacleProblem,
    heat_equation_sequence,
    least_squares_problem,
    poisson_1d,
    poisson_2d,
    poisson_3d,
    poisson_obstacles,
    random_spd_matrix,
    shifted_poisson_sequence,
)
from ._monotone import ouyang_xu_quadratic, policeman_burglar_matrix
from ._ot import random_ot_problem, random_point_clouds
from ._s2mpj import PAPER_PROBLEMS, load_s2mpj, paper_problems, s2mpj_equality_problems
from ._smooth import rosenbrock
from ._stochastic import FiniteSum, interpolating_least_squares, logistic_finite_sum

__all__ = [
    "rosenbrock",
    # linear systems
    "LinearSystem", "poisson_1d", "poisson_2d", "poisson_3d", "poisson_obstacles", "ObstacleProblem",
    "shifted_poisson_sequence",
    "heat_equation_sequence", "random_spd_matrix", "least_squares_problem",
    # monotone inclusions
    "policeman_burglar_matrix", "ouyang_xu_quadratic",
    # optimal transport
    "random_ot_problem", "random_point_clouds",
    # coordinate descent
    "lasso_design", "coordinate_least_squares", "coordinate_logistic", "coordinate_softmax",
    "lattice_label_propagation", "two_moons_label_propagation", "coordinate_nonneg_l1",
    # matrix completion
    "LowRankCompletionProblem", "random_low_rank_completion",
    # stochastic finite sums
    "FiniteSum", "logistic_finite_sum", "interpolating_least_squares",
    # equality-constrained nonlinear programs
    "EqualityConstrainedProblem", "constrained_logistic_regression", "poisson_control",
    "random_quadratic_equality", "load_s2mpj", "s2mpj_equality_problems", "paper_problems",
    "PAPER_PROBLEMS",
]
