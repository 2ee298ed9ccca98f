"""Input checks shared by every solver. Each error names the argument and the problem."""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings

from scipy.optimize import OptimizeWarning

__all__ = [
    "as_array",
    "check_finite",
    "check_shape",
    "check_nonnegative",
    "check_scalar",
    "check_options",
    "check_choice",
    "check_flag",
    "check_seed",
    "is_linear_operator",
    "warn_caller",
    "LOOP_OPTIONS",
]

# numopt's own directory: warnings skip its frames and point at the caller's line
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Options every solver accepts, whatever its method: they belong to the loop
# (numopt._loop.run_solver), not to one algorithm.
LOOP_OPTIONS = {"disp": False}


def warn_caller(message, category, *, skip=()):
    """``warnings.warn`` pointing at the first frame outside numopt: the user's line
    (what ``warnings.warn(skip_file_prefixes=...)`` does on Python 3.12, which numopt
    cannot require). ``skip`` adds directories whose frames are skipped too (such as
    SciPy's, for a warning raised inside a function SciPy calls)."""
    prefixes = (_PACKAGE_DIR, *skip)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(prefixes):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)



def as_array(x, name, xp, *, ndim=None, dtype=None, finite=True, allow_empty=False):
    """Convert ``x`` to an array of namespace ``xp`` and validate it.

    Parameters
    ----------
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    dtype : dtype, optional
        Cast to this dtype (no copy when it already matches).
    finite : bool
        Reject NaN and inf.
    """
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    if _is_sparse(x) or is_linear_operator(x):
        # asarray would wrap it in a 0-d object array and the dtype message would mislead.
        raise TypeError(f"{name} must be a dense array, got {type(x).__name__} (sparse "
                        "matrices and linear operators are not accepted here)")
    try:
        arr = xp.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == xp.bool or not (
        xp.isdtype(arr.dtype, "real floating") or xp.isdtype(arr.dtype, "integral")
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        arr = xp.astype(arr, dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {tuple(arr.shape)}")
    if not allow_empty and math.prod(arr.shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(arr.shape)}")
    if finite:
        check_finite(arr, name, xp)
    return arr


def is_linear_operator(A) -> bool:
    """A SciPy or cupyx ``LinearOperator`` (neither library is imported to find out)."""
    linalg = sys.modules.get("scipy.sparse.linalg")
    if linalg is not None and isinstance(A, linalg.LinearOperator):
        return True
    cupy_linalg = sys.modules.get("cupyx.scipy.sparse.linalg")
    return cupy_linalg is not None and isinstance(A, cupy_linalg.LinearOperator)


def _is_sparse(A) -> bool:
    """A SciPy or cupyx sparse matrix or array (neither library is imported)."""
    for mod in ("scipy.sparse", "cupyx.scipy.sparse"):
        sparse = sys.modules.get(mod)
        if sparse is not None and sparse.issparse(A):
            return True
    return False


def check_finite(arr, name, xp):
    """Raise ``ValueError`` if ``arr`` holds NaN or inf."""
    if xp.isdtype(arr.dtype, "integral"):
        return
    if not bool(xp.all(xp.isfinite(arr))):
        n_nan = int(xp.sum(xp.astype(xp.isnan(arr), xp.int64)))
        kind = "NaN" if n_nan else "inf"
        raise ValueError(f"{name} must be finite, but it contains {kind} values")


def check_shape(arr, name, shape, *, against=None):
    """Check ``arr.shape`` against ``shape``, where ``None`` entries match any size.

    ``against`` names what fixed the expected shape, for the message.
    """
    actual = tuple(arr.shape)
    ok = len(actual) == len(shape) and all(s is None or s == a for s, a in zip(shape, actual))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        source = f" to match {against}" if against else ""
        raise ValueError(f"{name} has shape {actual}, expected {want}{source}")


def check_nonnegative(arr, name, xp):
    """Raise ``ValueError`` if any entry of ``arr`` is negative."""
    if bool(xp.any(arr < 0)):
        raise ValueError(f"{name} must be non-negative, but it has negative entries")


def check_scalar(value, name, *, low=None, high=None, low_open=False, high_open=False,
                 integer=False, integral_float=False):
    """Validate a scalar parameter against an interval and return it as a Python number.

    ``integral_float`` (with ``integer``) also accepts a float with an integer value,
    such as ``maxiter=100.0``, as SciPy's ``minimize`` does.
    """
    kind = numbers.Integral if integer else numbers.Real
    if (integer and integral_float and isinstance(value, numbers.Real)
            and not isinstance(value, bool) and math.isfinite(value)
            and float(value).is_integer()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    value = int(value) if integer else float(value)
    if not integer and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def check_choice(value, name, choices):
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def check_flag(value, name):
    """Return ``value`` as a bool, or raise ``TypeError`` for anything but a bool
    (a string such as ``"no"`` would otherwise read as True)."""
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(seed, name="seed"):
    """``numpy.random.default_rng(seed)``, with an error that names the argument."""
    import numpy as np

    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be None, a non-negative integer or a "
                        f"numpy.random.Generator, got {seed!r} ({exc})") from None


def check_options(options, defaults, method):
    """Merge ``options`` into ``defaults``; warn (SciPy's way) about unknown names.

    Returns the merged dictionary, which always holds the :data:`LOOP_OPTIONS`
    (``disp``) too. Unknown options are dropped after the warning, exactly like
    ``scipy.optimize.minimize``; the warning points at the caller's line.
    """
    merged = {**LOOP_OPTIONS, **defaults}
    unknown = sorted(set(options) - set(merged))
    if unknown:
        warn_caller(f"Unknown solver options for {method}: {', '.join(unknown)}",
                    OptimizeWarning)
    merged.update((k, v) for k, v in options.items() if k in merged)
    return merged
