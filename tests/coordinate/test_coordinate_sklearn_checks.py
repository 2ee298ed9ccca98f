"""scikit-learn's estimator checks on numopt.coordinate's estimators."""

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from numopt.coordinate import Lasso, LabelPropagation, SparseLogisticRegression  # noqa: E402


@parametrize_with_checks([Lasso(), SparseLogisticRegression(), LabelPropagation()])
@pytest.mark.filterwarnings("ignore:Estimator .* does not inherit")
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
