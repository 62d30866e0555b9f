"""Fixtures for the fault suite: one private stack per session, one pipeline per test.

The faults kill and stop servers, so they run on a second stack with its own home under
/var/tmp (Elasticsearch runs as an unprivileged user who must traverse it) and its own
ports, sharing only the download cache. The ports sit below the kernel's ephemeral range
(32768-60999 here): a port in that range can be taken at any moment by some client's
outgoing connection, which is what happened to 39300 while the poller benchmark ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import NEWSFLOW, Pipeline, PrivateStack

PORTS = {
    "NEWSFLOW_STACK__KAFKA_PORT": int(os.environ.get("NEWSFLOW_FAULTS_KAFKA_PORT", "28092")),
    "NEWSFLOW_STACK__KAFKA_CONTROLLER_PORT": int(
        os.environ.get("NEWSFLOW_FAULTS_CONTROLLER_PORT", "28093")),
    "NEWSFLOW_STACK__ES_PORT": int(os.environ.get("NEWSFLOW_FAULTS_ES_PORT", "28200")),
    "NEWSFLOW_STACK__ES_TRANSPORT_PORT": int(
        os.environ.get("NEWSFLOW_FAULTS_ES_TRANSPORT_PORT", "28300")),
}
HOME_PREFIX = "newsflow-faults-"


def _stack_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_STACK")}
    env["NEWSFLOW_STACK__HOME"] = str(home)
    env["NEWSFLOW_STACK_CACHE"] = os.environ.get("NEWSFLOW_STACK_CACHE",
                                                 "/var/tmp/newsflow/cache")
    env.update({k: str(v) for k, v in PORTS.items()})
    return env


def _remove_stale_homes() -> None:
    """Stop and delete the private stacks of earlier sessions that died without tearing down
    (the pid in the folder name is gone). Only our own homes, stopped by their pid files."""
    for home in Path("/var/tmp").glob(f"{HOME_PREFIX}*"):
        pid = home.name.removeprefix(HOME_PREFIX)
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        subprocess.run([*NEWSFLOW, "stack", "down"], env=_stack_env(home), capture_output=True,
                       timeout=120, check=False)
        shutil.rmtree(home, ignore_errors=True)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[PrivateStack]:
    _remove_stale_homes()
    taken = [f"{k}={v}" for k, v in PORTS.items() if not _port_free(v)]
    if taken:
        pytest.fail(f"ports of the private fault stack are taken: {', '.join(taken)} "
                    "(set NEWSFLOW_FAULTS_*_PORT)")
    home = Path("/var/tmp") / f"{HOME_PREFIX}{os.getpid()}"
    stack = PrivateStack(home, PORTS["NEWSFLOW_STACK__KAFKA_PORT"],
                         PORTS["NEWSFLOW_STACK__ES_PORT"], _stack_env(home))
    try:
        stack.up()
        yield stack
    finally:
        stack.stack("down", timeout=120)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pipeline(fault_stack: PrivateStack, tmp_path: Path) -> Iterator[Pipeline]:
    # A fault test that failed half-way may have left a server down: bring it back first.
    if fault_stack.kafka_pid() is None or fault_stack.es_pid() is None:
        fault_stack.up()
    pipe = Pipeline(fault_stack, tmp_path)
    try:
        yield pipe
    finally:
        pipe.cleanup()
