"""numopt._backend._numba_cache.depends_on: a cached Numba kernel that inlines a formula
from another file compiles again when that file is edited (Numba alone watches only
the kernel's own file)."""

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

FORMULA = """
from numba import njit


@njit(cache=True, inline="always")
def formula(x):
    return {body}
"""

KERNEL = """
from numba import njit

import formulas
{register}
from formulas import formula


@njit(cache=True)
def kernel(x):
    return formula(x) + 1.0
"""

REGISTER = """
from numopt._backend._numba_cache import depends_on

depends_on(__file__, formulas.__file__)
"""


def _run(folder):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), *sys.path]))
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", "import kernels; print(kernels.kernel(3.0))"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return float(out.stdout)


def _write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    # a distinct mtime even on coarse file systems (Numba hashes the content anyway)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_editing_an_inlined_formula_recompiles_the_kernel(tmp_path):
    _write(tmp_path, "formulas.py", FORMULA.format(body="2.0 * x"))
    _write(tmp_path, "kernels.py", KERNEL.format(register=REGISTER))
    assert _run(tmp_path) == 7.0
    assert list((tmp_path / "__pycache__").glob("kernels.kernel-*.nbi"))
    _write(tmp_path, "formulas.py", FORMULA.format(body="3.0 * x"))
    # Numba alone loads the machine code of 2x + 1 (7.0) from the cache here
    assert _run(tmp_path) == 10.0
