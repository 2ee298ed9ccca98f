"""Public entry points of numopt.linalg (re-exported by the package)."""

from ._cg import cg
from ._dcdm import dcdm
from ._mfac import MFACInverseHessian, mfac_ihvp
from ._learner import RelaxationLearner, default_omegas, solve_sequence
from ._sketch import sketch_solve
from ._smoother import sor_sweep
from ._sor import sor
from ._ssor import ssor_preconditioner
from ._ichol import ichol_preconditioner

__all__ = ["sor", "sor_sweep", "cg", "dcdm", "ssor_preconditioner", "sketch_solve", "RelaxationLearner",
           "solve_sequence", "default_omegas", "MFACInverseHessian", "mfac_ihvp",
           "ichol_preconditioner"]
