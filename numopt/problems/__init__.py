"""A gallery of test problems, one private module per problem class.

Each function is seeded and returns plain arrays (and, where one exists, the exact
answer), so the same problem serves tests, benchmarks and the demo.
"""

from ._smooth import rosenbrock
from ._linalg import (LinearSystem, heat_equation_sequence, least_squares_problem, poisson_1d,
                      poisson_2d, poisson_3d, random_spd_matrix, shifted_poisson_sequence)

__all__ = ['LinearSystem', 'poisson_1d', 'poisson_2d', 'poisson_3d', 'shifted_poisson_sequence', 'heat_equation_sequence', 'random_spd_matrix', 'least_squares_problem', "rosenbrock"]
