"""CuPy kernels of the element-wise updates: one ElementwiseKernel launch per step
(compiled once per dtype), the same arithmetic as the Numba loops. Scalars are passed as
kernel arguments of the arrays' dtype (no device-to-host sync)."""

import functools

import cupy


@functools.cache
def _adabelief():
    return cupy.ElementwiseKernel(
        "T g, T b1, T b2, T eps, T step, T scale, bool adaptive",
        "T x, T m, T s",
        """
        T mi = b1 * m + (1 - b1) * g;
        T r = g - mi;
        T si = b2 * s + (1 - b2) * (r * r) + eps;
        m = mi;
        s = si;
        x -= adaptive ? step * mi / (scale * sqrt(si) + eps) : step * mi;
        """,
        "numopt_adabelief_step")


def adabelief_step(xp, x, g, m, s, beta1, beta2, eps, step, scale, adaptive):
    t = x.dtype.type
    _adabelief()(g, t(beta1), t(beta2), t(eps), t(step), t(scale), bool(adaptive), x, m, s)


@functools.cache
def _diffgrad():
    return cupy.ElementwiseKernel(
        "T g, T b1, T b2, T eps, T step",
        "T x, T g_prev, T m, T v",
        """
        T mi = b1 * m + (1 - b1) * g;
        T vi = b2 * v + (1 - b2) * (g * g);
        T xi = 1 / (1 + exp(-abs(g_prev - g)));
        m = mi;
        v = vi;
        g_prev = g;
        x -= step * xi * mi / (sqrt(vi) + eps);
        """,
        "numopt_diffgrad_step")


def diffgrad_step(xp, x, g, g_prev, m, v, beta1, beta2, eps, step):
    t = x.dtype.type
    _diffgrad()(g, t(beta1), t(beta2), t(eps), t(step), x, g_prev, m, v)


@functools.cache
def _adahessian():
    return cupy.ElementwiseKernel(
        "T g, T d, T b1, T b2, T eps, T step, T scale, T half_power",
        "T x, T m, T v",
        """
        T mi = b1 * m + (1 - b1) * g;
        T vi = b2 * v + (1 - b2) * (d * d);
        m = mi;
        v = vi;
        T denom = half_power == (T)0.5 ? sqrt(scale * vi) : pow(scale * vi, half_power);
        x -= step * mi / (denom + eps);
        """,
        "numopt_adahessian_step")


def adahessian_step(xp, x, g, d, m, v, beta1, beta2, eps, step, scale, half_power):
    t = x.dtype.type
    _adahessian()(g, d, t(beta1), t(beta2), t(eps), t(step), t(scale), t(half_power),
                  x, m, v)


@functools.cache
def _adagrad():
    return cupy.ElementwiseKernel(
        "T g, T step, T eps", "T x, T acc",
        """
        T ai = acc + g * g;
        acc = ai;
        x -= step * g / (sqrt(ai) + eps);
        """,
        "numopt_adagrad_step")


def adagrad_step(xp, x, g, acc, step, eps):
    t = x.dtype.type
    _adagrad()(g, t(step), t(eps), x, acc)
