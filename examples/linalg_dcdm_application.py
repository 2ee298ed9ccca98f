"""One application of the DCDM network: the Numba kernel against its PyTorch twin (CPU),
on the same (random) weights and input, both on ``THREADS`` threads, interleaved in one
process so that the machine's load hits both alike; prints the medians, their ratio and
the largest relative difference of the outputs.

    python examples/linalg_dcdm_application.py 1 64x64,32x32x32,64x64x64 7
    # arguments: threads, grids, repeats
"""

import sys
import time

import numba
import numpy as np
import torch

from numopt.linalg._dcdm_model import ConvNet, layer_shapes
from numopt.linalg._dcdm_train import build_torch_model


def random_params(ndim, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for name, (c_out, c_in) in layer_shapes(ndim).items():
        params[name + ".weight"] = (rng.standard_normal((c_out, c_in) + (3,) * ndim)
                                    / np.sqrt(3**ndim * c_in)).astype(np.float32)
        params[name + ".bias"] = (0.1 * rng.standard_normal(c_out)).astype(np.float32)
    return params


def main(threads=1, grids=("64x64", "32x32x32", "64x64x64"), repeats=7):
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    for text in grids:
        grid = tuple(int(v) for v in text.split("x"))
        params = random_params(len(grid))
        net, twin = ConvNet(params, len(grid)), build_torch_model(len(grid)).load_numpy(params)
        rng = np.random.default_rng(1)
        image = rng.standard_normal(grid).astype(np.float32)
        fluid = (rng.random(grid) > 0.1).astype(np.float32)
        inputs = (torch.from_numpy(image)[None], torch.from_numpy(fluid)[None])
        ours = net(image, fluid)
        with torch.no_grad():
            ref = twin(*inputs)[0].numpy()
        times = {"numba": [], "torch": []}
        for _ in range(repeats):
            start = time.perf_counter()
            net(image, fluid)
            times["numba"].append(time.perf_counter() - start)
            with torch.no_grad():
                start = time.perf_counter()
                twin(*inputs)
                times["torch"].append(time.perf_counter() - start)
        numba_s, torch_s = np.median(times["numba"]), np.median(times["torch"])
        print(f"{text} threads={threads}: numba {numba_s * 1e3:.1f} ms  torch "
              f"{torch_s * 1e3:.1f} ms  ratio {numba_s / torch_s:.2f}  relerr "
              f"{np.abs(ours - ref).max() / np.abs(ref).max():.1e}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1,
         args[1].split(",") if len(args) > 1 else ("64x64", "32x32x32", "64x64x64"),
         int(args[2]) if len(args) > 2 else 7)
