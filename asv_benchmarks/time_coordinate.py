"""Median wall times of asv benchmark classes of benchmarks/coordinate.py outside asv
(asv imports the installed numopt; this times the checkout it is run from).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        PYTHONPATH=.:asv_benchmarks python asv_benchmarks/time_coordinate.py \
        ClassName [repeats]
"""

import statistics
import sys
import time

from benchmarks import coordinate


def main(name, repeats=5):
    cls = getattr(coordinate, name)
    params = cls.params[0] if getattr(cls, "params", None) else [None]
    for param in params:
        bench = cls()
        bench.setup(param)
        extra = {k: getattr(bench, k) for k in ("tols", "reached", "alphas")
                 if hasattr(bench, k)}
        times = {}
        for meth in sorted(m for m in dir(bench) if m.startswith("time_")):
            runs = []
            try:
                for _ in range(repeats):
                    t = time.perf_counter()
                    getattr(bench, meth)(param)
                    runs.append(time.perf_counter() - t)
            except NotImplementedError:
                continue
            times[meth[5:]] = statistics.median(runs)
        print(name, param, {k: f"{v:.3f}s" for k, v in times.items()}, extra, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
