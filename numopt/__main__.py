"""``python -m numopt``: solve one gallery problem per problem class and print a table."""

from __future__ import annotations

import argparse
import sys
import time

from ._demo import list_demos
from ._registry import list_methods


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m numopt",
        description=(
            "Run numopt's demo: one gallery problem per implemented problem class, solved "
            "by numopt and checked against an independent reference (closed form, SciPy, "
            "an LP solution or an invariant). Prints a table of class, method, size, "
            "iterations, wall time and error; exits 1 if any demo fails."
        ),
    )
    parser.add_argument("--gpu", action="store_true",
                        help="run the same problems on CuPy arrays (needs CuPy and a GPU)")
    parser.add_argument("--list", action="store_true",
                        help="list every registered method and exit")
    parser.add_argument("--only", metavar="CLASS", action="append",
                        help="run only this problem class (repeatable)")
    return parser.parse_args(argv)


def _namespace(gpu: bool):
    if not gpu:
        import array_api_compat.numpy as xp

        return xp
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no CuPy, no driver or no device
        raise SystemExit(f"--gpu needs CuPy and an NVIDIA GPU: {exc}")
    import array_api_compat.cupy as xp

    return xp


def _print_methods():
    specs = list_methods()
    width = max((len(f"{s.solver}:{s.name}") for s in specs), default=10)
    print(f"{'class':<11} {'entry:method':<{width}}  summary")
    for s in specs:
        print(f"{s.problem_class:<11} {s.solver + ':' + s.name:<{width}}  {s.summary}")


def main(argv=None) -> int:
    opts = _parse(argv)
    if opts.list:
        _print_methods()
        return 0
    if opts.only:
        known = sorted({problem_class for problem_class, _, _ in list_demos()})
        unknown = sorted(set(opts.only) - set(known))
        if unknown:   # an empty table would read as a pass
            raise SystemExit(f"--only: no problem class {', '.join(map(repr, unknown))}; "
                             f"the classes are {', '.join(known)}")
    xp = _namespace(opts.gpu)
    from ._backend import synchronize

    header = (f"{'class':<11} {'method':<34} {'size':<28} {'iters':>6} {'time [s]':>9} "
              f"{'error':>9}  reference")
    print(header)
    print("-" * len(header))
    failures = 0
    for problem_class, title, func in list_demos():
        if opts.only and problem_class not in opts.only:
            continue
        start = time.perf_counter()
        row = func(xp)
        synchronize(xp)
        elapsed = time.perf_counter() - start if row.seconds is None else row.seconds
        ok = row.success and row.error == row.error
        failures += not ok
        flag = "" if ok else "  FAILED"
        print(f"{problem_class:<11} {row.method:<34} {row.size:<28} {row.nit:>6} "
              f"{elapsed:>9.3f} {row.error:>9.1e}  {row.reference}{flag}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
