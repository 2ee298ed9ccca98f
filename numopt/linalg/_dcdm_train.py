"""Training of the DCDM network (PyTorch, the optional ``train`` extra).

Run as a module; it writes the ``.npz`` file that :func:`numopt.linalg.dcdm` loads.
The shipped 3-D file (100 steps at 16^3, about 18 minutes of wall time on the shared
2-core machine)::

    python -m numopt.linalg._dcdm_train --ndim 3 --grid 16 --steps 100 --seed 3 \\
        --geometries 6 --batch 4 --lanczos 100 --lr 2e-3 \\
        --out numopt/linalg/_weights/poisson3d_16.npz

``--grid 32,64`` trains on several sizes at once (the geometries spread over them) and
``--init FILE`` starts from a trained file (see :doc:`/linalg` for the 2-D recipe).

The loss is the paper's unsupervised, scale-invariant one (Kaneda et al., ICML 2023):
for a unit right-hand side ``b`` and the direction ``d = f(b)``, the residual
left after the exact step along ``d``,

    L = || b - (d.b / d.A d) A d ||^2,

averaged over a batch. The right-hand sides are combinations of Ritz vectors of ``A``
from a short Lanczos run (full reorthogonalization), the lower half of them weighted 9
times the upper half (the paper biases its data towards the low end the same way), on
the empty box and on seeded random geometries of boxes (:func:`numopt.problems.poisson_obstacles`, ``kind="boxes"``);
disks are kept unseen for the tests. Seeded: torch, NumPy and the geometries draw from
``--seed``; wall-clock ``--minutes`` bounds the run, so the number of steps (printed
and stored in ``meta.steps``) depends on the machine's speed; ``--steps`` fixes it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ._dcdm_model import BLOCKS, layer_names, layer_shapes


def _torch():
    import torch

    return torch


def build_torch_model(ndim):
    """The PyTorch twin of :class:`numopt.linalg._dcdm_model.ConvNet`."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    conv = F.conv2d if ndim == 2 else F.conv3d
    pool = F.avg_pool2d if ndim == 2 else F.avg_pool3d
    shapes = layer_shapes(ndim)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ParameterDict()
            for name in layer_names():
                c_out, c_in = shapes[name]
                layer = (nn.Conv2d if ndim == 2 else nn.Conv3d)(c_in, c_out, 3, padding=1)
                self.convs[name.replace(".", "_") + "_weight"] = layer.weight
                self.convs[name.replace(".", "_") + "_bias"] = layer.bias

        def _conv(self, name, x):
            key = name.replace(".", "_")
            return conv(x, self.convs[key + "_weight"], self.convs[key + "_bias"], padding=1)

        def _block(self, name, h):
            return h + self._conv(name + ".conv_b", torch.relu(self._conv(name + ".conv_a", h)))

        def forward(self, image, fluid):
            """``image``, ``fluid``: ``(B, *grid)`` with even sides."""
            x = torch.stack([image, fluid], dim=1)
            h = self._conv("conv_in", x)
            for k in range(BLOCKS["pre"]):
                h = self._block(f"pre{k}", h)
            skip = h
            h = pool(h, 2)
            for k in range(BLOCKS["low"]):
                h = self._block(f"low{k}", h)
            for axis in range(2, 2 + ndim):
                h = h.repeat_interleave(2, dim=axis)
            h = skip + h
            for k in range(BLOCKS["post"]):
                h = self._block(f"post{k}", h)
            return self._conv("conv_out", h)[:, 0] * fluid

        def to_numpy(self):
            out = {}
            for name in layer_names():
                key = name.replace(".", "_")
                out[name + ".weight"] = self.convs[key + "_weight"].detach().numpy()
                out[name + ".bias"] = self.convs[key + "_bias"].detach().numpy()
            return out

        def load_numpy(self, params):
            with torch.no_grad():
                for name in layer_names():
                    key = name.replace(".", "_")
                    self.convs[key + "_weight"].copy_(torch.from_numpy(params[name + ".weight"]))
                    self.convs[key + "_bias"].copy_(torch.from_numpy(params[name + ".bias"]))
            return self

    return Net()


def ritz_vectors(A, m, rng):
    """Ritz vectors and values of the symmetric ``A`` from ``m`` Lanczos steps from a
    random start, with full reorthogonalization; ascending Ritz values."""
    n = A.shape[0]
    m = min(m, n)
    Q = np.zeros((n, m))
    alpha, beta = np.zeros(m), np.zeros(m)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    for j in range(m):
        Q[:, j] = q
        w = A @ q
        alpha[j] = q @ w
        w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        beta[j] = np.linalg.norm(w)
        if beta[j] < 1e-10:
            m = j + 1
            break
        q = w / beta[j]
    T = np.diag(alpha[:m]) + np.diag(beta[:m - 1], 1) + np.diag(beta[:m - 1], -1)
    values, vectors = np.linalg.eigh(T)
    return values, Q[:, :m] @ vectors


class _Geometry:
    def __init__(self, problem, m, rng):
        torch = _torch()
        A = problem.A
        fluid = problem.fluid.ravel()
        inner = A[fluid][:, fluid]
        _, Y = ritz_vectors(inner, m, rng)
        full = np.zeros((A.shape[0], Y.shape[1]))
        full[fluid] = Y
        self.ritz = torch.from_numpy(full.astype(np.float32))
        coo = A.tocoo()
        self.A = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]),
                                         coo.data.astype(np.float32), A.shape,
                                         check_invariants=True).coalesce()
        self.fluid = torch.from_numpy(problem.fluid.astype(np.float32))
        self.shape = problem.shape

    def batch(self, size, gen):
        """``size`` unit right-hand sides (columns): Ritz combinations, the lower half
        weighted 9 times the upper one."""
        torch = _torch()
        k = self.ritz.shape[1]
        weights = torch.ones(k)
        weights[: k // 2] = 9.0
        c = torch.randn(k, size, generator=gen) * weights[:, None]
        b = self.ritz @ c
        return b / torch.linalg.vector_norm(b, dim=0, keepdim=True)


def loss_fn(net, geom, b):
    """The scale-invariant loss: mean of ``||b - (d.b / d.Ad) A d||^2``."""
    torch = _torch()
    batch = b.shape[1]
    # unit RMS over the fluid cells, as dcdm feeds the network (size-independent scale)
    image = b.T.reshape(batch, *geom.shape) * geom.fluid.sum().sqrt()
    fluid = geom.fluid.expand(batch, *geom.shape)
    d = net(image, fluid).reshape(batch, -1).T
    Ad = torch.sparse.mm(geom.A, d)
    alpha = (d * b).sum(0) / (d * Ad).sum(0)
    return ((b - alpha * Ad) ** 2).sum(0).mean()


def train(ndim=2, grid=64, minutes=15.0, steps=None, seed=0, n_geometries=8, lanczos=200,
          batch=8, lr=1e-3, threads=2, log=print, init=None):
    """Train the network; ``grid`` is one side or a sequence of sides (the geometries
    are spread over them, the empty box at each), ``init`` a ``.npz`` file to start
    from. With ``steps`` given the learning rate decays along a cosine to 1/10."""
    torch = _torch()
    from ..problems import poisson_obstacles

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    sides = [int(grid)] if np.ndim(grid) == 0 else [int(g) for g in grid]
    geometries = [_Geometry(poisson_obstacles((side,) * ndim, n_obstacles=0), lanczos, rng)
                  for side in sides]
    for k in range(max(n_geometries - len(sides), 0)):
        shape = (sides[k % len(sides)],) * ndim
        problem = poisson_obstacles(shape, n_obstacles=int(rng.integers(1, 7)),
                                    kind="boxes", seed=rng)
        geometries.append(_Geometry(problem, lanczos, rng))
    net = build_torch_model(ndim)
    if init is not None:
        with np.load(init) as data:
            net.load_numpy({k: data[k] for k in data.files if not k.startswith("meta.")})
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = None
    if steps is not None:
        schedule = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.1 + 0.45 * (1.0 + np.cos(np.pi * min(k / steps, 1.0))))
    start, step, history = time.perf_counter(), 0, []
    while True:
        elapsed = time.perf_counter() - start
        if (steps is not None and step >= steps) or (steps is None and elapsed > 60 * minutes):
            break
        geom = geometries[int(torch.randint(len(geometries), (1,), generator=gen))]
        loss = loss_fn(net, geom, geom.batch(batch, gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if schedule is not None:
            schedule.step()
        history.append(float(loss.detach()))
        step += 1
        if step % 25 == 0:
            log(f"step {step:5d}  {elapsed:7.1f} s  loss (mean of last 25) "
                f"{np.mean(history[-25:]):.4f}", flush=True)
    return net, step, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ndim", type=int, default=2)
    parser.add_argument("--grid", default="64",
                        help="side, or comma-separated sides to train on together")
    parser.add_argument("--init", default=None, help="an .npz file to start from")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lanczos", type=int, default=200)
    parser.add_argument("--geometries", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    sides = [int(g) for g in args.grid.split(",")]
    net, steps, history = train(args.ndim, sides, args.minutes, args.steps, args.seed,
                                args.geometries, args.lanczos, args.batch, args.lr,
                                init=args.init)
    params = net.to_numpy()
    params["meta.steps"] = np.array(steps)
    params["meta.grid"] = np.array(sides)
    params["meta.seed"] = np.array(args.seed)
    params["meta.final_loss"] = np.array(np.mean(history[-50:]))
    np.savez_compressed(args.out, **params)
    print(f"wrote {args.out}: {steps} steps, final loss {params['meta.final_loss']:.4f}")


if __name__ == "__main__":
    main()
