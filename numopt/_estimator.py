"""What every numopt estimator adds to scikit-learn's own base classes: the convergence
warning carrying the solver's message, and ``verbose`` progress printed from the solver's
``callback(intermediate_result)``.

The estimators inherit ``sklearn.base.BaseEstimator`` and the mixin of their kind; this
module holds only the two ideas scikit-learn does not provide, so that each lives once.
"""

from __future__ import annotations

import math
import os

import sklearn

from sklearn.exceptions import ConvergenceWarning

from ._validation import warn_caller

__all__ = ["warn_if_unconverged", "progress_callback", "report_fit"]

# the convergence measures a solver's intermediate result may carry, printed by verbose
_MEASURES = ("fun", "dual_gap", "kkt_violation", "marginal_error", "relative_residual",
             "rmse")


_SKLEARN_DIR = os.path.dirname(sklearn.__file__) + os.sep


def warn_if_unconverged(estimator, result, hint="increase max_iter or loosen tol"):
    """scikit-learn's ``ConvergenceWarning`` with the solver's own message when
    ``result`` failed."""
    if not result.success:
        # skip scikit-learn's frames too: fit_transform and set_output wrap fit
        warn_caller(f"{type(estimator).__name__} did not converge: {result.message} "
                    f"({hint}).", ConvergenceWarning, skip=(_SKLEARN_DIR,))


def _measures(result):
    parts = []
    for name in _MEASURES:
        value = result.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{name}={value:.3e}" if math.isfinite(value) else f"{name}={value}")
    return ", ".join(parts)


def progress_callback(estimator, label=""):
    """The solver callback for ``verbose >= 2`` (one line per iteration), else None."""
    if (estimator.verbose or 0) < 2:
        return None
    prefix = f"{type(estimator).__name__}{label}"

    def callback(intermediate_result):
        measures = _measures(intermediate_result)
        print(f"{prefix}: iteration {intermediate_result.nit}"
              + (f", {measures}" if measures else ""), flush=True)

    return callback


def report_fit(estimator, result, label=""):
    """For ``verbose >= 1``: one line with the fit's outcome."""
    if (estimator.verbose or 0) < 1:
        return
    measures = _measures(result)
    outcome = "converged" if result.success else "did not converge"
    print(f"{type(estimator).__name__}{label}: {outcome} after {result.nit} iterations"
          + (f" ({measures})" if measures else "") + f": {result.message}", flush=True)
