"""Many problems on a Dask cluster with futures: shared data scattered once, results
streamed as they complete, pending work cancelled on a failure."""

from __future__ import annotations

import os

from .._progress import Progress, check_progress
from .._validation import check_flag, check_scalar
from ..parallel._tasks import (TaskFailure, as_problem_list, call_solve, check_solve,
                               mark_failure, passes_seed, spawn_seeds)

__all__ = ["map_problems", "import_distributed"]

_NOTHING_SHARED = object()


def import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "numopt.distributed needs dask.distributed, which is not installed: install "
            "the 'distributed' extra (pip install \"numopt[distributed]\", or pip install "
            "\"dask[distributed]\")") from exc
    return distributed


def map_problems(client, solve, problems, *, shared=None, seed=None,
                 return_exceptions=False, progress=False, retries=0):
    """Solve independent problems on a Dask cluster; results in input order.

    Parameters
    ----------
    client : dask.distributed.Client
        The cluster to run on (``Client(LocalCluster())`` on one machine, ``Client(address)``
        for a running scheduler).
    solve : callable
        ``solve(problem)``, or ``solve(problem, shared)`` when ``shared`` is given, plus
        ``seed=...`` when ``seed`` is given (see :func:`numopt.parallel.map_problems`
        for the seed rule). Pickled with cloudpickle, like any Dask task.
    problems : iterable
        One item per problem, shipped with its task.
    shared : object, optional
        Data every problem uses (one matrix ``A`` with many right-hand sides, one cost
        matrix): sent once to every worker with ``client.scatter(shared,
        broadcast=True)`` rather than once per task. Lists, tuples and dicts are
        scattered item by item and reach ``solve`` with the same structure.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Per-problem generators spawned from one ``numpy.random.SeedSequence``, exactly
        as in :func:`numopt.parallel.map_problems`: the same seed gives the same results
        on joblib, on Dask and in a serial loop.
    return_exceptions : bool
        ``True``: an exception raised by a problem (or a ``KilledWorker`` after too many
        worker deaths) takes its slot. ``False``: the first failure to arrive raises,
        with a note naming the problem's index, and the tasks still pending are
        cancelled.
    progress : bool or None
        Progress bar as results arrive (tqdm, or a line on stderr every few seconds);
        ``None``: only when stderr is a terminal.
    retries : int
        Passed to ``client.map``: how many times a task whose ``solve`` raised is run
        again before its exception counts (for transient errors; a deterministic
        solver raises again). A task lost with its worker (killed, out of memory) is
        rescheduled by the scheduler whatever ``retries`` says, up to
        ``distributed.scheduler.allowed-failures`` times (3 by default).

    Returns
    -------
    list
        ``[solve(p, ...) for p in problems]`` in input order.

    Notes
    -----
    Each task caps its BLAS/OpenMP threads (threadpoolctl), and Numba's where the worker
    has imported it, at ``cpu_count // worker_threads``. Results are gathered as they
    complete (``distributed.as_completed``) and released on the workers once here, so
    worker memory holds only results not yet collected. On one machine, with nothing
    to share, :func:`numopt.parallel.map_problems` (loky processes) is the lighter
    choice.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from numopt.ot import sinkhorn
    >>> import numopt.distributed
    >>> with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:  # doctest: +SKIP
    ...     results = numopt.distributed.map_problems(
    ...         client, lambda ab, M: sinkhorn(*ab, M, reg=0.05), weight_pairs, shared=M)
    """
    distributed = import_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got "
                        f"{type(client).__name__}")
    check_solve(solve)
    problems = as_problem_list(problems)
    return_exceptions = check_flag(return_exceptions, "return_exceptions")
    check_progress(progress)
    retries = check_scalar(retries, "retries", low=0, integer=True)
    seeds = (spawn_seeds(seed, len(problems)) if passes_seed(solve, seed)
             else [None] * len(problems))
    if not problems:
        return []

    extra = {}
    if shared is not None:
        extra["shared"] = client.scatter(shared, broadcast=True, hash=False)
    futures = client.map(_task, problems, seeds, solve=solve,
                         pure=False, retries=retries, **extra)
    pending = {future.key: (index, future) for index, future in enumerate(futures)}
    del futures  # a future nobody holds is released on the workers
    results = [None] * len(problems)
    try:
        with Progress("map_problems", total=len(problems), enabled=progress) as report:
            arrived = distributed.as_completed([f for _, f in pending.values()],
                                               with_results=True, raise_errors=False)
            for future, value in arrived:
                index, _ = pending.pop(future.key)
                if future.status == "error":  # value: (type, exception, traceback)
                    error = value[1].with_traceback(value[2])  # the worker's frames
                    value = mark_failure(TaskFailure(index, error, ""))
                    if not return_exceptions:
                        raise value
                results[index] = value
                report.update()
    finally:
        if pending:  # a failure or an interrupt: stop the work nobody will collect
            client.cancel([future for _, future in pending.values()])
    return results


def _task(problem, seed, *, solve, shared=_NOTHING_SHARED):
    """One problem on a worker: solve raises here, so Dask's ``retries`` apply."""
    from distributed import get_worker

    try:
        slots = get_worker().state.nthreads
    except (ValueError, AttributeError):  # not on a worker (a local test scheduler)
        slots = 1
    threads = max(1, (os.cpu_count() or 1) // max(1, slots))
    args = (problem,) if shared is _NOTHING_SHARED else (problem, shared)
    return call_solve(solve, args, seed, threads)
