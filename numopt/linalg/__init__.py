"""Linear systems ``A x = b``: SOR/SSOR with Numba (CPU) and multicolour CuPy (GPU)
sweeps, CG/PCG with SciPy's iterates, the SSOR preconditioner, a bandit that learns the
relaxation parameter across a sequence of systems, randomized sketching solvers, and
the deep conjugate direction method with a shipped convolutional model."""

from . import _methods  # noqa: F401  (registers the methods with numopt's table)
from . import _demo  # noqa: F401  (registers the demo rows)
from ._api import (MFACInverseHessian, RelaxationLearner, cg, dcdm, default_omegas, mfac_ihvp,
                   sketch_solve, solve_sequence, sor, sor_sweep, ssor_preconditioner,
                   ichol_preconditioner)

__all__ = ["sor", "sor_sweep", "cg", "dcdm", "ssor_preconditioner", "sketch_solve",
           "RelaxationLearner", "solve_sequence", "default_omegas",
           "MFACInverseHessian", "mfac_ihvp",
           "ichol_preconditioner"]
