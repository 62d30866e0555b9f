"""The worker's machine-readable status: readiness by part, batch progress, and the HTTP
server that serves them with the Prometheus metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport
from processors.service.status import WorkerStatus

AT = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_ready_only_when_every_part_reported_and_on_ready_runs_once() -> None:
    calls: list[int] = []
    status = WorkerStatus(on_ready=lambda: calls.append(1))
    status.mark("enricher", "taxonomy_version=1.3.0")
    status.mark("index")
    assert not status.ready
    assert status.as_dict()["waiting_for"] == ["partitions"]
    status.mark("partitions")
    status.mark("partitions")  # a rebalance reports again
    body = status.as_dict()
    assert body["ready"] and body["waiting_for"] == [] and calls == [1]
    assert body["details"] == {"enricher": "taxonomy_version=1.3.0"}


@pytest.mark.parametrize(("role", "needed"), [
    ("enrich", ["partitions", "enricher"]),
    ("ordered", ["partitions", "index"]),
    ("all", ["partitions", "enricher", "index"]),
])
def test_a_one_stage_worker_waits_only_for_what_its_stage_needs(
    role: str, needed: list[str]
) -> None:
    status = WorkerStatus(role=role)
    body = status.as_dict()
    assert body["role"] == role and body["waiting_for"] == needed
    for part in needed[:-1]:
        status.mark(part)
    assert not status.ready
    status.mark(needed[-1])
    assert status.ready and status.as_dict()["waiting_for"] == []


def test_batches_accumulate_per_stage_and_partitions_are_the_latest_assignment() -> None:
    status = WorkerStatus()
    status.record("enrich", BatchReport(received=5, enriched=3, duplicates=1,
                                        dead_letters=1), AT)
    status.record("index", BatchReport(received=3, indexed=3, stories=3, tag_messages=2), AT)
    status.record("index", BatchReport(received=2, indexed=2, retries=1),
                  AT.replace(minute=1))
    status.assigned(["news.articles[3]", "news.articles[1]"])
    status.assigned(["news.articles[0]"])
    batches = status.as_dict()["batches"]
    assert batches["enrich"] == {"count": 1, "received": 5, "enriched": 3, "indexed": 0,
                                 "stories": 0, "alerts": 0, "duplicates": 1, "dead_letters": 1,
                                 "tag_messages": 0, "watch_messages": 0, "retries": 0,
                                 "last_at": "2026-12-03T10:00:00+00:00"}
    assert batches["index"] == {"count": 2, "received": 5, "enriched": 0, "indexed": 5,
                                "stories": 3, "alerts": 0, "duplicates": 0, "dead_letters": 0,
                                "tag_messages": 2, "watch_messages": 0, "retries": 1,
                                "last_at": "2026-12-03T10:01:00+00:00"}
    assert status.as_dict()["partitions"] == ["news.articles[0]"]


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
def served() -> Any:
    metrics = ProcessorMetrics()
    status = WorkerStatus(on_ready=lambda: metrics.ready.set(1))
    server = metrics.serve(0, status=status.as_dict)
    try:
        yield metrics, status, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_server_answers_readyz_503_then_200_and_status_json(served: Any) -> None:
    metrics, status, port = served
    code, kind, body = _get(port, "/readyz")
    assert code == 503 and kind == "application/json"
    assert json.loads(body)["waiting_for"] == list(WorkerStatus.PARTS)
    for part in WorkerStatus.PARTS:
        status.mark(part)
    assert _get(port, "/readyz")[0] == 200
    status.record("index", BatchReport(received=4, indexed=4), AT)
    assert json.loads(_get(port, "/status")[2])["batches"]["index"]["indexed"] == 4
    code, _, text = _get(port, "/metrics")
    assert code == 200 and b"newsflow_processors_ready 1.0" in text
    # The process's own CPU, beside what its threads count by work (cpu_seconds_total).
    assert b"\nprocess_cpu_seconds_total " in text
    assert b'newsflow_processors_cpu_seconds_total{work="enrich"}' not in text  # none yet
    metrics.cpu_seconds.labels("enrich").inc(0.5)
    assert b'newsflow_processors_cpu_seconds_total{work="enrich"} 0.5' in _get(port,
                                                                             "/metrics")[2]
    assert _get(port, "/elsewhere")[0] == 404


def test_server_without_status_serves_only_metrics() -> None:
    server = ProcessorMetrics().serve(0)
    try:
        port = server.server_address[1]
        assert _get(port, "/metrics")[0] == 200
        assert _get(port, "/status")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
