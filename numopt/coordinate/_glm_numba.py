"""Numba side of the sparse GLMs: datafits and penalties as structrefs, and the
working-set kernels that run on them.

The objects of ``_glm_objects`` are lowered by :func:`as_numba` to structrefs whose
methods (``overload_method``, inlined into the kernels) hold each formula once:

* datafits ``QuadraticType``, ``HuberType``, ``LogisticType``: the scalar formulas
  ``loss(y_i, z_i)`` and ``derivative(y_i, z_i)``, and, written once for all of them,
  ``value(y, state)``, ``gradient_scalar(X..., y, state, j)``,
  ``intercept_grad(y, state)``, ``weigh(v, out)``; the field ``intercept_lipschitz``;
* the penalty ``L1L2Type`` (L1, weighted L1, elastic net, non-negative):
  ``prox(z, lipschitz, j)``, ``value(w, ws)``, ``subdiff_distance(w_j, g_j, j)``,
  ``dual_ratio(u, j)`` and ``conjugate(u, j)`` (the dual objective of the gap).

Structrefs rather than jitclasses: a function that takes a jitclass is compiled again
in every process (its type is not picklable into Numba's cache), a structref's type is,
so ``cache=True`` holds and a fresh process loads the kernels from disk. The
constructors are cached ``njit`` functions too (the proxies' own constructors are not).

Kernels take plain arrays (a dense ``X`` or the CSC triple, flagged by ``is_sparse``:
one signature per dtype) plus the compiled objects. The dense loops use
``fastmath={"reassoc", "contract"}`` (vectorised column dot products, about 6x faster
epochs); no flag that assumes finite values is set.
"""

import functools

import numpy as np
from numba import njit
from numba.core import types
from numba.experimental import structref
from numba.extending import overload, overload_method

from ._glm_objects import L1L2, Huber, Logistic, Multinomial, Quadratic, RowL1

_FAST = {"reassoc", "contract"}


# ----------------------------------------------------------------- scalar formulas
@njit(cache=True, nogil=True, inline="always")
def soft_threshold(value, threshold):
    if value > threshold:
        return value - threshold
    if value < -threshold:
        return value + threshold
    return 0.0 * value


@njit(cache=True, nogil=True, inline="always")
def logistic_loss(margin):
    """``log(1 + exp(-margin))`` without overflow."""
    if margin > 0:
        return np.log1p(np.exp(-margin))
    return -margin + np.log1p(np.exp(margin))


@njit(cache=True, nogil=True, inline="always")
def logistic_derivative(y_i, z_i):
    """``d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z))`` without overflow."""
    t = y_i * z_i
    if t > 0:
        e = np.exp(-t)
        return -y_i * e / (1.0 + e)
    return -y_i / (1.0 + np.exp(t))


@njit(cache=True, nogil=True, inline="always")
def min_norm_subgradient(g, w, l1, positive):
    """The element of smallest magnitude of ``g + d(l1 |w| (+ indicator w >= 0))``."""
    if positive:
        return g + l1 if w > 0 else min(g + l1, 0.0)
    if w > 0:
        return g + l1
    if w < 0:
        return g - l1
    return soft_threshold(g, l1)


# ------------------------------------------------------------------------- types
class _GLMObjectType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


@structref.register
class QuadraticType(_GLMObjectType):
    pass


@structref.register
class HuberType(_GLMObjectType):
    pass


@structref.register
class LogisticType(_GLMObjectType):
    pass


@structref.register
class L1L2Type(_GLMObjectType):
    pass


@structref.register
class MultinomialType(_GLMObjectType):
    pass


@structref.register
class RowL1Type(_GLMObjectType):
    pass


_DATAFIT_FIELDS = ["sample_weight", "weighted", "intercept_lipschitz", "delta"]
_PENALTY_FIELDS = ["l1", "l2", "positive"]


class QuadraticStruct(structref.StructRefProxy):
    pass


class HuberStruct(structref.StructRefProxy):
    pass


class LogisticStruct(structref.StructRefProxy):
    pass


class L1L2Struct(structref.StructRefProxy):
    pass


class MultinomialStruct(structref.StructRefProxy):
    pass


class RowL1Struct(structref.StructRefProxy):
    pass


for _proxy, _type, _fields in ((QuadraticStruct, QuadraticType, _DATAFIT_FIELDS),
                               (HuberStruct, HuberType, _DATAFIT_FIELDS),
                               (LogisticStruct, LogisticType, _DATAFIT_FIELDS),
                               (MultinomialStruct, MultinomialType, _DATAFIT_FIELDS),
                               (L1L2Struct, L1L2Type, _PENALTY_FIELDS),
                               (RowL1Struct, RowL1Type, ["l1"])):
    structref.define_proxy(_proxy, _type, _fields)


def _datafit_factory(struct_type):
    def new(sample_weight, weighted, intercept_lipschitz, delta):
        raise NotImplementedError

    @overload(new)
    def _typed(sample_weight, weighted, intercept_lipschitz, delta):
        instance = struct_type([("sample_weight", sample_weight), ("weighted", weighted),
                                ("intercept_lipschitz", intercept_lipschitz),
                                ("delta", delta)])

        def impl(sample_weight, weighted, intercept_lipschitz, delta):
            st = structref.new(instance)
            st.sample_weight = sample_weight
            st.weighted = weighted
            st.intercept_lipschitz = intercept_lipschitz
            st.delta = delta
            return st
        return impl
    return new


_new_quadratic = _datafit_factory(QuadraticType)
_new_huber = _datafit_factory(HuberType)
_new_logistic = _datafit_factory(LogisticType)
_new_multinomial = _datafit_factory(MultinomialType)


def _new_l1l2(l1, l2, positive):
    raise NotImplementedError


@overload(_new_l1l2)
def _typed_l1l2(l1, l2, positive):
    instance = L1L2Type([("l1", l1), ("l2", l2), ("positive", positive)])

    def impl(l1, l2, positive):
        st = structref.new(instance)
        st.l1 = l1
        st.l2 = l2
        st.positive = positive
        return st
    return impl


@njit(cache=True)
def new_quadratic(sample_weight, weighted, intercept_lipschitz, delta):
    return _new_quadratic(sample_weight, weighted, intercept_lipschitz, delta)


@njit(cache=True)
def new_huber(sample_weight, weighted, intercept_lipschitz, delta):
    return _new_huber(sample_weight, weighted, intercept_lipschitz, delta)


@njit(cache=True)
def new_logistic(sample_weight, weighted, intercept_lipschitz, delta):
    return _new_logistic(sample_weight, weighted, intercept_lipschitz, delta)


@njit(cache=True)
def new_multinomial(sample_weight, weighted, intercept_lipschitz, delta):
    return _new_multinomial(sample_weight, weighted, intercept_lipschitz, delta)


@njit(cache=True)
def new_l1l2(l1, l2, positive):
    return _new_l1l2(l1, l2, positive)


def _new_row_l1(l1):
    raise NotImplementedError


@overload(_new_row_l1)
def _typed_row_l1(l1):
    instance = RowL1Type([("l1", l1)])

    def impl(l1):
        st = structref.new(instance)
        st.l1 = l1
        return st
    return impl


@njit(cache=True)
def new_row_l1(l1):
    return _new_row_l1(l1)


_DATAFIT_CONSTRUCTORS = {Quadratic: new_quadratic, Huber: new_huber, Logistic: new_logistic,
                         Multinomial: new_multinomial}


def as_numba(obj, n_samples, dtype):
    """The structref of a datafit or of an :class:`L1L2` penalty, built once per
    object (kept on it)."""
    compiled = getattr(obj, "_numba_struct", None)
    if compiled is not None:
        return compiled
    t = np.dtype(dtype).type
    if isinstance(obj, L1L2):
        compiled = new_l1l2(np.ascontiguousarray(obj.l1, dtype=dtype), t(obj.l2),
                            obj.positive)
    elif isinstance(obj, RowL1):
        compiled = new_row_l1(np.ascontiguousarray(obj.l1, dtype=dtype))
    else:
        weighted = obj.sample_weight is not None
        weights = (np.ascontiguousarray(obj.sample_weight, dtype=dtype) if weighted
                   else np.ones(1, dtype=dtype))
        compiled = _DATAFIT_CONSTRUCTORS[type(obj)](
            weights, weighted, t(obj.intercept_lipschitz(n_samples)),
            t(getattr(obj, "delta", 0.0)))
    obj._numba_struct = compiled
    return compiled


# ----------------------------------------------------------------------- methods
def _method(struct_types, name, loops=False):
    """Register ``impl`` as method ``name`` of the structref types. Scalar formulas are
    inlined by Numba; methods with loops are compiled as functions of their own (with
    the kernels' fastmath flags) and left to LLVM: Numba's inliner mis-scopes loop
    accumulators, and a per-coordinate call costs nothing next to its loop."""
    def register(impl):
        @functools.wraps(impl)      # the typing signature is the method's
        def typer(*args):
            return impl

        options = ({"inline": "never", "jit_options": {"fastmath": _FAST}} if loops
                   else {"inline": "always"})
        for struct_type in struct_types:
            overload_method(struct_type, name, strict=False, **options)(typer)
        return impl
    return register


_DATAFITS = (QuadraticType, HuberType, LogisticType)


@_method((QuadraticType,), "derivative")
def _quadratic_derivative(df, y_i, z_i):
    return z_i


@_method((QuadraticType,), "loss")
def _quadratic_loss(df, y_i, z_i):
    return 0.5 * z_i * z_i


@_method((HuberType,), "derivative")
def _huber_derivative(df, y_i, z_i):
    return min(max(z_i, -df.delta), df.delta)


@_method((HuberType,), "loss")
def _huber_loss(df, y_i, z_i):
    # m (a - m / 2) with m = min(|z|, delta): z^2 / 2 inside, delta (|z| - delta / 2)
    # outside, without a branch (Numba's inliner mis-scopes the phi of a conditional)
    a = abs(z_i)
    m = min(a, df.delta)
    return m * (a - 0.5 * m)


@_method((LogisticType,), "derivative")
def _logistic_derivative(df, y_i, z_i):
    return logistic_derivative(y_i, z_i)


@_method((LogisticType,), "loss")
def _logistic_loss(df, y_i, z_i):
    return logistic_loss(y_i * z_i)


# the loops over samples, written once for every datafit: the weights are read from
# the structref once per call (an array field read inside the loop would take a
# reference each time and keep LLVM from vectorising it)
@_method(_DATAFITS, "value", loops=True)
def _datafit_value(df, y, state):
    """``sum_i s_i f(z_i)``."""
    acc = 0.0
    if df.weighted:
        sw = df.sample_weight
        for i in range(state.shape[0]):
            acc += sw[i] * df.loss(y[i], state[i])
    else:
        for i in range(state.shape[0]):
            acc += df.loss(y[i], state[i])
    return acc


@_method(_DATAFITS, "gradient_scalar", loops=True)
def _datafit_gradient_scalar(df, X, data, indices, indptr, is_sparse, y, state, j):
    """``X[:, j]^T (s * f'(z))``: coordinate ``j`` of the gradient."""
    acc = 0.0
    if is_sparse:
        if df.weighted:
            sw = df.sample_weight
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                acc += data[q] * sw[i] * df.derivative(y[i], state[i])
        else:
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                acc += data[q] * df.derivative(y[i], state[i])
    elif df.weighted:
        sw = df.sample_weight
        for i in range(state.shape[0]):
            acc += X[i, j] * sw[i] * df.derivative(y[i], state[i])
    else:
        for i in range(state.shape[0]):
            acc += X[i, j] * df.derivative(y[i], state[i])
    return acc


@_method(_DATAFITS, "intercept_grad", loops=True)
def _datafit_intercept_grad(df, y, state):
    """``sum_i s_i f'(z_i)``."""
    acc = 0.0
    if df.weighted:
        sw = df.sample_weight
        for i in range(state.shape[0]):
            acc += sw[i] * df.derivative(y[i], state[i])
    else:
        for i in range(state.shape[0]):
            acc += df.derivative(y[i], state[i])
    return acc


@_method(_DATAFITS, "weigh", loops=True)
def _datafit_weigh(df, v, out):
    """``out = s * v``."""
    if df.weighted:
        sw = df.sample_weight
        for i in range(v.shape[0]):
            out[i] = sw[i] * v[i]
    else:
        out[:] = v


@_method((L1L2Type,), "prox")
def _l1l2_prox(pen, z, lipschitz, j):
    x = soft_threshold(z, pen.l1[j] / lipschitz)
    if pen.l2 != 0.0:
        x = x / (1.0 + pen.l2 / lipschitz)
    if pen.positive and x < 0.0:
        x = 0.0 * x
    return x


@_method((L1L2Type,), "value", loops=True)
def _l1l2_value(pen, w, ws):
    acc = 0.0
    for k in range(ws.shape[0]):
        j = ws[k]
        acc += pen.l1[j] * abs(w[j]) + 0.5 * pen.l2 * w[j] * w[j]
    return acc


@_method((L1L2Type,), "subdiff_distance")
def _l1l2_subdiff_distance(pen, w_j, g_j, j):
    return abs(min_norm_subgradient(g_j + pen.l2 * w_j, w_j, pen.l1[j], pen.positive))


@_method((L1L2Type,), "dual_ratio")
def _l1l2_dual_ratio(pen, u, j):
    """How far ``u = X_j^T theta`` is outside the domain of the conjugate, as the
    factor ``theta`` must be divided by (at most 1: inside)."""
    if pen.l2 > 0.0:
        return 0.0
    a = u if pen.positive else abs(u)
    if a <= pen.l1[j]:
        return 0.0
    if pen.l1[j] == 0.0:
        return np.inf
    return a / pen.l1[j]


@_method((L1L2Type,), "conjugate")
def _l1l2_conjugate(pen, u, j):
    if pen.l2 == 0.0:
        return 0.0
    a = u if pen.positive else abs(u)
    excess = max(a - pen.l1[j], 0.0)
    return excess * excess / (2.0 * pen.l2)


# the multinomial datafit and the row penalty: block formulas over the classes of one
# feature row; ``P`` is the softmax of the state ``Z``, kept up to date by the kernel
@njit(cache=True, nogil=True, inline="always")
def _softmax_row(Z, i, out):
    """``out = softmax(Z[i])`` without overflow (``out`` a row of ``P`` or scratch)."""
    n_classes = Z.shape[1]
    top = Z[i, 0]
    for c in range(1, n_classes):
        top = max(top, Z[i, c])
    total = 0.0
    for c in range(n_classes):
        e = np.exp(Z[i, c] - top)
        out[c] = e
        total += e
    inv = 1.0 / total
    for c in range(n_classes):
        out[c] *= inv


@_method((MultinomialType,), "value", loops=True)
def _multinomial_value(df, Y, Z):
    """``sum_i s_i (logsumexp(Z_i) - Y_i^T Z_i)``."""
    sw = df.sample_weight
    acc = 0.0
    for i in range(Z.shape[0]):
        top = Z[i, 0]
        for c in range(1, Z.shape[1]):
            top = max(top, Z[i, c])
        total = 0.0
        dot = 0.0
        for c in range(Z.shape[1]):
            total += np.exp(Z[i, c] - top)
            dot += Y[i, c] * Z[i, c]
        loss = top + np.log(total) - dot
        acc += sw[i] * loss if df.weighted else loss
    return acc


@_method((MultinomialType,), "block_gradient", loops=True)
def _multinomial_block_gradient(df, X, data, indices, indptr, is_sparse, Y, P, j, out):
    """``out = X[:, j]^T S (P - Y)``: the gradient in row ``j`` of the coefficients."""
    sw = df.sample_weight
    out[:] = 0.0
    if is_sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q] * sw[i] if df.weighted else data[q]
            for c in range(out.shape[0]):
                out[c] += x * (P[i, c] - Y[i, c])
    else:
        for i in range(P.shape[0]):
            x = X[i, j] * sw[i] if df.weighted else X[i, j]
            if x != 0.0:
                for c in range(out.shape[0]):
                    out[c] += x * (P[i, c] - Y[i, c])


@_method((MultinomialType,), "intercept_block_grad", loops=True)
def _multinomial_intercept_grad(df, Y, P, out):
    """``out = sum_i s_i (P_i - Y_i)``."""
    sw = df.sample_weight
    out[:] = 0.0
    for i in range(P.shape[0]):
        s = sw[i] if df.weighted else 1.0
        for c in range(out.shape[0]):
            out[c] += s * (P[i, c] - Y[i, c])


@njit(cache=True, nogil=True, inline="always")
def _norm(v):
    acc = 0.0
    for c in range(v.shape[0]):
        acc += v[c] * v[c]
    return np.sqrt(acc)


@_method((RowL1Type,), "block_prox", loops=True)
def _row_l1_prox(pen, z, lipschitz, j, out):
    """``out``: the minimiser of ``L/2 ||x - z||^2 + l1_j ||x||`` (block soft
    thresholding)."""
    norm = _norm(z)
    t = pen.l1[j] / lipschitz
    scale = 1.0 - t / norm if norm > t else 0.0
    for c in range(z.shape[0]):
        out[c] = scale * z[c]


@_method((RowL1Type,), "block_prox_metric", loops=True)
def _row_l1_prox_metric(pen, z, metric, j, out):
    """``out``: the minimiser of ``1/2 (x - z)^T diag(metric) (x - z) + l1_j ||x||``
    (``metric > 0``). It is 0 when ``||metric * z|| <= l1_j``; else
    ``x_c = metric_c z_c rho / (metric_c rho + l1_j)`` with ``rho = ||x||`` the root of
    ``sum_c (metric_c z_c / (metric_c rho + l1_j))^2 = 1``: the left side's square root
    is convex and decreasing in ``rho``, so Newton's method from ``rho = 0`` rises to
    the root without overshooting it."""
    lam = pen.l1[j]
    acc = 0.0
    for c in range(z.shape[0]):
        acc += (metric[c] * z[c]) ** 2
    if acc <= lam * lam:
        out[:] = 0.0
        return
    if lam == 0.0:
        out[:] = z
        return
    rho = 0.0
    for _ in range(50):
        phi = 0.0
        dphi = 0.0
        for c in range(z.shape[0]):
            a = metric[c] * z[c] / (metric[c] * rho + lam)
            phi += a * a
            dphi -= 2.0 * a * a * metric[c] / (metric[c] * rho + lam)
        f = np.sqrt(phi)
        step = (f - 1.0) / (dphi / (2.0 * f))
        rho -= step
        if -step <= 1e-14 * rho:
            break
    for c in range(z.shape[0]):
        out[c] = metric[c] * z[c] * rho / (metric[c] * rho + lam)


@_method((RowL1Type,), "block_value", loops=True)
def _row_l1_block_value(pen, row, j):
    return pen.l1[j] * _norm(row)


@_method((RowL1Type,), "value", loops=True)
def _row_l1_value(pen, W, ws):
    acc = 0.0
    for k in range(ws.shape[0]):
        acc += pen.block_value(W[ws[k]], ws[k])
    return acc


@_method((RowL1Type,), "block_subdiff_distance", loops=True)
def _row_l1_subdiff_distance(pen, w_row, g_row, j):
    """The distance of ``-g_row`` to ``l1_j d||w_row||``."""
    norm = _norm(w_row)
    if norm == 0.0:
        return max(_norm(g_row) - pen.l1[j], 0.0)
    factor = pen.l1[j] / norm
    acc = 0.0
    for c in range(w_row.shape[0]):
        v = g_row[c] + factor * w_row[c]
        acc += v * v
    return np.sqrt(acc)


# ------------------------------------------------------------------------ kernels
@njit(cache=True, nogil=True, inline="always")
def _axpy_column(X, data, indices, indptr, is_sparse, j, step, out):
    """``out += step * X[:, j]``."""
    if is_sparse:
        for q in range(indptr[j], indptr[j + 1]):
            out[indices[q]] += step * data[q]
    else:
        for i in range(out.shape[0]):
            out[i] += step * X[i, j]


@njit(cache=True, nogil=True)
def _intercept_step(y, w, state, df):
    delta = -df.intercept_grad(y, state) / df.intercept_lipschitz
    w[w.shape[0] - 1] += delta
    for i in range(state.shape[0]):
        state[i] += delta


@njit(cache=True, nogil=True)
def _solve_small(C, rhs):
    """Gaussian elimination with partial pivoting for the K x K Anderson system;
    returns (solution, ok) with ok False when C is numerically singular."""
    m = C.shape[0]
    A = C.copy()
    b = rhs.copy()
    scale = 0.0
    for i in range(m):
        scale = max(scale, abs(A[i, i]))
    if scale == 0.0:
        return b, False
    for k in range(m):
        piv = k
        for i in range(k + 1, m):
            if abs(A[i, k]) > abs(A[piv, k]):
                piv = i
        if abs(A[piv, k]) <= 1e-14 * scale:
            return b, False
        if piv != k:
            for j in range(m):
                A[k, j], A[piv, j] = A[piv, j], A[k, j]
            b[k], b[piv] = b[piv], b[k]
        for i in range(k + 1, m):
            f = A[i, k] / A[k, k]
            for j in range(k, m):
                A[i, j] -= f * A[k, j]
            b[i] -= f * b[k]
    x = np.empty(m, dtype=b.dtype)
    for i in range(m - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, m):
            acc -= A[i, j] * x[j]
        x[i] = acc / A[i, i]
    return x, True


@njit(cache=True, nogil=True)
def extrapolate_rows(rows, out):
    """Anderson extrapolation of the sequence ``rows`` (oldest first) into ``out``:
    the affine combination of the last ``len(rows) - 1`` rows whose combination of
    successive differences has the smallest norm. Returns False when it fails."""
    K = rows.shape[0] - 1
    C = np.zeros((K, K), dtype=rows.dtype)
    for a in range(K):
        for b in range(a, K):
            acc_ab = 0.0
            for k in range(rows.shape[1]):
                acc_ab += (rows[a + 1, k] - rows[a, k]) * (rows[b + 1, k] - rows[b, k])
            C[a, b] = acc_ab
            C[b, a] = acc_ab
    z, ok = _solve_small(C, np.ones(K, dtype=rows.dtype))
    total = 0.0
    for k in range(K):
        total += z[k]
    if not ok or total == 0.0 or not np.isfinite(total):
        return False
    out[:] = 0.0
    for a in range(K):
        ca = z[a] / total
        for k in range(rows.shape[1]):
            out[k] += ca * rows[a + 1, k]
    return np.all(np.isfinite(out))


@njit(cache=True, nogil=True)
def _anderson_primal(X, data, indices, indptr, is_sparse, y, w, state, ws, df, pen,
                     fit_intercept, hist):
    """Replace the iterate by the Anderson extrapolation of ``hist`` when it is
    feasible and lowers the objective."""
    n_ws = ws.shape[0]
    p = w.shape[0] - 1 if fit_intercept else w.shape[0]
    acc = np.empty(hist.shape[1], dtype=w.dtype)
    if not extrapolate_rows(hist, acc):
        return
    if pen.positive:
        for k in range(n_ws):
            if acc[k] < 0.0:
                return
    trial = state.copy()
    trial_w = w.copy()
    for k in range(n_ws):
        j = ws[k]
        d = acc[k] - w[j]
        trial_w[j] = acc[k]
        if d != 0.0:
            _axpy_column(X, data, indices, indptr, is_sparse, j, d, trial)
    if fit_intercept:
        d = acc[n_ws] - w[p]
        for i in range(trial.shape[0]):
            trial[i] += d
    old_obj = df.value(y, state) + pen.value(w, ws)
    new_obj = df.value(y, trial) + pen.value(trial_w, ws)
    if new_obj < old_obj:
        for k in range(n_ws):
            w[ws[k]] = acc[k]
        if fit_intercept:
            w[p] = acc[n_ws]
        state[:] = trial


@njit(cache=True, nogil=True, fastmath=_FAST)
def _dual_objective(X, data, indices, indptr, is_sparse, ws, df, pen, r, y_dual, corr, sr):
    """Dual objective of the quadratic datafit restricted to ``ws`` at the residual
    ``r``, rescaled into the conjugate's domain (in place): with ``theta = S^(1/2) r``,
    ``sum s r y - ||theta||^2 / 2 - sum_j h_j^*(X_j^T S r)``."""
    n = r.shape[0]
    df.weigh(r, sr)
    ratio = 1.0
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        if is_sparse:
            for q in range(indptr[j], indptr[j + 1]):
                acc += data[q] * sr[indices[q]]
        else:
            for i in range(n):
                acc += X[i, j] * sr[i]
        corr[k] = acc
        ratio = max(ratio, pen.dual_ratio(acc, j))
    scale = 1.0 / ratio
    if ratio > 1.0:
        for i in range(n):
            r[i] *= scale
    dot = 0.0
    sq = 0.0
    for i in range(n):
        dot += sr[i] * y_dual[i]
        sq += sr[i] * r[i]
    conj = 0.0
    for k in range(ws.shape[0]):
        conj += pen.conjugate(scale * corr[k], ws[k])
    return scale * dot - 0.5 * scale * sq - conj


@njit(cache=True, nogil=True, fastmath=_FAST)
def _inner_cd(X, data, indices, indptr, is_sparse, y, w, state, ws, lipschitz, df, pen,
              fit_intercept, K, max_epochs, check_every, gap_check, inner_tol, y_dual,
              theta_best, dual_hist):
    """Cyclic proximal CD on ``ws`` with Anderson extrapolation of the iterates every
    ``K + 1`` epochs (kept only when it lowers the objective) and an optimality check
    every ``check_every`` epochs; returns ``(epochs run, best dual objective)``.

    ``gap_check`` (quadratic datafit): the check is the duality gap of the problem
    restricted to ``ws`` with the best of the plain dual point (the rescaled residual)
    and the extrapolated one (Anderson on the residuals kept at the checks,
    ``dual_hist`` rows), as in celer; the best dual point is written to
    ``theta_best``. Otherwise: the largest distance of the gradient to the
    subdifferential on ``ws``. Both in the sum scaling.
    """
    n_samples = state.shape[0]
    n_ws = ws.shape[0]
    p = w.shape[0] - 1 if fit_intercept else w.shape[0]
    m = n_ws + 1 if fit_intercept else n_ws
    hist = np.zeros((K + 1, m), dtype=w.dtype)
    n_hist = 0
    n_dual_hist = dual_hist.shape[0]
    n_checks = 0
    best_dual = -np.inf
    theta = np.empty(n_samples, dtype=w.dtype)
    weighted = np.empty(n_samples, dtype=w.dtype)
    corr = np.empty(n_ws, dtype=w.dtype)
    for epoch in range(max_epochs):
        for k in range(n_ws):
            j = ws[k]
            lj = lipschitz[j]
            if lj == 0.0:
                continue
            grad = df.gradient_scalar(X, data, indices, indptr, is_sparse, y, state, j)
            old = w[j]
            new = pen.prox(old - grad / lj, lj, j)
            if new != old:
                w[j] = new
                _axpy_column(X, data, indices, indptr, is_sparse, j, new - old, state)
        if fit_intercept:
            _intercept_step(y, w, state, df)
        if K > 0:
            for k in range(n_ws):
                hist[n_hist, k] = w[ws[k]]
            if fit_intercept:
                hist[n_hist, n_ws] = w[p]
            n_hist += 1
            if n_hist == K + 1:
                n_hist = 0
                _anderson_primal(X, data, indices, indptr, is_sparse, y, w, state, ws, df,
                                 pen, fit_intercept, hist)
        if (epoch + 1) % check_every != 0:
            continue
        if gap_check:
            primal = df.value(y, state) + pen.value(w, ws)
            # plain dual point: the residual -state, rescaled
            for i in range(n_samples):
                theta[i] = -state[i]
            d = _dual_objective(X, data, indices, indptr, is_sparse, ws, df, pen, theta,
                                y_dual, corr, weighted)
            if d > best_dual:
                best_dual = d
                theta_best[:] = theta
            if n_dual_hist > 1:
                # residual history (oldest first); Anderson on it once it is full
                if n_checks < n_dual_hist:
                    for i in range(n_samples):
                        dual_hist[n_checks, i] = -state[i]
                else:
                    for r in range(n_dual_hist - 1):
                        dual_hist[r, :] = dual_hist[r + 1, :]
                    for i in range(n_samples):
                        dual_hist[n_dual_hist - 1, i] = -state[i]
                n_checks += 1
                if n_checks >= n_dual_hist:
                    if extrapolate_rows(dual_hist, theta):
                        d = _dual_objective(X, data, indices, indptr, is_sparse, ws, df,
                                            pen, theta, y_dual, corr, weighted)
                        if d > best_dual:
                            best_dual = d
                            theta_best[:] = theta
            if primal - best_dual <= inner_tol:
                return epoch + 1, best_dual
            continue
        worst = 0.0
        for k in range(n_ws):
            j = ws[k]
            grad = df.gradient_scalar(X, data, indices, indptr, is_sparse, y, state, j)
            v = pen.subdiff_distance(w[j], grad, j)
            if v > worst:
                worst = v
        if worst <= inner_tol:
            return epoch + 1, best_dual
    return max_epochs, best_dual


@njit(cache=True, nogil=True, inline="always")
def _shift_rows(X, data, indices, indptr, is_sparse, j, step, scale, out):
    """``out += scale * X[:, j] step^T``."""
    if is_sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = scale * data[q]
            for c in range(step.shape[0]):
                out[i, c] += x * step[c]
    else:
        for i in range(out.shape[0]):
            x = scale * X[i, j]
            if x != 0.0:
                for c in range(step.shape[0]):
                    out[i, c] += x * step[c]


@njit(cache=True, nogil=True, fastmath=_FAST)
def _model_row_gradient(X, data, indices, indptr, is_sparse, j, P, h_weights, XD, out):
    """``out += X[:, j]^T S H XD`` row by row, ``H_i v = p_i * v - p_i (p_i^T v)``
    (the softmax Hessian of sample ``i``; ``h_weights`` holds ``s_i``)."""
    n_classes = out.shape[0]
    if is_sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q] * h_weights[i]
            dot = 0.0
            for c in range(n_classes):
                dot += P[i, c] * XD[i, c]
            for c in range(n_classes):
                out[c] += x * P[i, c] * (XD[i, c] - dot)
    else:
        for i in range(P.shape[0]):
            x = X[i, j] * h_weights[i]
            if x != 0.0:
                dot = 0.0
                for c in range(n_classes):
                    dot += P[i, c] * XD[i, c]
                for c in range(n_classes):
                    out[c] += x * P[i, c] * (XD[i, c] - dot)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _newton_bcd(X, data, indices, indptr, is_sparse, Y, W, Z, ws, df, pen, fit_intercept,
                max_newton, max_cd, inner_tol, armijo):
    """Prox-Newton on the feature rows ``ws`` of ``W`` (multinomial datafit, row
    penalty): at each iterate the quadratic model of the datafit (softmax Hessians
    ``diag(p_i) - p_i p_i^T``) plus the penalty is minimised by cyclic block CD over
    the rows, each row stepping by ``1 / L_j`` with ``L_j = sum_i s_i x_ij^2 h_i`` and
    ``h_i = min(1/2, 2 max_c p_ic (1 - p_ic))`` (Gershgorin: a bound on the largest
    eigenvalue of sample ``i``'s Hessian); then a backtracking line search on the
    objective. The exponentials are computed once per trial point, not once per
    row move. Stops once the largest distance of a row gradient to its
    subdifferential (and the largest intercept gradient entry) is at most
    ``inner_tol``. Returns the model sweeps run."""
    n_samples, n_classes = Z.shape
    n_ws = ws.shape[0]
    p = W.shape[0] - 1 if fit_intercept else W.shape[0]
    sw = df.sample_weight
    s = np.ones(n_samples, dtype=W.dtype)
    if df.weighted:
        s[:] = sw
    P = np.empty_like(Z)
    for i in range(n_samples):
        _softmax_row(Z, i, P[i])
    G = np.empty((n_ws, n_classes), dtype=W.dtype)
    gb = np.zeros(n_classes, dtype=W.dtype)
    D = np.zeros((n_ws, n_classes), dtype=W.dtype)
    db = np.zeros(n_classes, dtype=W.dtype)
    XD = np.zeros_like(Z)
    trial = np.empty_like(Z)
    L = np.empty(n_ws, dtype=W.dtype)
    M = np.empty((n_ws, n_classes), dtype=W.dtype)
    row = np.empty(n_classes, dtype=W.dtype)
    point = np.empty(n_classes, dtype=W.dtype)
    new = np.empty(n_classes, dtype=W.dtype)
    step = np.empty(n_classes, dtype=W.dtype)
    n_sweeps = 0
    for _ in range(max_newton):
        viol = 0.0
        for k in range(n_ws):
            j = ws[k]
            df.block_gradient(X, data, indices, indptr, is_sparse, Y, P, j, G[k])
            viol = max(viol, pen.block_subdiff_distance(W[j], G[k], j))
        if fit_intercept:
            df.intercept_block_grad(Y, P, gb)
            for c in range(n_classes):
                viol = max(viol, abs(gb[c]))
        if viol <= inner_tol:
            break
        # diag(p_i) - p_i p_i^T <= diag(p_i): the row block of the model's Hessian is
        # at most diag(sum_i s_i x_ij^2 p_i), and at most its largest entry times I
        for c in range(n_classes):
            row[c] = 0.0
            for i in range(n_samples):
                row[c] += s[i] * P[i, c]
        L_b = 0.0
        for c in range(n_classes):
            L_b = max(L_b, row[c])
        for k in range(n_ws):
            j = ws[k]
            M[k, :] = 0.0
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    i = indices[q]
                    x2 = data[q] * data[q] * s[i]
                    for c in range(n_classes):
                        M[k, c] += x2 * P[i, c]
            else:
                for i in range(n_samples):
                    x2 = X[i, j] * X[i, j] * s[i]
                    for c in range(n_classes):
                        M[k, c] += x2 * P[i, c]
            top = 0.0
            for c in range(n_classes):
                top = max(top, M[k, c])
                # a class no sample of this column predicts at all: a floor keeps the
                # metric positive (the step in it is then tiny, not infinite)
            for c in range(n_classes):
                M[k, c] = max(M[k, c], 1e-12 * top)
            L[k] = top
        D[:] = 0.0
        db[:] = 0.0
        XD[:] = 0.0
        for _sweep in range(max_cd):
            n_sweeps += 1
            biggest = 0.0
            for k in range(n_ws):
                if L[k] == 0.0:
                    continue
                j = ws[k]
                row[:] = G[k]
                _model_row_gradient(X, data, indices, indptr, is_sparse, j, P, s, XD, row)
                for c in range(n_classes):
                    point[c] = W[j, c] + D[k, c] - row[c] / M[k, c]
                pen.block_prox_metric(point, M[k], j, new)
                size = 0.0
                for c in range(n_classes):
                    step[c] = new[c] - W[j, c] - D[k, c]
                    D[k, c] += step[c]
                    size += step[c] * step[c]
                if size > 0.0:
                    _shift_rows(X, data, indices, indptr, is_sparse, j, step, 1.0, XD)
                    biggest = max(biggest, L[k] * np.sqrt(size))
            if fit_intercept and L_b > 0.0:
                row[:] = gb
                for i in range(n_samples):
                    dot = 0.0
                    for c in range(n_classes):
                        dot += P[i, c] * XD[i, c]
                    for c in range(n_classes):
                        row[c] += s[i] * P[i, c] * (XD[i, c] - dot)
                size = 0.0
                for c in range(n_classes):
                    step[c] = -row[c] / L_b
                    db[c] += step[c]
                    size += step[c] * step[c]
                for i in range(n_samples):
                    for c in range(n_classes):
                        XD[i, c] += step[c]
                biggest = max(biggest, L_b * np.sqrt(size))
            if biggest <= 1e-3 * viol:
                break
        old_pen = 0.0
        new_pen = 0.0
        decrease = 0.0
        for k in range(n_ws):
            j = ws[k]
            old_pen += pen.block_value(W[j], j)
            for c in range(n_classes):
                point[c] = W[j, c] + D[k, c]
                decrease += G[k, c] * D[k, c]
            new_pen += pen.block_value(point, j)
        for c in range(n_classes):
            decrease += gb[c] * db[c]
        decrease += new_pen - old_pen
        old_obj = df.value(Y, Z) + old_pen
        # near the optimum the decrease falls below the rounding of the objective (a
        # KKT violation of 1e-10 moves it by ~1e-20 relative): a step within that
        # rounding is taken, or the line search would stall short of the tolerance
        slack = 8.0 * np.finfo(W.dtype).eps * abs(old_obj)
        t = 1.0
        accepted = False
        for _ls in range(30):
            for i in range(n_samples):
                for c in range(n_classes):
                    trial[i, c] = Z[i, c] + t * XD[i, c]
            trial_pen = 0.0
            for k in range(n_ws):
                j = ws[k]
                for c in range(n_classes):
                    point[c] = W[j, c] + t * D[k, c]
                trial_pen += pen.block_value(point, j)
            if df.value(Y, trial) + trial_pen <= old_obj + armijo * t * decrease + slack:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break      # no decrease the dtype resolves: the outer loop reports it
        for k in range(n_ws):
            for c in range(n_classes):
                W[ws[k], c] += t * D[k, c]
        if fit_intercept:
            for c in range(n_classes):
                W[p, c] += t * db[c]
        Z[:] = trial
        for i in range(n_samples):
            _softmax_row(Z, i, P[i])
    return n_sweeps

def _split(X, dtype):
    """A dense ``X`` or a CSC triple as the five kernel arguments."""
    if isinstance(X, tuple):
        data, indices, indptr = X
        return np.zeros((1, 1), dtype=dtype), data, indices, indptr, True
    dummy_i = np.zeros(1, dtype=np.int32)
    return X, X[:1, 0], dummy_i, dummy_i, False


# prox-Newton iterations per working set and model sweeps per iteration (those of the
# binary logistic solver, ``WorkingSetCD._prox_newton``)
NEWTON_STEPS, NEWTON_SWEEPS = 50, 20


def inner_cd(xp, X, y, w, state, ws, lipschitz, datafit, penalty, fit_intercept, K,
             max_epochs, check_every, inner_tol, y_dual=None, dual_k=5):
    """Numba version of :func:`numopt.coordinate._glm_l1.inner_cd` (in place)."""
    t = w.dtype.type
    n_samples = state.shape[0]
    df = as_numba(datafit, n_samples, w.dtype)
    pen = as_numba(penalty, n_samples, w.dtype)
    if w.ndim == 2:
        n = _newton_bcd(*_split(X, w.dtype), y, w, state, ws, df, pen, fit_intercept,
                        NEWTON_STEPS, NEWTON_SWEEPS, t(inner_tol), t(1e-4))
        return w, state, n, None, -np.inf
    gap_check = y_dual is not None
    theta = np.zeros(n_samples, dtype=w.dtype)
    rows = dual_k + 1 if gap_check and dual_k > 0 else 0
    dual_hist = np.zeros((rows, n_samples), dtype=w.dtype)
    if y_dual is None:
        y_dual = y     # unused: no gap check
    n, dual = _inner_cd(*_split(X, w.dtype), y, w, state, ws, lipschitz, df, pen,
                        fit_intercept, K, max_epochs, check_every, gap_check, t(inner_tol),
                        y_dual, theta, dual_hist)
    return w, state, n, theta, float(dual)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _newton_direction(X, data, indices, indptr, is_sparse, ws, w, grad_ws, weights, pen,
                      fit_intercept, max_epochs, tol, delta, x_delta):
    """Cyclic CD on the prox-Newton model of a GLM restricted to ``ws``:
    ``grad^T d + 1/2 d^T X^T diag(weights) X d + penalty(w + d)``; the intercept (last
    entry of ``delta`` when fitted) is unpenalised."""
    n_samples = weights.shape[0]
    n_ws = ws.shape[0]
    hess = np.zeros(n_ws, dtype=w.dtype)
    for k in range(n_ws):
        j = ws[k]
        acc = 0.0
        if is_sparse:
            for q in range(indptr[j], indptr[j + 1]):
                acc += data[q] * data[q] * weights[indices[q]]
        else:
            for i in range(n_samples):
                acc += X[i, j] * X[i, j] * weights[i]
        hess[k] = acc
    hess_b = 0.0
    grad_b = 0.0
    if fit_intercept:
        for i in range(n_samples):
            hess_b += weights[i]
        grad_b = grad_ws[n_ws]
    for _ in range(max_epochs):
        biggest = 0.0
        for k in range(n_ws):
            if hess[k] == 0.0:
                continue
            j = ws[k]
            acc = 0.0
            if is_sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    acc += data[q] * weights[indices[q]] * x_delta[indices[q]]
            else:
                for i in range(n_samples):
                    acc += X[i, j] * weights[i] * x_delta[i]
            old = w[j] + delta[k]
            new = pen.prox(old - (grad_ws[k] + acc) / hess[k], hess[k], j)
            step = new - old
            if step != 0.0:
                delta[k] += step
                _axpy_column(X, data, indices, indptr, is_sparse, j, step, x_delta)
                change = abs(step) * hess[k]
                if change > biggest:
                    biggest = change
        if fit_intercept and hess_b > 0.0:
            acc = 0.0
            for i in range(n_samples):
                acc += weights[i] * x_delta[i]
            step = -(grad_b + acc) / hess_b
            delta[n_ws] += step
            for i in range(n_samples):
                x_delta[i] += step
            change = abs(step) * hess_b
            if change > biggest:
                biggest = change
        if biggest <= tol:
            break


def newton_direction(xp, X, ws, w, grad_ws, weights, penalty, fit_intercept, max_epochs,
                     tol):
    """Numba version of :func:`numopt.coordinate._glm_l1.newton_direction`."""
    n_track = ws.shape[0] + int(fit_intercept)
    delta = np.zeros(n_track, dtype=w.dtype)
    x_delta = np.zeros(weights.shape[0], dtype=w.dtype)
    pen = as_numba(penalty, weights.shape[0], w.dtype)
    _newton_direction(*_split(X, w.dtype), ws, w, grad_ws, weights, pen, fit_intercept,
                      max_epochs, w.dtype.type(tol), delta, x_delta)
    return delta, x_delta


@njit(cache=True, nogil=True, fastmath=_FAST)
def _columns_dot_dense(X, ws, v, out):
    n_samples = X.shape[0]
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        for i in range(n_samples):
            acc += X[i, j] * v[i]
        out[k] = acc


@njit(cache=True, nogil=True)
def _columns_dot_sparse(data, indices, indptr, ws, v, out):
    for k in range(ws.shape[0]):
        j = ws[k]
        acc = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            acc += data[q] * v[indices[q]]
        out[k] = acc


def columns_dot(xp, X, ws, v):
    """``X[:, ws].T @ v`` without gathering the columns (Numba version)."""
    out = np.empty(ws.shape[0], dtype=v.dtype)
    if isinstance(X, tuple):
        data, indices, indptr = X
        _columns_dot_sparse(data, indices, indptr, ws, v, out)
    else:
        _columns_dot_dense(X, ws, v, out)
    return out


# ------------------------------------------------------------ outer certificate
@njit(cache=True, nogil=True)
def _gap_priorities(coef, state, grad_sum, weights, weighted, y_centered, l1, l2, positive,
                    lipschitz, scores):
    """Duality gap (sum scaling, with its rounding floor) of the quadratic datafit at
    the rescaled residual ``-state``, the primal objective and the KKT violation (sum
    scaling), and celer's priorities in ``scores``. No fastmath and every sum in
    float64: primal and dual nearly cancel at the optimum."""
    n = state.shape[0]
    sq = 0.0
    ry = 0.0
    for i in range(n):
        r = -np.float64(state[i])
        s = np.float64(weights[i]) if weighted else 1.0
        sq += s * r * r
        ry += s * r * np.float64(y_centered[i])
    pen = 0.0
    wsq = 0.0
    ratio = 1.0
    kkt = 0.0
    for j in range(coef.shape[0]):
        wj = np.float64(coef[j])
        lj = np.float64(l1[j])
        pen += lj * abs(wj)
        wsq += wj * wj
        kkt = max(kkt, abs(min_norm_subgradient(np.float64(grad_sum[j]) + l2 * wj, wj, lj,
                                                positive)))
        c = -np.float64(grad_sum[j])
        a = c if positive else abs(c)
        if l2 == 0.0 and a > lj:
            ratio = max(ratio, a / lj if lj > 0.0 else np.inf)
    scale = 1.0 / ratio
    conj = 0.0
    for j in range(coef.shape[0]):
        c = -scale * np.float64(grad_sum[j])
        a = c if positive else abs(c)
        lj = np.float64(l1[j])
        if l2 > 0.0:
            excess = max(a - lj, 0.0)
            conj += excess * excess / (2.0 * l2)
        lip = np.float64(lipschitz[j])
        scores[j] = (a - lj) / np.sqrt(lip if lip > 0.0 else 1.0)
    primal = 0.5 * sq + pen + 0.5 * l2 * wsq
    dual = scale * ry - 0.5 * scale * scale * sq - conj
    floor = 4.0 * np.finfo(np.float64).eps * (abs(primal) + abs(dual))
    return max(primal - dual, floor), primal, kkt


def gap_priorities(xp, coef, state, grad_sum, sample_weight, y_centered, penalty,
                   lipschitz):
    """Numba version of :func:`numopt.coordinate._glm_l1.gap_priorities`."""
    weighted = sample_weight is not None
    weights = sample_weight if weighted else state[:1]
    scores = np.empty(coef.shape[0], dtype=np.float64)
    gap, primal, kkt = _gap_priorities(coef, state, grad_sum, weights, weighted,
                                       y_centered, penalty.l1, float(penalty.l2),
                                       bool(penalty.positive), lipschitz, scores)
    return float(gap), float(primal), float(kkt), scores


# ------------------------------------------------------------------ Gram matrix path
@njit(cache=True, nogil=True, fastmath=_FAST)
def _gram_gap(w, q, xty, yty, pen, all_features):
    """Duality gap (sum scaling) of the quadratic datafit from the Gram quantities:
    ``q = G w - X^T S y`` is minus ``X^T S r``, ``||r||_S^2 = y^T S y - w^T X^T S y +
    w^T q`` and ``r^T S y = y^T S y - w^T X^T S y``."""
    wx = 0.0
    wq = 0.0
    ratio = 1.0
    for j in range(w.shape[0]):
        wx += w[j] * xty[j]
        wq += w[j] * q[j]
        ratio = max(ratio, pen.dual_ratio(-q[j], j))
    sq = max(yty - wx + wq, 0.0)
    scale = 1.0 / ratio
    conj = 0.0
    for j in range(w.shape[0]):
        conj += pen.conjugate(-scale * q[j], j)
    primal = 0.5 * sq + pen.value(w, all_features)
    dual = scale * (yty - wx) - 0.5 * scale * scale * sq - conj
    return primal - dual


@njit(cache=True, nogil=True, fastmath=_FAST)
def _gram_objective(w, q, xty, yty, pen, all_features):
    wx = 0.0
    wq = 0.0
    for j in range(w.shape[0]):
        wx += w[j] * xty[j]
        wq += w[j] * q[j]
    return 0.5 * (yty - wx + wq) + pen.value(w, all_features)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _gram_cd(G, xty, yty, w, q, pen, K, max_epochs, check_every, target):
    """Cyclic proximal CD on ``1/2 w^T G w - w^T X^T S y + penalty`` keeping the
    gradient ``q = G w - X^T S y`` (one row of ``G`` per move), with the Anderson
    extrapolation of :func:`_inner_cd`; stops once the gap of :func:`_gram_gap` is at
    most ``target``. Returns ``(epochs run, gap)``."""
    p = w.shape[0]
    all_features = np.arange(p)
    hist = np.zeros((K + 1, p), dtype=w.dtype)
    trial_q = np.empty_like(q)
    acc = np.empty_like(w)
    n_hist = 0
    gap = np.inf
    for epoch in range(max_epochs):
        for j in range(p):
            gjj = G[j, j]
            if gjj == 0.0:
                continue
            old = w[j]
            new = pen.prox(old - q[j] / gjj, gjj, j)
            if new != old:
                d = new - old
                w[j] = new
                for i in range(p):
                    q[i] += d * G[j, i]
        if K > 0:
            hist[n_hist, :] = w
            n_hist += 1
            if n_hist == K + 1:
                n_hist = 0
                feasible = extrapolate_rows(hist, acc)
                if feasible and pen.positive:
                    for j in range(p):
                        if acc[j] < 0.0:
                            feasible = False
                if feasible:
                    for i in range(p):
                        s = -xty[i]
                        for j in range(p):
                            s += G[i, j] * acc[j]
                        trial_q[i] = s
                    if (_gram_objective(acc, trial_q, xty, yty, pen, all_features)
                            < _gram_objective(w, q, xty, yty, pen, all_features)):
                        w[:] = acc
                        q[:] = trial_q
        if (epoch + 1) % check_every != 0:
            continue
        gap = _gram_gap(w, q, xty, yty, pen, all_features)
        if gap <= target:
            return epoch + 1, gap
    return max_epochs, _gram_gap(w, q, xty, yty, pen, all_features)


def gram_cd(xp, G, xty, yty, w, q, penalty, K, max_epochs, check_every, target):
    """Numba version of :func:`numopt.coordinate._glm_gram.gram_cd` (in place)."""
    t = w.dtype.type
    pen = as_numba(penalty, 1, w.dtype)
    n, gap = _gram_cd(G, xty, t(yty), w, q, pen, K, max_epochs, check_every, t(target))
    return w, q, n, float(gap)
