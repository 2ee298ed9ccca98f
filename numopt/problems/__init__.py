"""A gallery of test problems, one private module per problem class.

Each function is seeded and returns plain arrays (and, where one exists, the exact
answer), so the same problem serves tests, benchmarks and the demo.
"""

from ._smooth import rosenbrock

__all__ = ["rosenbrock"]
