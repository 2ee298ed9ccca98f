"""numopt.coordinate: Lasso and L1 logistic regression against skglm, celer, scikit-learn
(same input, same run, one BLAS thread), and BCD per-iteration cost.

Each peer runs with its own ``tol`` chosen (in ``setup``) as the loosest value of a
grid at which it reaches the common certificate: Lasso duality gap
<= 1e-6 ||y||^2 / n, L1-logistic KKT violation <= 1e-6. ``track_*`` report the
certificate actually reached.
"""

import numpy as np

from .common import PeerBenchmark, has_module, smoke_params, smoke_size

_TOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10)


def _lasso_gap(X, y, w, alpha):
    n = y.shape[0]
    R = y - X @ w
    dual_norm = np.max(np.abs(X.T @ R))
    const = min(1.0, n * alpha / dual_norm) if dual_norm > 0 else 1.0
    return (0.5 * (R @ R) * (1 + const ** 2) + n * alpha * np.abs(w).sum()
            - const * (R @ y)) / n


def _logistic_kkt(X, y, w, alpha):
    n = y.shape[0]
    g = X.T @ (-y / (1 + np.exp(y * (X @ w)))) / n
    s = np.where(w != 0, np.abs(g + alpha * np.sign(w)), np.maximum(np.abs(g) - alpha, 0))
    return float(s.max())


def _lasso_fits():
    from numopt.coordinate import Lasso

    fits = {"numopt": lambda d, tol: Lasso(d["alpha"], fit_intercept=False, tol=tol,
                                           max_iter=1000).fit(d["X"], d["y"]).coef_}
    if has_module("skglm"):
        from skglm import Lasso as SkglmLasso

        fits["skglm"] = lambda d, tol: SkglmLasso(alpha=d["alpha"], fit_intercept=False,
                                                  tol=tol).fit(d["X"], d["y"]).coef_
    if has_module("celer"):
        from celer import Lasso as CelerLasso

        fits["celer"] = lambda d, tol: CelerLasso(alpha=d["alpha"], fit_intercept=False,
                                                  tol=tol).fit(d["X"], d["y"]).coef_
    if has_module("sklearn"):
        from sklearn.linear_model import Lasso as SkLasso

        fits["sklearn"] = lambda d, tol: SkLasso(alpha=d["alpha"], fit_intercept=False,
                                                 tol=tol, max_iter=100_000
                                                 ).fit(d["X"], d["y"]).coef_
    return fits


def _choose_tols(fits, d, measure, target):
    tols, reached = {}, {}
    for name, fit in fits.items():
        for tol in _TOLS:
            value = measure(d["X"], d["y"], fit(d, tol), d["alpha"])
            if value <= target:
                break
        tols[name], reached[name] = tol, value
    return tols, reached


class LassoTimeToGap(PeerBenchmark):
    """Time until the duality gap is <= 1e-6 ||y||^2/n."""

    params = smoke_params(["gaussian", "correlated", "diabetes_poly4"], [20, 100])
    param_names = ["design", "alpha_ratio"]

    def setup(self, design, ratio):
        import warnings

        warnings.simplefilter("ignore")
        if design == "diabetes_poly4":
            from sklearn.datasets import load_diabetes
            from sklearn.preprocessing import PolynomialFeatures, StandardScaler

            X, y = load_diabetes(return_X_y=True)
            X = np.asfortranarray(StandardScaler().fit_transform(
                PolynomialFeatures(4, include_bias=False).fit_transform(X)))
            y = y - y.mean()
            amax = float(np.max(np.abs(X.T @ y)) / y.shape[0])
        else:
            from numopt.problems import lasso_design

            X, y, amax = lasso_design(*smoke_size((1000, 5000), (200, 500)), design=design,
                                      seed=0)
        self.inputs = {"X": X, "y": y, "alpha": amax / ratio}
        self.fits = _lasso_fits()
        target = 1e-6 * (y @ y) / y.shape[0]
        self.tols, self.reached = _choose_tols(self.fits, self.inputs, _lasso_gap, target)

    def _run(self, name):
        if name not in self.fits:
            raise NotImplementedError(f"{name} is not installed")
        self.fits[name](self.inputs, self.tols[name])

    def time_numopt(self, design, ratio):
        self._run("numopt")

    def time_skglm(self, design, ratio):
        self._run("skglm")

    def time_celer(self, design, ratio):
        self._run("celer")

    def time_sklearn(self, design, ratio):
        self._run("sklearn")

    def track_gap_numopt(self, design, ratio):
        return float(self.reached["numopt"])


class SparseLogisticBreastCancer(PeerBenchmark):
    """L1 logistic regression, breast_cancer with degree-2 features, KKT <= 1e-6."""

    params = smoke_params([10, 100],)
    param_names = ["alpha_ratio"]

    def setup(self, ratio):
        from sklearn.datasets import load_breast_cancer
        from sklearn.preprocessing import PolynomialFeatures, StandardScaler

        from numopt.coordinate import sparse_logistic_regression

        X, y = load_breast_cancer(return_X_y=True)
        X = np.asfortranarray(StandardScaler().fit_transform(
            PolynomialFeatures(2, include_bias=False).fit_transform(
                StandardScaler().fit_transform(X))))
        y = 2.0 * y - 1.0
        amax = float(np.max(np.abs(X.T @ y)) / (2 * y.shape[0]))
        self.inputs = {"X": X, "y": y, "alpha": amax / ratio}
        self.fits = {"numopt": lambda d, tol: sparse_logistic_regression(
            d["X"], d["y"], d["alpha"], tol=tol).x}
        if has_module("skglm"):
            from skglm import SparseLogisticRegression

            self.fits["skglm"] = lambda d, tol: SparseLogisticRegression(
                alpha=d["alpha"], fit_intercept=False, tol=tol).fit(
                d["X"], d["y"]).coef_.ravel()
        self.tols, self.reached = _choose_tols(self.fits, self.inputs, _logistic_kkt, 1e-6)

    def time_numopt(self, ratio):
        self.fits["numopt"](self.inputs, self.tols["numopt"])

    def time_skglm(self, ratio):
        if "skglm" not in self.fits:
            raise NotImplementedError("skglm is not installed")
        self.fits["skglm"](self.inputs, self.tols["skglm"])

    def track_kkt_numopt(self, ratio):
        return float(self.reached["numopt"])


class BCDIterations(PeerBenchmark):
    """BCD per-iteration cost on the paper's least squares (reduced experiment A):
    numopt's incremental gradient against a reference that recomputes the full
    gradient every iteration (the paper's reference implementation does)."""

    # "sparse-wide" is the paper's experiment A size (1000 x 10000, 1% dense), where the
    # compiled batches (check_every=50 iterations per call) carry the speed-up
    params = smoke_params(["gs", "gsl"], ["sparse", "dense", "sparse-wide"])
    param_names = ["rule", "storage"]

    def make_input(self, rule, storage):
        from numopt.coordinate import LeastSquares
        from numopt.problems import coordinate_least_squares

        density = None if storage == "dense" else 0.01
        n_cols = 10_000 if storage == "sparse-wide" else 2000
        A, b, _ = coordinate_least_squares(1000, n_cols, density=density, seed=0)
        # dense: the Gram matrix is built here, once, outside the timing
        return {"A": A, "b": b, "rule": rule, "problem": LeastSquares(A, b)}

    solvers = {
        "numopt": lambda d: __import__("numopt.coordinate", fromlist=["bcd"]).bcd(
            d["problem"], partition="variable", rule=d["rule"], block_size=5, maxiter=200,
            tol=1e-300),
        "full_gradient": lambda d: _full_gradient_bcd(d["A"], d["b"], d["rule"], 200),
    }

    def time_numopt(self, rule, storage):
        self.run("numopt")

    def time_full_gradient(self, rule, storage):
        self.run("full_gradient")

    def track_objective_numopt(self, rule, storage):
        return float(self.results["numopt"].fun)


def _full_gradient_bcd(A, b, rule, iters, block_size=5):
    """The reference: greedy BCD that recomputes A^T (A x - b) every iteration."""
    x = np.zeros(A.shape[1])
    L = np.asarray(A.multiply(A).sum(axis=0)).ravel() if hasattr(A, "multiply") \
        else (A * A).sum(axis=0)
    L = np.where(L > 0, L, 1.0)
    for _ in range(iters):
        g = A.T @ (A @ x - b)
        score = g * g if rule == "gs" else g * g / L
        block = np.argpartition(-score, block_size)[:block_size]
        cols = A[:, block]
        cols = cols.toarray() if hasattr(cols, "toarray") else cols
        Lb = np.linalg.eigvalsh(cols.T @ cols).max()
        x[block] -= g[block] / Lb
    return x
