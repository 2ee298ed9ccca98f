"""The element-wise updates of the adaptive methods, as registered kernels.

Each update is one fused pass over memory on NumPy (Numba) and CuPy (ElementwiseKernel)
input; the functions here are the array-API references (several passes). All work in
place on ``x`` and the method's buffers. Scalars arrive already folded (bias corrections,
rectification, learning rate), in the arrays' dtype, so that float32 arrays compute in
float32 as torch does.
"""

from __future__ import annotations

from .._backend import kernel

__all__ = ["adabelief_step", "diffgrad_step", "adahessian_step", "adagrad_step"]


@kernel("stochastic.adabelief_step",
        numba="numopt.stochastic._kernels_numba:adabelief_step",
        cupy="numopt.stochastic._kernels_cupy:adabelief_step")
def adabelief_step(xp, x, g, m, s, beta1, beta2, eps, step, scale, adaptive):
    """``m <- b1 m + (1-b1) g``; ``s <- b2 s + (1-b2) (g - m)^2 + eps``; then
    ``x -= step m / (scale sqrt(s) + eps)`` (``adaptive``) or ``x -= step m``."""
    m *= beta1
    m += (1 - beta1) * g
    r = g - m
    s *= beta2
    s += (1 - beta2) * (r * r) + eps
    if adaptive:
        x -= step * m / (scale * xp.sqrt(s) + eps)
    else:
        x -= step * m


@kernel("stochastic.diffgrad_step",
        numba="numopt.stochastic._kernels_numba:diffgrad_step",
        cupy="numopt.stochastic._kernels_cupy:diffgrad_step")
def diffgrad_step(xp, x, g, g_prev, m, v, beta1, beta2, eps, step):
    """Adam's moments, the friction ``xi = sigmoid(|g_prev - g|)``, then
    ``x -= step xi m / (sqrt(v) + eps)`` and ``g_prev <- g``."""
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    xi = 1 / (1 + xp.exp(-xp.abs(g_prev - g)))
    x -= step * xi * m / (xp.sqrt(v) + eps)
    g_prev[...] = g


@kernel("stochastic.adahessian_step",
        numba="numopt.stochastic._kernels_numba:adahessian_step",
        cupy="numopt.stochastic._kernels_cupy:adahessian_step")
def adahessian_step(xp, x, g, d, m, v, beta1, beta2, eps, step, scale, half_power):
    """``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) d^2`` (``d`` the averaged Hessian
    diagonal); ``x -= step m / ((scale v)^half_power + eps)``."""
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (d * d)
    if half_power == 0.5:
        denom = xp.sqrt(scale * v)
    else:
        denom = (scale * v) ** half_power
    x -= step * m / (denom + eps)


@kernel("stochastic.adagrad_step",
        numba="numopt.stochastic._kernels_numba:adagrad_step",
        cupy="numopt.stochastic._kernels_cupy:adagrad_step")
def adagrad_step(xp, x, g, acc, step, eps):
    """``acc += g^2``; ``x -= step g / (sqrt(acc) + eps)``."""
    acc += g * g
    x -= step * g / (xp.sqrt(acc) + eps)
