"""The generic checks every registered method goes through (see ``numopt.testing``)."""

from __future__ import annotations

import math
import warnings

from scipy.optimize import OptimizeWarning

from .._config import config_context
from .._loop import INTERNAL_FIELDS
from .._result import OptimizeResult, Status
from ._assertions import assert_allclose

REQUIRED_FIELDS = ("x", "success", "status", "message", "nit")


def run_example(spec, example, **extra):
    """Call ``spec`` on ``example``; ``extra`` adds keyword arguments (options too)."""
    kwargs = {**example.kwargs, **extra}
    if spec.solver == "minimize":
        from .._minimize import minimize

        known = {"jac", "hess", "hessp", "bounds", "constraints", "tol", "callback", "args"}
        options = dict(kwargs.pop("options", {}) or {})
        options.update({k: kwargs.pop(k) for k in list(kwargs) if k not in known})
        return minimize(*example.args, method=spec.name, options=options, **kwargs)
    return spec.func(*example.args, **kwargs)


def check_result(spec, xp, dtype):
    """Fields present, types right, dtype preserved, and the example's oracle check."""
    example = spec.example(xp, dtype)
    res = run_example(spec, example)
    assert isinstance(res, OptimizeResult), type(res)
    missing = [f for f in REQUIRED_FIELDS if f not in res]
    assert not missing, f"{spec.solver}:{spec.name} result lacks {missing}"
    assert isinstance(res.success, bool)
    assert isinstance(res.status, int) and isinstance(res.nit, int)
    assert isinstance(res.message, str) and res.message
    assert res.success, f"{spec.solver}:{spec.name} did not converge: {res.message}"
    for name in example.dtype_fields:
        value = res[name]
        assert value.dtype == dtype, f"{name} has dtype {value.dtype}, expected {dtype}"
    if example.check is not None:
        example.check(res)
    return res


def check_callback_stop(spec, xp, dtype):
    """A callback that raises StopIteration ends the run with success=False."""
    calls = []

    def stop(intermediate_result):
        assert isinstance(intermediate_result, OptimizeResult)
        calls.append(intermediate_result)
        raise StopIteration

    res = run_example(spec, spec.example(xp, dtype), callback=stop)
    assert len(calls) == 1, f"callback called {len(calls)} times after StopIteration"
    assert res.success is False
    assert res.status == Status.CALLBACK_STOP, res.status


def check_callback_forms(spec, xp, dtype):
    """SciPy's callback rule (``scipy.optimize._optimize._wrap_callback``; the three
    interfaces of SciPy's test_optimize.py::test_callback_stopiteration and
    test_minimize_callback_copies_array): ``callback(xk)`` gets a copy of ``x`` that the
    solver never changes afterwards; a function with the keyword-only
    ``intermediate_result``, or an object whose ``__call__`` takes it, gets an
    ``OptimizeResult`` by keyword, without internal fields. All three see the same
    iterates."""
    legacy, by_keyword, by_method = [], [], []

    def old_style(xk):
        assert not isinstance(xk, dict), "callback(xk) received an OptimizeResult"
        legacy.append((xk, _snapshot(xp, xk)))

    def new_style(*, intermediate_result):
        assert isinstance(intermediate_result, OptimizeResult)
        hidden = set(intermediate_result) & set(INTERNAL_FIELDS)
        assert not hidden, f"internal fields {hidden} reached the callback"
        by_keyword.append(_snapshot(xp, intermediate_result.x))

    class Recorder:
        def __call__(self, intermediate_result):
            by_method.append(intermediate_result)

    results = []
    for callback in (old_style, new_style, Recorder()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results.append(run_example(spec, spec.example(xp, dtype), callback=callback))
    assert len(legacy) == len(by_keyword) == len(by_method) >= 1, \
        (len(legacy), len(by_keyword), len(by_method))
    assert all(isinstance(r, OptimizeResult) for r in by_method)
    for (xk, copy), seen in zip(legacy, by_keyword):
        assert _same(xp, xk, copy), "an x given to callback(xk) changed after the call"
        assert _same(xp, xk, seen), "callback(xk) and intermediate_result.x differ"
    for res in results:
        assert not set(res) & set(INTERNAL_FIELDS), sorted(res)


def check_disp(spec, xp, dtype):
    """``disp=True`` is accepted and prints a progress table and SciPy's closing
    summary (the iteration count; the message on success, an ``OptimizeWarning`` on
    failure), as SciPy's test_optimize.py::test_minimize_warnings_gh1953 expects;
    ``disp=False`` prints nothing."""
    import contextlib
    import io

    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        res = run_example(spec, spec.example(xp, dtype), disp=True)
    messages = [str(w.message) for w in caught]
    assert not any("disp" in m for m in messages), messages
    text = printed.getvalue()
    # (a method may add to the message, or to nit, after its iterations: sinkhorn's
    # method="auto" says which form it chose, "sns" counts its warm-up)
    assert "Iterations: " in text, text
    said = Status(res.status).message
    if res.success:
        assert said in text, text
    else:
        assert any(m.startswith(said) for m in messages), messages
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        run_example(spec, spec.example(xp, dtype), disp=False)
    assert quiet.getvalue() == "", quiet.getvalue()


def check_unknown_option(spec, xp, dtype):
    """An unknown option warns OptimizeWarning and is otherwise ignored."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_example(spec, spec.example(xp, dtype), definitely_not_an_option=1)
    assert any(issubclass(w.category, OptimizeWarning)
               and "definitely_not_an_option" in str(w.message) for w in caught), \
        [str(w.message) for w in caught]


def check_maxiter_respected(spec, xp, dtype, maxiters=(0, 1, 3)):
    """With an unreachable ``tol``, ``maxiter`` bounds ``nit`` (a step that runs several
    iterations must not overshoot, and ``maxiter=0`` returns the start, although SciPy's
    L-BFGS-B runs one iteration there) and the run reports MAXITER with a finite ``x``."""
    import inspect

    example = spec.example(xp, dtype)
    if spec.solver != "minimize" and "maxiter" not in inspect.signature(spec.func).parameters:
        return None
    for maxiter in maxiters:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run_example(spec, example, maxiter=maxiter, tol=1e-300)
        assert res.nit <= maxiter, f"nit = {res.nit} > maxiter = {maxiter}"
        assert res.status == Status.MAXITER and res.success is False, res.message
        x = res.x.toarray() if hasattr(res.x, "toarray") else res.x
        assert bool(xp.all(xp.isfinite(xp.asarray(x)))), "x is not finite"
    return res


def _snapshot(xp, value):
    """A copy of an array or sparse argument, or None for anything else."""
    if hasattr(value, "tocsr"):
        return value.copy()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return xp.asarray(value, copy=True)
    return None


def _same(xp, a, b):
    """Equal to the bit in value, NaN where NaN, and of the same dtype and shape."""
    if hasattr(a, "tocsr"):
        a, b = a.toarray(), b.toarray()
        xp = a.__array_namespace__() if hasattr(a, "__array_namespace__") else xp
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if xp.isdtype(a.dtype, "real floating"):
        both_nan = xp.isnan(a) & xp.isnan(b)
        return bool(xp.all((a == b) | both_nan))
    return bool(xp.all(a == b))


def check_inputs_unchanged(spec, xp, dtype):
    """The caller's arrays (positional arguments and array keywords such as ``x0``) are
    left exactly as they were: a solver works on its own copies."""
    example = spec.example(xp, dtype)
    given = [("args", i, v) for i, v in enumerate(example.args)]
    given += [("kwargs", k, v) for k, v in example.kwargs.items()]
    before = [(where, key, value, _snapshot(xp, value)) for where, key, value in given]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_example(spec, example)
    for where, key, value, copy in before:
        if copy is None:
            continue
        name = example.arg_names[key] if where == "args" and key < len(example.arg_names) \
            else key
        assert _same(xp, value, copy), f"{spec.solver}:{spec.name} modified its input {name}"


def check_reproducible(spec, xp, dtype):
    """Two runs on the same example give the same ``x`` to the bit and the same ``nit``
    (randomized methods draw only from their ``seed``, never from global state)."""
    runs = []
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run_example(spec, spec.example(xp, dtype))
        x = res.x.toarray() if hasattr(res.x, "toarray") else res.x
        runs.append((xp.asarray(x), res.nit))
    (x1, nit1), (x2, nit2) = runs
    assert nit1 == nit2, f"{spec.solver}:{spec.name} nit {nit1} then {nit2}"
    assert bool(xp.all(x1 == x2)), f"{spec.solver}:{spec.name} x differs between runs"


def _replace_arg(example, index, value):
    args = list(example.args)
    args[index] = value
    example.args = tuple(args)
    return example


def _names(example):
    return [example.arg_names[i] for i in example.array_args if i < len(example.arg_names)]


def check_nonfinite_rejected(spec, xp, dtype, bad_value=math.nan):
    """NaN (or inf) in each array argument raises ValueError naming that argument."""
    import pytest

    for index in spec.example(xp, dtype).array_args:
        example = spec.example(xp, dtype)
        if math.isnan(bad_value) and index in example.nan_allowed:
            continue
        arr = xp.asarray(example.args[index], copy=True)
        if not xp.isdtype(arr.dtype, "real floating"):
            continue
        flat = xp.reshape(arr, (-1,))
        flat[0] = bad_value
        _replace_arg(example, index, xp.reshape(flat, arr.shape))
        name = example.arg_names[index]
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            run_example(spec, example)


def check_bad_shape(spec, xp, dtype):
    """Dropping the last entry (along axis 0) of an array argument raises ValueError
    whose message names one of the array arguments."""
    import pytest

    example = spec.example(xp, dtype)
    names = "|".join(_names(example))
    for index in example.array_args:
        example = spec.example(xp, dtype)
        arr = example.args[index]
        if arr.ndim == 0 or arr.shape[0] < 2 or index in example.shape_free:
            continue
        _replace_arg(example, index, arr[:-1, ...])
        with pytest.raises(ValueError, match=rf"\b({names})\b"):
            run_example(spec, example)


def check_kernel_matches_reference(spec, xp, dtype):
    """The Numba/CuPy kernels give the reference path's answer."""
    fast = run_example(spec, spec.example(xp, dtype))
    with config_context(kernels="reference"):
        ref = run_example(spec, spec.example(xp, dtype))
    example = spec.example(xp, dtype)
    for name in example.compare_fields:
        assert_allclose(fast[name], ref[name], rtol=example.rtol,
                        atol=example.rtol * 1e-3, err_msg=f"field {name}")


_SCALARS = (int, float, str, bool, type(None), tuple, frozenset)


def _holding(items):
    return {name: (id(value), value if isinstance(value, _SCALARS) else None)
            for name, value in items}


def _attributes(solver):
    """What a solver holds: attribute name -> (identity, value for plain scalars)."""
    return _holding(vars(solver).items()) if hasattr(solver, "__dict__") else {}


def _state_entries(state):
    """The entries of a mapping or plain-object state (``None`` for other states)."""
    if isinstance(state, dict):
        return _holding(state.items())
    if hasattr(state, "__dict__"):
        return _holding(vars(state).items())
    return None


def check_solver_contract(spec, xp, dtype):
    """The loop contract (``numopt._loop``): a solver never changes after construction
    (``step``, ``check`` and ``result`` neither assign nor replace its attributes, so a
    result cannot depend on how often the loop checks), and ``result`` returns public
    fields only (no ``nit`` of its own, no ``message_detail``: the loop owns the count
    and ``detail`` says what failed)."""
    from .. import _loop

    seen, problems, stepped = {}, [], {}
    advance, fields = _loop._advance, _loop._fields

    def unchanged_since_step(solver, state):
        # between two steps only check (and result) ran: they must leave the state alone
        before = stepped.get(id(solver))
        if before is not None and before[0] is state and before[1] is not None:
            now = _state_entries(state)
            changed = sorted(k for k in set(before[1]) | set(now)
                             if before[1].get(k) != now.get(k))
            if changed:
                problems.append(f"{type(solver).__name__}.check or .result changed the "
                                f"state's {changed}")

    def watch(solver):
        before = seen.setdefault(id(solver), (solver, _attributes(solver)))[1]
        now = _attributes(solver)
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if changed:
            problems.append(f"{type(solver).__name__} changed {changed} during the run")
            seen[id(solver)] = (solver, now)

    def watched_advance(solver, state, budget):
        watch(solver)
        unchanged_since_step(solver, state)
        out = advance(solver, state, budget)
        stepped[id(solver)] = (out[0], _state_entries(out[0]))
        watch(solver)
        return out

    def watched_fields(solver, state):
        watch(solver)
        unchanged_since_step(solver, state)
        raw = solver.result(state)
        leaked = sorted({"nit", "message_detail"} & set(raw))
        if leaked:
            problems.append(f"{type(solver).__name__}.result returns {leaked}")
        out = fields(solver, state)
        watch(solver)
        return out

    _loop._advance, _loop._fields = watched_advance, watched_fields
    try:
        run_example(spec, spec.example(xp, dtype))
    except RuntimeError:
        if not problems:   # the loop refuses a breach it sees: report what was found
            raise
    finally:
        _loop._advance, _loop._fields = advance, fields
    assert not problems, f"{spec.solver}:{spec.name}: " + "; ".join(sorted(set(problems)))
