"""The scikit-learn estimator protocol, shared by every numopt estimator.

scikit-learn is a test and benchmark extra only, so numopt cannot inherit its
``BaseEstimator``; this base gives the same protocol (``get_params``/``set_params``
read from the ``__init__`` signature, nested ``a__b`` parameters, ``clone``-able, a
readable ``repr``), a fitted check raising ``NotFittedError`` and the convergence warning.
``__sklearn_tags__`` imports scikit-learn only when scikit-learn itself asks.
"""

from __future__ import annotations

import inspect
import sys
import warnings

from .exceptions import ConvergenceWarning, NotFittedError

__all__ = ["Estimator"]


def _not_fitted_error_class():
    # scikit-learn's class when scikit-learn is loaded, so its checks and user code that
    # catch sklearn.exceptions.NotFittedError see what they expect; both classes are
    # ValueError and AttributeError
    exceptions = sys.modules.get("sklearn.exceptions")
    return getattr(exceptions, "NotFittedError", NotFittedError)


class Estimator:
    """Base class: the parameters are exactly the keyword arguments of ``__init__``,
    stored unchanged under the same names (scikit-learn's rule); fitted state ends in
    ``_``."""

    @classmethod
    def _get_param_names(cls):
        parameters = inspect.signature(cls.__init__).parameters.values()
        for p in parameters:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args: "
                                   "estimator parameters are named")
        return sorted(p.name for p in parameters
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """The estimator's parameters; with ``deep``, those of nested estimators too, as
        ``name__parameter``."""
        params = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params):
        """Set parameters (``name__parameter`` reaches a nested estimator); returns self."""
        valid = self._get_param_names()
        nested = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {valid}.")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self, attribute):
        """Raise NotFittedError unless ``fit`` has set ``attribute``."""
        if not hasattr(self, attribute):
            raise _not_fitted_error_class()(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator.")

    def _warn_if_unconverged(self, result, hint="increase max_iter or loosen tol"):
        """ConvergenceWarning with the solver's own message when ``result`` failed."""
        if not result.success:
            warnings.warn(f"{type(self).__name__} did not converge: {result.message} "
                          f"({hint}).", ConvergenceWarning, stacklevel=3)

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))
