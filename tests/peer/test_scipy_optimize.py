"""SciPy's own contracts for ``minimize``, run on every numopt ``minimize`` method.

Translated from SciPy's scipy/optimize/tests/test_optimize.py (SciPy 1.17); each test
names the case it comes from. The methods come from the registry, so a method
registered later joins every test here.
"""

import contextlib
import io
import itertools
import warnings

import numpy as np
import pytest
import scipy.optimize as so
from numpy.testing import assert_allclose, assert_equal

import numopt
from numopt._loop import INTERNAL_FIELDS
from numopt._minimize import SCIPY_MINIMIZE_METHODS
from numopt._registry import list_methods

SPECS = {spec.name: spec for spec in list_methods(solver="minimize")}
# newton-sketch solves equality-constrained problems only: SciPy's unconstrained cases
# do not apply to it (its contract: tests/constrained and the generic method table)
METHODS = [name for name, spec in SPECS.items() if "constraints" not in spec.uses]
# The cases that ask for SciPy's accuracy from default settings on a deterministic
# problem. The stochastic, zeroth-order and M-FAC methods take a fixed learning rate
# (or random directions) that the user tunes; their convergence is tested with tuned
# settings in tests/stochastic, tests/zeroth_order and tests/linalg.
CONVERGENT = [name for name in METHODS
              if SPECS[name].problem_class not in ("stochastic", "zeroth_order")
              and name != "mfac"]




def _rosen_derivatives(method):
    """SciPy's case passes rosen_der; a method that takes no gradient is not given one
    (it would warn), one that needs Hessian-vector products gets rosen_hess_prod."""
    uses = SPECS[method].uses
    out = {"jac": so.rosen_der} if "jac" in uses else {}
    if "hessp" in uses:
        out["hessp"] = so.rosen_hess_prod
    return out


def test_there_are_numopt_minimize_methods():
    assert METHODS


# ------------------------------------------------- CheckOptimize (test_optimize.py)
# "a simple constrained entropy maximization problem" of CheckOptimize.setup_method
F = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]])
K = np.array([1.0, 0.3, 0.5])
START = np.zeros(3)
SOLUTION = np.array([0.0, -0.524869316, 0.487525860])


def entropy_func(x):
    log_pdot = F @ x
    return np.log(np.sum(np.exp(log_pdot))) - K @ x


def entropy_grad(x):
    log_pdot = F @ x
    p = np.exp(log_pdot - np.log(np.sum(np.exp(log_pdot))))
    return F.T @ p - K


def _quiet(**kwargs):
    """``numopt.minimize`` with the RuntimeWarnings for unused hess silenced (SciPy's
    tests mark them ``filterwarnings('ignore::RuntimeWarning')``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return numopt.minimize(**kwargs)


# --------------------------------------------------------------- callbacks
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("new_cb_interface", [0, 1, 2])
def test_callback_stopiteration(method, new_cb_interface):
    # SciPy test_optimize.py::TestOptimizeSimple::test_callback_stopiteration: a
    # callback raising StopIteration ends the run with the result of maxiter iterations
    def f(x):
        return so.rosen(x)

    maxiter = 5

    def callback():
        callback.i += 1
        if callback.i == maxiter:
            raise StopIteration()
    callback.i = 0

    if new_cb_interface == 1:
        def callback_interface(*, intermediate_result):
            assert intermediate_result.fun == f(intermediate_result.x)
            callback()
    elif new_cb_interface == 2:
        class Callback:
            def __call__(self, intermediate_result: so.OptimizeResult):
                assert intermediate_result.fun == f(intermediate_result.x)
                callback()
        callback_interface = Callback()
    else:
        def callback_interface(xk, *args):
            assert not isinstance(xk, so.OptimizeResult)
            callback()

    kwargs = {"x0": [1.1] * 5, "method": method, "fun": f,
              **_rosen_derivatives(method)}
    # the zeroth-order methods report fun where they last measured it (measured_at,
    # docs/differences.rst): measuring every iteration makes it f(x) each time
    measure = {"measure_every": 1} if SPECS[method].problem_class == "zeroth_order" else {}
    res = _quiet(**kwargs, callback=callback_interface, options=measure)
    ref = _quiet(**kwargs, options={"maxiter": maxiter, **measure})
    assert res.message.startswith("`callback` raised `StopIteration`")
    assert res.nit == ref.nit == maxiter
    assert res.fun == ref.fun
    assert_equal(res.x, ref.x)
    assert res.status == 99
    assert not res.success


@pytest.mark.parametrize("method", METHODS)
def test_minimize_callback_copies_array(method):
    # SciPy test_optimize.py::TestOptimizeSimple::test_minimize_callback_copies_array:
    # callback(x) gets an array (not an OptimizeResult) that the optimizer never
    # modifies in place afterwards, and no two share memory
    results = []

    def callback(x, *args, **kwargs):
        assert not isinstance(x, so.OptimizeResult)
        results.append((x, np.copy(x)))

    numopt.minimize(so.rosen, np.zeros(10), method=method, **_rosen_derivatives(method),
                    callback=callback, options={"maxiter": 5})
    assert len(results) > 2
    assert all(np.all(x == y) for x, y in results)
    assert not any(np.may_share_memory(x[0], y[0])
                   for x, y in itertools.combinations(results, 2))


@pytest.mark.parametrize("method", METHODS)
def test_intermediate_result_has_no_internal_fields(method):
    # numopt's own fields for the loop (message_detail) stay out of what the user sees
    seen = []

    def callback(intermediate_result):
        seen.append(intermediate_result)

    res = numopt.minimize(so.rosen, np.zeros(4), method=method, **_rosen_derivatives(method),
                          callback=callback, options={"maxiter": 3})
    assert len(seen) == 3 and all(isinstance(r, so.OptimizeResult) for r in seen)
    for r in [*seen, res]:
        assert not set(r) & set(INTERNAL_FIELDS), sorted(r)


# -------------------------------------------------------------------- disp
@pytest.mark.parametrize("method", CONVERGENT)
@pytest.mark.parametrize("disp", [0, 1, 2, 3, False, True])
def test_disp(method, disp):
    # SciPy test_optimize.py::TestOptimizeScalar::test_disp: every method accepts disp
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.simplefilter("error")  # "Unknown solver options: disp" would raise
        res = numopt.minimize(entropy_func, START, method=method, jac=entropy_grad,
                              options={"disp": disp})
    assert res.success
    text = printed.getvalue()
    if disp:
        assert res.message in text and f"Iterations: {res.nit}" in text
        assert f"Current function value: {res.fun:f}" in text
    else:
        assert text == ""


@pytest.mark.parametrize("method", METHODS)
def test_minimize_warnings_gh1953(method):
    # SciPy test_optimize.py::TestOptimizeSimple::test_minimize_warnings_gh1953: with
    # disp a failure warns (OptimizeWarning) rather than just printing; not without
    options = {"disp": True, "maxiter": 10}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        with pytest.warns(so.OptimizeWarning, match="Maximum number") as record:
            numopt.minimize(so.rosen, [0, 0], method=method, **_rosen_derivatives(method),
                            options=options)
    assert all(w.filename == __file__ for w in record)   # the caller's line
    table = printed.getvalue().splitlines()
    assert table[0].split()[:2] == ["nit", "fun"] and "Iterations: 10" in table[-3]
    options["disp"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numopt.minimize(so.rosen, [0, 0], method=method, **_rosen_derivatives(method), options=options)


# ---------------------------------------------------------------- maxiter
@pytest.mark.parametrize("method", METHODS)
def test_minimize_maxiter_integral_float(method):
    # SciPy test_optimize.py::test_minimize_maxiter_noninteger (gh-23430) and
    # test_respect_maxiter: a float maxiter is accepted; numopt takes integral floats
    # only (a fractional one is refused, naming maxiter: docs/differences.rst)
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    res = numopt.minimize(so.rosen, x0, method=method, **_rosen_derivatives(method),
                          options={"maxiter": 4.0})
    ref = numopt.minimize(so.rosen, x0, method=method, **_rosen_derivatives(method),
                          options={"maxiter": 4})
    assert res.nit == ref.nit == 4
    assert_equal(res.x, ref.x)
    with pytest.raises(TypeError, match="maxiter"):
        numopt.minimize(so.rosen, x0, method=method, **_rosen_derivatives(method),
                        options={"maxiter": 100.1})


# -------------------------------------------------------------------- jac
@pytest.mark.parametrize("method", CONVERGENT)
@pytest.mark.parametrize("jac", ["2-point", "3-point", "cs", None, True, "callable"])
def test_finite_differences_jac(method, jac):
    # SciPy test_optimize.py::TestOptimizeSimple::test_finite_differences_jac (jacs
    # '2-point', '3-point', None), with 'cs', jac=True and a callable added
    fun = entropy_func
    if jac is True:
        def fun(x):
            return entropy_func(x), entropy_grad(x)
    elif jac == "callable":
        jac = entropy_grad
    result = numopt.minimize(fun, START, method=method, jac=jac)
    assert_allclose(entropy_func(result.x), entropy_func(SOLUTION), atol=1e-6)


# (mfac needs the gradient itself: finite differences are refused with a TypeError)
@pytest.mark.parametrize("method", [m for m in METHODS
                                    if SPECS[m].uses == ("jac",) and m != "mfac"])
def test_finite_difference_jac_copies_x_and_counts_evaluations(method):
    # SciPy's ScalarFunction: finite differences evaluate fun on copies of x and count
    # each evaluation in nfev
    calls = []

    def f(x):
        calls.append(x)
        return entropy_func(x)

    res = numopt.minimize(f, START, method=method, jac="2-point", options={"maxiter": 3})
    assert res.nfev == len(calls) > 3 * res.nit
    assert not any(np.may_share_memory(x, y) for x, y in itertools.combinations(calls, 2))


# ---------------------------------------------------------- in-place fun
@pytest.mark.parametrize("method", CONVERGENT)
@pytest.mark.parametrize("with_jac", [True, False])
def test_x_overwritten_user_function(method, with_jac):
    # SciPy test_optimize.py::test_x_overwritten_user_function (gh-13740): a fun and a
    # jac that overwrite their x must not corrupt the minimizer
    def fquad(x):
        a = np.arange(np.size(x))
        x -= a
        x *= x
        return np.sum(x)

    def fquad_jac(x):
        a = np.arange(np.size(x))
        x *= 2
        x -= 2 * a
        return x

    x0 = np.ones(5) * 1.5
    res = numopt.minimize(fquad, x0, method=method, jac=fquad_jac if with_jac else None)
    assert_allclose(res.x, np.arange(np.size(x0)), atol=2e-4)
    assert_equal(x0, np.ones(5) * 1.5)


# -------------------------------------------------------------- x0 and fun shapes
@pytest.mark.parametrize("method", CONVERGENT)
def test_minimize_with_scalar(method):
    # SciPy test_optimize.py::test_minimize_with_scalar (without the bounds, which
    # numopt's methods do not use): a scalar x0 is a vector of one
    def f(x):
        return np.sum(x ** 2)

    res = numopt.minimize(f, 17, method=method)
    assert res.success
    assert res.x.shape == (1,)
    assert_allclose(res.x, [0.0], atol=1e-5)


@pytest.mark.parametrize("method", CONVERGENT)
def test_fun_returning_shape_1(method):
    # SciPy test_optimize.py::test_gh12696 / ScalarFunction: a fun returning an array
    # of one element is a scalar
    res = numopt.minimize(lambda x: np.array([np.sum((x - 2.0) ** 2)]), np.zeros(3),
                          method=method, jac=lambda x: 2 * (x - 2.0))
    assert res.success and isinstance(res.fun, float)
    assert_allclose(res.x, 2.0, atol=1e-5)
    with pytest.raises(ValueError, match="must return a scalar value"):
        numopt.minimize(lambda x: x, np.zeros(3), method=method, jac=lambda x: x)


@pytest.mark.parametrize("method", METHODS)
def test_ndim_error(method):
    # SciPy test_optimize.py::TestOptimizeSimple::test_ndim_error
    with pytest.raises(ValueError, match="'x0' must only have one dimension."):
        numopt.minimize(lambda x: np.sum(x), np.ones((2, 1)), method=method)


@pytest.mark.parametrize("method", CONVERGENT)
def test_minimize_coerce_args_param(method):
    # SciPy test_optimize.py::TestOptimizeSimple::test_minimize_coerce_args_param
    # (gh-3503): a non-tuple args is one argument
    def Y(x, c):
        return np.sum((x - c) ** 2)

    def dY_dx(x, c=None):
        return 2 * (x - c)

    c = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    xinit = np.random.default_rng(0).standard_normal(len(c))
    res = numopt.minimize(Y, xinit, jac=dY_dx, args=(c), method=method)
    assert_allclose(res.x, c, atol=1e-6)


@pytest.mark.parametrize("method", CONVERGENT)
def test_integer_x0_is_float(method):
    # SciPy's minimize: an integer x0 is cast to float64
    res = numopt.minimize(lambda x: np.sum((x - 0.5) ** 2), np.array([3, 4]), method=method,
                          jac=lambda x: 2 * (x - 0.5))
    assert res.x.dtype == np.float64
    assert_allclose(res.x, 0.5, atol=1e-6)


# ---------------------------------------------------------------- warnings
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("argument, message", [
    ("hess", "does not use Hessian information"),
    ("hessp", "does not use Hessian-vector product information"),
    ("bounds", "cannot handle bounds"),
    ("constraints", "cannot handle constraints"),
])
def test_unused_arguments_warn_like_scipy(method, argument, message):
    # SciPy's minimize (and test_optimize.py's filterwarnings for them): an argument
    # the method does not use warns RuntimeWarning, at the caller's line, and is ignored
    spec = numopt._registry.get_method("minimize", method)
    if argument in spec.uses:
        pytest.skip(f"{method} uses {argument}")
    given = {"hess": so.rosen_hess, "hessp": so.rosen_hess_prod,
             "bounds": [(-2.0, 2.0)] * 3,
             "constraints": [{"type": "ineq", "fun": lambda x: x[0]}]}
    with pytest.warns(RuntimeWarning, match=f"Method {method} {message}") as record:
        res = numopt.minimize(so.rosen, np.zeros(3), method=method, **_rosen_derivatives(method),
                              options={"maxiter": 20}, **{argument: given[argument]})
    assert [w.filename for w in record] == [__file__]
    ref = numopt.minimize(so.rosen, np.zeros(3), method=method, **_rosen_derivatives(method),
                          options={"maxiter": 20})
    assert_equal(res.x, ref.x)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_option_warns_at_the_callers_line(method):
    with pytest.warns(so.OptimizeWarning, match="not_an_option") as record:
        numopt.minimize(so.rosen, np.zeros(3), method=method, **_rosen_derivatives(method),
                        options={"not_an_option": 1, "maxiter": 20})
    assert [w.filename for w in record] == [__file__]


# ----------------------------------------------------------- show_options
def test_show_options():
    # SciPy test_optimize.py::test_show_options, with numopt's methods added
    solver_methods = {
        "minimize": so._minimize.MINIMIZE_METHODS + METHODS,
        "minimize_scalar": so._minimize.MINIMIZE_SCALAR_METHODS,
        "root": so._root.ROOT_METHODS,
        "root_scalar": so._root_scalar.ROOT_SCALAR_METHODS,
        "linprog": so._linprog.LINPROG_METHODS,
        "quadratic_assignment": so._qap.QUADRATIC_ASSIGNMENT_METHODS,
    }
    for spec in list_methods():
        solver_methods.setdefault(spec.solver, []).append(spec.name)
    for solver, methods in solver_methods.items():
        for method in methods:
            assert numopt.show_options(solver, method, disp=False)
    unknown_solver_method = {"minimize": "ekki", "maximize": "cg", "maximize_scalar": "ekki",
                             "sinkhorn": "ekki"}
    for solver, method in unknown_solver_method.items():
        with pytest.raises(ValueError):
            numopt.show_options(solver, method)


def test_show_options_prints_scipys_text_and_numopts_methods(capsys):
    # show_options() and show_options("minimize") are SciPy's text with numopt's
    # methods added (before: 643 characters against SciPy's 108,580)
    everything = numopt.show_options(disp=False)
    theirs = so.show_options(disp=False)
    for solver in ("minimize", "minimize_scalar", "root", "linprog"):
        assert so.show_options(solver, disp=False) in everything
    assert len(everything) > len(theirs)
    minimize_text = numopt.show_options("minimize", disp=False)
    assert minimize_text.startswith(so.show_options("minimize", disp=False))
    for spec in list_methods():
        assert spec.describe() in everything
        if spec.solver == "minimize":
            assert f"\n\n{spec.name}\n{'=' * len(spec.name)}\n\n{spec.describe()}" \
                in minimize_text
    assert "disp : default False" in numopt.show_options("minimize", METHODS[0], disp=False)
    for method in SCIPY_MINIMIZE_METHODS:
        assert numopt.show_options("minimize", method, disp=False) == \
            so.show_options("minimize", method, disp=False)
    numopt.show_options("minimize")
    assert capsys.readouterr().out == minimize_text + "\n"
