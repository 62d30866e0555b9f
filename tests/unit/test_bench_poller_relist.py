"""bench/poller/relist.py's py-spy default: the one the dev extras install beside the
interpreter, found whether or not that directory is on PATH (``--profile`` needs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _default_py_spy(path: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import bench.poller.relist as r; print(r.PY_SPY)"],
        cwd=REPO, env={**os.environ, "PATH": path}, capture_output=True, text=True,
        check=True)
    return done.stdout.strip()


def test_py_spy_is_found_beside_the_interpreter_without_path(tmp_path: Path) -> None:
    beside = Path(sys.executable).parent / "py-spy"
    if not os.access(beside, os.X_OK):
        pytest.skip("py-spy is not installed beside this interpreter (no dev extras)")
    assert Path(_default_py_spy(str(tmp_path))) == beside

