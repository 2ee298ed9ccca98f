"""Input checks of every OT solver: weights, cost matrix, equal masses."""

from __future__ import annotations

from .._backend import float_dtype, get_namespace
from .._validation import as_array, check_nonnegative, check_shape
from ._marginals import equal_mass

__all__ = ["validate_problem", "validate_weights", "mass_tolerance", "uniform"]


def mass_tolerance(xp, dtype) -> float:
    """Relative tolerance on |sum(a) - sum(b)|: rounding of a sum, never looser than 1e-6."""
    return max(1e-6, 100.0 * float(xp.finfo(dtype).eps))


def uniform(xp, n, dtype, device=None):
    return xp.full((n,), 1.0 / n, dtype=dtype, device=device)


def validate_problem(a, b, M, *, batch=False):
    """Check ``(a, b, M)`` and return ``xp, a, b, M`` in the working float dtype, ``b``
    scaled to the mass of ``a`` (they may differ by ``mass_tolerance``).

    ``a`` or ``b`` may be ``None`` (uniform weights). With ``batch=True``, ``a`` may be
    ``(B, n)`` and ``b`` either ``(m,)`` or ``(B, m)``; the returned ``a`` and ``b`` are
    then always 2-D (``b`` broadcast) and a flag says whether the input was batched.
    """
    xp = get_namespace(*(x for x in (a, b, M) if x is not None))
    M = as_array(M, "M", xp, ndim=2)
    dtype = float_dtype(xp, *(x for x in (a, b, M) if x is not None and hasattr(x, "dtype")))
    M = xp.astype(M, dtype) if M.dtype != dtype else M
    n, m = M.shape
    device = M.device if hasattr(M, "device") else None
    a, b, batched = validate_weights(xp, a, b, n, m, dtype, device, batch=batch,
                                     against=("M.shape[0]", "M.shape[1]"))
    if batch:
        return xp, a, b, M, batched
    return xp, a, b, M


def validate_weights(xp, a, b, n, m, dtype, device=None, *, batch=False,
                     against=("n", "m")):
    """Check the weights of a problem of n sources and m targets (``None``: uniform) and
    return ``a, b, batched``, ``b`` scaled to the mass of ``a``; see
    :func:`validate_problem`. ``against`` names what fixed n and m, for the messages."""
    ndims = (1, 2) if batch else 1
    a = uniform(xp, n, dtype, device) if a is None else as_array(a, "a", xp, ndim=ndims, dtype=dtype)
    b = uniform(xp, m, dtype, device) if b is None else as_array(b, "b", xp, ndim=ndims, dtype=dtype)
    batched = a.ndim == 2 or b.ndim == 2
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must hold the same number of problems, got "
                         f"{a.shape[0]} and {b.shape[0]}")
    check_shape(a, "a", (None,) * (a.ndim - 1) + (n,), against=against[0])
    check_shape(b, "b", (None,) * (b.ndim - 1) + (m,), against=against[1])
    check_nonnegative(a, "a", xp)
    check_nonnegative(b, "b", xp)
    mass_a = xp.sum(a, axis=-1)
    mass_b = xp.sum(b, axis=-1)
    if bool(xp.any(mass_a <= 0)):
        raise ValueError("a must have a positive total mass")
    if bool(xp.any(mass_b <= 0)):
        raise ValueError("b must have a positive total mass")
    gap = xp.max(xp.abs(mass_a - mass_b) / xp.maximum(mass_a, mass_b))
    if float(gap) > mass_tolerance(xp, dtype):
        raise ValueError(f"a and b must have the same total mass; the relative difference "
                         f"is {float(gap):.3g} (b sums to {_show(xp, mass_b)}, a to {_show(xp, mass_a)})")
    b = equal_mass(xp, a, b)   # within the tolerance, the masses are made equal
    if batch:
        B = a.shape[0] if a.ndim == 2 else b.shape[0] if b.ndim == 2 else 1
        a = xp.broadcast_to(a, (B, n)) if a.ndim == 1 else a
        b = xp.broadcast_to(b, (B, m)) if b.ndim == 1 else b
    return a, b, batched


def _show(xp, mass):
    values = [float(mass[i]) for i in range(min(3, mass.shape[0]))] if mass.ndim else [float(mass)]
    return ", ".join(f"{v:.6g}" for v in values)
