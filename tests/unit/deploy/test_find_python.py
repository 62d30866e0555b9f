"""deploy/local/find-python.sh: which interpreter the Makefile builds the venv with.

Fake interpreters on a private PATH stand in for real ones: each answers the script's
version check with its exit code, as a working python3.N (0) or a pyenv shim for a version
that is installed but not selected (1) would.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "find-python.sh"

pytestmark = pytest.mark.skipif(
    any(Path(d, f"python3.{m}").exists() for d in ("/usr/bin", "/usr/local/bin") for m in (12, 13)),
    reason="a system python3.12/3.13 would be found before the fakes",
)


def fake(bin_dir: Path, name: str, exit_code: int) -> Path:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    path.chmod(0o755)
    return path


def find(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=30, check=False)


def test_an_unselected_shim_is_skipped_for_a_working_313(tmp_path: Path) -> None:
    fake(tmp_path, "python3.12", 1)  # like `pyenv: python3.12: command not found`
    working = fake(tmp_path, "python3.13", 0)
    found = find(tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(working)
    assert found.stderr == ""


def test_312_is_preferred_over_313(tmp_path: Path) -> None:
    preferred = fake(tmp_path, "python3.12", 0)
    fake(tmp_path, "python3.13", 0)
    assert find(tmp_path).stdout.strip() == str(preferred)


def test_311_is_used_with_a_warning(tmp_path: Path) -> None:
    fake(tmp_path, "python3.12", 1)
    fallback = fake(tmp_path, "python3", 0)
    found = find(tmp_path)
    assert found.returncode == 0
    assert found.stdout.strip() == str(fallback)
    assert "slower" in found.stderr


def test_no_python_is_an_error(tmp_path: Path) -> None:
    for name in ("python3.12", "python3.13", "python3", "python3.11"):
        fake(tmp_path, name, 1)
    found = find(tmp_path)
    assert found.returncode == 1
    assert found.stdout == ""
    assert "needs Python 3.12" in found.stderr


def test_a_pyenv_version_that_is_not_selected_is_found(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    root = tmp_path / "pyenv"
    fake(bin_dir, "pyenv", 0).write_text(f"#!/bin/sh\necho {root}\n")  # `pyenv root`
    fake(bin_dir, "python3.12", 1)  # the shim: 3.12 is installed but not selected here
    version_bin = root / "versions" / "3.12.1" / "bin"
    version_bin.mkdir(parents=True)
    installed = fake(version_bin, "python3.12", 0)
    found = find(bin_dir)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(installed)
