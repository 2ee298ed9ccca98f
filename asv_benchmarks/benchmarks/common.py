"""Shared base for numopt's asv benchmarks.

Conventions (scikit-learn's):

* one module per problem class; every peer (SciPy, POT, scikit-learn, skglm, celer,
  PyAMG) is timed on the *same* input in the same run, so ratios can be read off;
* ``setup`` builds the input once and calls every timed function once, so Numba's JIT
  compilation never lands inside a timing;
* ``time_*`` for wall time, ``peakmem_*`` for memory, ``track_*`` for iteration counts
  and errors;
* BLAS runs on one thread, so timings compare algorithms, not thread pools.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # threadpoolctl comes with scikit-learn; the env vars above suffice
    pass


def has_module(name: str) -> bool:
    """True when ``name`` imports (peers are optional: a missing peer skips its timing)."""
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class PeerBenchmark:
    """Base class: subclasses define ``make_input(*params)`` returning a dict of inputs and
    ``solvers``, a dict name -> function(inputs) -> result. ``setup`` builds the input once
    and runs every solver once (JIT warm-up). ``time_<name>`` methods call
    ``self.run("<name>")``."""

    timeout = 600
    repeat = (1, 5, 60.0)
    number = 1
    min_run_count = 1
    solvers: dict = {}

    def setup(self, *params):
        self.inputs = self.make_input(*params)
        self.results = {name: fn(self.inputs) for name, fn in self.solvers.items()}

    def run(self, name):
        return self.solvers[name](self.inputs)

    def make_input(self, *params):  # pragma: no cover - abstract
        raise NotImplementedError


# CI's smoke run (NUMOPT_ASV_SMOKE=1, `asv run --quick --dry-run`) only checks that every
# benchmark still runs: it takes the first, smallest parameter set. asv runs each
# benchmark method in a fresh process, so peers that compile on import (skglm) make the
# full grid far too slow for CI.
SMOKE = os.environ.get("NUMOPT_ASV_SMOKE") == "1"


def smoke_params(*axes):
    """``params`` for asv: the full grid normally, each axis cut to its first value in
    the smoke run."""
    return tuple(axis[:1] for axis in axes) if SMOKE else tuple(axes)


def smoke_size(full, small):
    """A problem size: ``small`` in the smoke run, ``full`` otherwise."""
    return small if SMOKE else full
