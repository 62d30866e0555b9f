"""Fault (a): the Kafka broker SIGKILLed mid-stream and restarted with `newsflow stack up`
(which restarts only what is down). Poller and worker reconnect by themselves; every
article is indexed once and is on each of its tag streams."""

from __future__ import annotations

import time

import pytest

from bench.e2e.wire import make_items
from tests.faults.harness import Pipeline, report

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ARTICLES = 240


def test_broker_sigkilled_and_restarted_loses_nothing(pipeline: Pipeline) -> None:
    items = make_items(ARTICLES, run=pipeline.run)
    pipeline.add(items[:80])
    poller = pipeline.start_poller()
    worker = pipeline.start_worker("--batch-size", "20", "--within", "0.5")
    pipeline.wait_ready(worker)
    pipeline.add(items[80:160])
    pipeline.wait_indexed(40, 120)

    log_lines_before = len(pipeline.log_of(worker).splitlines())
    pipeline.stack.kill_kafka()
    killed = time.monotonic()
    indexed_at_kill = pipeline.indexed_count()
    pipeline.add(items[160:])  # fetched by the poller while the broker is down
    time.sleep(5)

    up = pipeline.stack.up()
    assert "Elasticsearch already running" in up.stderr, "stack up must restart only Kafka"
    back = time.monotonic()
    # What the worker wrote while the broker was down (reported: client libraries' lines).
    outage_log = pipeline.log_of(worker).splitlines()[log_lines_before:]
    pipeline.wait_complete(300)
    recovered_s = time.monotonic() - back
    worker_log = pipeline.log_of(worker)

    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - killed
    waiting = [line for line in outage_log if "waiting for Kafka bootstrap_servers=" in line]
    outcome.notes.update(indexed_at_kill=indexed_at_kill, broker_down_s=round(back - killed, 1),
                         recovered_after_up_s=round(recovered_s, 1),
                         worker_log_lines_while_down=len(outage_log),
                         of_them_aiokafka=sum("aiokafka" in line for line in outage_log),
                         waiting_for_kafka_lines=len(waiting),
                         send_retries=worker_log.count("waiting for kafka: acknowledgement"))
    report("broker-sigkill", outcome)
    # At-least-once: an article the worker had indexed and forwarded but not committed when
    # the broker died is delivered again and forwarded again (Elasticsearch _version > 1).
    # No other duplicate is allowed: in particular a retry of a batch's tag messages after
    # the outage sends only those Kafka did not acknowledge.
    outcome.assert_exactly_once(duplicates_from_redelivery=True)
    assert poller.poll() is None and worker.poll() is None, "both reconnect by themselves"
    # The worker says what it waits for, in its own words, and the Kafka client's repeated
    # errors (~115 lines/s before they were collapsed) do not flood its log.
    assert waiting, "no 'waiting for Kafka' line while the broker was down"
    assert f"bootstrap_servers={pipeline.stack.bootstrap}" in waiting[0]
    assert len(outage_log) < 200, f"{len(outage_log)} log lines in {back - killed:.0f} s down"
    assert "Kafka is back bootstrap_servers=" in worker_log
