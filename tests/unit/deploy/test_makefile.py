"""The Makefile's venv: built once per Python version, rebuilt when the interpreter changes.

Fake interpreters stand in for real ones (nothing is installed): a fake `python` answers
the Makefile's version checks as Python 3.<minor> would, and `-m venv DIR` makes DIR/bin
with a fake python of the same version and a fake pip. Every call is logged, so a test can
tell a rebuild from a no-op.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")

# $1 = "-c": the Makefile either prints the version ("print" in the code) or checks it
# (sys.exit(version != "3.N"): exits 0 only when the code names this version).
FAKE_PYTHON = """#!/bin/sh
echo "python{version} $*" >> {log}
if [ "$1" = "-c" ]; then
    case "$2" in
        *print*) echo "{version}" ;;
        *'"{version}"'*) exit 0 ;;
        *) exit 1 ;;
    esac
elif [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    printf '#!/bin/sh\\necho "pip $*" >> {log}\\n' > "$3/bin/pip"
    chmod +x "$3/bin/pip"
fi
"""


def fake_python(tmp: Path, version: str) -> Path:
    path = tmp / f"python{version}"
    path.write_text(FAKE_PYTHON.format(version=version, log=tmp / "calls.log"))
    path.chmod(0o755)
    return path


def install(tmp: Path, python: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "install",
         f"PYTHON={python}", f"VENV={tmp / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def calls(tmp: Path) -> list[str]:
    log = tmp / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def venv_made_with(tmp: Path) -> list[str]:
    return [c.split()[0] for c in calls(tmp) if " -m venv " in c]


def test_the_venv_is_built_once_per_python(tmp_path: Path) -> None:
    first = install(tmp_path, fake_python(tmp_path, "3.12"))
    assert first.returncode == 0, first.stderr
    assert venv_made_with(tmp_path) == ["python3.12"]
    assert (tmp_path / "venv" / ".installed-py3.12").exists()
    assert any(c.startswith("pip install -q -e") for c in calls(tmp_path))

    again = install(tmp_path, tmp_path / "python3.12")
    assert again.returncode == 0, again.stderr
    assert venv_made_with(tmp_path) == ["python3.12"]  # not rebuilt


def test_switching_python_rebuilds_the_venv(tmp_path: Path) -> None:
    assert install(tmp_path, fake_python(tmp_path, "3.11")).returncode == 0
    (tmp_path / "venv" / "left-by-the-old-venv").touch()

    switched = install(tmp_path, fake_python(tmp_path, "3.12"))
    assert switched.returncode == 0, switched.stderr
    assert "was made with another Python: recreating it" in switched.stdout
    assert venv_made_with(tmp_path) == ["python3.11", "python3.12"]
    venv = tmp_path / "venv"
    assert not (venv / "left-by-the-old-venv").exists()  # removed, not built over
    assert not (venv / ".installed-py3.11").exists()
    assert (venv / ".installed-py3.12").exists()
    assert (venv / "bin" / "python").read_text() == (tmp_path / "python3.12").read_text()


def test_no_python_is_an_error(tmp_path: Path) -> None:
    result = install(tmp_path, "")
    assert result.returncode != 0
    assert "no usable Python" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_a_python_that_does_not_run_leaves_the_venv_alone(tmp_path: Path) -> None:
    assert install(tmp_path, fake_python(tmp_path, "3.12")).returncode == 0
    (tmp_path / "venv" / ".installed-py3.12").unlink()  # as if pyproject.toml had changed

    result = install(tmp_path, tmp_path / "python3.99-not-there")
    assert result.returncode != 0
    assert "no usable Python" in result.stderr
    assert (tmp_path / "venv" / "bin" / "python").exists()  # not removed
