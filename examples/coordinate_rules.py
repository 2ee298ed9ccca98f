"""f - f* against iterations for BCD selection rules and updates (reduced experiments
A-E of Nutini, Laradji & Schmidt, JMLR 2022, plus non-negative L1).

Reduced sizes so the whole script runs in seconds: A least squares 1000x400 (sparse),
B L2-logistic 500x200 (sparse), C 10-class softmax 300x30, D 20x20 lattice label
propagation, E two-moons label propagation (400 points), F non-negative L1 least
squares 200x400. ``f*`` comes from an independent solver (NumPy/SciPy) or, for L1, from
a long run checked by its KKT conditions.

    python examples/coordinate_rules.py [--iters 300] [--out rules.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.optimize as so
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from numopt.coordinate import (BinaryLogistic, L1LeastSquares, LabelPropagationProblem,
                               LeastSquares, SoftmaxLogistic, bcd)
from numopt.problems import (coordinate_least_squares, coordinate_logistic,
                             coordinate_nonneg_l1, coordinate_softmax,
                             lattice_label_propagation, two_moons_label_propagation)

FIXED = [("order", "cyclic", "lipschitz"), ("order", "random", "lipschitz"),
         ("order", "lipschitz", "lipschitz"), ("order", "gs", "lipschitz"),
         ("order", "gsl", "lipschitz"), ("order", "gsd", "diagonal"),
         ("order", "gsq", "lipschitz")]
VARIABLE = [("variable", "gs", "lipschitz"), ("variable", "gsl", "lipschitz"),
            ("variable", "gsl", "newton")]
GRAPH = [("forest", "gsl", "message_passing")]


def _trace(problem, f_star, configs, iters, block_size):
    curves = {}
    for partition, rule, update in configs:
        values = []
        start = time.perf_counter()
        bcd(problem, partition=partition, rule=rule, update=update, block_size=block_size,
            maxiter=iters, tol=1e-300,
            callback=lambda r: values.append(max(r.fun - f_star, 1e-16)))
        label = f"{partition}/{rule}/{update}"
        curves[label] = (np.array(values), time.perf_counter() - start)
    return curves


def experiments(iters):
    out = {}
    A, b, f_star = coordinate_least_squares(1000, 400, density=0.05, seed=0)
    out["A: least squares"] = _trace(LeastSquares(A, b), f_star, FIXED + VARIABLE, iters, 5)

    A, y = coordinate_logistic(500, 200, density=0.05, seed=0)
    problem = BinaryLogistic(A, y, l2=1.0)
    Ad = A.toarray()

    def logistic(x):
        z = Ad @ x
        return (np.sum(np.logaddexp(0, -y * z)) + 0.5 * x @ x,
                Ad.T @ (-y / (1 + np.exp(y * z))) + x)

    f_star = so.minimize(logistic, np.zeros(200), jac=True, method="L-BFGS-B",
                         options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10_000}).fun
    out["B: logistic"] = _trace(problem, f_star, FIXED[:5] + VARIABLE, iters, 5)

    A, labels = coordinate_softmax(300, 30, 10, seed=0)
    problem = SoftmaxLogistic(A, labels)
    Y = np.eye(10)[labels]

    def softmax(w):
        W = w.reshape(30, 10)
        Z = A @ W
        lse = np.logaddexp.reduce(Z, axis=1)
        return (lse.sum() - np.sum(Z * Y) + 0.5 * w @ w,
                (A.T @ (np.exp(Z - lse[:, None]) - Y) + W).ravel())

    f_star = so.minimize(softmax, np.zeros(300), jac=True, method="L-BFGS-B",
                         options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10_000}).fun
    out["C: softmax (10 classes)"] = _trace(problem, f_star,
                                           [FIXED[0], FIXED[1]] + VARIABLE, iters, 10)

    for title, (W, lab, labeled) in [
            ("D: lattice label propagation", lattice_label_propagation(20, n_labeled=20)),
            ("E: two-moons label propagation",
             two_moons_label_propagation(400, n_labeled=10))]:
        problem = LabelPropagationProblem(W, lab, labeled)
        x = spla.spsolve(sp.csc_matrix(problem.Q), problem.c)
        f_star = 0.5 * x @ (problem.Q @ x) - problem.c @ x + problem.const
        out[title] = _trace(problem, f_star, [FIXED[0], FIXED[4]] + VARIABLE[1:] + GRAPH,
                            iters, 50)

    A, b, l1 = coordinate_nonneg_l1(200, 400, seed=0)
    problem = L1LeastSquares(A, b, l1, positive=True)
    ref = bcd(problem, partition="variable", rule="gsl", update="newton", block_size=10,
              maxiter=50_000, tol=1e-11)
    f_star = ref.fun
    out["F: non-negative L1"] = _trace(problem, f_star,
                                       FIXED[:2] + FIXED[4:5] + VARIABLE, iters, 5)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--out", help="save the figure here (PNG/PDF)")
    args = parser.parse_args(argv)
    results = experiments(args.iters)
    for title, curves in results.items():
        print(title)
        for label, (values, seconds) in curves.items():
            print(f"  {label:<34} f - f* after {values.size:>4} it: {values[-1]:.3e} "
                  f"({seconds / max(values.size, 1) * 1e3:.2f} ms/it)")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
        for ax, (title, curves) in zip(axes.ravel(), results.items()):
            for label, (values, _) in curves.items():
                ax.semilogy(np.arange(1, values.size + 1), values, label=label)
            ax.set_title(title)
            ax.set_xlabel("iteration")
            ax.set_ylabel("f - f*")
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
