"""DCDM with the shipped network against CG, IC(0)-PCG, SSOR-PCG and AMG-PCG (PyAMG) on
2-D or 3-D Poisson, and the cost of one network application (Numba, the NumPy
reference, torch CPU, on as many threads as Numba).

Iterations to ``--tol`` relative residual at each grid size (the 2-D network was
trained at 32 x 32 and 64 x 64, the 3-D one at 16^3, on boxes), on the empty box and on
an unseen geometry of disks (balls in 3-D), for unseen right-hand sides: white noise
and a smooth field (Gaussian-filtered noise), both zero in solid cells. Wall times are
single runs on whatever the machine is doing; the iteration counts are the figures to
read.

    nice -n 10 python examples/linalg_dcdm_figures.py                  # a few minutes
    python examples/linalg_dcdm_figures.py --sizes 64,128,256 --plot dcdm.png
    python examples/linalg_dcdm_figures.py --ndim 3 --sizes 32,48 --methods dcdm-40,cg,ic-pcg,amg-pcg
"""

import argparse
import json
import time

import numpy as np
from scipy import ndimage

from numopt.linalg import cg, dcdm, ichol_preconditioner, ssor_preconditioner
from numopt.problems import poisson_obstacles


def _rhs(problem, kind, seed):
    rng = np.random.default_rng(seed)
    field = rng.standard_normal(problem.shape)
    if kind == "smooth":
        field = ndimage.gaussian_filter(field, sigma=problem.shape[0] / 16)
    return (field * problem.fluid).ravel()


def _run(method, A, b, tol, history):
    def record(intermediate_result):
        history.append(float(intermediate_result.residual) / np.linalg.norm(b))

    start = time.perf_counter()
    if method.startswith("dcdm"):
        # "dcdm": the default n_orth of the shipped network; "dcdm-K": n_orth=K
        suffix = method.partition("-")[2]
        n_orth = int(suffix) if suffix else None
        res = dcdm(A, b, tol=tol, n_orth=n_orth, maxiter=1000, callback=record)
    elif method == "cg":
        res = cg(A, b, tol=tol, maxiter=20000, callback=record)
    elif method == "ic-pcg":
        res = cg(A, b, M=ichol_preconditioner(A), tol=tol, callback=record)
    elif method == "ssor-pcg":
        res = cg(A, b, M=ssor_preconditioner(A, 1.8), tol=tol, callback=record)
    else:
        import pyamg

        M = pyamg.smoothed_aggregation_solver(A).aspreconditioner(cycle="V")
        res = cg(A, b, M=M, tol=tol, callback=record)
    seconds = time.perf_counter() - start
    true = float(np.linalg.norm(b - A @ res.x) / np.linalg.norm(b))
    return {"nit": int(res.nit), "seconds": seconds, "relres": true,
            "success": bool(res.success)}


def iterations(sizes, tol, methods, ndim=2):
    rows, histories = [], {}
    for n in sizes:
        geometries = {"empty": poisson_obstacles((n,) * ndim, n_obstacles=0),
                      "disks (unseen)": poisson_obstacles((n,) * ndim, n_obstacles=6,
                                                          kind="disks", seed=1001)}
        for geometry, problem in geometries.items():
            for kind in ("white", "smooth"):
                b = _rhs(problem, kind, seed=2000 + n)
                for method in methods:
                    history = []
                    row = {"n": n, "geometry": geometry, "rhs": kind, "method": method,
                           **_run(method, problem.A, b, tol, history)}
                    rows.append(row)
                    histories[(n, geometry, kind, method)] = history
                    print(f"{n:4d}^{ndim}  {geometry:15s} {kind:6s} {method:9s} "
                          f"nit {row['nit']:5d}  {row['seconds']:7.3f} s  "
                          f"relres {row['relres']:.1e}  success {row['success']}",
                          flush=True)
    return rows, histories


def network_timings(sizes, repeats=7, ndim=2, reference=True):
    import numba

    from numopt._config import config_context
    from numopt.linalg._dcdm_model import load_model

    net = load_model(ndim)
    try:
        import torch

        from numopt.linalg._dcdm_train import build_torch_model

        torch.set_num_threads(numba.get_num_threads())
        tnet = build_torch_model(ndim).load_numpy(net.params)
    except ImportError:
        torch = tnet = None

    def median(fn):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    rows = []
    for n in sizes:
        image = np.random.default_rng(n).standard_normal((n,) * ndim).astype(np.float32)
        fluid = np.ones((n,) * ndim, dtype=np.float32)
        row = {"n": n, "numba": median(lambda: net(image, fluid))}
        if reference:
            with config_context(kernels="reference"):
                row["numpy_reference"] = median(lambda: net(image, fluid))
        if tnet is not None:
            ti, tf = torch.from_numpy(image)[None], torch.from_numpy(fluid)[None]
            with torch.no_grad():
                row["torch_cpu"] = median(lambda: tnet(ti, tf))
        rows.append(row)
        print("network application " + "  ".join(
            f"{k} {v * 1e3:.1f} ms" if k != "n" else f"{v}^{ndim}" for k, v in row.items()),
            flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ndim", type=int, default=2)
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--methods", default="dcdm-2,dcdm-40,dcdm,cg,ic-pcg,ssor-pcg,amg-pcg",
                        help="dcdm-K runs dcdm with n_orth=K, dcdm with its default")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--no-timings", action="store_true")
    parser.add_argument("--plot", help="residual against iteration, largest size, disks")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, histories = iterations(sizes, args.tol, args.methods.split(","), args.ndim)
    timing = [] if args.no_timings else network_timings(sizes, ndim=args.ndim,
                                                         reference=args.ndim == 2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"iterations": rows, "network_seconds": timing}, f, indent=1)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for (n, geometry, kind, method), history in histories.items():
            if n == sizes[-1] and geometry.startswith("disks") and kind == "smooth":
                ax.semilogy(range(1, len(history) + 1), history, label=method)
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative residual")
        ax.set_title(f"{args.ndim}-D Poisson {sizes[-1]}^{args.ndim}, unseen disks, smooth b")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
