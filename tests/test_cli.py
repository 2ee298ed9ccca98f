"""The demo command ``python -m numopt``."""

import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "numopt", *args], capture_output=True,
                          text=True, timeout=600)


def test_help_explains_options():
    out = _run("--help")
    assert out.returncode == 0
    for flag in ("--gpu", "--list", "--only"):
        assert flag in out.stdout


def test_list_prints_registered_methods():
    out = _run("--list")
    assert out.returncode == 0, out.stderr
    assert "entry:method" in out.stdout


def test_gpu_flag_without_gpu_fails_clearly():
    from numopt.testing import gpu_available

    if gpu_available():
        return
    out = _run("--gpu")
    assert out.returncode != 0 and "--gpu needs CuPy" in out.stderr


def test_unknown_only_class_fails_clearly():
    # it printed an empty table and exited 0, which reads as a pass
    out = _run("--only", "nonsense")
    assert out.returncode != 0
    assert "no problem class 'nonsense'" in out.stderr and "linalg" in out.stderr
