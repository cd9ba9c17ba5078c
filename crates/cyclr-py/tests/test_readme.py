"""The README's Python blocks, each run as printed in a fresh interpreter."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_printed(index, tmp_path):
    block = BLOCKS[index]
    if "import torch" in block:
        pytest.importorskip("torch")
    if "import keras" in block:
        pytest.importorskip("keras")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"block {index}:\n{block}\nstderr:\n{done.stderr[-3000:]}"
