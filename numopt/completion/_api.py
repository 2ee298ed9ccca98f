"""Public entry point: :func:`complete`."""

from __future__ import annotations

import numpy as np

from .._backend import get_namespace, is_cupy
from .._loop import run_solver
from .._validation import check_choice, check_options, check_scalar, warn_caller
from ..exceptions import OptimizeWarning
from ._altmin import AlternatingSolver
from ._block_als import BlockALSSolver, block_observations
from ._observations import identifiable_count
from ._softimpute import SoftImputeSolver
from ._validation import (observations_from, validate_options, warn_about_coverage,
                          warn_about_identifiability, warn_about_unused_sketch_options)

__all__ = ["complete", "METHODS", "DEVICE_METHODS", "DEFAULTS"]

METHODS = ("altmin", "als", "softimpute")
# Methods that accept CuPy / cupyx.scipy.sparse input and keep U, V on the device. The
# sketched CG row solver of "altmin" has no CuPy kernel (its per-row loop of variable
# length CG steps would run as a Python loop on the device) and SoftImpute is not ported.
DEVICE_METHODS = ("als",)

DEFAULTS = {
    "altmin": {"row_solver": "auto", "sketch_factor": 3.0, "inner_tol": 0.1, "max_inner": 10,
               "clip": None, "sample_splits": 1, "reg": 0.0},
    "als": {"clip": None, "sample_splits": 1, "reg": 0.0},
    "softimpute": {"shrinkage": None, "shrinkage_decay": 0.5},
}
MAXITER = {"altmin": 100, "als": 100, "softimpute": 1000}


def _fill_unobserved(res, obs, xp):
    """Rows (columns) without observations get the column (row) means of the observed
    values, projected onto the fitted column (row) space; both projections use the factors
    fitted on the observed lines only."""
    U, V = res.U, res.V
    counts_r, counts_c = obs.by_row.counts(), obs.by_col.counts()
    empty_rows, empty_cols = np.flatnonzero(counts_r == 0), np.flatnonzero(counts_c == 0)
    row_sum, col_sum = (obs.value_sums(xp) if empty_rows.size or empty_cols.size
                        else (None, None))
    fills = []
    if empty_rows.size:
        col_mean = col_sum / xp.asarray(np.maximum(counts_c, 1))
        fills.append(("U", xp.asarray(empty_rows),
                      xp.linalg.lstsq(V.astype(xp.float64), col_mean, rcond=None)[0]))
    if empty_cols.size:
        row_mean = row_sum / xp.asarray(np.maximum(counts_r, 1))
        fills.append(("V", xp.asarray(empty_cols),
                      xp.linalg.lstsq(U.astype(xp.float64), row_mean, rcond=None)[0]))
    for side, lines, coef in fills:
        target = U.copy() if side == "U" else V.copy()
        target[lines] = coef.astype(target.dtype)
        U, V = (target, V) if side == "U" else (U, target)
    res.U, res.V, res.x = U, V, U
    res.n_empty_rows, res.n_empty_cols = int(empty_rows.size), int(empty_cols.size)


def _warn_about_zero_fit(res):
    if not np.any(res.singular_values):
        warn_caller(
            f"shrinkage={res.shrinkage:.3g} is at least the largest singular value of the "
            "observed entries (zeros elsewhere): the solution of the regularized problem, "
            "returned here, is the zero matrix; a smaller shrinkage keeps some of the data",
            OptimizeWarning)


def complete(M, rank, *, method="altmin", tol=1e-8, maxiter=None, seed=None, callback=None,
             client=None, **options):
    """Complete a partially observed matrix with a rank-``rank`` factorization ``U @ V.T``.

    Parameters
    ----------
    M : scipy.sparse matrix or array of shape (m, n)
        The observations. For a sparse matrix every *stored* entry is an observation
        (explicit zeros included, duplicates summed as SciPy does) and the matrix is
        never densified; for a dense array NaN marks a missing entry. Observed values
        must be finite.

        A CuPy array (NaN for missing entries) or a ``cupyx.scipy.sparse`` matrix is
        accepted by ``method="als"``: the per-row solves run as batched CuPy kernels and
        ``U``, ``V`` stay on the device. ``"altmin"`` and ``"softimpute"`` are CPU-only
        and raise ``TypeError`` for GPU input.
    rank : int
        Target rank ``k``, ``1 <= k <= min(m, n)``.
    method : {"altmin", "als", "softimpute"}
        ``"altmin"``: robust alternating minimization whose per-row least-squares
        problems are solved approximately by sketch-preconditioned CG (Gu, Song, Yin,
        Zhang, ICLR 2024) from rank 32 on, and exactly below, where that is cheaper
        (option ``row_solver``). ``"als"``: exact alternating least squares (per-row normal
        equations). ``"softimpute"``: nuclear-norm shrinkage (Mazumder, Hastie,
        Tibshirani 2010) with a rank cap ``k``.
    tol : float
        ``success=True`` means that the method's measure, recomputed in float64 from the
        returned ``U`` and ``V``, is at most ``tol``:

        * ``"altmin"``, ``"als"``: the relative training residual
          ``||P_Omega(U V^T - M)||_F / ||P_Omega(M)||_F`` (``relative_residual``);
        * ``"softimpute"``: the fixed-point residual
          ``||T(Z) - Z||_F / ||P_Omega(M)||_F`` of ``Z = U V^T``, where ``T`` is one exact
          SoftImpute step at the returned ``shrinkage`` (``fixed_point_residual``): the fit
          solves the regularized problem, and does not interpolate the observations
          unless ``shrinkage=0``.

        A run whose measure stops decreasing above ``tol`` (decreased by at most ``tol``
        relatively, or rose where only rounding raises it; for SoftImpute, no new
        minimum of the change between iterates in 20 iterations at the rounding floor,
        200 elsewhere) ends with ``success=False``, ``status=4`` (stalled) and a message
        that names the cause: noisy data, a rank below the data's, too few observations,
        or the rounding floor of the dtype (float32 fits end near 3e-7, 1e-5 with the
        sketched row solve, so float32 cannot meet the default ``tol``: pass
        ``tol=1e-5`` or so).
    maxiter : int, optional
        Maximum number of outer iterations (default 100, 1000 for ``"softimpute"``).
    seed : int or numpy.random.Generator, optional
        Seeds the spectral initialization, the sketches and the sample splits.
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration (on a GPU, every
        ``gpu_check_every`` iterations: :func:`numopt.set_config`); raise
        ``StopIteration`` to stop.
    client : dask.distributed.Client, optional
        Run ``method="als"`` as block ALS across the cluster's workers (the
        ``distributed`` extra). The observations are placed once on the workers, in
        contiguous blocks of rows for the ``U`` half-step and of columns for the ``V``
        half-step (one block of each per worker thread, balanced by observation
        count); each half-step broadcasts the factor it solves against to every worker
        and gathers the solved block rows, so only ``(W + 1)(m + n) k`` numbers travel
        per iteration (``W`` workers). The iterates are those of the single-machine ALS
        on the same data and seed. ``M`` may then also be a ``dask.dataframe`` with
        integer columns ``row`` and ``col`` and a real column ``value`` (one observed
        entry per row, duplicates added up; the shape is ``(max row + 1, max col + 1)``),
        shuffled into blocks on the workers without passing through this process.
        ``sample_splits`` must stay 1.
    **options
        ``altmin``: ``row_solver`` (``"auto"``: the sketched solve from rank 32 on, the
        exact normal equations below, where the ``k x k`` Gram matrix costs less than the
        sketch and its CG steps; ``"sketched"`` or ``"exact"`` force one),
        ``sketch_factor`` (3.0; the CountSketch has ``sketch_factor * k``
        rows), ``inner_tol`` (0.1; each CG solve shrinks its preconditioned gradient by
        this factor), ``max_inner`` (10 CG steps per row at most), ``clip`` (None; zero
        the rows of the initial ``U`` whose norm exceeds ``clip * sqrt(k / m)``),
        ``sample_splits`` (1; iteration ``t`` uses part ``t mod sample_splits`` of a
        random partition of the observations), ``reg`` (0.0, a ridge penalty).
        ``als``: ``clip``, ``sample_splits``, ``reg``.
        ``softimpute``: ``shrinkage`` (the nuclear-norm weight ``lambda``, in the units of
        ``M``; None: fancyimpute's default ``sigma_max(P_Omega(M)) / 50``, with
        ``sigma_max`` from a randomized SVD; 0: no shrinkage, a rank-``k`` interpolant),
        ``shrinkage_decay`` (0.5: the first iterations follow a warm-started path
        ``sigma_max * decay^t`` down to ``lambda``, or to the default when ``lambda`` is
        below it; 0 starts at ``lambda``). The run converges to the fixed point of
        SoftImpute at ``lambda``, that of the standard algorithm when the rank cap ``k``
        exceeds the rank of that fixed point.

    Returns
    -------
    OptimizeResult
        ``U`` (m, k) with orthonormal columns (except for filled unobserved rows) and
        ``V`` (n, k), so that the completion is ``U @ V.T``; ``x`` is ``U``; ``rmse``, the
        root mean square training error on the observed entries; ``relative_residual``;
        ``nit``; ``n_empty_rows``/``n_empty_cols``; ``row_solver`` (``"sketched"`` or
        ``"exact"``: how the rows were solved); ``n_inner`` (sketched rows, total CG
        steps); ``singular_values``, ``shrinkage`` (``lambda`` in the units of ``M``) and
        ``fixed_point_residual`` (``softimpute``). ``relative_residual`` and ``rmse`` are
        recomputed in float64 from the returned factors.

    Notes
    -----
    Rows or columns without any observation are completed with the column (row) means of
    the observed values, projected onto the fitted low-rank space, and trigger an
    ``OptimizeWarning``; rows or columns with fewer than ``k`` observations warn too (their
    least-squares problems are underdetermined).

    With fewer than ``2 k (m + n - k)`` observations (twice the degrees of freedom of a
    rank-``k`` matrix) the completion is probably not determined by the data: an
    ``OptimizeWarning`` gives the figure, and unless ``reg`` is passed, ``altmin`` and
    ``als`` add to every row solve the ridge ``0.1 p min(1, r)`` (``p`` the sampling rate,
    ``r`` the current relative training residual). It keeps the fill of the missing
    entries within about the data's range (without it, up to 1e3 times the largest
    observation) and vanishes as the fit interpolates, so a matrix that the observations
    do determine is still recovered exactly.

    SoftImpute with a ``shrinkage`` at least ``sigma_max(P_Omega(M))`` returns the zero
    matrix, the exact solution of its regularized problem, with an ``OptimizeWarning``.

    The solvers work on ``M`` divided by a power of two near its largest observed
    magnitude (an exact scaling), so the result does not depend on the units of ``M``:
    data near ``1e200`` or ``1e-200`` is completed as well as data near 1.

    Examples
    --------
    >>> from numopt.problems import random_low_rank_completion
    >>> from numopt.completion import complete
    >>> prob = random_low_rank_completion(300, rank=4, rate=0.15, seed=0)
    >>> res = complete(prob.observed, 4, tol=1e-10, seed=0)
    >>> res.success, prob.relative_error(res.U, res.V) < 1e-6
    (True, True)
    """
    check_choice(method, "method", METHODS)
    if client is not None and method != "als":
        raise ValueError(f"client runs method='als' only (block ALS across the Dask "
                         f"workers), got method={method!r}")
    xp = get_namespace(M) if client is None else None
    if client is None and method not in DEVICE_METHODS and is_cupy(xp):
        raise TypeError(
            f"method={method!r} runs on the CPU only (NumPy/SciPy input), but M is a "
            f"{type(M).__module__.split('.')[0]} array on the GPU: use method='als' (its "
            "per-row solves run as batched CuPy kernels) or pass M to the host (M.get())")
    opts = validate_options(method, check_options(options, DEFAULTS[method],
                                                   f"complete(method={method!r})"), rank)
    if client is not None and opts["sample_splits"] > 1:
        raise ValueError(f"sample_splits={opts['sample_splits']} is not supported with "
                         "client (the block ALS solves every observation each iteration)")
    tol = check_scalar(tol, "tol", low=0.0)
    maxiter = MAXITER[method] if maxiter is None else check_scalar(maxiter, "maxiter", low=0,
                                                                    integer=True)
    rank = check_scalar(rank, "rank", low=1, integer=True)
    if client is None:
        obs = observations_from(M, xp)
    else:
        obs, xp = block_observations(M, client)
    if rank > min(obs.shape):
        raise ValueError(f"rank must be at most min(m, n) = {min(obs.shape)}, got {rank}")
    warn_about_coverage(obs, rank)
    if method == "altmin":
        warn_about_unused_sketch_options(options, opts["row_solver"], rank)
    auto_ridge = (method != "softimpute" and "reg" not in options
                  and obs.n_observed < identifiable_count(obs.shape, rank))
    warn_about_identifiability(obs, rank, method, auto_ridge)
    if client is not None:
        solver = BlockALSSolver(client, obs, rank, tol=tol, seed=seed, options=opts,
                                auto_ridge=auto_ridge)
    elif method == "softimpute":
        solver = SoftImputeSolver(xp, obs, rank, tol=tol, seed=seed, options=opts)
    else:
        solver = AlternatingSolver(xp, obs, rank, exact=(method == "als"), tol=tol, seed=seed,
                                   options=opts, auto_ridge=auto_ridge)
    # check_every=None: every iteration on the CPU, the configuration's gpu_check_every
    # on a GPU; the solvers decide their stop in step, so this only paces the callback
    res = run_solver(solver, maxiter=maxiter, callback=callback, check_every=None, xp=xp,
                     finite_fields=("x", "V"), disp=opts["disp"])
    if method == "softimpute" and res.success:
        _warn_about_zero_fit(res)
    _fill_unobserved(res, obs, xp)
    res.method = method
    return res
