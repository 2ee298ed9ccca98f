"""Run the benchmarks of ``benchmarks/monotone.py`` outside asv and print medians.

asv's ``existing`` environment imports the numopt that the environment has installed, so
a worktree is timed by this script instead (same classes, same setup, same inputs)::

    PYTHONPATH=.:asv_benchmarks python asv_benchmarks/monotone_timings.py [--repeat 5]
"""

import argparse
import statistics
import time

from benchmarks import monotone as bm


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def per_epoch(repeat):
    for method in bm.PerEpochVsTranscription.params[0]:
        b = bm.PerEpochVsTranscription()
        b.setup(method)
        epochs = b.track_epochs(method)
        names = ("numopt", "authors_transcription", "vectorized_transcription")
        # interleaved (one run of each per repeat), so that a change of the machine's
        # load during the measurement hits the three alike
        times = {name: [] for name in names}
        for _ in range(repeat):
            for name in names:
                times[name].append(median_time(
                    lambda: getattr(b, f"time_{name}")(method), 1)[0])
        row = {name: statistics.median(t) / epochs for name, t in times.items()}
        print(f"per-epoch {method:16s} n={bm.N_GAME} epochs={epochs:.2f}: "
              + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in row.items())
              + f"; authors/numopt {row['authors_transcription'] / row['numopt']:.0f}x, "
              f"vectorized/numopt {row['vectorized_transcription'] / row['numopt']:.0f}x; "
              f"residual numopt {b.track_residual_numopt(method):.6e} authors "
              f"{b.track_residual_authors_transcription(method):.6e} "
              f"(max |x difference| {b.track_max_iterate_difference(method):.1e})", flush=True)


def residuals():
    b = bm.ResidualAtEqualCalls()
    for problem in bm.ResidualAtEqualCalls.params[0]:
        for method in bm.ResidualAtEqualCalls.params[1]:
            b.setup(problem, method)
            start = time.perf_counter()
            r = b.track_residual(problem, method)
            print(f"residual after {b.BUDGET} epochs {problem:18s} {method:16s} {r:.3e} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)


def game(repeat):
    for method in bm.GameVsHiGHS.params[0]:
        b = bm.GameVsHiGHS()
        b.setup(method)
        ours, _ = median_time(lambda: b.time_numopt(method), repeat)
        highs, _ = median_time(lambda: b.time_highs(method), repeat)
        print(f"game n={bm.N_GAME} to gap {b.TOL:g}: numopt {method} {ours:.2f} s "
              f"(nit {b.track_nit_numopt(method)}, gap {b.track_gap_numopt(method):.2e}, "
              f"|value - LP| {b.track_value_error_numopt(method):.1e}), HiGHS {highs:.3f} s",
              flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["epoch", "residual", "game"])
    args = parser.parse_args()
    if args.only in (None, "epoch"):
        per_epoch(args.repeat)
    if args.only in (None, "residual"):
        residuals()
    if args.only in (None, "game"):
        game(max(1, args.repeat // 2))
