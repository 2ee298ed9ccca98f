"""Many independent problems at once: joblib on one machine, Dask through joblib's backend."""

from __future__ import annotations

import inspect
import math
import os
import warnings

from .._progress import Progress, check_progress
from .._validation import check_flag, check_scalar
from ._batch import solve_sinkhorn_batch, stack_weights
from ._tasks import (TaskFailure, as_problem_list, check_solve, mark_failure, passes_seed,
                     run_task, spawn_seeds)

__all__ = ["map_problems", "sinkhorn_many"]


def map_problems(solve, problems, *, n_jobs=None, seed=None, return_exceptions=False,
                 progress=False):
    """Solve independent problems in parallel with joblib; results in input order.

    Parameters
    ----------
    solve : callable
        ``solve(problem)``, or ``solve(problem, seed=...)`` when ``seed`` is given (see
        below). It must be picklable by cloudpickle (lambdas and closures are, for the
        default loky backend) and return a picklable result, typically an
        :class:`~numopt.OptimizeResult`.
    problems : iterable
        One item per problem, passed to ``solve`` as its single positional argument
        (a tuple stays a tuple: unpack it in ``solve``).
    n_jobs : int or None
        Number of workers, joblib's meaning: ``None`` is 1 unless an enclosing
        ``joblib.parallel_config(n_jobs=...)`` says otherwise, ``-1`` uses every core.
        The backend is joblib's active one: loky worker processes by default, Dask
        workers inside ``joblib.parallel_config(backend="dask")`` with a
        ``dask.distributed.Client``, exactly as for scikit-learn.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None``: ``solve`` is called without a seed (its own default applies).
        Otherwise one ``numpy.random.SeedSequence(seed)`` spawns a child per problem,
        and problem ``i`` is solved as ``solve(problem, seed=rng_i)`` with
        ``rng_i = numpy.random.default_rng(child_i)``, a
        :class:`numpy.random.Generator` (numopt's solvers, ``numpy.random.default_rng``
        and ``scipy.stats`` accept it; call ``rng_i.integers(2**32)`` inside ``solve``
        for a library that wants an integer). Child ``i`` goes with problem ``i``
        whatever worker runs it, so results do not depend on ``n_jobs``. ``solve``
        must then have a parameter named ``seed`` (a ``**kwargs`` catch-all does not
        count); otherwise ``TypeError``.
    return_exceptions : bool
        ``True``: a problem whose ``solve`` raises gets its exception in its slot
        and the others run on. ``False``: the first failing problem (in input order)
        raises its exception, with a note naming its index, and the problems not yet
        started are cancelled.
    progress : bool or None
        Show a progress bar (tqdm when installed, otherwise a line on stderr every few
        seconds). ``None``: only when stderr is a terminal.

    Returns
    -------
    list
        ``[solve(p) for p in problems]`` in input order (exceptions in their slots
        with ``return_exceptions=True``).

    Notes
    -----
    Each worker caps its BLAS/OpenMP threads (threadpoolctl) and, where the worker
    has imported Numba, Numba's threads at ``cpu_count // n_workers`` while a problem
    runs, so ``n_jobs`` workers do not each start a thread per core. Where one call
    solves a batch of problems at once (Sinkhorn over a ``(B, n)`` batch of weights),
    batch first: :func:`sinkhorn_many` groups problems into batches and spreads the
    batches over the workers with this function.

    Examples
    --------
    >>> from numopt.parallel import map_problems
    >>> from numopt.ot import sinkhorn
    >>> from numopt.problems import random_ot_problem
    >>> problems = [random_ot_problem(20, seed=s) for s in range(4)]
    >>> results = map_problems(lambda p: sinkhorn(*p, reg=0.1), problems, n_jobs=2)
    >>> all(res.success for res in results)
    True
    """
    check_solve(solve)
    problems = as_problem_list(problems)
    if n_jobs is not None:
        n_jobs = check_scalar(n_jobs, "n_jobs", integer=True)
        if n_jobs == 0:
            raise ValueError("n_jobs must be a positive number of workers or negative "
                             "(-1: every core), got 0")
    return_exceptions = check_flag(return_exceptions, "return_exceptions")
    check_progress(progress)
    seeds = (spawn_seeds(seed, len(problems)) if passes_seed(solve, seed)
             else [None] * len(problems))
    if not problems:
        return []

    from joblib import Parallel, delayed, effective_n_jobs

    # no backend argument: an active joblib.parallel_config (dask, threading) decides
    workers = max(1, effective_n_jobs(n_jobs))
    threads = max(1, (os.cpu_count() or 1) // workers)
    tasks = (delayed(run_task)(solve, index, (problem,), problem_seed, threads)
             for index, (problem, problem_seed) in enumerate(zip(problems, seeds)))
    results = []
    with Progress("map_problems", total=len(problems), enabled=progress) as report:
        outcomes = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        try:
            for outcome in outcomes:
                if isinstance(outcome, TaskFailure):
                    outcome = mark_failure(outcome)
                    if not return_exceptions:
                        raise outcome
                results.append(outcome)
                report.update()
        finally:
            with warnings.catch_warnings():
                # joblib warns that the tasks cancelled here were wasted: on a failure
                # that is the point (and on success nothing is left to cancel)
                warnings.filterwarnings("ignore", "[0-9]+ tasks ", UserWarning)
                outcomes.close()  # joblib cancels the tasks not yet started
    return results


def sinkhorn_many(a, b, M, reg, *, batch_size=None, n_jobs=None, progress=False, **kwargs):
    """Many entropic OT problems with one cost matrix: batched Sinkhorn, then workers.

    ``sinkhorn_many(a, b, M, reg)[i]`` solves the problem
    ``numopt.ot.sinkhorn(a[i], b[i], M, reg, **kwargs)``. Problems are grouped into
    batches of ``batch_size``; each batch is one call of the batched kernel (a 2-D
    ``a``: one pass over ``M`` serves every problem of the batch, and each problem stops
    when it converges), and the batches are spread over ``n_jobs`` workers with
    :func:`map_problems`.

    Parameters
    ----------
    a : array of shape (N, n), sequence of N arrays of shape (n,), array (n,) or None
        Source weights of each problem; 1-D or ``None`` (uniform) is shared by all.
    b : array of shape (N, m), sequence of N arrays of shape (m,), array (m,) or None
        Target weights, likewise. At least one of ``a`` and ``b`` holds N problems.
    M : array of shape (n, m)
        The cost matrix shared by every problem.
    reg : float
        Entropic regularization, as in :func:`numopt.ot.sinkhorn`.
    batch_size : int, optional
        Problems per batched call. Default: the problems split evenly into about four
        batches per worker (``ceil(N / (4 * workers))``), so that workers stay busy when
        batches take unequal times.
    n_jobs : int or None
        Workers, as in :func:`map_problems` (an active ``joblib.parallel_config``
        applies, Dask included).
    progress : bool or None
        Progress bar over the batches, as in :func:`map_problems`.
    **kwargs
        ``method``, ``tol``, ``maxiter`` and options of :func:`numopt.ot.sinkhorn`.
        ``method="sns"`` has no batched form: its problems are solved one by one in
        each batch.

    Returns
    -------
    list of OptimizeResult
        One per problem, with the fields of a single-problem
        :func:`numopt.ot.sinkhorn` result (``plan``, ``cost``, ``fun``, ``f``, ``g``,
        ``marginal_error``, ``nit``, ``method``, ``success``...); the message says
        when a problem that met its tolerance ended with a batch that did not.

    Notes
    -----
    Why a helper and not a ``batch=`` argument of :func:`map_problems`: grouping needs
    to know which problems share a cost matrix and how to split a batched result back
    into problems, which is Sinkhorn's business, not a generic map's. Batches cut the
    Python work per iteration by the batch size, and the workers then multiply that.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.parallel import sinkhorn_many
    >>> rng = np.random.default_rng(0)
    >>> a = rng.dirichlet(np.ones(30), size=100)     # 100 source histograms
    >>> M = rng.random((30, 30))
    >>> results = sinkhorn_many(a, None, M, reg=0.1, n_jobs=2)
    >>> len(results), all(res.success for res in results)
    (100, True)
    """
    from ..ot import sinkhorn

    for name in ("callback",):
        if kwargs.get(name) is not None:
            raise TypeError(f"sinkhorn_many does not take {name}: it would see whole "
                            "batches; solve the problems with map_problems instead")
    a, b, count = stack_weights(a, b)
    if batch_size is None:
        from joblib import effective_n_jobs

        workers = max(1, effective_n_jobs(n_jobs))
        batch_size = math.ceil(count / (4 * workers))
    else:
        batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    tol = kwargs.get("tol", inspect.signature(sinkhorn).parameters["tol"].default)
    batches = [slice(start, min(start + batch_size, count))
               for start in range(0, count, batch_size)]
    pieces = [(_rows(a, s), _rows(b, s)) for s in batches]
    solved = map_problems(_SinkhornBatch(M, reg, tol, kwargs), pieces, n_jobs=n_jobs,
                          progress=progress)
    return [res for batch in solved for res in batch]


def _rows(weights, rows):
    return weights if weights is None or weights.ndim == 1 else weights[rows]


class _SinkhornBatch:
    """The task of one batch (a class, not a closure, so it pickles by reference)."""

    def __init__(self, M, reg, tol, kwargs):
        self.M, self.reg, self.tol, self.kwargs = M, reg, tol, kwargs

    def __call__(self, piece):
        a, b = piece
        return solve_sinkhorn_batch(a, b, self.M, self.reg, self.tol, self.kwargs)
