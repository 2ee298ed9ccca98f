"""Runs CUDA RawKernel sources on the CPU, for tests without a GPU.

A small header emulates the CUDA constructs numopt's kernels use: each block runs as
blockDim.x CPU threads, ``__syncthreads`` is a ``std::barrier``, and the blocks of a grid
run one after another (so ``__shared__`` can be a static). A test writes a C++ driver
that includes the header and the kernel source and launches the kernels with the grids
of the CuPy code; :func:`compile_driver` builds it with g++ into a ctypes library.
The kernel sources are read from the numopt modules without importing them (they import
CuPy). Tests skip where g++ (C++20) is missing.
"""

import ast
import ctypes
import pathlib
import shutil
import subprocess

import pytest

MOCK_HEADER = r"""
// Emulates the CUDA constructs numopt/ot/_kernels_cupy.py uses, on CPU threads:
// blockDim.x std::threads (a std::barrier for __syncthreads) run the blocks one after
// another (so __shared__ can be a static).
#include <cmath>
#include <cstring>
#include <algorithm>
#include <barrier>
#include <thread>
#include <vector>
using std::min; using std::max; using std::exp2; using std::log2; using std::fabs;
using std::exp; using std::log; using std::fmax;
struct dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<>* g_bar = nullptr;
inline void __syncthreads() { g_bar->arrive_and_wait(); }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct float4 { float x, y, z, w; };
struct double2 { double x, y; };
// only thread 0 of a block adds, and the emulated blocks run one after another
template <class U> inline U atomicAdd(U* a, U v) { U old = *a; *a += v; return old; }
template <class K> void launch(dim3 grid, dim3 block, K kern) {
    // blockDim.x threads walk the blocks in step; the barrier after each block keeps
    // the static __shared__ arrays to one block at a time
    gridDim = grid; blockDim = block;
    std::barrier<> bar(block.x); g_bar = &bar;
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < block.x; ++t)
        ts.emplace_back([=, &bar] {
            threadIdx = {t, 0, 0};
            for (unsigned bz = 0; bz < grid.z; ++bz)
            for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx = {bx, by, bz};
                kern();
                bar.arrive_and_wait();
            }
        });
    for (auto& th : ts) th.join();
}
"""


def cuda_source(module_path, name):
    """A CUDA source constant (string literals joined with +) of the numopt module at
    ``module_path`` (relative to the repository root), read without importing it."""
    path = pathlib.Path(__file__).parents[1] / module_path
    constants = {}

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        raise ValueError("not a string constant")

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = value(node.value)
            except (ValueError, KeyError):
                pass
    return constants[name]


def compile_driver(folder, driver, sources, out):
    """Build ``driver`` (C++ that includes "mock_cuda.h" and the files of ``sources``, a
    dict file name -> text) into the shared library ``out`` and load it."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mock_cuda.h").write_text(MOCK_HEADER)
    (folder / "driver.cpp").write_text(driver)
    for name, text in sources.items():
        (folder / name).write_text(text)
    done = subprocess.run(["g++", "-std=c++20", "-O0", "-shared", "-fPIC", "-pthread",
                           str(folder / "driver.cpp"), "-o", str(out)],
                          capture_output=True, text=True, cwd=folder)
    if done.returncode != 0 and "barrier" in done.stderr:
        pytest.skip("g++ lacks C++20 <barrier>")
    assert done.returncode == 0, done.stderr[-3000:]
    return ctypes.CDLL(str(out))
