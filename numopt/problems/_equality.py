"""Equality-constrained nonlinear programs ``min f(x) s.t. c(x) = 0`` for
numopt.constrained: one problem object shared by the gallery below and the S2MPJ/CUTEst
loader (``_s2mpj.py``), plus the KKT measures every comparison uses.

The gallery follows the experiments of Hong, Na, Mahoney and Kolar (ICML 2023):
constrained logistic regression (mean logistic loss s.t. ``A w = b`` and ``|w|^2 = 1``),
optimal control of the Poisson equation on an ``N x N`` grid, and a seeded nonconvex
family with quadratic equalities.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validation import check_choice, check_scalar
from ._linalg import poisson_2d

__all__ = [
    "EqualityConstrainedProblem",
    "constrained_logistic_regression",
    "poisson_control",
    "random_quadratic_equality",
]

# least-squares multipliers through a dense SVD up to this many Jacobian entries
_DENSE_LSTSQ_LIMIT = 250_000


@dataclass(frozen=True, eq=False)
class EqualityConstrainedProblem:
    """An equality-constrained problem, minimize ``f(x)`` subject to ``c(x) = 0``, with
    first derivatives and Hessian-vector products.

    Attributes
    ----------
    name : str
    x0 : ndarray, shape (n,)
        The starting point.
    n, m : int
        Numbers of unknowns and of equality constraints.
    fun : callable ``fun(x) -> float``
    grad : callable ``grad(x) -> ndarray (n,)``
    constraint : callable ``constraint(x) -> ndarray (m,)``
        ``c(x)``; the problem asks for ``c(x) = 0``.
    jacobian : callable ``jacobian(x) -> ndarray or scipy.sparse (m, n)``
    hessp : callable ``hessp(x, v) -> ndarray (n,)``
        Product of the objective's Hessian with ``v``.
    constraint_hessp : callable ``constraint_hessp(x, y, v) -> ndarray (n,)``
        ``sum_i y_i Hess c_i(x) v``.
    hess : callable ``hess(x) -> ndarray or scipy.sparse (n, n)``, optional
        The objective's Hessian as a matrix, where one is cheap to form.
    constraint_hess : callable ``constraint_hess(x, y) -> ndarray or scipy.sparse``, optional
        ``sum_i y_i Hess c_i(x)`` as a matrix.
    x_star : ndarray or None
        A known solution, where there is one in closed form.
    info : dict
        Provenance (data set, grid size, seed, S2MPJ classification...).
    """

    name: str
    x0: np.ndarray
    n: int
    m: int
    fun: Callable
    grad: Callable
    constraint: Callable
    jacobian: Callable
    hessp: Callable
    constraint_hessp: Callable
    hess: Callable | None = None
    constraint_hess: Callable | None = None
    x_star: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __repr__(self):
        return f"EqualityConstrainedProblem({self.name!r}, n={self.n}, m={self.m})"

    # ---- derived quantities -------------------------------------------------------

    def lagrangian_hessp(self, x, y, v):
        """``(Hess f(x) + sum_i y_i Hess c_i(x)) v``, the Lagrangian ``f + y^T c``."""
        return self.hessp(x, v) + self.constraint_hessp(x, y, v)

    def lagrangian_gradient(self, x, y):
        """``grad f(x) + J(x)^T y``."""
        return self.grad(x) + self.jacobian(x).T @ np.asarray(y, dtype=float)

    def least_squares_multipliers(self, x):
        """The multipliers that minimize ``|grad f(x) + J(x)^T y|``.

        They give the smallest KKT residual any multiplier estimate can have at ``x``,
        so comparing solvers by it does not depend on how each one estimates ``y``.
        """
        g = np.asarray(self.grad(x), dtype=float)
        J = self.jacobian(x)
        if not sp.issparse(J) or self.m * self.n <= _DENSE_LSTSQ_LIMIT:
            # SVD-based: also right where J is rank-deficient (the minimum-norm y)
            J = J.toarray() if sp.issparse(J) else np.asarray(J, dtype=float)
            return np.linalg.lstsq(J.T, -g, rcond=None)[0]
        # The augmented system [I J^T; J 0] [r; y] = [-g; 0] is the stable sparse way to
        # a least-squares solution (normal equations square the conditioning); it is
        # singular where J loses rank, and LSQR takes over.
        J = sp.csr_array(J, dtype=float)
        K = sp.block_array([[sp.identity(self.n, format="csr"), J.T], [J, None]], format="csc")
        rhs = np.concatenate([-g, np.zeros(self.m)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", spla.MatrixRankWarning)
            y = spla.spsolve(K, rhs)[self.n:]
        if np.all(np.isfinite(y)):
            return y
        return spla.lsqr(J.T, -g, atol=1e-15, btol=1e-15, iter_lim=20 * self.m)[0]

    def kkt_residual(self, x, y=None):
        """``|(grad f(x) + J(x)^T y, c(x))|_2``; ``y=None`` uses the least-squares
        multipliers (the smallest residual over all ``y``)."""
        x = np.asarray(x, dtype=float)
        y = self.least_squares_multipliers(x) if y is None else np.asarray(y, dtype=float)
        stationarity = self.lagrangian_gradient(x, y)
        violation = np.asarray(self.constraint(x), dtype=float)
        return float(np.sqrt(stationarity @ stationarity + violation @ violation))

    # ---- hand-off to SciPy-style solvers ------------------------------------------

    def scipy_constraint(self, *, dense_jacobian=False, second_order=True, hessian="product"):
        """The constraints as ``scipy.optimize.NonlinearConstraint(c, 0, 0, jac, hess)``.
        ``hess(x, y)`` is a LinearOperator over ``constraint_hessp`` (``hessian=
        "product"``, matrix-free) or the matrix ``constraint_hess(x, y)`` (``hessian=
        "matrix"``), and is left out without ``second_order`` (SLSQP warns about it).
        SLSQP needs ``dense_jacobian=True``."""
        from scipy.optimize import NonlinearConstraint

        check_choice(hessian, "hessian", ("product", "matrix"))
        jac = _densified(self.jacobian) if dense_jacobian else self.jacobian
        if not second_order:
            return NonlinearConstraint(self.constraint, 0.0, 0.0, jac=jac)
        if hessian == "matrix":
            if self.constraint_hess is None:
                raise ValueError(f"hessian: problem {self.name} has no constraint_hess matrix")
            return NonlinearConstraint(self.constraint, 0.0, 0.0, jac=jac,
                                       hess=self.constraint_hess)
        n, constraint_hessp = self.n, self.constraint_hessp

        def hess(x, y):
            return spla.LinearOperator((n, n), matvec=lambda v: constraint_hessp(x, y, np.ravel(v)),
                                       dtype=float)

        return NonlinearConstraint(self.constraint, 0.0, 0.0, jac=jac, hess=hess)

    def minimize_kwargs(self, *, second_order=True, dense_jacobian=False, hessian="product"):
        """Keyword arguments for ``scipy.optimize.minimize`` / ``numopt.minimize``:
        ``fun, x0, jac, constraints`` and, with ``second_order``, the Hessians: ``hessp``
        and products for the constraints (``hessian="product"``), or ``hess`` and the
        constraints' matrix (``hessian="matrix"``). ``second_order=False`` and
        ``dense_jacobian=True`` suit SLSQP."""
        constraint = self.scipy_constraint(dense_jacobian=dense_jacobian,
                                           second_order=second_order, hessian=hessian)
        kwargs = {"fun": self.fun, "x0": self.x0.copy(), "jac": self.grad,
                  "constraints": [constraint]}
        if second_order and hessian == "matrix":
            if self.hess is None:
                raise ValueError(f"hessian: problem {self.name} has no hess matrix")
            kwargs["hess"] = self.hess
        elif second_order:
            kwargs["hessp"] = self.hessp
        return kwargs

    # ---- checks -------------------------------------------------------------------

    def derivative_errors(self, x=None, *, seed=0, step=1e-6):
        """Relative errors of the supplied derivatives against central differences along
        one random direction ``d`` (and random multipliers ``y``) at ``x`` (default x0).

        Returns a dict with keys ``grad`` (``grad f . d``), ``jacobian`` (``J d``),
        ``hessp`` (``Hess f d``) and ``constraint_hessp`` (``sum y_i Hess c_i d``), plus
        ``hess`` and ``constraint_hess`` (the matrices times ``d``) where the problem has
        them, each ``|analytic - difference| / max(|analytic|, |difference|, 1)``.
        """
        rng = np.random.default_rng(seed)
        x = np.array(self.x0 if x is None else x, dtype=float)
        d = rng.standard_normal(self.n)
        d /= np.linalg.norm(d)
        y = rng.standard_normal(self.m)
        h = step * max(1.0, float(np.linalg.norm(x)))

        def central(func):
            return (np.asarray(func(x + h * d), dtype=float)
                    - np.asarray(func(x - h * d), dtype=float)) / (2.0 * h)

        pairs = {
            "grad": (np.asarray(self.grad(x)) @ d, central(self.fun)),
            "jacobian": (self.jacobian(x) @ d, central(self.constraint)),
            "hessp": (self.hessp(x, d), central(self.grad)),
            "constraint_hessp": (self.constraint_hessp(x, y, d),
                                 central(lambda z: self.jacobian(z).T @ y)),
        }
        if self.hess is not None:
            pairs["hess"] = (self.hess(x) @ d, pairs["hessp"][1])
        if self.constraint_hess is not None:
            pairs["constraint_hess"] = (self.constraint_hess(x, y) @ d,
                                        pairs["constraint_hessp"][1])
        return {key: _relative_gap(a, b) for key, (a, b) in pairs.items()}


def _relative_gap(a, b):
    a, b = np.atleast_1d(np.asarray(a, dtype=float)), np.atleast_1d(np.asarray(b, dtype=float))
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1.0)
    return float(np.linalg.norm(a - b)) / scale


def _densified(jacobian):
    def dense(x):
        J = jacobian(x)
        return J.toarray() if sp.issparse(J) else np.asarray(J)
    return dense


# ---- constrained logistic regression ----------------------------------------------

def _bundled_binary_data(dataset):
    """Standardized features and +-1 labels of a scikit-learn bundled data set."""
    from sklearn import datasets

    if dataset == "breast_cancer":
        X, labels = datasets.load_breast_cancer(return_X_y=True)
        signs = np.where(labels == 1, 1.0, -1.0)
    else:  # digits: small digits (0-4) against large ones (5-9)
        X, labels = datasets.load_digits(return_X_y=True)
        signs = np.where(labels >= 5, 1.0, -1.0)
    spread = X.std(axis=0)
    spread[spread == 0] = 1.0  # constant pixels of the digits stay zero
    return (X - X.mean(axis=0)) / spread, signs


def constrained_logistic_regression(dataset="breast_cancer", *, n_linear=5, seed=0):
    """Mean logistic loss ``f(w) = 1/N sum log(1 + exp(-y_i x_i^T w))`` subject to
    ``A w = b`` (``n_linear`` seeded Gaussian rows) and ``|w|^2 = 1``.

    The data set is one that scikit-learn ships (no download): ``"breast_cancer"``
    (569 x 30) or ``"digits"`` (1797 x 64, digits 0-4 against 5-9), standardized.
    ``b = A w_feas`` for a seeded unit vector ``w_feas``, so the constraints are
    consistent; ``x0`` is the unit vector ``(1, ..., 1) / sqrt(d)``. ``m = n_linear + 1``
    and the last constraint is the sphere.
    """
    check_choice(dataset, "dataset", ("breast_cancer", "digits"))
    X, signs = _bundled_binary_data(dataset)
    n_samples, d = X.shape
    n_linear = check_scalar(n_linear, "n_linear", low=0, high=d - 1, integer=True)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_linear, d)) / np.sqrt(d)
    w_feas = rng.standard_normal(d)
    w_feas /= np.linalg.norm(w_feas)
    b = A @ w_feas
    signed = signs[:, None] * X  # row i is y_i x_i

    def fun(w):
        return float(np.mean(np.logaddexp(0.0, -(signed @ w))))

    def grad(w):
        # d/dz log(1 + exp(-z)) = -sigmoid(-z)
        return -(signed.T @ _sigmoid(-(signed @ w))) / n_samples

    def hessp(w, v):
        s = _sigmoid(signed @ w)
        return signed.T @ (s * (1.0 - s) * (signed @ v)) / n_samples

    def hess(w):
        s = _sigmoid(signed @ w)
        return signed.T @ ((s * (1.0 - s))[:, None] * signed) / n_samples

    def constraint(w):
        return np.concatenate([A @ w - b, [w @ w - 1.0]])

    def jacobian(w):
        return np.vstack([A, 2.0 * w[None, :]])

    def constraint_hessp(w, y, v):
        return 2.0 * float(y[-1]) * np.asarray(v, dtype=float)

    def constraint_hess(w, y):
        return sp.diags_array(np.full(d, 2.0 * float(y[-1])), format="csr")

    return EqualityConstrainedProblem(
        name=f"logistic-{dataset}", x0=np.full(d, 1.0 / np.sqrt(d)), n=d, m=n_linear + 1,
        fun=fun, grad=grad, constraint=constraint, jacobian=jacobian, hessp=hessp,
        constraint_hessp=constraint_hessp, hess=hess, constraint_hess=constraint_hess,
        info={"dataset": dataset, "n_samples": n_samples, "seed": seed, "w_feas": w_feas})


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


# ---- optimal control of the Poisson equation --------------------------------------

def poisson_control(N=32, *, alpha=1e-3, cubic=0.0):
    """Distributed control of the Poisson equation on the unit square, ``N x N``
    interior grid (Dirichlet boundary), unknowns ``x = (y, u)``, ``n = 2 N^2``,
    ``m = N^2``::

        min  1/2 |y - y_d|^2 + alpha/2 |u|^2
        s.t. A y + cubic h^2 y^3 - h^2 u = 0,

    with ``A`` the unscaled 5-point Laplacian (``poisson_2d``), ``h = 1/(N+1)`` and
    ``y_d(s, t) = sin(pi s) sin(2 pi t)``: the constraint is ``-Lap_h y + cubic y^3 = u``
    multiplied by ``h^2`` so that the Jacobian's entries are O(1), and the objective is
    the discrete tracking functional divided by ``h^2``. The Jacobian
    ``[A + 3 cubic h^2 diag(y^2), -h^2 I]`` is a SciPy CSR array; the Hessians are
    diagonal (products, or CSR matrices). ``x0 = 0``.

    With ``cubic=0`` (default) the problem is a strictly convex QP and ``x_star`` holds
    its solution (one sparse KKT solve); ``cubic > 0`` makes it a semilinear, nonconvex
    problem without a closed form.
    """
    N = check_scalar(N, "N", low=1, integer=True)
    alpha = check_scalar(alpha, "alpha", low=0.0, low_open=True)
    cubic = check_scalar(cubic, "cubic", low=0.0)
    size = N * N
    h = 1.0 / (N + 1)
    grid = np.arange(1, N + 1) * h
    s, t = np.meshgrid(grid, grid, indexing="ij")
    y_target = (np.sin(np.pi * s) * np.sin(2.0 * np.pi * t)).ravel()
    A = poisson_2d(N)
    control_block = sp.csr_array(-h * h * sp.identity(size, format="csr"))

    def split(x):
        x = np.asarray(x, dtype=float)
        return x[:size], x[size:]

    def fun(x):
        y, u = split(x)
        r = y - y_target
        return 0.5 * float(r @ r) + 0.5 * alpha * float(u @ u)

    def grad(x):
        y, u = split(x)
        return np.concatenate([y - y_target, alpha * u])

    def hessp(x, v):
        v_y, v_u = split(v)
        return np.concatenate([v_y, alpha * v_u])

    def constraint(x):
        y, u = split(x)
        return A @ y + (cubic * h * h) * y ** 3 - (h * h) * u

    def jacobian(x):
        y, _ = split(x)
        state_block = A if cubic == 0.0 else A + sp.diags_array(3.0 * cubic * h * h * y ** 2)
        return sp.hstack([state_block, control_block], format="csr")

    def constraint_hessp(x, lam, v):
        y, _ = split(x)
        v_y, _ = split(v)
        curvature = (6.0 * cubic * h * h) * np.asarray(lam, dtype=float) * y * v_y
        return np.concatenate([curvature, np.zeros(size)])

    objective_hessian = sp.diags_array(np.concatenate([np.ones(size), np.full(size, alpha)]),
                                       format="csr")

    def hess(x):
        return objective_hessian

    def constraint_hess(x, lam):
        y, _ = split(x)
        curvature = (6.0 * cubic * h * h) * np.asarray(lam, dtype=float) * y
        return sp.diags_array(np.concatenate([curvature, np.zeros(size)]), format="csr")

    x_star = None
    if cubic == 0.0:
        # the QP's KKT system [H J^T; J 0] [x; lam] = [(y_d, 0); 0], one direct solve
        J = jacobian(np.zeros(2 * size))
        K = sp.block_array([[objective_hessian, J.T], [J, None]], format="csc")
        rhs = np.concatenate([y_target, np.zeros(size), np.zeros(size)])
        x_star = spla.spsolve(K, rhs)[:2 * size]

    return EqualityConstrainedProblem(
        name=f"poisson-control-{N}", x0=np.zeros(2 * size), n=2 * size, m=size,
        fun=fun, grad=grad, constraint=constraint, jacobian=jacobian, hessp=hessp,
        constraint_hessp=constraint_hessp, hess=hess, constraint_hess=constraint_hess,
        x_star=x_star,
        info={"N": N, "alpha": alpha, "cubic": cubic, "y_target": y_target})


# ---- synthetic nonconvex family ----------------------------------------------------

def random_quadratic_equality(n=1000, m=500, *, curvature=1.0, seed=0):
    """A seeded nonconvex problem with ``m`` quadratic equality constraints::

        min  1/2 x^T Q x + q^T x + curvature * sum_i cos(x_i)
        s.t. c_i(x) = b_i^T x + (r_i^T x)(s_i^T x) - d_i = 0,   i = 1..m,

    ``Q = I/2 + G^T G / (2n)`` (spectrum about [0.5, 2.5]), so the objective is bounded
    below but, with ``curvature = 1``, not convex (its Hessian ``Q - curvature
    diag(cos x)`` has negative eigenvalues near ``x = 0``); ``B, R, S`` have N(0, 1/n)
    entries and ``d`` makes a seeded Gaussian point feasible. Dense Jacobian
    ``B + diag(S x) R + diag(R x) S``; ``sum_i y_i Hess c_i = R^T diag(y) S + S^T diag(y)
    R``. ``x0 = 0`` (where the Jacobian is ``B``, of full rank ``m``).
    """
    n = check_scalar(n, "n", low=1, integer=True)
    m = check_scalar(m, "m", low=1, high=n, integer=True)
    curvature = check_scalar(curvature, "curvature", low=0.0)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, n))
    Q = 0.5 * np.eye(n) + (G.T @ G) / (2.0 * n)
    q = rng.standard_normal(n) / np.sqrt(n)
    B, R, S = (rng.standard_normal((m, n)) / np.sqrt(n) for _ in range(3))
    x_feas = rng.standard_normal(n)
    d = B @ x_feas + (R @ x_feas) * (S @ x_feas)

    def fun(x):
        return float(0.5 * x @ (Q @ x) + q @ x + curvature * np.sum(np.cos(x)))

    def grad(x):
        return Q @ x + q - curvature * np.sin(x)

    def hessp(x, v):
        return Q @ v - curvature * np.cos(x) * v

    def constraint(x):
        return B @ x + (R @ x) * (S @ x) - d

    def jacobian(x):
        return B + (S @ x)[:, None] * R + (R @ x)[:, None] * S

    def constraint_hessp(x, y, v):
        y = np.asarray(y, dtype=float)
        return R.T @ (y * (S @ v)) + S.T @ (y * (R @ v))

    def hess(x):
        return Q - np.diag(curvature * np.cos(x))

    def constraint_hess(x, y):
        half = R.T @ (np.asarray(y, dtype=float)[:, None] * S)
        return half + half.T

    return EqualityConstrainedProblem(
        name=f"random-quadratic-{n}x{m}", x0=np.zeros(n), n=n, m=m,
        fun=fun, grad=grad, constraint=constraint, jacobian=jacobian, hessp=hessp,
        constraint_hessp=constraint_hessp, hess=hess, constraint_hess=constraint_hess,
        info={"seed": seed, "curvature": curvature, "x_feas": x_feas})
