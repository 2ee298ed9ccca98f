"""n_jobs on the estimators (issue 23, item 4) and GridSearchCV over numopt estimators
on a Dask cluster through joblib's dask backend."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from numopt.coordinate import Lasso, LabelPropagation


def _three_classes(n_per_class=25, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    X = np.concatenate([c + rng.normal(size=(n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(3), n_per_class)
    return X, y


def test_label_propagation_fit_does_not_depend_on_n_jobs():
    X, y = _three_classes()
    partial = y.copy()
    partial[np.random.default_rng(1).random(y.shape[0]) < 0.8] = -1   # 80% unlabelled
    serial = LabelPropagation(n_neighbors=5).fit(X, partial)
    on_two = LabelPropagation(n_neighbors=5, n_jobs=2).fit(X, partial)
    # each class's problem is solved by the same code in a worker process
    np.testing.assert_array_equal(on_two.label_distributions_, serial.label_distributions_)
    assert on_two.n_iter_ == serial.n_iter_ > 1
    assert (on_two.transduction_ == y).mean() > 0.9


def test_label_propagation_warns_in_the_caller_when_workers_stop_early():
    # a warning raised in a loky worker would be lost: the fit warns after collecting
    X, y = _three_classes(10)
    partial = np.where(np.arange(y.shape[0]) % 5 == 0, y, -1)
    with pytest.warns(ConvergenceWarning, match="did not converge for class") as caught:
        LabelPropagation(n_neighbors=4, tol=1e-15, max_iter=1, n_jobs=2).fit(X, partial)
    assert len([w for w in caught if w.category is ConvergenceWarning]) == 3


def test_grid_search_over_numopt_estimators_on_dask():
    distributed = pytest.importorskip("distributed")
    X, y = _three_classes(12)
    partial = np.where(np.arange(y.shape[0]) % 3 == 0, y, -1)
    rng = np.random.default_rng(2)
    A = rng.normal(size=(40, 6))
    b = A @ np.array([1.0, -2.0, 0.0, 0.0, 0.5, 0.0]) + 0.1 * rng.normal(size=40)
    searches = [(LabelPropagation(), {"n_neighbors": [3, 6]}, X, partial),
                (Lasso(), {"alpha": [0.01, 0.1, 1.0]}, A, b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = [GridSearchCV(est, grid, cv=3).fit(data, target)
                 for est, grid, data, target in searches]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            distributed.get_task_stream(client) as stream, \
            joblib.parallel_config(backend="dask"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_dask = [GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(data, target)
                   for est, grid, data, target in searches]
    assert len(stream.data) >= 2 * 3 + 3 * 3   # every fit and score ran on the workers
    for got, want in zip(on_dask, local):
        assert got.best_params_ == want.best_params_
        np.testing.assert_allclose(got.cv_results_["mean_test_score"],
                                   want.cv_results_["mean_test_score"], rtol=1e-12)
