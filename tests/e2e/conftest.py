"""Fixtures for end-to-end tests: the real CLI as subprocesses against the real local stack,
with every Kafka topic, consumer group, index alias and state folder unique to the test."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

NEWSFLOW = [sys.executable, "-m", "newsflow.cli.__main__"]
ES_URL = os.environ.get("NEWSFLOW_ELASTICSEARCH__URL", "http://127.0.0.1:19200")


@pytest.fixture
def feed_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    return folder


@pytest.fixture
def feed_server(feed_dir: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving feed_dir; yields its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(feed_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def newsflow_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for `newsflow` subprocesses, isolated from other tests' topics/indices.
    The run's Kafka topics are deleted afterwards (the `es` fixture deletes its indices)."""
    run = uuid.uuid4().hex[:10]
    # Keep where the servers are (a run against another stack sets these); drop the rest.
    keep = {"NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS", "NEWSFLOW_ELASTICSEARCH__URL"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_") or k in keep}
    env.update({
        "NEWSFLOW_KAFKA__ARTICLES_TOPIC": f"e2e-{run}.articles",
        "NEWSFLOW_KAFKA__DEADLETTER_TOPIC": f"e2e-{run}.deadletter",
        "NEWSFLOW_KAFKA__ENRICHED_TOPIC": f"e2e-{run}.enriched",
        "NEWSFLOW_ELASTICSEARCH__STORIES_INDEX": f"e2e-{run}-articles-stories",
        "NEWSFLOW_ELASTICSEARCH__STORIES_STATE_INDEX": f"e2e-{run}-articles-stories-state",
        "NEWSFLOW_ELASTICSEARCH__ALERTS_INDEX": f"e2e-{run}-articles-alerts",
        "NEWSFLOW_KAFKA__ALERTS_TOPIC": f"e2e-{run}.alerts",
        "NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX": f"e2e-{run}-articles-watches",
        "NEWSFLOW_KAFKA__WATCH_TOPIC_PREFIX": f"e2e-{run}.watch.",
        "NEWSFLOW_KAFKA__TAG_TOPIC_PREFIX": f"e2e-{run}.tag.",
        "NEWSFLOW_ELASTICSEARCH__ALIAS": f"e2e-{run}-articles",
        "NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME": f"e2e-{run}-articles",
        "NEWSFLOW_PROCESSORS__APP_ID": f"e2e-{run}-processors",
        "NEWSFLOW_PROCESSORS__WEB_PORT": "0",
        "NEWSFLOW_PROCESSORS__DATA_DIR": str(tmp_path / "processors"),
        "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "poller-state"),
        "NEWSFLOW_POLLER__GROUP_ID": f"e2e-{run}-poller",
        "NEWSFLOW_POLLER__ASSIGNMENT_TOPIC": f"e2e-{run}.assignment",
        "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
        "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_RUN_ID": run,
    })
    yield env
    delete_run_topics(env, run)


def delete_run_topics(env: dict[str, str], run: str) -> None:
    """Delete every topic the run created (articles, hand-over, tag and watch streams,
    Faust's own): left behind, each test's partitions piled up on a developer's stack, every
    one with its preallocated, mapped index files. Best effort: a test that stopped Kafka
    must still report its own result."""
    bootstrap = env.get("NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    except KafkaError as exc:
        warnings.warn(f"topics of run {run} not deleted: {exc}", stacklevel=1)
        return
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"e2e-{run}")]
        if mine:
            admin.delete_topics(mine)
    except KafkaError as exc:
        warnings.warn(f"topics of run {run} not deleted: {exc}", stacklevel=1)
    finally:
        admin.close()


@pytest.fixture
def es(newsflow_env: dict[str, str]) -> Iterator[Elasticsearch]:
    client = Elasticsearch(ES_URL, request_timeout=30)
    yield client
    alias = newsflow_env["NEWSFLOW_ELASTICSEARCH__ALIAS"]
    client.options(ignore_status=404).indices.delete(index=f"{alias}-*")
    client.options(ignore_status=404).indices.delete_index_template(
        name=newsflow_env["NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME"]
    )
    client.close()


def run_newsflow(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSFLOW, *args], env=env, text=True, capture_output=True, timeout=timeout
    )


@pytest.fixture
def start_worker(
    newsflow_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `newsflow worker` processes; each is stopped with SIGTERM at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [*NEWSFLOW, "worker", *args], env=env or newsflow_env, text=True,
            stdout=log, stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
