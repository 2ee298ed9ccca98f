"""numopt.minimize is a drop-in superset of scipy.optimize.minimize."""

import numpy as np
import pytest
import scipy.optimize as so
from numpy.testing import assert_allclose

import numopt
from numopt._minimize import SCIPY_MINIMIZE_METHODS

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def _both(*args, **kwargs):
    ours = numopt.minimize(*args, **kwargs)
    theirs = so.minimize(*args, **kwargs)
    return ours, theirs


def _same(ours, theirs):
    assert isinstance(ours, numopt.OptimizeResult)
    assert isinstance(ours, so.OptimizeResult)
    assert set(theirs) <= set(ours)
    assert_allclose(ours.x, theirs.x, rtol=1e-12, atol=1e-14)
    assert ours.success == theirs.success
    if "nit" in theirs:
        assert ours.nit == theirs.nit
    assert_allclose(ours.fun, theirs.fun, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["Nelder-Mead", "Powell", "CG", "BFGS", "L-BFGS-B",
                                    "TNC", "SLSQP", "COBYLA", "COBYQA"])
def test_rosenbrock_without_derivatives(method):
    ours, theirs = _both(so.rosen, X0, method=method, options={"maxiter": 200})
    _same(ours, theirs)


@pytest.mark.parametrize("method", ["CG", "BFGS", "Newton-CG", "L-BFGS-B", "TNC", "SLSQP",
                                    "trust-constr", "dogleg", "trust-ncg", "trust-exact",
                                    "trust-krylov"])
def test_rosenbrock_with_derivatives(method):
    ours, theirs = _both(so.rosen, X0, method=method, jac=so.rosen_der, hess=so.rosen_hess)
    _same(ours, theirs)
    if theirs.success:
        assert_allclose(ours.x, np.ones(5), atol=1e-3)


def test_rosenbrock_hessp_and_default_method():
    _same(*_both(so.rosen, X0, method="Newton-CG", jac=so.rosen_der, hessp=so.rosen_hess_prod))
    _same(*_both(so.rosen, X0))


@pytest.mark.parametrize("method", ["L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Powell",
                                    "Nelder-Mead"])
def test_bounds(method):
    bounds = so.Bounds([0, -0.5], [1.0, 2.0])
    ours, theirs = _both(so.rosen, [0.5, 0.0], method=method, bounds=bounds)
    _same(ours, theirs)


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr", "COBYLA"])
def test_constraints(method):
    # SciPy tutorial problem: minimize (x-1)^2 + (y-2.5)^2 subject to linear inequalities.
    fun = lambda x: (x[0] - 1) ** 2 + (x[1] - 2.5) ** 2  # noqa: E731
    cons = ({"type": "ineq", "fun": lambda x: x[0] - 2 * x[1] + 2},
            {"type": "ineq", "fun": lambda x: -x[0] - 2 * x[1] + 6},
            {"type": "ineq", "fun": lambda x: -x[0] + 2 * x[1] + 2})
    ours, theirs = _both(fun, (2, 0), method=method, constraints=cons)
    _same(ours, theirs)
    assert_allclose(ours.x, [1.4, 1.7], atol=1e-3)


def test_args_and_callable_method_pass_through():
    fun = lambda x, a: np.sum((x - a) ** 2)  # noqa: E731
    _same(*_both(fun, np.zeros(3), args=(2.0,), method="BFGS"))

    def custom(fun, x0, args=(), **kwargs):
        return so.OptimizeResult(x=x0 + 1, fun=0.0, success=True, nit=0)

    assert_allclose(numopt.minimize(np.sum, np.zeros(2), method=custom).x, [1, 1])


def test_no_numopt_method_shadows_a_scipy_method():
    own = {s.name.lower() for s in numopt._registry.list_methods(solver="minimize")}
    assert not own & set(SCIPY_MINIMIZE_METHODS)


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown method 'nope'.*bfgs.*trust-constr"):
        numopt.minimize(so.rosen, X0, method="nope")


def test_unknown_option_warns_like_scipy():
    with pytest.warns(numopt.OptimizeWarning, match="not_an_option"):
        numopt.minimize(so.rosen, X0, method="BFGS", options={"not_an_option": 1})


def test_show_options_for_scipy_and_numopt_methods(capsys):
    text = numopt.show_options("minimize", "BFGS", disp=False)
    assert "gtol" in text
    from numopt.testing import _toy  # noqa: F401  (registers toy_solve:jacobi)

    text = numopt.show_options("toy_solve", "jacobi", disp=False)
    assert "damping" in text
    numopt.show_options("toy_solve", "jacobi")
    assert "damping" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Valid methods: jacobi"):
        numopt.show_options("toy_solve", "nope")


def test_objective_on_other_array_libraries_follows_scipys_rules():
    # numopt._objective for non-NumPy x (CuPy on a GPU; array_api_strict here): fun and
    # jac get copies of x, a shape-(1,) fun is a scalar, jac=True splits (f, g), and
    # SciPy's NumPy-only finite differences are refused with a TypeError naming jac
    xp = pytest.importorskip("array_api_strict")
    from numopt._objective import scalar_function

    d = xp.asarray([1.0, 2.0, 3.0])

    def fun(x):
        value = 0.5 * xp.sum(d * x * x)
        x[0] = 99.0                       # overwrites its argument
        return xp.reshape(value, (1,))

    def jac(x):
        g = d * x
        x[1] = -5.0
        return g

    x = xp.asarray([1.0, 1.0, 1.0])
    f, g = scalar_function(fun, x, (), jac, xp).fun_and_grad(x)
    assert f == 3.0 and isinstance(f, float)
    assert bool(xp.all(g == d)) and bool(xp.all(x == 1.0))
    both = scalar_function(lambda x: (fun(x), jac(x)), x, (), True, xp)
    assert both.fun_and_grad(x)[0] == 3.0 and both.nfev == 1
    with pytest.raises(ValueError, match="must return a scalar value"):
        scalar_function(lambda x: x, x, (), jac, xp).fun_and_grad(x)
    for fd in ("2-point", "3-point", "cs", None):
        with pytest.raises(TypeError, match="jac"):
            scalar_function(fun, x, (), fd, xp)
