"""Result object, status codes, validation and the shared iteration loop."""

import pickle

import numpy as np
import pytest
import scipy.optimize as so
import scipy.sparse

import numopt
from numopt import OptimizeResult, Status
from numopt._loop import run_solver
from numopt._validation import as_array, check_choice, check_options, check_scalar, check_shape
from numopt.testing._toy import jacobi

XP = numopt._backend.get_namespace()


def test_result_is_scipy_compatible_dict():
    res = OptimizeResult.from_status(Status.MAXITER, "(residual 1e-3 > tol)", x=np.ones(2), nit=5)
    assert isinstance(res, so.OptimizeResult) and isinstance(res, dict)
    assert res.success is False and res.status == 1 and res["nit"] == 5
    assert res.message == "Maximum number of iterations has been exceeded. (residual 1e-3 > tol)"
    assert "message" in repr(res) and "nit: 5" in repr(res)
    assert pickle.loads(pickle.dumps(res)).nit == 5
    with pytest.raises(AttributeError):
        res.nope


def test_status_messages_are_distinct():
    messages = [s.message for s in Status]
    assert len(set(messages)) == len(messages)
    assert Status.CALLBACK_STOP == 99


class _Counter:
    """Counts to `target`; optionally produces NaN."""

    def __init__(self, target, nan=False):
        self.target, self.nan = target, nan

    def init(self):
        return 0

    def step(self, k):
        return k + 1

    def check(self, k):
        return Status.SUCCESS if k >= self.target else None

    def result(self, k):
        return {"x": np.full(2, np.nan if self.nan else float(k))}

    def detail(self, k, status):
        return "" if k >= self.target else f"(at {k})"


def test_loop_success_maxiter_and_check_every():
    res = run_solver(_Counter(7), maxiter=100)
    assert res.success and res.nit == 7 and res.status == Status.SUCCESS
    res = run_solver(_Counter(7), maxiter=5)
    assert not res.success and res.nit == 5 and res.status == Status.MAXITER
    assert res.message.endswith("(at 5)")
    res = run_solver(_Counter(7), maxiter=100, check_every=4)
    assert res.success and res.nit == 8


def test_loop_never_reports_nan_as_success():
    res = run_solver(_Counter(3, nan=True), maxiter=10)
    assert not res.success and res.status == Status.NONFINITE
    assert "NaN" in res.message


def test_loop_callback_sees_results_and_can_stop():
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result.nit)
        if intermediate_result.nit == 3:
            raise StopIteration

    res = run_solver(_Counter(10), maxiter=100, callback=cb)
    assert seen == [1, 2, 3] and res.status == Status.CALLBACK_STOP and not res.success
    seen.clear()
    res = run_solver(_Counter(2), maxiter=100, callback=cb)
    assert seen == [1, 2] and res.success  # the converging iteration is reported too


def test_solver_reports_divergence_as_failure():
    # Jacobi diverges on a matrix that is not diagonally dominant.
    A = np.array([[1.0, 3.0], [3.0, 1.0]])
    res = jacobi(A, np.ones(2), maxiter=2000)
    assert not res.success and res.status in (Status.NONFINITE, Status.MAXITER)


def test_as_array_messages():
    with pytest.raises(ValueError, match="b must be finite, but it contains NaN"):
        as_array([1.0, np.nan], "b", XP)
    with pytest.raises(ValueError, match="b must be finite, but it contains inf"):
        as_array([1.0, np.inf], "b", XP)
    with pytest.raises(ValueError, match="A must be 2-dimensional, got shape \\(3,\\)"):
        as_array([1.0, 2.0, 3.0], "A", XP, ndim=2)
    with pytest.raises(ValueError, match="a must not be empty"):
        as_array([], "a", XP)
    with pytest.raises(TypeError, match="M must hold real numbers"):
        as_array(np.ones(2, dtype=complex), "M", XP)
    with pytest.raises(TypeError, match="x must be an array, got None"):
        as_array(None, "x", XP)
    with pytest.raises(TypeError, match="M must be a dense array, got csr_array"):
        as_array(scipy.sparse.csr_array(np.eye(2)), "M", XP)
    assert as_array([1, 2], "x", XP, dtype=XP.float32).dtype == np.float32


def test_shape_scalar_choice_and_option_checks():
    with pytest.raises(ValueError, match=r"b has shape \(3,\), expected \(4\) to match A"):
        check_shape(np.ones(3), "b", (4,), against="A")
    check_shape(np.ones((2, 5)), "M", (2, None))
    with pytest.raises(ValueError, match=r"omega must lie in \(0, 2\), got 2.0"):
        check_scalar(2.0, "omega", low=0, high=2, low_open=True, high_open=True)
    with pytest.raises(ValueError, match="reg must be finite"):
        check_scalar(float("nan"), "reg", low=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        check_scalar(1.5, "k", integer=True)
    with pytest.raises(ValueError, match="method must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "method", ("a", "b"))
    with pytest.warns(numopt.OptimizeWarning, match="Unknown solver options for m: zz"):
        merged = check_options({"zz": 1, "alpha": 2}, {"alpha": 1, "beta": 0}, "m")
    assert merged == {"alpha": 2, "beta": 0, "disp": False}  # the loop option disp too


class _Batched(_Counter):
    """Each step runs 5 iterations and says so through ``nit``: the workaround the
    contract removed (the loop owns the count; fused steps use ``step_many``)."""

    def step(self, k):
        return k + 5

    def result(self, k):
        return {**super().result(k), "nit": k}


def test_a_result_with_its_own_iteration_count_is_refused():
    with pytest.raises(RuntimeError, match="the loop owns nit"):
        run_solver(_Batched(12), maxiter=10)


def test_units_binary_exponent_and_pow2_are_exact():
    import math

    import numpy as np

    from numopt._units import Pow2, binary_exponent, ldexp_float

    assert binary_exponent(1.0) == 1 and binary_exponent(0.75) == 0
    assert binary_exponent(0.0) == 0 and binary_exponent(math.inf) == 0
    assert binary_exponent(math.nan) == 0
    v = np.array([3e300, -1e-5, 0.5])   # (entries below eps * max may underflow)
    unit = Pow2.of(np, v)
    assert 0.5 <= np.max(np.abs(unit.down(v))) < 1.0
    np.testing.assert_array_equal(unit.up(unit.down(v)), v)        # exact round trip
    f32 = np.array([3e38, 1e-3], dtype=np.float32)                 # factors stay in range
    assert Pow2(-200).up(Pow2(200).up(f32)).dtype == np.float32
    assert ldexp_float(1.0, 5000) == math.inf and ldexp_float(-1.0, 5000) == -math.inf


def test_check_flag_and_check_seed_name_the_argument():
    import numpy as np

    from numopt._validation import check_flag, check_seed

    assert check_flag(np.bool_(True), "positive") is True
    with pytest.raises(TypeError, match="positive must be True or False"):
        check_flag("no", "positive")
    assert isinstance(check_seed(3), np.random.Generator)
    with pytest.raises(TypeError, match="seed must be None"):
        check_seed("abc")


def test_table_check_catches_a_solver_that_modifies_its_input():
    from dataclasses import replace

    from numopt._registry import get_method
    from numopt.testing import check_inputs_unchanged

    spec = get_method("toy_solve", "jacobi")
    check_inputs_unchanged(spec, XP, XP.float64)

    def scaling_in_place(A, b, **kwargs):
        b *= 0.5
        return jacobi(A, b, **kwargs)

    with pytest.raises(AssertionError, match="toy_solve:jacobi modified its input b"):
        check_inputs_unchanged(replace(spec, func=scaling_in_place), XP, XP.float64)


def test_table_check_catches_a_solver_that_draws_from_global_state():
    from dataclasses import replace

    from numopt._registry import get_method
    from numopt.testing import check_reproducible

    spec = get_method("toy_solve", "jacobi")
    check_reproducible(spec, XP, XP.float64)

    def unseeded_start(A, b, **kwargs):
        res = jacobi(A, b, **kwargs)
        res.x = res.x + XP.asarray(np.random.default_rng().random(res.x.shape)) * 1e-3
        return res

    with pytest.raises(AssertionError, match="toy_solve:jacobi x differs between runs"):
        check_reproducible(replace(spec, func=unseeded_start), XP, XP.float64)


def test_loop_callback_forms_follow_scipys_rule():
    # scipy.optimize._optimize._wrap_callback: a lone parameter named
    # intermediate_result gets the result by keyword, any other callable callback(xk)
    seen = {"xk": [], "kw": [], "other_name": []}

    def by_keyword(*, intermediate_result):
        seen["kw"].append(intermediate_result)

    def other_name(res):            # not named intermediate_result: the legacy form
        seen["other_name"].append(res)

    for callback in (seen["xk"].append, by_keyword, other_name):
        run_solver(_Counter(3), maxiter=10, callback=callback)
    assert all(isinstance(x, np.ndarray) for x in seen["xk"] + seen["other_name"])
    assert [float(x[0]) for x in seen["xk"]] == [1.0, 2.0, 3.0]
    assert [r.nit for r in seen["kw"]] == [1, 2, 3]
    # message_detail is for the loop; the callback never sees it
    assert all("message_detail" not in r for r in seen["kw"])
    with pytest.raises(TypeError, match="callback must be callable"):
        run_solver(_Counter(3), maxiter=10, callback="print")


def test_loop_disp_prints_a_table_and_scipys_summary(capsys):
    res = run_solver(_Counter(1000), maxiter=10, disp=False)
    assert capsys.readouterr().out == ""
    res = run_solver(_Counter(3), maxiter=100, disp=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["nit"] and [ln.split()[0] for ln in lines[1:4]] == \
        ["1", "2", "3"]
    assert lines[4] == res.message and lines[5].split() == ["Iterations:", "3"]
    # rows for 1..10, then at 20, 30, ..., 100, 200 and the last; a failure warns
    with pytest.warns(numopt.OptimizeWarning, match="Maximum number of iterations") as w:
        run_solver(_Counter(1000), maxiter=250, disp=True)
    assert w[0].filename == __file__
    rows = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()[1:-1]]
    assert rows == [str(k) for k in [*range(1, 11), *range(20, 101, 10), 200, 250]]


@pytest.mark.parametrize("call", [
    lambda: numopt.linalg.cg(np.eye(3), np.ones(3), bogus=1),
    lambda: numopt.linalg.sor(np.eye(3), np.ones(3), bogus=1),
    lambda: numopt.ot.sinkhorn(None, None, np.ones((3, 3)), 1.0, bogus=1),
    lambda: numopt.coordinate.lasso(np.eye(3), np.ones(3), 0.1, bogus=1),
    lambda: numopt.minimize(lambda x: x @ x, np.ones(2), method="bcd", jac=lambda x: 2 * x,
                            options={"bogus": 1}),
], ids=["cg", "sor", "sinkhorn", "lasso", "minimize-bcd"])
def test_warnings_point_at_the_callers_line(call):
    with pytest.warns(numopt.OptimizeWarning, match="bogus") as record:
        call()
    assert [w.filename for w in record] == [__file__]


class _FusedCounter(_Counter):
    """Counts to `target` in fused steps that stop on their own at the target (as a
    GPU loop that meets its test on the device does)."""

    def __init__(self, target):
        super().__init__(target)
        self.budgets = []

    def step_many(self, k, budget):
        self.budgets.append(budget)
        ran = min(budget, max(self.target - k, 1))
        return k + ran, ran

    def result(self, k):
        return {"x": np.full(2, float(k)), "stats": {"nfev": 2 * k}}

    def detail(self, k, status):
        return "" if k >= self.target else f"(counted to {k})"


def test_step_many_counts_iterations_and_honours_maxiter():
    solver = _FusedCounter(23)
    res = run_solver(solver, maxiter=100, check_every=10)
    # the loop owns nit: 10 + 10 + 3 (the fused step stopped early, and was checked)
    assert res.success and res.nit == 23 and solver.budgets == [10, 10, 10]
    assert res.nfev == 46 and "stats" not in res  # stats merged into the result
    solver = _FusedCounter(23)
    res = run_solver(solver, maxiter=15, check_every=10)
    assert not res.success and res.nit == 15 and solver.budgets == [10, 5]
    assert res.message.endswith("(counted to 15)")


def test_step_many_contract_is_enforced():
    class Overrun(_FusedCounter):
        def step_many(self, k, budget):
            return k + budget + 1, budget + 1

    with pytest.raises(RuntimeError, match="1 <= ran <= budget"):
        run_solver(Overrun(50), maxiter=100, check_every=4)


def test_check_cadence_default_per_backend_from_the_configuration():
    import array_api_strict

    import numopt
    from numopt._loop import resolve_check_every

    assert resolve_check_every(None, np) == 1
    assert resolve_check_every(None, array_api_strict) == 1
    assert resolve_check_every(7, np) == 7
    assert numopt.get_config()["gpu_check_every"] == 10
    with numopt.config_context(gpu_check_every=3):
        assert numopt.get_config()["gpu_check_every"] == 3
    with pytest.raises(ValueError, match="gpu_check_every"):
        numopt.set_config(gpu_check_every=0)
    with pytest.raises(ValueError, match="check_every"):
        resolve_check_every(0, np)


@pytest.mark.parametrize("fault", ["check_writes_state", "step_changes_solver",
                                   "result_returns_nit", None])
def test_generic_contract_check_catches_each_breach(fault):
    from numopt._registry import Example, MethodSpec
    from numopt.testing import check_solver_contract

    class Solver:
        def __init__(self):
            self.settings = 1.0

        def init(self):
            return {"k": 0}

        def step(self, s):
            if fault == "step_changes_solver":
                self.settings += 1.0
            return {"k": s["k"] + 1}

        def check(self, s):
            if fault == "check_writes_state":
                s["seen"] = True
            return Status.SUCCESS if s["k"] >= 3 else None

        def result(self, s):
            fields = {"x": np.full(2, float(s["k"]))}
            if fault == "result_returns_nit":
                fields["nit"] = s["k"]
            return fields

    spec = MethodSpec(solver="probe", name="contract", func=lambda: run_solver(Solver(),
                                                                            maxiter=10),
                      problem_class="testing", summary="probe",
                      example=lambda xp, dtype: Example(args=()))
    if fault is None:
        check_solver_contract(spec, np, np.float64)
    else:
        with pytest.raises(AssertionError, match={"check_writes_state": "changed the state",
                                                  "step_changes_solver": "changed",
                                                  "result_returns_nit": "returns"}[fault]):
            check_solver_contract(spec, np, np.float64)
