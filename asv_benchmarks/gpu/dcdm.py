"""GPU figures for numopt.linalg.dcdm (run on a machine with CuPy and a CUDA device).

On 3-D Poisson grids with obstacles (``numopt.problems.poisson_obstacles``, default 64^3
and 128^3): the time of one application of the shipped network on CuPy, then DCDM to a
relative residual of 1e-6 against ``cupyx.scipy.sparse.linalg.cg`` on the same system and
right-hand side (iterations, seconds, the residual recomputed on the host in float64).
Prints one line per figure:

    python asv_benchmarks/gpu/dcdm.py [--grids 64,128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", default="64,128")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import cupy
    except ImportError:
        print("dcdm gpu: CuPy is not installed; nothing to time")
        return 0
    if cupy.cuda.runtime.getDeviceCount() == 0:
        print("dcdm gpu: no CUDA device; nothing to time")
        return 0
    import cupyx.scipy.sparse as csp
    import cupyx.scipy.sparse.linalg as csla

    from numopt.linalg import dcdm
    from numopt.linalg._dcdm import _network_model
    from numopt.problems import poisson_obstacles

    sync = cupy.cuda.get_current_stream().synchronize

    def timed(fn):
        times, out = [], None
        for _ in range(args.repeats):
            sync()
            start = time.perf_counter()
            out = fn()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times), out

    for size in (int(s) for s in args.grids.split(",")):
        problem = poisson_obstacles((size,) * 3, n_obstacles=4, kind="boxes", seed=0)
        A = problem.A.tocsr()
        rng = np.random.default_rng(1)
        b = rng.standard_normal(A.shape[0]) * problem.fluid.ravel()
        A_gpu, b_gpu = csp.csr_matrix(A), cupy.asarray(b)
        model = _network_model(A_gpu, cupy, A.shape[0], None)
        r = b_gpu / cupy.linalg.norm(b_gpu)
        model(r)  # compile and allocate once
        t_app, _ = timed(lambda: model(r))
        print(f"{size}^3: one network application on the GPU {1e3 * t_app:.1f} ms", flush=True)
        dcdm(A_gpu, b_gpu, tol=1e-6, maxiter=2)  # warm-up
        t_d, res = timed(lambda: dcdm(A_gpu, b_gpu, tol=1e-6))
        x = cupy.asnumpy(res.x)
        rel = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
        print(f"{size}^3: dcdm {t_d:.3f} s, {res.nit} iterations, success {res.success}, "
              f"relative residual {rel:.1e}", flush=True)
        counter = {"nit": 0}
        import inspect  # CuPy renamed cg's tol to rtol as SciPy did; take either

        tol_kw = ({"rtol": 1e-6} if "rtol" in inspect.signature(csla.cg).parameters
                  else {"tol": 1e-6})

        def count(_):
            counter["nit"] += 1

        def run_cg():
            counter["nit"] = 0
            return csla.cg(A_gpu, b_gpu, maxiter=20 * A.shape[0], callback=count, **tol_kw)

        t_cg, (x_cg, info) = timed(run_cg)
        rel = np.linalg.norm(b - A @ cupy.asnumpy(x_cg)) / np.linalg.norm(b)
        print(f"{size}^3: cupyx cg {t_cg:.3f} s, {counter['nit']} iterations, info {info}, "
              f"relative residual {rel:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
