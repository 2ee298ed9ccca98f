"""The convolutional model of the deep conjugate direction method (Kaneda et al., ICML
2023): inference without a deep-learning framework.

The architecture (shared with the PyTorch training code in ``_dcdm_train``, same
parameter names and layouts, ``weight`` as ``(out, in, 3, 3[, 3])``, cross-correlation
with zero padding as ``torch.nn.functional.conv2d/3d``)::

    input  (2, *grid)       channel 0: the residual image, channel 1: the fluid mask
    h = conv_in(input)                      2 -> 16 channels
    h = h + conv_b(relu(conv_a(h)))         residual blocks "pre0", "pre1"
    s = h                                   the skip
    h = average_pool_2(h)                   one level down
    h = h + conv_b(relu(conv_a(h)))         "low0", "low1", "low2"
    h = s + nearest_upsample_2(h)           up, plus the skip
    h = h + conv_b(relu(conv_a(h)))         "post0", "post1"
    d = conv_out(h)[0] * fluid              16 -> 1 channel, zero in solid cells

Every convolution is 3x3 (2-D) or 3x3x3 (3-D) with 16 channels: 16 convolutions, 97.7k
parameters in 3-D, 36.6k in 2-D. A grid with an odd side is padded with one solid
layer. The model is scale-equivariant only up to its biases; DCDM takes an exact step
along its direction, so the scale of the output does not matter.

The convolution runs through the kernel registry (``linalg.dcdm_conv``): a Numba kernel
for NumPy input, ``3^d`` matrix products on the flattened haloed grid for CuPy
(:func:`dcdm_conv_matmul`, cuBLAS; not measured on a GPU), and the array-API reference
(one ``tensordot`` per stencil offset) for any other array library.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from .._backend import get_kernel, get_namespace, kernel

__all__ = ["ConvNet", "layer_names", "load_model", "WEIGHTS_DIR", "shipped_weights"]

CHANNELS = 16
IN_CHANNELS = 2
BLOCKS = {"pre": 2, "low": 3, "post": 2}
WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "_weights")


def layer_names():
    """The convolution names in the order the forward pass applies them."""
    names = ["conv_in"]
    for stage, count in BLOCKS.items():
        for k in range(count):
            names += [f"{stage}{k}.conv_a", f"{stage}{k}.conv_b"]
    return names + ["conv_out"]


def layer_shapes(ndim):
    """``{name: (out, in)}`` channel counts of every convolution."""
    shapes = {}
    for name in layer_names():
        c_in = IN_CHANNELS if name == "conv_in" else CHANNELS
        c_out = 1 if name == "conv_out" else CHANNELS
        shapes[name] = (c_out, c_in)
    return shapes


@kernel("linalg.dcdm_conv", numba="numopt.linalg._dcdm_kernels_numba:dcdm_conv",
        cupy="numopt.linalg._kernels_cupy:dcdm_conv")
def dcdm_conv(xp, x, weight, bias, relu, out, residual=None):
    """``out <- conv(x) + bias`` (3^d stencil, zero padding, cross-correlation as
    torch's), then ``max(out, 0)`` when ``relu``, then ``+ residual`` when given (the
    residual block's sum; ``out`` may be ``residual``); ``x`` is ``(C, *grid)``,
    ``weight`` ``(O, C, 3, ..)``. Returns ``out``."""
    grid = x.shape[1:]
    ndim = len(grid)
    padded = xp.zeros((x.shape[0], *(s + 2 for s in grid)), dtype=x.dtype)
    padded[(slice(None),) + tuple(slice(1, s + 1) for s in grid)] = x
    acc = xp.zeros((weight.shape[0], *grid), dtype=x.dtype)
    for offset in itertools.product(range(3), repeat=ndim):
        window = padded[(slice(None),) + tuple(slice(o, o + s) for o, s in zip(offset, grid))]
        acc = acc + xp.tensordot(weight[(slice(None), slice(None)) + offset], window, axes=1)
    acc = acc + xp.reshape(bias, (bias.shape[0],) + (1,) * ndim)
    if relu:
        acc = xp.maximum(acc, xp.zeros_like(acc))
    if residual is not None:
        acc = acc + residual
    out[...] = acc
    return out


def dcdm_conv_matmul(xp, x, weight, bias, relu, out, residual=None):
    """:func:`dcdm_conv` as ``3^d`` matrix products (the GPU's path, cuBLAS under CuPy).

    On the zero-haloed grid flattened to one axis, the stencil offset ``t`` is a shift
    ``s_t`` of that axis, so ``conv(x) = sum_t W_t @ X[:, s_t : s_t + P]`` with ``W_t``
    the ``(O, C)`` weights of offset ``t`` and ``X`` the haloed input with a margin of
    ``max |s_t|`` zeros on either side; the halo cells of the product are dropped.
    """
    channels, grid = x.shape[0], tuple(x.shape[1:])
    haloed = tuple(s + 2 for s in grid)
    strides = [math.prod(haloed[a + 1:]) for a in range(len(grid))]
    size, margin = math.prod(haloed), sum(strides)
    flat = xp.zeros((channels, size + 2 * margin), dtype=x.dtype)
    inner = tuple(slice(1, s + 1) for s in grid)
    padded = xp.zeros((channels, *haloed), dtype=x.dtype)
    padded[(slice(None),) + inner] = x
    flat[:, margin:margin + size] = xp.reshape(padded, (channels, size))
    acc = None
    for offset in itertools.product(range(3), repeat=len(grid)):
        shift = margin + sum((o - 1) * s for o, s in zip(offset, strides))
        term = xp.matmul(weight[(slice(None), slice(None)) + offset],
                         flat[:, shift:shift + size])
        acc = term if acc is None else acc + term
    acc = xp.reshape(acc, (weight.shape[0], *haloed))[(slice(None),) + inner]
    acc = acc + xp.reshape(bias, (bias.shape[0],) + (1,) * len(grid))
    if relu:
        acc = xp.maximum(acc, xp.zeros_like(acc))
    if residual is not None:
        acc = acc + residual
    out[...] = acc
    return out


def _pool(xp, h):
    """Average over 2^d blocks (the grid sides are even)."""
    c, *grid = h.shape
    shape = [c]
    for s in grid:
        shape += [s // 2, 2]
    h = xp.reshape(h, tuple(shape))
    return xp.mean(h, axis=tuple(range(2, 2 * len(grid) + 1, 2)))


def _upsample(xp, h):
    """Nearest-neighbour upsampling by 2 along every grid axis."""
    for axis in range(1, h.ndim):
        h = xp.repeat(h, 2, axis=axis)
    return h


class ConvNet:
    """The DCDM network with its parameters (arrays of one namespace and dtype).

    ``net(image, fluid)`` maps a residual image of shape ``grid`` and a fluid mask of
    the same shape to a direction image.
    """

    def __init__(self, params, ndim):
        self.params, self.ndim = params, ndim
        self._buffers = {}
        weight = params["conv_in.weight"]
        self.xp = get_namespace(weight)
        if weight.ndim != ndim + 2:
            raise ValueError(f"the weights are for {weight.ndim - 2}-D grids, not {ndim}-D")

    @property
    def n_parameters(self):
        return int(sum(int(np.prod(v.shape)) for v in self.params.values()))

    def _buffer(self, role, shape, dtype):
        """A work array kept across applications (one per role, shape and dtype), so a
        forward pass allocates no full-size temporaries after the first."""
        key = (role, tuple(shape), str(dtype))
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = self.xp.zeros(tuple(shape), dtype=dtype)
        return buffer

    def _conv(self, name, x, relu=False, out=None, residual=None):
        xp = self.xp
        weight, bias = self.params[name + ".weight"], self.params[name + ".bias"]
        if out is None:
            out = self._buffer(name, (weight.shape[0], *x.shape[1:]), x.dtype)
        return get_kernel("linalg.dcdm_conv", xp)(xp, x, weight, bias, relu, out,
                                                  residual=residual)

    def _block(self, name, h):
        """``h + conv_b(relu(conv_a(h)))``, written over ``h``."""
        inner = self._buffer("block", h.shape, h.dtype)
        self._conv(name + ".conv_a", h, relu=True, out=inner)
        return self._conv(name + ".conv_b", inner, out=h, residual=h)

    def __call__(self, image, fluid):
        xp = self.xp
        grid = tuple(image.shape)
        if len(grid) != self.ndim:
            raise ValueError(f"expected a {self.ndim}-D image, got shape {grid}")
        padded = tuple(s + s % 2 for s in grid)
        # the padding cells (odd sides) stay zero: they are never written
        x = self._buffer("input", (IN_CHANNELS, *padded),
                         self.params["conv_in.weight"].dtype)
        inner = tuple(slice(0, s) for s in grid)
        x[(0,) + inner] = xp.astype(image, x.dtype)
        x[(1,) + inner] = xp.astype(fluid, x.dtype)
        h = self._conv("conv_in", x)
        for k in range(BLOCKS["pre"]):
            h = self._block(f"pre{k}", h)
        skip = h
        h = _pool(xp, h)
        for k in range(BLOCKS["low"]):
            h = self._block(f"low{k}", h)
        h = skip + _upsample(xp, h)
        for k in range(BLOCKS["post"]):
            h = self._block(f"post{k}", h)
        d = self._conv("conv_out", h)[(0,) + inner]
        # a fresh array: the buffers are overwritten by the next application
        return d * x[(1,) + inner]


def shipped_weights():
    """``{ndim: path}`` of the weight files shipped with numopt."""
    found = {}
    if os.path.isdir(WEIGHTS_DIR):
        for name in sorted(os.listdir(WEIGHTS_DIR)):
            if name.startswith("poisson") and name.endswith(".npz"):
                found.setdefault(int(name[len("poisson")]), os.path.join(WEIGHTS_DIR, name))
    return found


def load_model(path_or_ndim, xp=None, dtype=None):
    """A :class:`ConvNet` from an ``.npz`` file (or the shipped one for ``ndim``),
    with its parameters in namespace ``xp`` (NumPy by default) and ``dtype``."""
    if isinstance(path_or_ndim, (int, np.integer)):
        files = shipped_weights()
        if int(path_or_ndim) not in files:
            raise ValueError(f"no shipped DCDM model for {path_or_ndim}-D grids "
                             f"(shipped: {sorted(files)}-D)")
        path_or_ndim = files[int(path_or_ndim)]
    with np.load(path_or_ndim) as data:
        params = {k: data[k] for k in data.files if not k.startswith("meta.")}
    missing = [f"{n}.{p}" for n in layer_names() for p in ("weight", "bias")
               if f"{n}.{p}" not in params]
    if missing:
        raise ValueError(f"{path_or_ndim} lacks the parameters {missing}")
    ndim = params["conv_in.weight"].ndim - 2
    if xp is not None or dtype is not None:
        import array_api_compat.numpy as np_compat

        xp = np_compat if xp is None else xp
        params = {k: xp.asarray(v, dtype=dtype) for k, v in params.items()}
    return ConvNet(params, ndim)
