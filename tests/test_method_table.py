"""The generic test table: every registered method with an example joins it."""

import numpy as np
import pytest

import numopt.testing._toy  # noqa: F401  (registers the toy method that tests the table)
from numopt._registry import list_methods
from numopt.testing import (
    array_namespaces,
    check_bad_shape,
    check_callback_forms,
    check_callback_stop,
    check_disp,
    check_inputs_unchanged,
    check_kernel_matches_reference,
    check_maxiter_respected,
    check_nonfinite_rejected,
    check_reproducible,
    check_result,
    check_solver_contract,
    check_unknown_option,
)


def _cases(kernels_only=False):
    cases = []
    namespaces = [("numpy", None), ("array_api_strict", None), ("cupy", None)]
    available = dict(array_namespaces())
    for spec in list_methods():
        if spec.example is None or (kernels_only and not spec.has_kernels):
            continue
        for ns_name, _ in namespaces:
            if ns_name not in spec.namespaces:
                continue
            if kernels_only and ns_name == "array_api_strict":
                continue
            marks = [pytest.mark.gpu] if ns_name == "cupy" else []
            for dtype_name in ("float64", "float32"):
                cases.append(pytest.param(
                    spec, ns_name, dtype_name, marks=marks,
                    id=f"{spec.solver}:{spec.name}-{ns_name}-{dtype_name}"))
    return cases, available


_ALL, _AVAILABLE = _cases()
_KERNELS, _ = _cases(kernels_only=True)


def _setup(ns_name, dtype_name):
    if ns_name not in _AVAILABLE:
        pytest.skip(f"{ns_name} not available here")
    xp = _AVAILABLE[ns_name]
    return xp, getattr(xp, dtype_name)


# the checks that need nothing but the method, the namespace and the dtype
PLAIN_CHECKS = [check_result, check_unknown_option, check_reproducible, check_inputs_unchanged,
                check_bad_shape, check_disp, check_solver_contract]


@pytest.mark.parametrize("check", PLAIN_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("spec, ns_name, dtype_name", _ALL)
def test_generic_check(spec, ns_name, dtype_name, check):
    xp, dtype = _setup(ns_name, dtype_name)
    check(spec, xp, dtype)


@pytest.mark.parametrize("spec, ns_name, dtype_name", _ALL)
def test_callback_stop_iteration(spec, ns_name, dtype_name):
    if not spec.supports_callback:
        pytest.skip("method takes no callback")
    xp, dtype = _setup(ns_name, dtype_name)
    check_callback_stop(spec, xp, dtype)


@pytest.mark.parametrize("spec, ns_name, dtype_name", _ALL)
def test_callback_forms(spec, ns_name, dtype_name):
    if not spec.supports_callback:
        pytest.skip("method takes no callback")
    xp, dtype = _setup(ns_name, dtype_name)
    check_callback_forms(spec, xp, dtype)


@pytest.mark.parametrize("spec, ns_name, dtype_name", _ALL)
def test_maxiter_bounds_nit(spec, ns_name, dtype_name):
    xp, dtype = _setup(ns_name, dtype_name)
    if check_maxiter_respected(spec, xp, dtype) is None:
        pytest.skip("method takes no maxiter")


@pytest.mark.parametrize("spec, ns_name, dtype_name", _ALL)
@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nonfinite_input_rejected(spec, ns_name, dtype_name, bad_value):
    xp, dtype = _setup(ns_name, dtype_name)
    check_nonfinite_rejected(spec, xp, dtype, bad_value)


@pytest.mark.parametrize("spec, ns_name, dtype_name", _KERNELS)
def test_kernel_matches_reference(spec, ns_name, dtype_name):
    xp, dtype = _setup(ns_name, dtype_name)
    check_kernel_matches_reference(spec, xp, dtype)


def test_table_is_not_empty():
    assert _ALL and _KERNELS
