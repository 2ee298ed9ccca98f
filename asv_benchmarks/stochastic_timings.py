"""The issue's figures for numopt.stochastic, from the asv benchmark's own code
(benchmarks/stochastic.py: same inputs, same step functions) without asv, which runs
the installed numopt: ``PYTHONPATH=. python asv_benchmarks/stochastic_timings.py``.

Prints, per method, the median (and the minimum) time of one step over ``--repeat``
rounds, after the warm-up in ``setup``, of the fused Numba kernel, the NumPy
transcription and torch CPU (one thread; ``--torch-threads`` changes it), and the two
ratios the issue asks for. Each round calls the three in turn, so that the load of a
shared machine falls on all three alike.
"""

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import numpy as np  # noqa: E402

from benchmarks.stochastic import METHODS, StochasticStep  # noqa: E402


def interleaved_ms(fns, repeat):
    """Medians and minima in ms of each of ``fns``, called in turn ``repeat`` times."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [(1e3 * float(np.median(t)), 1e3 * min(t)) for t in times]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--d", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    print(f"d = {args.d} float32, median of {args.repeat} steps, torch threads "
          f"{args.torch_threads}, {os.cpu_count()} CPUs")
    print(f"{'method':>11} {'numba ms':>14} {'numpy ms':>14} {'torch ms':>14} "
          f"{'numba/numpy':>12} {'numba/torch':>12}   (median, min)")
    for method in METHODS:
        bench = StochasticStep()
        bench.setup(args.d, method)
        fns = [lambda: bench.time_numba(args.d, method),
               lambda: bench.time_numpy(args.d, method)]
        if hasattr(bench, "torch"):
            import torch

            torch.set_num_threads(args.torch_threads)
            fns.append(lambda: bench.time_torch_cpu(args.d, method))
        res = interleaved_ms(fns, args.repeat)
        numba, numpy = res[0], res[1]
        torch_ms = res[2] if len(res) > 2 else (float("nan"), float("nan"))
        print(f"{method:>11} " + " ".join(f"{m:6.2f} ({n:5.2f})" for m, n in
                                          (numba, numpy, torch_ms))
              + f" {numba[0] / numpy[0]:12.2f} {numba[0] / torch_ms[0]:12.2f}")


if __name__ == "__main__":
    main()
