"""The README's quickstart and entry-point examples stay true."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_has_the_two_commands():
    text = README.read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = [ln for ln in block.splitlines() if ln.strip()]
    assert lines == ['python -m pip install -e ".[test]" && python -m numopt',
                     "python -m pytest"]


def test_entry_point_examples_run(capsys):
    pytest.importorskip("sklearn")
    text = README.read_text()
    code = re.search(r"## Entry points\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["res"].success
    assert namespace["exact"].success
    assert namespace["model"].coef_.shape == (500,)
