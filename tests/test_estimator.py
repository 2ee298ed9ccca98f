"""The shared estimator base (numopt._estimator.Estimator) and every numopt estimator
against scikit-learn's own protocol checks (those that do not assume fit(X, y))."""

import warnings

import numpy as np
import pytest

from numopt._estimator import Estimator
from numopt.completion import MatrixCompleter
from numopt.coordinate import Lasso, LabelPropagation, SparseLogisticRegression
from numopt.exceptions import ConvergenceWarning, NotFittedError
from numopt.ot import EntropicOT, SparseOT

ESTIMATORS = [EntropicOT, SparseOT, MatrixCompleter, Lasso, SparseLogisticRegression,
              LabelPropagation]


class _Inner(Estimator):
    def __init__(self, depth=1):
        self.depth = depth


class _Outer(Estimator):
    def __init__(self, inner=None, scale=2.0):
        self.inner = inner
        self.scale = scale


def test_params_come_from_init_and_nest():
    est = _Outer(inner=_Inner(3))
    assert est.get_params(deep=False) == {"inner": est.inner, "scale": 2.0}
    assert est.get_params()["inner__depth"] == 3
    assert est.set_params(inner__depth=5, scale=1.0) is est
    assert (est.inner.depth, est.scale) == (5, 1.0)
    assert repr(_Inner(4)) == "_Inner(depth=4)"
    with pytest.raises(ValueError, match="Invalid parameter 'depht'.*_Inner"):
        _Inner().set_params(depht=2)


def test_not_fitted_error_is_value_and_attribute_error():
    with pytest.raises(ValueError, match="not fitted"):
        EntropicOT().transform(np.zeros((2, 2)))
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_scikit_learn_protocol_checks(cls):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.utils import estimator_checks as checks

    est = cls()
    name = cls.__name__
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimator .* does not inherit")
        checks.check_parameters_default_constructible(name, est)
        checks.check_no_attributes_set_in_init(name, est)
        checks.check_get_params_invariance(name, est)
        checks.check_set_params(name, est)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert sklearn.base.is_regressor(est) == (cls is Lasso)


def test_unfitted_estimators_raise_scikit_learns_not_fitted_error():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    with pytest.raises(SkNotFitted):
        MatrixCompleter().predict([0], [0])
    with pytest.raises(SkNotFitted):
        SparseOT().transform(np.zeros((2, 2)))
    with pytest.raises(SkNotFitted):
        Lasso().predict(np.zeros((2, 2)))


def test_unconverged_fit_warns_with_the_solvers_message():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) + 1
    with pytest.warns(ConvergenceWarning, match="EntropicOT did not converge: .*max_iter"):
        est = EntropicOT(reg=0.01, method="log", max_iter=2).fit(Xs, Xt)
    assert not est.result_.success
