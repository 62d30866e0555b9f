"""`newsflow stack` on a second, private stack (own home and ports, shared download cache),
so that the session's stack used by the other tests is left alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

NEWSFLOW = [sys.executable, "-m", "newsflow.cli.__main__"]
# A harmless system property, to see the configured JVM options reach both servers.
STACKTEST_PROPERTY = "-Dnewsflow.stacktest=1"


def _java_pids_under(home: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "java" in cmdline and str(home) in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Under /var/tmp: Elasticsearch runs as an unprivileged user who must traverse it.
    home = Path("/var/tmp") / f"newsflow-stacktest-{os.getpid()}"
    env = dict(os.environ)
    env.update({
        "NEWSFLOW_STACK__HOME": str(home),
        "NEWSFLOW_STACK_CACHE": os.environ.get("NEWSFLOW_STACK_CACHE", "/var/tmp/newsflow/cache"),
        "NEWSFLOW_STACK__KAFKA_PORT": "29192",
        "NEWSFLOW_STACK__KAFKA_CONTROLLER_PORT": "29193",
        "NEWSFLOW_STACK__ES_PORT": "29290",
        "NEWSFLOW_STACK__ES_TRANSPORT_PORT": "29390",
        "NEWSFLOW_STACK__JVM_OPTIONS": f"-XX:TieredStopAtLevel=1 {STACKTEST_PROPERTY}",
    })
    yield env
    subprocess.run([*NEWSFLOW, "stack", "down"], env=env, check=False)
    shutil.rmtree(home, ignore_errors=True)


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSFLOW, "stack", *args], env=env, text=True, capture_output=True, timeout=400
    )


def test_up_twice_status_and_down_leaves_no_java(private_stack: dict[str, str]) -> None:
    home = Path(private_stack["NEWSFLOW_STACK__HOME"])

    first = _stack(private_stack, "up")
    assert first.returncode == 0, first.stderr
    second = _stack(private_stack, "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr

    status = _stack(private_stack, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["kafka"]["healthy"] and report["elasticsearch"]["healthy"]
    assert report["kafka"]["address"] == "127.0.0.1:29192"
    running = {report["kafka"]["pid"], report["elasticsearch"]["pid"]}
    assert running <= set(_java_pids_under(home))
    for pid in running:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert STACKTEST_PROPERTY.encode() in cmdline
        assert b"-XX:TieredStopAtLevel=1" in cmdline

    down = _stack(private_stack, "down")
    assert down.returncode == 0, down.stderr
    assert _java_pids_under(home) == []

    after = _stack(private_stack, "status", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["kafka"]["running"] is False
