"""Test helpers: namespace-aware assertions and the generic per-method test table.

Every method registered with an ``example`` joins the table in
``tests/test_method_table.py``, which checks, for each namespace and float dtype:
result fields, dtype preservation, the callback ``StopIteration`` convention,
SciPy's two callback forms, ``disp``, the unknown-option warning, ``nit <= maxiter``
with MAXITER reported, inputs left unmodified, reproducible runs, rejection of NaN/inf
and of wrong shapes with a message naming the argument, and agreement of the kernels
with the reference path.
"""

from ._assertions import (assert_allclose, assert_same_stop, array_namespaces,
                          gpu_available)
from ._table import (
    REQUIRED_FIELDS,
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
    run_example,
)

__all__ = [
    "assert_allclose",
    "assert_same_stop",
    "array_namespaces",
    "gpu_available",
    "REQUIRED_FIELDS",
    "run_example",
    "check_result",
    "check_callback_stop",
    "check_callback_forms",
    "check_disp",
    "check_inputs_unchanged",
    "check_reproducible",
    "check_solver_contract",
    "check_unknown_option",
    "check_maxiter_respected",
    "check_nonfinite_rejected",
    "check_bad_shape",
    "check_kernel_matches_reference",
]
