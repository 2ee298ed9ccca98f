"""Dispatch: namespace lookup, the kernel registry and the reference switch."""

import subprocess
import sys
import threading

import array_api_strict
import numpy as np
import pytest
import scipy.sparse as sp

import numopt
from numopt._backend import (
    float_dtype,
    get_kernel,
    get_namespace,
    is_cupy,
    is_numpy,
    kernel,
    kernel_backend,
    registered_kernels,
)
from numopt.testing import assert_allclose
from numopt.testing._toy import jacobi, jacobi_step


def test_numpy_lists_scalars_and_sparse_are_numpy():
    for args in [(np.ones(3),), ([1.0, 2.0],), (np.ones(2), None, 3.0), (None,),
                 (sp.eye(3, format="csr"), np.ones(3)), ()]:
        assert is_numpy(get_namespace(*args))


def test_array_api_strict_namespace():
    xp = get_namespace(array_api_strict.asarray([1.0, 2.0]), None, 2.0)
    assert xp is array_api_strict
    assert not is_numpy(xp) and not is_cupy(xp)


def test_mixed_libraries_rejected():
    with pytest.raises(TypeError, match="different array libraries.*array_api_strict.*numpy"):
        get_namespace(np.ones(2), array_api_strict.asarray([1.0, 2.0]))


def test_unsupported_type_rejected():
    with pytest.raises(TypeError, match="unsupported input of type str"):
        get_namespace("abc")


def test_float_dtype_policy():
    xp = get_namespace(np.ones(1))
    assert float_dtype(xp, np.ones(2, np.float32)) == np.float32
    assert float_dtype(xp, np.ones(2, np.float32), np.ones(2)) == np.float64
    assert float_dtype(xp, np.ones(2, np.int64)) == np.float64


def test_kernel_selection_follows_namespace_and_config():
    np_xp = get_namespace(np.ones(1))
    assert kernel_backend("testing.jacobi_step", np_xp) == "numba"
    assert kernel_backend("testing.jacobi_step", array_api_strict) == "reference"
    assert get_kernel("testing.jacobi_step", array_api_strict) is jacobi_step
    with numopt.config_context(kernels="reference"):
        assert get_kernel("testing.jacobi_step", np_xp) is jacobi_step
    assert get_kernel("testing.jacobi_step", np_xp) is not jacobi_step
    assert registered_kernels()["testing.jacobi_step"] == ["reference", "numba", "cupy"]


def test_numba_kernel_agrees_with_reference():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((7, 7)) + 10 * np.eye(7)
    b, x = rng.standard_normal(7), rng.standard_normal(7)
    xp = get_namespace(A)
    fast = get_kernel("testing.jacobi_step", xp)(xp, A, b, x, 0.7)
    assert_allclose(fast, jacobi_step(xp, A, b, x, 0.7), rtol=1e-13)


def test_set_config_validates_and_context_restores():
    with pytest.raises(ValueError, match="kernels must be one of"):
        numopt.set_config(kernels="fast")
    with numopt.config_context(kernels="reference"):
        assert numopt.get_config()["kernels"] == "reference"
    assert numopt.get_config()["kernels"] == "auto"


def test_duplicate_kernel_name_rejected():
    with pytest.raises(ValueError, match="already registered"):
        kernel("testing.jacobi_step")(lambda xp: None)


def test_unknown_kernel_name():
    with pytest.raises(KeyError, match="no kernel named"):
        get_kernel("nope", get_namespace())


def test_environment_variable_forces_reference():
    code = ("import numopt, numpy as np; from numopt._backend import kernel_backend, "
            "get_namespace; import numopt.testing._toy; "
            "print(kernel_backend('testing.jacobi_step', get_namespace(np.ones(1))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "NUMOPT_KERNELS": "reference"},
                         check=True)
    assert out.stdout.strip() == "reference"


def test_import_numopt_loads_neither_numba_nor_cupy():
    code = ("import sys, numopt; numopt.minimize; numopt.show_options; "
            "assert 'numba' not in sys.modules, 'numba'; "
            "assert 'cupy' not in sys.modules, 'cupy'; print('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_problem_packages_import_without_numba():
    code = ("import sys, numopt; from numopt._registry import load_all; load_all(); "
            "import numopt.problems; "
            "assert 'numba' not in sys.modules, 'numba'; "
            "assert 'cupy' not in sys.modules, 'cupy'; print('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ---- GPU: run on a machine with CuPy and an NVIDIA device --------------------------------

@pytest.mark.gpu
def test_cupy_namespace_and_mixing():
    import cupy

    xp = get_namespace(cupy.ones(3))
    assert is_cupy(xp)
    with pytest.raises(TypeError, match="different array libraries"):
        get_namespace(cupy.ones(3), np.ones(3))
    import cupyx.scipy.sparse as csp

    assert is_cupy(get_namespace(csp.identity(3, format="csr")))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cupy_kernel_selected_and_agrees(dtype):
    import cupy

    rng = np.random.default_rng(2)
    A = rng.standard_normal((300, 300)) + 400 * np.eye(300)
    b, x = rng.standard_normal(300), rng.standard_normal(300)
    Ag, bg, xg = (cupy.asarray(v, dtype=dtype) for v in (A, b, x))
    xp = get_namespace(Ag)
    assert kernel_backend("testing.jacobi_step", xp) == "cupy"
    fast = get_kernel("testing.jacobi_step", xp)(xp, Ag, bg, xg, 0.9)
    assert isinstance(fast, cupy.ndarray) and fast.dtype == dtype
    ref = jacobi_step(xp, Ag, bg, xg, 0.9)
    single = dtype == "float32"
    # float32 sums of 300 terms: compare with an absolute floor scaled to the entries
    assert_allclose(fast, ref, rtol=1e-4 if single else 1e-13, atol=1e-5 if single else 1e-14)
    res = jacobi(Ag, bg, tol=1e-5 if single else 1e-12)
    assert res.success and isinstance(res.x, cupy.ndarray) and res.x.dtype == dtype
    assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-4, atol=1e-5 if single else 1e-12)


def _in_thread(target):
    """Run ``target`` in a new thread and re-raise what it raised."""
    errors = []

    def run():
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_config_context_in_one_thread_leaves_other_threads_alone():
    # scikit-learn's rule: the configuration is per thread
    entered, checked = threading.Event(), threading.Event()
    np_xp = get_namespace(np.ones(1))

    def hold_reference_context():
        with numopt.config_context(kernels="reference"):
            assert kernel_backend("testing.jacobi_step", np_xp) == "reference"
            entered.set()
            assert checked.wait(10)

    thread, errors = _in_thread(hold_reference_context)
    assert entered.wait(10)
    try:
        assert numopt.get_config()["kernels"] == "auto"
        assert kernel_backend("testing.jacobi_step", np_xp) == "numba"
    finally:
        checked.set()
        thread.join()
    assert not errors, errors


def test_overlapping_contexts_in_two_threads_restore_each_threads_own():
    # A enters, B enters, A leaves, B leaves: with one process-wide dict B restored
    # the "reference" it had saved from A's context, and it stayed for good
    a_entered, b_entered, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with numopt.config_context(kernels="reference"):
            a_entered.set()
            assert b_entered.wait(10)
        seen["a_after"] = numopt.get_config()["kernels"]
        a_left.set()

    def second():
        assert a_entered.wait(10)
        before = numopt.get_config()["kernels"]
        with numopt.config_context(kernels="reference"):
            b_entered.set()
            assert a_left.wait(10)
            seen["b_inside_after_a_left"] = numopt.get_config()["kernels"]
        seen["b_before"], seen["b_after"] = before, numopt.get_config()["kernels"]

    threads = [_in_thread(first), _in_thread(second)]
    for thread, _ in threads:
        thread.join(20)
    for _, errors in threads:
        assert not errors, errors
    assert seen == {"a_after": "auto", "b_before": "auto",
                    "b_inside_after_a_left": "reference", "b_after": "auto"}
    assert numopt.get_config()["kernels"] == "auto"


def test_set_config_in_a_thread_stays_in_that_thread():
    def set_reference():
        numopt.set_config(kernels="reference")
        assert numopt.get_config()["kernels"] == "reference"

    thread, errors = _in_thread(set_reference)
    thread.join(10)
    assert not errors, errors
    assert numopt.get_config()["kernels"] == "auto"
