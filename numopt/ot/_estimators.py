"""scikit-learn estimators: entropic and sparsity-constrained OT between point clouds,
in POT's domain-adaptation convention (``ot.da.SinkhornTransport``'s ``fit(Xs=..., Xt=...)``,
``transform(Xs=...)``, ``coupling_``)."""

from __future__ import annotations

import numpy as np

import array_api_compat.numpy as _np_xp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._estimator import progress_callback, report_fit, warn_if_unconverged
from .._units import Pow2, binary_exponent, max_abs

_FLOATS = [np.float64, np.float32]

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


class _TransportEstimator(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Shared fit/transform in POT's domain-adaptation convention (``ot.da``):
    ``fit(Xs=None, ys=None, Xt=None, yt=None)``, ``transform(Xs)``, ``coupling_``.
    Subclasses implement ``_solve(a, b, M, callback) -> OptimizeResult``. No
    ``set_output`` wrapping: its wrapper takes ``X`` positionally, and POT's users call
    ``transform(Xs=...)``."""

    def fit(self, Xs=None, ys=None, Xt=None, yt=None, *, a=None, b=None):
        """Transport the source cloud ``Xs`` onto the target cloud ``Xt``.

        Parameters
        ----------
        Xs : array-like of shape (n_source, n_features)
            Source samples.
        ys : array-like of shape (n_source,), optional
            Source labels: accepted for POT's signature and unused, as in POT when
            ``yt`` is not given (label supervision, ``ys`` with ``yt``, is not
            supported).
        Xt : array-like of shape (n_target, n_features)
            Target samples (required).
        yt : None
            Target labels: not supported (raises ``ValueError``).
        a, b : array-like, optional
            Weights of the source and target samples (uniform by default).

        Returns
        -------
        self
        """
        if Xs is None:
            raise ValueError("Xs (the source point cloud) is required: fit(Xs=Xs, Xt=Xt), "
                             "POT's domain-adaptation convention")
        Xs = validate_data(self, Xs, dtype=_FLOATS)
        if Xt is None:
            raise ValueError("Xt (the target point cloud) is required: fit(Xs=Xs, Xt=Xt), "
                             "POT's domain-adaptation convention")
        if yt is not None:
            raise ValueError("yt: label supervision (ys with yt) is not supported; fit with "
                             "Xs and Xt only")
        Xt = check_array(Xt, dtype=_FLOATS, input_name="Xt")
        if Xs.shape[1] != Xt.shape[1]:
            raise ValueError(f"Xs and Xt must have the same number of features, got "
                             f"{Xs.shape[1]} and {Xt.shape[1]}")
        dtype = np.result_type(Xs.dtype, Xt.dtype)
        Xs, Xt = Xs.astype(dtype, copy=False), Xt.astype(dtype, copy=False)
        M, unit = _squared_euclidean(Xs, Xt)
        top = float(M.max())
        if self.normalize_cost and top > 0:
            M = M / top
        else:   # the solver sees the cost in the caller's units
            M, top, unit = unit.up(M), 1.0, Pow2()
        # cost_scale_ is inf where the true cost is past the float range
        self.cost_scale_ = unit.up(top)
        # cdist works in float64: the solver runs in the clouds' precision
        res = self._solve(a, b, M.astype(dtype, copy=False), progress_callback(self))
        report_fit(self, res)
        warn_if_unconverged(self, res)
        self.result_ = res
        self.coupling_ = res.plan
        self.cost_ = unit.up(res.cost * top)
        self.n_iter_ = res.nit
        self.Xs_, self.Xt_ = Xs, Xt
        return self

    def transform(self, Xs):
        """Barycentric map: each fitted source point goes to the plan-weighted mean of the
        targets; other points (and fitted points of zero weight, which the plan does not
        move) move with the displacement of their nearest fitted point that it moves.
        float32 input gives float32 output."""
        check_is_fitted(self)
        Xs = validate_data(self, Xs, dtype=_FLOATS, reset=False)
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
            return mapped.astype(Xs.dtype, copy=False)
        nearest = np.argmin(_squared_euclidean(Xs, self.Xs_)[0], axis=1)
        return (Xs + shift[nearest]).astype(Xs.dtype, copy=False)

    def fit_transform(self, Xs=None, ys=None, Xt=None, yt=None, *, a=None, b=None):
        """``fit(Xs, ys, Xt, yt, a=a, b=b).transform(Xs)``."""
        return self.fit(Xs, ys, Xt, yt, a=a, b=b).transform(Xs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


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
    verbose : int, default 0
        1: print the fit's outcome; 2: also one line per iteration.

    Attributes
    ----------
    coupling_ : ndarray (n_source, n_target)
        The transport plan, float32 for float32 clouds.
    cost_ : float
        <P, M> in the original (unnormalized) cost.
    n_iter_ : int
    result_ : OptimizeResult
    Xs_, Xt_ : ndarray
        The fitted clouds.
    n_features_in_ : int

    Examples
    --------
    POT's domain-adaptation convention, so ``ot.da.SinkhornTransport(reg_e=0.05,
    norm="max")`` becomes:

    >>> from numopt.ot import EntropicOT
    >>> from numopt.problems import random_point_clouds
    >>> Xs, Xt = random_point_clouds(40, 30, seed=0)
    >>> mapping = EntropicOT(reg=0.05).fit(Xs=Xs, Xt=Xt)
    >>> mapping.coupling_.shape, mapping.transform(Xs=Xs).shape
    ((40, 30), (40, 2))
    """

    def __init__(self, reg=0.05, method="auto", tol=1e-9, max_iter=10000, normalize_cost=True,
                 verbose=0):
        self.reg = reg
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.normalize_cost = normalize_cost
        self.verbose = verbose

    def _solve(self, a, b, M, callback):
        from ._api import sinkhorn

        return sinkhorn(a, b, M, self.reg, method=self.method, tol=self.tol,
                        maxiter=self.max_iter, callback=callback)


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
    verbose : int, default 0

    Attributes
    ----------
    coupling_ : scipy.sparse.csr_array (n_source, n_target)
    cost_, n_iter_, result_, Xs_, Xt_, n_features_in_ : as in :class:`EntropicOT`
    """

    def __init__(self, k=5, gamma=1.0, formulation="semi_dual", tol=1e-6, max_iter=500,
                 normalize_cost=True, verbose=0):
        self.k = k
        self.gamma = gamma
        self.formulation = formulation
        self.tol = tol
        self.max_iter = max_iter
        self.normalize_cost = normalize_cost
        self.verbose = verbose

    def _solve(self, a, b, M, callback):
        from ._api import sparse_ot

        return sparse_ot(a, b, M, self.k, gamma=self.gamma, formulation=self.formulation,
                         tol=self.tol, maxiter=self.max_iter, callback=callback)
