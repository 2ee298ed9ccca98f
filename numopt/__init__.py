"""numopt: SciPy-style solvers from recent numerical-optimization research.

Problem classes live in subpackages (``numopt.linalg``, ``numopt.ot``,
``numopt.coordinate``, ``numopt.completion``; ``numopt.parallel`` and
``numopt.distributed`` for many problems at once) that load on first access, so
``import numopt`` stays light and imports neither Numba, CuPy, scikit-learn, joblib nor dask
(``numopt.ConvergenceWarning``, scikit-learn's class, loads on first access).
"""

import importlib

from ._config import config_context, get_config, set_config
from ._minimize import minimize, show_options
from ._result import OptimizeResult, Status
from .exceptions import OptimizeWarning

__version__ = "0.1.0.dev0"

_SUBPACKAGES = ("linalg", "ot", "coordinate", "completion", "constrained", "problems",
               "testing", "parallel", "distributed")

__all__ = [
    "minimize",
    "show_options",
    "OptimizeResult",
    "Status",
    "OptimizeWarning",
    "ConvergenceWarning",
    "set_config",
    "get_config",
    "config_context",
    *_SUBPACKAGES,
]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "ConvergenceWarning":   # scikit-learn's class, imported on first use
        from . import exceptions

        return exceptions.ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES) | {"ConvergenceWarning"})
