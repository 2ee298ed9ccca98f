"""What one task of a map over problems does, on whatever engine runs it.

Shared by :func:`numopt.parallel.map_problems` (joblib) and
:func:`numopt.distributed.map_problems` (Dask futures): per-problem seeds, the rule for
passing them, the thread caps inside a worker, and how a problem that raises comes back.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import traceback

__all__ = ["TaskFailure", "check_solve", "as_problem_list", "passes_seed", "spawn_seeds",
           "call_solve", "run_task", "mark_failure"]


class TaskFailure:
    """What a task returns instead of a result when ``solve`` raised.

    The exception travels as a value, so one failing problem never aborts the engine's
    batch it ran in, and the caller decides: keep it in its slot or raise it.
    """

    __slots__ = ("index", "error", "worker_traceback")

    def __init__(self, index, error, worker_traceback):
        self.index, self.error, self.worker_traceback = index, error, worker_traceback


def check_solve(solve):
    if not callable(solve):
        raise TypeError(f"solve must be a callable, got {type(solve).__name__}")


def as_problem_list(problems):
    try:
        return list(problems)
    except TypeError:
        raise TypeError(f"problems must be an iterable, got {type(problems).__name__}") from None


def passes_seed(solve, seed) -> bool:
    """Whether each problem's seed is passed as ``solve(..., seed=...)``.

    Only a parameter named ``seed`` in the signature counts: a ``**kwargs`` catch-all
    (``numopt.ot.sinkhorn``'s ``**options``) would turn it into an unknown option.
    A ``seed`` given for a ``solve`` that takes none is an error, not silently dropped.
    """
    if seed is None:
        return False
    try:
        parameters = inspect.signature(solve).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        parameters = {}
    param = parameters.get("seed")
    if param is None or param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
        raise TypeError(
            f"seed={seed!r} was given, but solve ({getattr(solve, '__name__', solve)!r}) "
            "has no 'seed' keyword to receive each problem's seed; add one "
            "(def solve(problem, *, seed): ...) or leave seed=None")
    return True


def spawn_seeds(seed, n):
    """``n`` independent generators spawned from ``numpy.random.SeedSequence(seed)``.

    Problem ``i`` gets child ``i`` whatever the number of workers, so a run is
    reproducible for any ``n_jobs`` (NumPy's recommended way to seed parallel work).
    """
    import numpy as np

    if isinstance(seed, np.random.Generator):
        return seed.spawn(n)
    if isinstance(seed, np.random.SeedSequence):
        sequence = seed
    else:
        try:
            sequence = np.random.SeedSequence(seed)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"seed must be None, a non-negative integer, a numpy.random."
                            f"SeedSequence or Generator, got {seed!r} ({exc})") from None
    return [np.random.default_rng(child) for child in sequence.spawn(n)]


# One threadpoolctl controller per process: building one scans every loaded shared
# library (about 1.7 ms here, 3% of a 50 ms problem), limiting with it costs 0.06 ms.
# It is rebuilt when modules were imported since, which may have loaded a new BLAS.
_controller = None
_controller_modules = -1


def _threadpool_controller():
    global _controller, _controller_modules
    if _controller is None or _controller_modules != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _controller_modules = len(sys.modules)
    return _controller


# The BLAS limit is process-wide, but tasks may overlap in one process (joblib's
# threading backend, a Dask worker with several threads): the first task to enter sets
# it, the last to leave restores the original (a task restoring "its" original while
# another still ran would leave the limit behind for good).
_blas_lock = threading.Lock()
_blas_tasks = 0
_blas_limiter = None


class _ThreadCap:
    """BLAS/OpenMP (threadpoolctl) and Numba threads at most ``threads`` while a task runs.

    A no-op where ``threads`` is None or covers every core (a serial run in the caller's
    process keeps its settings). Numba is configured only when the task's process has
    already imported it (its setting is per thread); otherwise ``NUMBA_NUM_THREADS`` is
    set for a later import.
    """

    def __init__(self, threads):
        self.threads = threads
        self.active = threads is not None and threads < (os.cpu_count() or 1)

    def __enter__(self):
        global _blas_tasks, _blas_limiter
        if not self.active:
            return self
        with _blas_lock:
            if _blas_tasks == 0:
                _blas_limiter = _threadpool_controller().limit(limits=self.threads)
            _blas_tasks += 1
        numba = sys.modules.get("numba")
        self._numba_before = None
        if numba is None:
            os.environ.setdefault("NUMBA_NUM_THREADS", str(self.threads))
        else:
            self._numba_before = numba.get_num_threads()
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc_info):
        global _blas_tasks, _blas_limiter
        if not self.active:
            return False
        with _blas_lock:
            _blas_tasks -= 1
            if _blas_tasks == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
        if self._numba_before is not None:
            sys.modules["numba"].set_num_threads(self._numba_before)
        return False


def call_solve(solve, args, seed, threads):
    """``solve(*args)``, plus ``seed=seed`` when given, under the thread cap."""
    with _ThreadCap(threads):
        if seed is None:
            return solve(*args)
        return solve(*args, seed=seed)


def run_task(solve, index, args, seed, threads):
    """:func:`call_solve`, or a :class:`TaskFailure` if ``solve`` raised an ``Exception``
    (``KeyboardInterrupt`` and the like still stop the run)."""
    try:
        return call_solve(solve, args, seed, threads)
    except Exception as exc:
        return TaskFailure(index, exc, traceback.format_exc())


def mark_failure(failure):
    """The failure's exception, with a note naming the problem (and, when it crossed a
    process boundary and lost its traceback, the worker's traceback)."""
    error = failure.error
    notes = [f"raised by problem {failure.index} of map_problems"]
    if error.__traceback__ is None and failure.worker_traceback:
        notes.append("traceback in the worker:\n" + failure.worker_traceback.rstrip())
    for note in notes:
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:  # Python 3.10: kept on the object, not shown by the traceback
            error.__notes__ = [*getattr(error, "__notes__", []), note]
    return error
