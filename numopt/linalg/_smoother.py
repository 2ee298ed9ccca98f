"""SOR and SSOR as smoothers: a fixed number of relaxation sweeps updating ``x`` in place,
the building block of multigrid cycles (PyAMG's ``relaxation.sor`` call pattern)."""

from __future__ import annotations

import weakref

from .._backend import get_kernel, get_namespace, is_cupy, is_numpy
from .._validation import check_choice, check_scalar
from ._sor import resolve_ordering
from ._validation import as_csr_system, as_rhs, check_nonzero_diagonal, system_dtype

_SWEEPS = ("forward", "backward", "symmetric")

# Colourings of matrices smoothed before, by id of the caller's matrix object (sparse
# matrices are unhashable), so that a multigrid cycle smoothing the same level again does
# not recolour it on the host; an entry lives as long as its matrix.
_COLORINGS = {}


def _ordering(A, system, ordering):
    if ordering == "natural" or (ordering == "auto" and not is_cupy(system.xp)):
        return resolve_ordering(system, ordering)
    signature = (tuple(A.shape), int(system.indices.shape[0]))
    cached = _COLORINGS.get(id(A))
    if cached is not None and cached[0]() is A and cached[1] == signature:
        return cached[2]
    order = resolve_ordering(system, ordering)
    try:
        ref = weakref.ref(A)
    except TypeError:  # not weak-referenceable: colour on every call
        return order
    _COLORINGS[id(A)] = (ref, signature, order)
    weakref.finalize(A, _COLORINGS.pop, id(A), None)
    return order


def _check_x(x, xp, dtype, n):
    if x is None or not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"x must be an array of the namespace of A and b (it is updated in "
                        f"place), got {type(x).__name__}")
    if get_namespace(x) is not xp:
        raise TypeError("x must be an array of the same library as A and b "
                        "(it is updated in place)")
    if tuple(x.shape) != (n,):
        raise ValueError(f"x has shape {tuple(x.shape)}, expected ({n},) to match A")
    if x.dtype != dtype:
        raise ValueError(f"x must have dtype {dtype} (the working dtype of A and b) to be "
                         f"updated in place, got {x.dtype}")
    if is_numpy(xp) and not x.flags.writeable:
        raise ValueError("x must be writeable (it is updated in place)")
    if is_cupy(xp) and not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous on the GPU (it is updated in place)")
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError("x must be finite, but it contains NaN or inf values")


def sor_sweep(A, x, b, *, omega=1.0, sweep="forward", iterations=1, ordering="auto"):
    """Relax ``A x = b`` by SOR sweeps, updating ``x`` in place (a smoother).

    A forward sweep updates the rows in order,

    ``x_i <- omega (b_i - sum_{j != i} a_ij x_j) / a_ii + (1 - omega) x_i``,

    each row using the values already updated; that is
    ``x <- x + omega (D + omega L)^{-1} (b - A x)`` with ``A = L + D + U``. A backward
    sweep runs the rows in reverse (``L`` and ``U`` swap roles); a symmetric sweep is a
    forward then a backward sweep (one SSOR step, with ``omega`` applied in both halves).
    The call pattern is PyAMG's ``pyamg.relaxation.relaxation.sor`` (whose symmetric
    sweep ignores ``omega``; this one does not).

    Parameters
    ----------
    A : (n, n) array or sparse matrix
        NumPy array or SciPy sparse matrix (any format; CSR avoids a conversion per
        call), or a CuPy array / cupyx sparse matrix. Nonzero diagonal required
        (either sign).
    x : (n,) array
        The iterate, updated in place: same library as ``A`` and ``b``, the working
        dtype (float32 when ``A`` and ``b`` are float32, else float64), writeable.
    b : (n,) array
        Right-hand side.
    omega : float
        Relaxation parameter in (0, 2); ``omega = 1`` is Gauss-Seidel.
    sweep : {"forward", "backward", "symmetric"}
        Direction of each sweep.
    iterations : int
        Number of sweeps (of forward/backward pairs for ``"symmetric"``); 0 leaves ``x``
        unchanged.
    ordering : {"auto", "natural", "multicolor"}
        Row order. ``"natural"``: index order (CPU only). ``"multicolor"``: one greedy
        colour class after the other (red-black for 5-point stencils), rows of a colour
        updated in parallel on the GPU; it is SOR for the permuted matrix ``P A P^T``.
        ``"auto"``: natural on the CPU, multicolour on the GPU (the colouring of a
        matrix object is computed once and reused by later calls).

    Returns
    -------
    x : array
        The same array, relaxed.

    Raises
    ------
    ValueError
        ``omega`` outside (0, 2), an unknown ``sweep`` or ``ordering``, a negative
        ``iterations``, shapes that do not match, a zero diagonal entry, NaN/inf,
        or an ``x`` that cannot be updated in place (dtype, read-only).

    See Also
    --------
    sor : SOR/SSOR as a solver (iterates to a tolerance).
    ssor_preconditioner : one symmetric sweep from zero as a CG preconditioner.

    Examples
    --------
    >>> import numpy as np
    >>> from numopt.linalg import sor_sweep
    >>> from numopt.problems import poisson_2d
    >>> A = poisson_2d(16); b = np.ones(A.shape[0]); x = np.zeros(A.shape[0])
    >>> r0 = np.linalg.norm(b - A @ x)
    >>> _ = sor_sweep(A, x, b, omega=1.5, sweep="symmetric", iterations=5)
    >>> bool(np.linalg.norm(b - A @ x) < 0.5 * r0)
    True
    """
    xp = get_namespace(A=A, b=b)
    omega = check_scalar(omega, "omega", low=0.0, high=2.0, low_open=True, high_open=True)
    sweep = check_choice(sweep, "sweep", _SWEEPS)
    iterations = check_scalar(iterations, "iterations", low=0, integer=True)
    check_choice(ordering, "ordering", ("auto", "natural", "multicolor"))
    dtype = system_dtype(xp, A, b)
    system = as_csr_system(A, xp, dtype)
    b = as_rhs(b, xp, dtype, system.n)
    _check_x(x, xp, dtype, system.n)
    check_nonzero_diagonal(system)
    order, color_ptr = _ordering(A, system, ordering)
    kernel = get_kernel("linalg.sor_sweep", xp)
    directions = {"forward": (False,), "backward": (True,), "symmetric": (False, True)}[sweep]
    args = (system.indptr, system.indices, system.data, b)
    for _ in range(iterations):
        for reverse in directions:
            kernel(xp, *args, x, omega, order, color_ptr, reverse)
    return x
