"""The experiments A-E of Nutini, Laradji & Schmidt (JMLR 2022), plus non-negative L1:
f - f* against iterations per rule, and numopt's per-iteration speed against a
reference that recomputes the full gradient every iteration.

Paper sizes (default; ``--quick`` shrinks every problem about tenfold):

* A  least squares, ``A`` 1000 x 10000 built as the paper's dataset A (N(1, 1) entries,
  columns scaled by 10 N(0, 1), each entry kept with probability 10 log(m) / m: 6.9%);
* B  L2-regularised binary logistic regression on the same kind of 1000 x 10000 ``A``
  (labels ``sign(A w)``, 10% flipped);
* C  50-class softmax regression, ``A`` 1000 x 1000 of the same kind (50 000 variables);
* D  label propagation on a 50 x 50 lattice (edge weights uniform in [0.5, 1.5]),
  100 labelled nodes with N(0, 100) values (2400 unknowns);
* E  label propagation on two moons, 2000 points, 5 nearest neighbours, 100 labelled;
* F  non-negative L1 least squares on a 1000 x 10000 ``A`` of the same kind.

``f*`` comes from an independent solver (normal equations, SciPy's L-BFGS-B, sparse LU).
For each experiment one configuration (the paper's fast one: greedy GSL variable blocks
with Lipschitz steps; forest blocks with message passing on the graphs) is also run by a
plain NumPy reference *in this file* that recomputes the full gradient every iteration
and applies the same rule and update; the script checks that both produce the same
iterates and prints ms/iteration for numopt and for the reference with the data stored
dense (as the paper's implementation stores it) and sparse (SciPy).

    OMP_NUM_THREADS=1 python examples/coordinate_rules.py [--quick] [--out rules.png]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import scipy.optimize as so  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from numopt.coordinate import (BinaryLogistic, L1LeastSquares,  # noqa: E402
                               LabelPropagationProblem, LeastSquares, SoftmaxLogistic, bcd)
from numopt.problems import (lattice_label_propagation,  # noqa: E402
                             two_moons_label_propagation)

FIXED = [("order", "cyclic", "lipschitz"), ("order", "random", "lipschitz"),
         ("order", "gsl", "lipschitz")]
VARIABLE = [("variable", "gs", "lipschitz"), ("variable", "gsl", "lipschitz"),
            ("variable", "gsl", "newton")]
GRAPH = [("order", "cyclic", "lipschitz"), ("order", "gsl", "lipschitz"),
         ("variable", "gsl", "newton"), ("forest", "gsl", "message_passing")]


# ------------------------------------------------------------------------------ data
def paper_matrix(m, n, rng):
    """The paper's design: N(1, 1) entries, columns scaled by 10 N(0, 1), each entry
    kept with probability 10 log(m) / m (sparse CSC)."""
    density = min(1.0, 10.0 * np.log(m) / m)
    S = sp.random(m, n, density=density, random_state=rng, format="csc")
    S.data = rng.standard_normal(S.data.size) + 1.0
    return sp.csc_matrix(S @ sp.diags(10.0 * rng.standard_normal(n)))


def lbfgs(fun_grad, n, bounds=None):
    return so.minimize(fun_grad, np.zeros(n), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 20_000,
                                "maxcor": 20}).fun


def softmax_rows(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------- references
def top_block(scores, k):
    """The ``k`` best coordinates (ties by index) with a positive score, sorted."""
    top = np.argsort(-scores, kind="stable")[:k]
    return np.sort(top[scores[top] > 0] if np.any(scores[top] > 0) else top[:1])


def reference_glm(A, y, loss, iters, *, l2=0.0, l1=0.0, positive=False, block_size=5):
    """GSL variable blocks with the block Lipschitz step; the full gradient
    ``A^T loss'(A x) + l2 x`` is recomputed every iteration."""
    n = A.shape[1]
    curv = 1.0 if loss == "squared" else 0.25
    Ad = A if isinstance(A, np.ndarray) else A.tocsc()
    L = curv * np.asarray(Ad.multiply(Ad).sum(axis=0)).ravel() + l2 if sp.issparse(Ad) \
        else curv * np.einsum("ij,ij->j", Ad, Ad) + l2
    L = np.where(L > 0, L, 1.0)
    x = np.zeros(n)
    for _ in range(iters):
        z = A @ x
        d = z - y if loss == "squared" else -y / (1.0 + np.exp(y * z))
        g = A.T @ d + l2 * x
        if positive:
            s = np.where(x > 0, g + l1, np.minimum(g + l1, 0.0))
        elif l1:
            s = np.where(x != 0, g + l1 * np.sign(x),
                         np.sign(g) * np.maximum(np.abs(g) - l1, 0))
        else:
            s = g
        b = top_block(s * s / L, block_size)
        cols = A[:, b].toarray() if sp.issparse(A) else A[:, b]
        lam = np.linalg.eigvalsh(curv * cols.T @ cols + l2 * np.eye(b.size)).max()
        v = x[b] - g[b] / lam
        if positive:
            x[b] = np.maximum(v - l1 / lam, 0.0)
        elif l1:
            x[b] = np.sign(v) * np.maximum(np.abs(v) - l1 / lam, 0.0)
        else:
            x[b] = v
    return x


def reference_softmax(A, labels, k, iters, *, l2=1.0, block_size=5):
    """GSL variable blocks over the (feature, class) variables, block Lipschitz step;
    the full gradient ``A^T (softmax(A W) - Y) + l2 W`` is recomputed every iteration."""
    p = A.shape[1]
    Y = np.eye(k)[labels]
    col_sq = np.asarray(A.multiply(A).sum(axis=0)).ravel() if sp.issparse(A) \
        else np.einsum("ij,ij->j", A, A)
    L = np.repeat(0.5 * col_sq, k) + l2
    W = np.zeros((p, k))
    for _ in range(iters):
        G = A.T @ (softmax_rows(A @ W) - Y) + l2 * W
        g = G.ravel()
        b = top_block(g * g / L, block_size)
        cols = A[:, b // k]
        cols = cols.toarray() if sp.issparse(cols) else cols
        lam = np.linalg.eigvalsh(0.5 * cols.T @ cols + l2 * np.eye(b.size)).max()
        W.ravel()[b] -= g[b] / lam
    return W.ravel()


def reference_forest(Q, c, iters, *, block_size=50):
    """GSL forest blocks (greedy, kept acyclic with a union-find over the graph of
    ``Q``) solved exactly; the full gradient ``Q x - c`` is recomputed every iteration."""
    graph = sp.csr_matrix(Q) if sp.issparse(Q) else sp.csr_matrix(Q != 0)
    indptr, indices = graph.indptr, graph.indices
    L = Q.diagonal() if sp.issparse(Q) else np.diag(Q).copy()
    x = np.zeros(c.shape[0])
    for _ in range(iters):
        g = Q @ x - c
        scores = g * g / L
        parent = {}

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        chosen = []
        for i in np.argsort(-scores, kind="stable")[:8 * block_size]:
            if not scores[i] > 0 and chosen:
                break
            roots = [find(j) for j in indices[indptr[i]:indptr[i + 1]]
                     if j != i and j in parent]
            if len(set(roots)) < len(roots):
                continue            # two neighbours in one tree: a cycle
            parent[i] = i
            for r in roots:
                parent[r] = i
            chosen.append(i)
            if len(chosen) == block_size:
                break
        b = np.sort(np.asarray(chosen))
        Qbb = Q[b][:, b].toarray() if sp.issparse(Q) else Q[np.ix_(b, b)]
        x[b] += np.linalg.solve(Qbb, -g[b])
    return x


# ------------------------------------------------------------------------ experiments
def experiments(quick):
    """(title, problem, f*, configurations, block size, timed configuration, reference
    run as ``ref(storage, iters)``)."""
    rng = np.random.default_rng(0)
    m, n = (300, 2000) if quick else (1000, 10_000)
    out = []

    A = paper_matrix(m, n, rng)
    w = rng.standard_normal(n) * (rng.random(n) < 0.1)
    b = A @ w + rng.standard_normal(m)
    # A has full row rank: the minimum-norm solution fits b (f* = 0 up to rounding)
    x_star = A.T @ np.linalg.solve((A @ A.T).toarray(), b)
    f_star = 0.5 * float(np.sum((A @ x_star - b) ** 2))
    out.append((f"A: least squares {m}x{n}", LeastSquares(A, b), f_star, FIXED + VARIABLE, 5,
                ("variable", "gsl", "lipschitz"),
                lambda M, it, A=A, b=b: reference_glm(M(A), b, "squared", it)))

    A = paper_matrix(m, n, rng)
    w = rng.standard_normal(n) * (rng.random(n) < 0.1)
    y = np.sign(A @ w)
    y[y == 0] = 1.0
    y[rng.random(m) < 0.1] *= -1.0

    def logistic(x, A=A, y=y):
        z = A @ x
        return (float(np.sum(np.logaddexp(0, -y * z)) + 0.5 * x @ x),
                A.T @ (-y / (1 + np.exp(y * z))) + x)

    out.append((f"B: logistic {m}x{n}", BinaryLogistic(A, y, l2=1.0), lbfgs(logistic, n),
                FIXED + VARIABLE, 5, ("variable", "gsl", "lipschitz"),
                lambda M, it, A=A, y=y: reference_glm(M(A), y, "logistic", it, l2=1.0)))

    p, k = (m, 50) if not quick else (300, 20)
    A = paper_matrix(m, p, rng)
    labels = np.argmax(A @ rng.standard_normal((p, k)) + rng.standard_normal((m, k)),
                       axis=1)
    Y = np.eye(k)[labels]

    def softmax(wv, A=A, Y=Y):
        W = wv.reshape(p, k)
        Z = A @ W
        lse = np.logaddexp.reduce(Z, axis=1)
        return (float(lse.sum() - np.sum(Z * Y) + 0.5 * wv @ wv),
                (A.T @ (softmax_rows(Z) - Y) + W).ravel())

    # no fixed partitions here: their per-block constants cost a setup of p*k/5 small
    # eigenvalue problems
    out.append((f"C: softmax {k} classes, {m}x{p}", SoftmaxLogistic(A, labels, k, l2=1.0),
                lbfgs(softmax, p * k), VARIABLE, 5, ("variable", "gsl", "lipschitz"),
                lambda M, it, A=A, labels=labels, k=k: reference_softmax(M(A), labels, k,
                                                                         it)))

    side, n_moons = (20, 400) if quick else (50, 2000)
    W, lab, labeled = lattice_label_propagation(side, n_labeled=side * 2)
    lab = 10.0 * rng.standard_normal(lab.shape)       # the paper's N(0, 100) labels
    # edge weights uniform in [0.5, 1.5]: with equal weights many scores tie exactly,
    # and rounding differences between two implementations then pick different blocks
    W = sp.triu(W, 1, format="csr")
    W.data = rng.uniform(0.5, 1.5, W.nnz)
    W = sp.csr_matrix(W + W.T)
    graphs = [(f"D: lattice {side}x{side} label propagation", W, lab, labeled)]
    W, lab, labeled = two_moons_label_propagation(n_moons, n_neighbors=5,
                                                  n_labeled=n_moons // 20)
    graphs.append((f"E: two moons ({n_moons} points) label propagation", W, lab, labeled))
    for title, W, lab, labeled in graphs:
        problem = LabelPropagationProblem(W, lab, labeled)
        Q = sp.csc_matrix(problem.Q)
        xs = spla.spsolve(Q, problem.c)
        f_star = 0.5 * xs @ (Q @ xs) - problem.c @ xs + problem.const
        out.append((title, problem, f_star, GRAPH, 50, ("forest", "gsl", "message_passing"),
                    lambda M, it, Q=Q, c=problem.c: reference_forest(M(Q), c, it)))

    A = paper_matrix(m, n, rng)
    w = np.abs(rng.standard_normal(n)) * (rng.random(n) < 0.02)
    b = A @ w + rng.standard_normal(m)
    l1 = 0.1 * float(np.max(A.T @ b))

    def nonneg(x, A=A, b=b):
        r = A @ x - b
        return 0.5 * float(r @ r) + l1 * x.sum(), A.T @ r + l1

    out.append((f"F: non-negative L1 least squares {m}x{n}",
                L1LeastSquares(A, b, l1, positive=True),
                lbfgs(nonneg, n, bounds=[(0, None)] * n), FIXED + VARIABLE, 5,
                ("variable", "gsl", "lipschitz"),
                lambda M, it, A=A, b=b: reference_glm(M(A), b, "squared", it, l1=l1,
                                                      positive=True)))
    return out


# ---------------------------------------------------------------------------- running
def trace(problem, config, iters, block_size):
    """(iteration, objective) after every iteration (every ``check_every`` on the
    compiled batch paths)."""
    partition, rule, update = config
    points = []
    bcd(problem, partition=partition, rule=rule, update=update, block_size=block_size,
        maxiter=iters, tol=1e-300,
        callback=lambda intermediate_result: points.append((intermediate_result.nit,
                                                            intermediate_result.fun)))
    return np.array(points).reshape(-1, 2)


def numopt_ms_per_iteration(problem, config, block_size, iters, repeat=3):
    """(time(iters) - time(iters // 10)) / (0.9 iters), medians of ``repeat`` runs:
    the per-iteration cost without the setup."""
    partition, rule, update = config

    def run(n):
        t0 = time.perf_counter()
        bcd(problem, partition=partition, rule=rule, update=update, block_size=block_size,
            maxiter=n, tol=1e-300)
        return time.perf_counter() - t0

    short = max(iters // 10, 1)
    run(short)                                      # JIT warm-up
    t_long = np.median([run(iters) for _ in range(repeat)])
    t_short = np.median([run(short) for _ in range(repeat)])
    return (t_long - t_short) / (iters - short) * 1e3


def reference_ms_per_iteration(ref, storage, iters):
    t0 = time.perf_counter()
    x = ref(storage, iters)
    return (time.perf_counter() - t0) / iters * 1e3, x


def dense(M):
    return M.toarray() if sp.issparse(M) else M


def sparse(M):
    return sp.csc_matrix(M)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about tenfold smaller problems")
    parser.add_argument("--iters", type=int, default=None,
                        help="iterations per curve (default 1000, 300 with --quick)")
    parser.add_argument("--ref-iters", type=int, default=None,
                        help="reference iterations timed (default 30, 10 with --quick)")
    parser.add_argument("--out", help="save the figure here (PNG/PDF)")
    args = parser.parse_args(argv)
    iters = args.iters or (300 if args.quick else 1000)
    ref_iters = args.ref_iters or (10 if args.quick else 30)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    results, summary = {}, []
    for title, problem, f_star, configs, bs, timed, ref in experiments(args.quick):
        print(title, flush=True)
        curves, seconds = {}, {}
        for config in configs:
            t0 = time.perf_counter()
            curves["/".join(config)] = trace(problem, config, iters, bs)
            seconds["/".join(config)] = time.perf_counter() - t0
        # f* is the independent solver's value, or the lowest value a rule reached when
        # that is lower (the oracle stops at its own tolerance); their gap is printed
        best = min(float(c[:, 1].min()) for c in curves.values())
        print(f"  f* = {f_star:.10g} (independent solver), lowest value reached "
              f"{best:.10g} (relative difference {(f_star - best) / max(abs(f_star), 1):.1e})")
        f_star = min(f_star, best)
        floor = 1e-14 * max(1.0, abs(f_star))
        for label, curve in curves.items():
            curve[:, 1] = np.maximum(curve[:, 1] - f_star, floor)
            print(f"  {label:<32} f - f* after {int(curve[-1, 0]):>5} it: "
                  f"{curve[-1, 1]:.3e}  ({seconds[label]:.2f} s with callbacks)", flush=True)
        results[title] = curves
        ours = numopt_ms_per_iteration(problem, timed, bs, iters)
        ref_dense, x_ref = reference_ms_per_iteration(ref, dense, ref_iters)
        ref_sparse, x_ref_sparse = reference_ms_per_iteration(ref, sparse, ref_iters)
        res = bcd(problem, partition=timed[0], rule=timed[1], update=timed[2], block_size=bs,
                  maxiter=ref_iters, tol=1e-300)
        x = np.asarray(res.x)
        scale = max(np.linalg.norm(x_ref), 1e-300)
        agree = max(np.linalg.norm(x - x_ref), np.linalg.norm(x - x_ref_sparse)) / scale
        summary.append((title, "/".join(timed), ours, ref_dense, ref_sparse, agree))
        print(f"  per iteration ({'/'.join(timed)}): numopt {ours:.3f} ms; reference "
              f"(full gradient) dense {ref_dense:.3f} ms ({ref_dense / ours:.1f}x), "
              f"sparse {ref_sparse:.3f} ms ({ref_sparse / ours:.1f}x); iterates after "
              f"{ref_iters} it agree to {agree:.1e}", flush=True)
    print("\nexperiment | configuration | numopt ms/it | reference ms/it dense, sparse | "
          "speed-up dense, sparse | iterate difference")
    for title, cfg, ours, rd, rs, agree in summary:
        print(f"{title.split(':')[0]} | {cfg} | {ours:.3f} | {rd:.3f}, {rs:.3f} | "
              f"{rd / ours:.1f}x, {rs / ours:.1f}x | {agree:.1e}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 3, figsize=(16, 9))
        for ax, (title, curves) in zip(axes.ravel(), results.items()):
            for label, curve in curves.items():
                ax.semilogy(curve[:, 0], curve[:, 1], label=label)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("iteration")
            ax.set_ylabel("f - f*")
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
