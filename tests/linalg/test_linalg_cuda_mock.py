"""The CUDA source of the fused GPU CG (numopt/linalg/_cg_cupy.py), checked without a
GPU: compiled by g++ against a sequential mock of the CUDA built-ins (one thread per
block, blocks in turn) and driven as FusedCG drives it (ring buffers, device-side stop,
host check every k), it must reproduce CPU CG / multicolour SSOR-PCG iterate for iterate.
Skips where g++ is missing."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from numopt.linalg import cg, ssor_preconditioner
from numopt.problems import poisson_2d
from numopt.testing import assert_same_stop

HERE = Path(__file__).parent / "cuda_mock"
SOURCE = Path(__file__).parents[2] / "numopt" / "linalg" / "_cg_cupy.py"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    text = SOURCE.read_text()
    block_sum = re.search(r'_BLOCK_SUM = r"""(.*?)"""', text, re.S).group(1)
    kernels = re.search(r'_SOURCE = _BLOCK_SUM \+ r"""(.*?)"""', text, re.S).group(1)
    out = tmp_path_factory.mktemp("cuda_mock")
    for ctype in ("float", "double"):  # the real source, extern "C" and all
        (out / f"real_{ctype}.cu").write_text(f'#include "{HERE / "mock.h"}"\n'
                                             f"#define T {ctype}\n{block_sum}{kernels}")
        subprocess.run(["g++", "-fsyntax-only", "-x", "c++", "-std=c++17",
                        str(out / f"real_{ctype}.cu")], check=True)
    (out / "kernels.cu").write_text("#define T double\n"
                                    + (block_sum + kernels).replace('extern "C" ', ""))
    exe = out / "harness"
    subprocess.run(["g++", "-O1", "-std=c++17", f"-I{out}", f"-I{HERE}", "-o", str(exe),
                    str(HERE / "harness.cpp")], check=True)
    return exe


@pytest.mark.parametrize("pcg, omega, check_every", [(0, 1.0, 4), (0, 1.0, 16),
                                                     (1, 1.0, 4), (1, 1.3, 7), (1, 0.7, 16)])
def test_fused_kernels_reproduce_cpu_cg(harness, pcg, omega, check_every):
    m = 16
    A = poisson_2d(m).tocsr()
    b = np.sin(np.arange(1, m * m + 1.0))  # the harness's right-hand side
    threshold = 1e-8 * np.linalg.norm(b)
    out = subprocess.run([str(harness), str(m), str(pcg), str(omega), repr(float(threshold)),
                          str(check_every)], capture_output=True, text=True, check=True)
    values = out.stdout.split()
    nit, x = int(values[0]), np.array(values[1:], dtype=float)
    M = ssor_preconditioner(A, omega, ordering="multicolor") if pcg else None
    seen = []
    ref = cg(A, b, M=M, tol=1e-8,
             callback=lambda intermediate_result: seen.append(intermediate_result.x))
    # the device-side stop lands on SciPy's iteration (its block sums round otherwise
    # than the CPU's dots: one either way only where a residual grazes the target)
    residuals = [np.linalg.norm(b - A @ x) for x in seen]
    assert_same_stop(nit, ref.nit, residuals, threshold, margin=1e-4)
    np.testing.assert_allclose(x, ref.x, rtol=1e-12, atol=1e-13)
