"""Learning the relaxation parameter across a sequence of linear systems."""

from __future__ import annotations

import time

import numpy as np

from .._progress import Progress, check_progress
from .._result import OptimizeResult, Status
from .._validation import check_choice, check_scalar, check_seed
from ._bandits import BinnedTsallisINF, ChebyshevCB, TsallisINF, UnimodalUCB
from ._cg import cg
from ._sor import sor
from ._ssor import ssor_preconditioner

_METHODS = ("sor", "ssor", "ssor_pcg")
_POLICIES = ("tsallis_inf", "ucb", "unimodal_ucb", "binned_tsallis_inf", "chebyshev_cb")
_NON_CONTEXTUAL = ("tsallis_inf", "ucb", "unimodal_ucb")


def default_omegas(method):
    """The default grid of relaxation parameters, geometric in ``2 - omega``.

    For SPD matrices the useful ``omega`` lies in [1, 2) and the optimum approaches 2 as
    ``2 - O(h)`` on a mesh of width ``h``, while the cost grows steeply on either side of
    it: a grid even in ``log(2 - omega)`` spends its arms where the cost changes.

    ``"sor"`` and ``"ssor"``: 10 values, ``2 - omega`` log-spaced from 1 down to 0.04
    (``omega`` from 1 to 1.96), rounded to two decimals. ``"ssor_pcg"``: 6 values,
    ``2 - omega = 2^-2 ... 2^-7`` (``omega`` from 1.75 to 1.992). The SSOR-PCG iteration
    count grows like ``sqrt(a / d + b d / h^2)`` in ``d = 2 - omega``, symmetric in
    ``log d`` about its minimum ``d* ~ h``, so a factor-2 grid has an arm within
    ``sqrt(2)`` of ``d*`` (at most ~3% more iterations) and this range covers 2-D meshes
    from about 40^2 to 1400^2; few arms matter on short sequences (a bandit pays for
    every arm it tries).
    """
    if method == "ssor_pcg":
        return 2.0 - 2.0 ** -np.arange(2.0, 8.0)
    return np.round(2.0 - np.geomspace(1.0, 0.04, 10), 2)


def run_with_omega(method, A, b, omega, *, tol, maxiter, x0=None, **options):
    """Solve one system with ``method`` at a fixed ``omega`` (the baseline the learner
    competes with); ``ordering`` goes to the SSOR preconditioner for ``"ssor_pcg"``."""
    options = dict(options)
    if method == "sor":
        return sor(A, b, x0, omega=omega, tol=tol, maxiter=maxiter, **options)
    if method == "ssor":
        return sor(A, b, x0, omega=omega, symmetric=True, tol=tol, maxiter=maxiter, **options)
    ordering = options.pop("ordering", "auto")
    res = cg(A, b, x0, M=ssor_preconditioner(A, omega, ordering=ordering), tol=tol,
             maxiter=maxiter, **options)
    res["omega"] = float(omega)
    return res


class RelaxationLearner:
    """Choose ``omega`` for each system of a sequence, learning from iteration counts only.

    Each :meth:`solve` samples ``omega`` from a grid with a bandit policy, solves with
    it, and feeds the number of iterations back as the cost; no extra matrix work is
    done (Khodak, Chow, Balcan & Talwalkar, *Learning to Relax*, ICLR 2024).

    Parameters
    ----------
    method : {"sor", "ssor", "ssor_pcg"}
        SOR, symmetric SOR, or conjugate gradients preconditioned by
        :func:`ssor_preconditioner`.
    policy : {"tsallis_inf", "ucb", "unimodal_ucb", "binned_tsallis_inf", "chebyshev_cb"}
        ``"tsallis_inf"`` ignores contexts and competes with the best fixed ``omega``,
        even when the costs drift or are chosen adversarially (the paper's choice).
        ``"ucb"`` (UCB1 over the grid) and ``"unimodal_ucb"`` (UCB restricted to the
        neighbours of the leading ``omega``, for a cost unimodal along the grid, as the
        SSOR-PCG count is) assume i.i.d. systems and spend far fewer solves on poor
        values: prefer them for short, stationary sequences. The two contextual
        policies compete with the best map from context to ``omega``:
        ``"binned_tsallis_inf"`` runs Tsallis-INF per context bin,
        ``"chebyshev_cb"`` fits a Chebyshev regression of the cost of each ``omega``
        in the context and explores by inverse-gap weighting.
    omegas : array_like, optional
        The grid of candidate values in (0, 2) (see :func:`default_omegas`).
    context_range : (float, float), optional
        Interval of the contexts (required by the contextual policies).
    n_bins : int
        Bins of ``"binned_tsallis_inf"``.
    degree : int
        Number of Chebyshev terms of ``"chebyshev_cb"``.
    tol, maxiter :
        Passed to the solver; a run that hits ``maxiter`` costs ``maxiter`` (and is
        kept out of the learner's estimate of the cost unit).
    seed : int or numpy.random.Generator, optional
        Drives the sampling of the Tsallis-INF and contextual policies; the UCB
        policies are deterministic given the costs.
    progress : bool or None
        Report progress over the solves of :meth:`solve`: systems done, their mean
        iteration count and the current ``omega`` (a tqdm bar where tqdm is installed,
        otherwise a line on stderr every few seconds). ``None`` (default) reports only
        when stderr is a terminal.
    **solver_options
        Passed to the solver (for instance ``ordering``).

    Attributes
    ----------
    history : list of dict
        ``omega``, ``nit`` and ``context`` of every solve so far.
    """

    def __init__(self, method="sor", *, policy="tsallis_inf", omegas=None,
                 context_range=None, n_bins=5, degree=6, tol=1e-8, maxiter=10000,
                 seed=None, progress=None, **solver_options):
        self.method = check_choice(method, "method", _METHODS)
        self.policy = check_choice(policy, "policy", _POLICIES)
        try:
            grid = default_omegas(method) if omegas is None else np.asarray(omegas,
                                                                            dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"omegas must be a 1-D grid of real numbers ({exc})") from None
        if grid.ndim != 1 or grid.size == 0:
            raise ValueError(f"omegas must be a non-empty 1-D grid, got shape {grid.shape}")
        if not np.all((grid > 0) & (grid < 2)):
            raise ValueError("omegas must lie in (0, 2)")
        self.omegas = grid
        self.tol = check_scalar(tol, "tol", low=0.0)
        self.maxiter = check_scalar(maxiter, "maxiter", low=1, integer=True)
        self.solver_options = solver_options
        self.rng = check_seed(seed)
        if policy == "tsallis_inf":
            self._bandit = TsallisINF(grid.size, self.rng)
        elif policy in ("ucb", "unimodal_ucb"):
            if policy == "unimodal_ucb" and np.any(np.diff(grid) <= 0):
                raise ValueError("omegas must be strictly increasing for "
                                 "policy='unimodal_ucb' (its neighbours are grid neighbours)")
            self._bandit = UnimodalUCB(grid.size, unimodal=policy == "unimodal_ucb")
        else:
            if context_range is None:
                raise ValueError(f"policy={policy!r} needs context_range=(low, high)")
            if not (isinstance(context_range, (tuple, list, np.ndarray))
                    and len(context_range) == 2):
                raise TypeError("context_range must be a pair (low, high), got "
                                f"{context_range!r}")
            low, high = (check_scalar(v, "context_range") for v in context_range)
            if not high > low:
                raise ValueError(f"context_range must satisfy low < high, got {context_range}")
            self.context_range = (low, high)
            if policy == "binned_tsallis_inf":
                n_bins = check_scalar(n_bins, "n_bins", low=1, integer=True)
                self._bandit = BinnedTsallisINF(grid.size, self.rng, (low, high), n_bins)
            else:
                degree = check_scalar(degree, "degree", low=1, integer=True)
                self._bandit = ChebyshevCB(grid.size, self.rng, (low, high), degree)
        self.progress = check_progress(progress)
        self._progress = None  # created on the first solve that reports
        self.history = []
        self._pending = None

    def __getstate__(self):
        # a live progress bar holds a stream and a lock: a copy starts its own
        state = dict(self.__dict__)
        state["_progress"] = None
        return state

    @property
    def contextual(self):
        return self.policy not in _NON_CONTEXTUAL

    def predict(self, context=None):
        """Sample the ``omega`` for the next system (call :meth:`update` with its cost)."""
        if self.contextual:
            if context is None:
                raise ValueError(f"policy={self.policy!r} needs a context for every system")
            context = check_scalar(context, "context")
        arm = self._bandit.select(context)
        self._pending = (arm, context)
        return float(self.omegas[arm])

    def update(self, cost, converged=True):
        """Feed back the cost (iteration count) of the last predicted ``omega``;
        ``converged=False`` marks a run that stopped at its iteration cap."""
        if self._pending is None:
            raise RuntimeError("update() called without a preceding predict()")
        arm, context = self._pending
        cost = check_scalar(cost, "cost", low=0.0)
        self._bandit.update(max(cost, 1.0), bool(converged))
        self.history.append({"omega": float(self.omegas[arm]), "nit": cost,
                             "context": context})
        self._pending = None

    def solve(self, A, b, context=None, x0=None):
        """Solve ``A x = b`` with a learned ``omega``; learn from its iteration count.

        Returns
        -------
        OptimizeResult
            The solver's result with ``omega`` (the value used) and ``context``.
        """
        res = self._solve(A, b, context, x0)
        if self._progress is None:
            self._progress = Progress("RelaxationLearner", enabled=self.progress)
        self._progress.update(**progress_fields(self.history))
        return res

    def _solve(self, A, b, context, x0):
        omega = self.predict(context)
        res = run_with_omega(self.method, A, b, omega, tol=self.tol, maxiter=self.maxiter,
                             x0=x0, **self.solver_options)
        # a failed run costs the cap, as one that ran to it did: a run that stalled
        # early (float32 at a tol below its reach) must not look cheap to the bandit
        cost = res.nit if res.success else max(res.nit, self.maxiter)
        self.update(cost, converged=res.success)
        res["omega"] = omega
        res["context"] = context
        return res


def progress_fields(history):
    """What a progress report shows: mean iterations so far and the last omega."""
    mean_nit = sum(h["nit"] for h in history) / max(len(history), 1)
    return {"mean nit": f"{mean_nit:.1f}",
            "omega": f"{history[-1]['omega']:.4g}" if history else "-"}


def _unpack(system, index):
    if hasattr(system, "A") and hasattr(system, "b"):
        return system.A, system.b, getattr(system, "context", None)
    if isinstance(system, (tuple, list)) and len(system) in (2, 3):
        return system[0], system[1], system[2] if len(system) == 3 else None
    raise TypeError(f"systems[{index}] must be a LinearSystem or an (A, b) or "
                    f"(A, b, context) tuple, got {type(system).__name__}"
                    + (f" of length {len(system)}" if isinstance(system, (tuple, list))
                       else ""))


def solve_sequence(systems, learner, *, callback=None, progress=None):
    """Solve a sequence of systems with ``learner`` choosing ``omega`` for each.

    Parameters
    ----------
    systems : iterable
        :class:`numopt.problems.LinearSystem` items, or ``(A, b)`` / ``(A, b, context)``
        tuples.
    learner : RelaxationLearner
    callback : callable, optional
        ``callback(index, result)`` after each solve; raising ``StopIteration`` ends
        the sequence early (``success=False``).
    progress : bool or None
        Report progress: systems done (of the total when ``systems`` has a length),
        mean iterations and the current ``omega``, as a tqdm bar where tqdm is
        installed, otherwise a line on stderr every few seconds. ``None`` (default)
        follows ``learner.progress``. The learner's own report is off during the
        sequence, so one display shows it.

    Returns
    -------
    OptimizeResult
        ``results`` (one OptimizeResult per system), ``omegas`` and ``nits`` (NumPy
        arrays), ``nit`` (total iterations), ``n_systems``, ``n_failed``,
        ``seconds`` (total solve time), ``x`` (the last solution), ``success`` (every
        solve converged and the sequence ran to its end).
    """
    if not isinstance(learner, RelaxationLearner):
        raise TypeError(f"learner must be a RelaxationLearner, got {type(learner).__name__}")
    total = len(systems) if hasattr(systems, "__len__") else None
    try:
        systems = iter(systems)
    except TypeError:
        raise TypeError("systems must be an iterable of LinearSystem items or (A, b) / "
                        f"(A, b, context) tuples, got {type(systems).__name__}") from None
    results = []
    stopped = False
    start = time.perf_counter()
    report = Progress("solve_sequence", total=total,
                      enabled=learner.progress if progress is None else progress)
    with report:
        for index, system in enumerate(systems):
            A, b, context = _unpack(system, index)
            res = learner._solve(A, b, context, None)
            results.append(res)
            report.update(**progress_fields(learner.history))
            if callback is not None:
                try:
                    callback(index, res)
                except StopIteration:
                    stopped = True
                    break
    seconds = time.perf_counter() - start
    nits = np.array([r.nit for r in results], dtype=np.int64)
    n_failed = sum(not r.success for r in results)
    if stopped:
        status, detail = Status.CALLBACK_STOP, ""
    elif n_failed:
        status, detail = Status.MAXITER, f"{n_failed} of {len(results)} solves did not converge."
    else:
        status, detail = Status.SUCCESS, ""
    return OptimizeResult.from_status(
        status, detail, x=results[-1].x if results else None, results=results,
        omegas=np.array([r.omega for r in results]), nits=nits, nit=int(nits.sum()),
        n_systems=len(results), n_failed=int(n_failed), seconds=seconds)
