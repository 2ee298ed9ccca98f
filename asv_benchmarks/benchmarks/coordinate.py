"""numopt.coordinate: Lasso, elastic-net paths and L1 logistic regression against skglm,
celer, scikit-learn (same input, same run, one BLAS thread), and BCD per-iteration cost.

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


def _sparse_truth(n, p, k, seed=0):
    """Gaussian ``n x p`` design, ``k`` true nonzeros, 10% noise (issue 24's easy
    instances); ``alpha_max`` is the smallest penalty with the zero solution."""
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.standard_normal((n, p)))
    w = np.zeros(p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    y = X @ w
    y = y + 0.1 * np.std(y) * rng.standard_normal(n)
    return X, y, float(np.max(np.abs(X.T @ y)) / n)


class LassoSparseTruth(LassoTimeToGap):
    """Time until the duality gap is <= 1e-6 ||y||^2/n on a Gaussian design with a
    sparse truth at alpha_max/50 (issue 24)."""

    params = smoke_params([(800, 3000, 30), (500, 10000, 20), (2000, 2000, 50)],)
    param_names = ["n_p_k"]

    def setup(self, shape):
        import warnings

        warnings.simplefilter("ignore")
        X, y, amax = _sparse_truth(*smoke_size(shape, (100, 300, 5)))
        self.inputs = {"X": X, "y": y, "alpha": amax / 50}
        self.fits = _lasso_fits()
        target = 1e-6 * (y @ y) / y.shape[0]
        self.tols, self.reached = _choose_tols(self.fits, self.inputs, _lasso_gap, target)

    def time_numopt(self, shape):
        self._run("numopt")

    def time_skglm(self, shape):
        self._run("skglm")

    def time_celer(self, shape):
        self._run("celer")

    def time_sklearn(self, shape):
        self._run("sklearn")

    def track_gap_numopt(self, shape):
        return float(self.reached["numopt"])


def _path_fits(l1_ratio):
    """name -> fit(d, tol) -> coefs (p, n_alphas) along ``d["alphas"]`` (decreasing),
    warm-started, no intercept."""
    from numopt.coordinate import enet_path

    fits = {"numopt": lambda d, tol: enet_path(d["X"], d["y"], l1_ratio=l1_ratio,
                                               alphas=d["alphas"], tol=tol)[1]}
    if has_module("skglm"):
        import skglm

        model = skglm.Lasso if l1_ratio == 1.0 else skglm.ElasticNet
        kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
        fits["skglm"] = lambda d, tol: model(fit_intercept=False, **kw).path(
            d["X"], d["y"], d["alphas"], tol=tol)[1]
    if has_module("sklearn"):
        from sklearn.linear_model import enet_path as sk_enet_path

        fits["sklearn"] = lambda d, tol: sk_enet_path(
            d["X"], d["y"], l1_ratio=l1_ratio, alphas=d["alphas"], tol=tol,
            max_iter=100_000)[1]
    return fits


def _path_gap(l1_ratio):
    """The largest elastic-net duality gap along the path (at the rescaled residual for
    the Lasso, at the residual itself with an l2 term), mean scaling."""
    def gap(X, y, coefs, alphas):
        n = y.shape[0]
        worst = 0.0
        for w, alpha in zip(coefs.T, alphas):
            R = y - X @ w
            a1, a2 = alpha * l1_ratio * n, alpha * (1 - l1_ratio) * n
            corr = X.T @ R
            primal = 0.5 * R @ R + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w
            if a2 == 0:
                norm = np.max(np.abs(corr))
                c = min(1.0, a1 / norm) if norm > 0 else 1.0
                dual = c * (R @ y) - 0.5 * c * c * (R @ R)
            else:
                excess = np.maximum(np.abs(corr) - a1, 0.0)
                dual = R @ y - 0.5 * (R @ R) - (excess @ excess) / (2 * a2)
            worst = max(worst, (primal - dual) / n)
        return worst
    return gap


class RegularizationPath(PeerBenchmark):
    """A 100-alpha Lasso and elastic-net path (alpha_max down to alpha_max / 1000),
    Gaussian 800 x 3000 with 30 true nonzeros; every peer at the loosest tol that
    brings the gap at every alpha to <= 1e-6 ||y||^2/n (issue 24)."""

    params = smoke_params([1.0, 0.5],)
    param_names = ["l1_ratio"]

    def setup(self, l1_ratio):
        import warnings

        warnings.simplefilter("ignore")
        X, y, amax = _sparse_truth(*smoke_size((800, 3000, 30), (100, 300, 5)))
        alphas = np.geomspace(amax / l1_ratio, amax / l1_ratio * 1e-3, 100)
        self.inputs = {"X": X, "y": y, "alpha": alphas, "alphas": alphas}
        self.fits = _path_fits(l1_ratio)
        target = 1e-6 * (y @ y) / y.shape[0]
        self.tols, self.reached = _choose_tols(self.fits, self.inputs, _path_gap(l1_ratio),
                                               target)

    def _run(self, name):
        if name not in self.fits:
            raise NotImplementedError(f"{name} is not installed")
        self.fits[name](self.inputs, self.tols[name])

    def time_numopt(self, l1_ratio):
        self._run("numopt")

    def time_skglm(self, l1_ratio):
        self._run("skglm")

    def time_sklearn(self, l1_ratio):
        self._run("sklearn")

    def track_gap_numopt(self, l1_ratio):
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


def _multinomial_data(n, p, n_classes, seed=0):
    """Standardised Gaussian features, a truth on 10% of them, softmax labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = np.zeros((p, n_classes))
    k = max(1, p // 10)
    W[rng.choice(p, k, replace=False)] = rng.standard_normal((k, n_classes))
    y = np.argmax(X @ W + rng.gumbel(size=(n, n_classes)), axis=1)
    return np.asfortranarray(X), y


def _multinomial_kkt(group):
    """KKT violation (mean scaling) of ``1/n sum CE + alpha * penalty`` at ``(W, b)``:
    the row-wise (group L1, numopt's model) or entry-wise (L1, saga's) distance of the
    gradient to the subdifferential, and the intercept gradient."""
    def kkt(X, Y, W, b, alpha):
        n = X.shape[0]
        Z = X @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = X.T @ (P - Y) / n
        if group:
            norms = np.linalg.norm(W, axis=1)
            safe = np.where(norms > 0, norms, 1.0)
            dist = np.where(norms > 0,
                            np.linalg.norm(G + alpha * W / safe[:, None], axis=1),
                            np.maximum(np.linalg.norm(G, axis=1) - alpha, 0.0))
        else:
            dist = np.where(W != 0, np.abs(G + alpha * np.sign(W)),
                            np.maximum(np.abs(G) - alpha, 0.0))
        return max(float(dist.max()), float(np.abs((P - Y).sum(axis=0)).max()) / n)
    return kkt


class MultinomialL1Logistic(PeerBenchmark):
    """Multinomial L1 logistic regression, 20 classes, at the same C: numopt's group L1
    model (SparseLogisticRegression, block CD) against scikit-learn's saga (entry-wise
    L1: the closest peer; no peer fits the group penalty), each until its own KKT
    violation is <= 1e-5 (mean scaling) (issue 24)."""

    params = smoke_params([(2000, 100), (1000, 500)],)
    param_names = ["n_p"]

    def setup(self, shape):
        import warnings

        from numopt.coordinate import SparseLogisticRegression

        warnings.simplefilter("ignore")
        n, p = smoke_size(shape, (200, 20))
        X, y = _multinomial_data(n, p, 20)
        Y = np.eye(20)[y]
        # alpha = 1 / (C n): a tenth of the smallest penalty with the zero model
        amax = float(np.max(np.linalg.norm(X.T @ (Y.mean(axis=0) - Y), axis=1)) / n)
        C = 1.0 / (0.1 * amax * n)
        alpha = 1.0 / (C * n)

        def numopt_fit(tol):
            m = SparseLogisticRegression(C=C, tol=tol, max_iter=1000).fit(X, y)
            return m.coef_.T, m.intercept_

        fits = {"numopt": (numopt_fit, _multinomial_kkt(True))}
        if has_module("sklearn"):
            from sklearn.linear_model import LogisticRegression

            def saga_fit(tol):
                m = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=tol,
                                       max_iter=10_000).fit(X, y)
                return m.coef_.T, m.intercept_

            fits["sklearn_saga"] = (saga_fit, _multinomial_kkt(False))
        self.fits, self.tols, self.reached = fits, {}, {}
        for name, (fit, kkt) in fits.items():
            for tol in _TOLS:
                value = kkt(X, Y, *fit(tol), alpha)
                if value <= 1e-5:
                    break
            self.tols[name], self.reached[name] = tol, value

    def _run(self, name):
        if name not in self.fits:
            raise NotImplementedError(f"{name} is not installed")
        self.fits[name][0](self.tols[name])

    def time_numopt(self, shape):
        self._run("numopt")

    def time_sklearn_saga(self, shape):
        self._run("sklearn_saga")

    def track_kkt_numopt(self, shape):
        return float(self.reached["numopt"])


class LassoCVFolds(PeerBenchmark):
    """LassoCV, 5 folds x 100 alphas, n_jobs=2, both at their default tol=1e-4 (the same
    duality-gap criterion), Gaussian 500 x 1000 with 20 true nonzeros (issue 24)."""

    params = smoke_params([(500, 1000, 20)],)
    param_names = ["n_p_k"]

    def setup(self, shape):
        import warnings

        from numopt.coordinate import LassoCV

        warnings.simplefilter("ignore")
        X, y, _ = _sparse_truth(*smoke_size(shape, (100, 200, 5)))
        self.X, self.y = X, y
        self.fits = {"numopt": lambda: LassoCV(cv=5, n_jobs=2).fit(X, y)}
        if has_module("sklearn"):
            from sklearn.linear_model import LassoCV as SkLassoCV

            self.fits["sklearn"] = lambda: SkLassoCV(cv=5, n_jobs=2).fit(X, y)
        self.alphas = {name: fit().alpha_ for name, fit in self.fits.items()}

    def time_numopt(self, shape):
        self.fits["numopt"]()

    def time_sklearn(self, shape):
        if "sklearn" not in self.fits:
            raise NotImplementedError("sklearn is not installed")
        self.fits["sklearn"]()

    def track_alpha_ratio(self, shape):
        """numopt's chosen alpha over scikit-learn's (1: the same choice)."""
        return self.alphas["numopt"] / self.alphas.get("sklearn", np.nan)


class LassoPrecompute(PeerBenchmark):
    """A tall Lasso (n >> p, correlated columns) at alpha_max/100 with an intercept, to
    the duality gap <= 1e-6 ||y_c||^2/n: the data path, the Gram path (precompute=True,
    its n p^2 set-up included) and scikit-learn's Gram path."""

    params = smoke_params([(50_000, 100), (20_000, 300)],)
    param_names = ["n_p"]

    def setup(self, shape):
        import warnings

        from numopt.coordinate import Lasso

        warnings.simplefilter("ignore")
        n, p = smoke_size(shape, (500, 20))
        rng = np.random.default_rng(0)
        base = rng.standard_normal((n, 1))
        X = np.asfortranarray(0.7 * base + rng.standard_normal((n, p)))
        y = X[:, :10] @ rng.standard_normal(10) + rng.standard_normal(n)
        yc = y - y.mean()
        alpha = float(np.max(np.abs(X.T @ yc)) / n) / 100
        target = 1e-6 * (yc @ yc) / n

        def gap(w, b):
            r = y - X @ w - b
            corr = np.max(np.abs(X.T @ r))
            c = min(1.0, n * alpha / corr)
            return (0.5 * (r @ r) * (1 + c * c) + n * alpha * np.abs(w).sum()
                    - c * (r @ yc)) / n

        def ours(pre):
            return lambda tol: Lasso(alpha, precompute=pre, tol=tol, max_iter=1000).fit(X, y)

        self.fits = {"numopt_data": ours(False), "numopt_gram": ours(True)}
        if has_module("sklearn"):
            from sklearn.linear_model import Lasso as SkLasso

            self.fits["sklearn_gram"] = lambda tol: SkLasso(
                alpha=alpha, precompute=True, tol=tol, max_iter=100_000).fit(X, y)
        self.tols, self.reached = {}, {}
        for name, fit in self.fits.items():
            for tol in _TOLS:
                m = fit(tol)
                value = gap(m.coef_, m.intercept_)
                if value <= target:
                    break
            self.tols[name], self.reached[name] = tol, value

    def _run(self, name):
        if name not in self.fits:
            raise NotImplementedError(f"{name} is not installed")
        self.fits[name](self.tols[name])

    def time_numopt_data(self, shape):
        self._run("numopt_data")

    def time_numopt_gram(self, shape):
        self._run("numopt_gram")

    def time_sklearn_gram(self, shape):
        self._run("sklearn_gram")
