"""scikit-learn-style estimators: entropic and sparsity-constrained OT between point clouds."""

from __future__ import annotations

import numpy as np

import array_api_compat.numpy as _np_xp

from .._estimator import Estimator
from .._units import Pow2, binary_exponent, max_abs
from .._validation import as_array

__all__ = ["EntropicOT", "SparseOT"]


def _squared_euclidean(Xs, Xt):
    """``(D, unit)``: the squared distances are ``unit.up(D)``. ``D`` is computed on
    both clouds divided by one power of two, exactly, so that coordinates near 1e160
    (whose squares overflow) or 1e-170 (whose squares underflow to 0) give the same
    digits as coordinates near 1."""
    from scipy.spatial.distance import cdist

    scale = Pow2(binary_exponent(max(max_abs(_np_xp, Xs), max_abs(_np_xp, Xt))))
    D = cdist(scale.down(Xs), scale.down(Xt), "sqeuclidean")
    return D, scale * scale


def _check_cloud(X, name):
    X = np.asarray(as_array(X, name, _np_xp, ndim=2), dtype=np.float64)
    return X


class _TransportEstimator(Estimator):
    """Shared fit/transform: subclasses implement ``_solve(a, b, M) -> OptimizeResult``."""

    def _check_clouds(self, Xs, Xt):
        if Xt is None:
            raise ValueError("Xt (the target point cloud) is required: fit(Xs, Xt)")
        Xs, Xt = _check_cloud(Xs, "Xs"), _check_cloud(Xt, "Xt")
        if Xs.shape[1] != Xt.shape[1]:
            raise ValueError(f"Xs and Xt must have the same number of features, got "
                             f"{Xs.shape[1]} and {Xt.shape[1]}")
        return Xs, Xt

    def fit(self, Xs, Xt=None, a=None, b=None):
        """Transport the weighted cloud ``(Xs, a)`` onto ``(Xt, b)`` (uniform by default)."""
        Xs, Xt = self._check_clouds(Xs, Xt)
        M, unit = _squared_euclidean(Xs, Xt)
        top = float(M.max())
        if self.normalize_cost and top > 0:
            M = M / top
        else:   # the solver sees the cost in the caller's units
            M, top, unit = unit.up(M), 1.0, Pow2()
        # cost_scale_ is inf where the true cost is past the float range
        self.cost_scale_ = unit.up(top)
        res = self._solve(a, b, M)
        self._warn_if_unconverged(res)
        self.result_ = res
        self.coupling_ = res.plan
        self.cost_ = unit.up(res.cost * top)
        self.n_iter_ = res.nit
        self.Xs_, self.Xt_ = Xs, Xt
        self.n_features_in_ = Xs.shape[1]
        return self

    def transform(self, Xs):
        """Barycentric map: each fitted source point goes to the plan-weighted mean of the
        targets; other points (and fitted points of zero weight, which the plan does not
        move) move with the displacement of their nearest fitted point that it moves."""
        self._check_fitted("coupling_")
        Xs = _check_cloud(Xs, "Xs")
        if Xs.shape[1] != self.n_features_in_:
            raise ValueError(f"Xs has {Xs.shape[1]} features, but {type(self).__name__} "
                             f"was fitted with {self.n_features_in_}")
        P = self.coupling_
        mass = np.asarray(P.sum(axis=1)).ravel()
        carries = mass > 0
        mapped = np.asarray(P @ self.Xt_) / np.where(carries, mass, 1.0)[:, None]
        shift = mapped - self.Xs_
        if not carries.all():
            # a source point of zero weight has no image (its row of the plan is 0; it
            # used to land on the origin): it moves with its nearest point that has one
            near = np.argmin(_squared_euclidean(self.Xs_[~carries], self.Xs_[carries])[0],
                             axis=1)
            shift[~carries] = shift[carries][near]
            mapped[~carries] = self.Xs_[~carries] + shift[~carries]
        if Xs.shape == self.Xs_.shape and np.array_equal(Xs, self.Xs_):
            return mapped
        nearest = np.argmin(_squared_euclidean(Xs, self.Xs_)[0], axis=1)
        return Xs + shift[nearest]

    def fit_transform(self, Xs, Xt=None, a=None, b=None):
        return self.fit(Xs, Xt, a=a, b=b).transform(Xs)


class EntropicOT(_TransportEstimator):
    """Entropic OT between point clouds with :func:`numopt.ot.sinkhorn`.

    Parameters
    ----------
    reg : float
        Entropic regularization (relative to the cost when ``normalize_cost``).
    method : {"auto", "kernel", "log", "sns"}
    tol : float
        L1 marginal error to reach.
    max_iter : int
    normalize_cost : bool
        Divide the squared Euclidean cost by its maximum (default True).

    Attributes
    ----------
    coupling_ : ndarray (n_source, n_target)
    cost_ : float
        <P, M> in the original (unnormalized) cost.
    n_iter_ : int
    result_ : OptimizeResult
    """

    def __init__(self, reg=0.05, method="auto", tol=1e-9, max_iter=10000, normalize_cost=True):
        self.reg = reg
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.normalize_cost = normalize_cost

    def _solve(self, a, b, M):
        from ._api import sinkhorn

        return sinkhorn(a, b, M, self.reg, method=self.method, tol=self.tol,
                        maxiter=self.max_iter)


class SparseOT(_TransportEstimator):
    """Sparsity-constrained OT between point clouds with :func:`numopt.ot.sparse_ot`:
    each target point receives mass from at most ``k`` source points.

    Parameters
    ----------
    k : int
    gamma : float
        Quadratic regularization (relative to the cost when ``normalize_cost``).
    formulation : {"semi_dual", "dual"}
    tol : float
    max_iter : int
    normalize_cost : bool

    Attributes
    ----------
    coupling_ : scipy.sparse.csr_array (n_source, n_target)
    cost_, n_iter_, result_ : as in :class:`EntropicOT`
    """

    def __init__(self, k=5, gamma=1.0, formulation="semi_dual", tol=1e-6, max_iter=500,
                 normalize_cost=True):
        self.k = k
        self.gamma = gamma
        self.formulation = formulation
        self.tol = tol
        self.max_iter = max_iter
        self.normalize_cost = normalize_cost

    def _solve(self, a, b, M):
        from ._api import sparse_ot

        return sparse_ot(a, b, M, self.k, gamma=self.gamma, formulation=self.formulation,
                         tol=self.tol, maxiter=self.max_iter)
