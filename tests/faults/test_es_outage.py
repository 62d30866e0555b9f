"""Fault (c): Elasticsearch stopped for 30 s mid-stream (SIGTERM to its pid), then brought
back with `newsflow stack up`. The worker must say what it waits for, hold its batch
without committing, and carry on by itself once Elasticsearch answers again: every article
indexed once and on its tag streams, none twice on a stream (the held batch is forwarded
only after Elasticsearch acknowledged it)."""

from __future__ import annotations

import time

import pytest

from bench.e2e.wire import make_items
from tests.faults.harness import Pipeline, report, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ARTICLES = 240
OUTAGE_S = 30.0


def test_elasticsearch_down_for_30s_loses_nothing(pipeline: Pipeline) -> None:
    items = make_items(ARTICLES, run=pipeline.run)
    pipeline.add(items[:80])
    pipeline.start_poller()
    worker = pipeline.start_worker("--batch-size", "20", "--within", "0.5")
    pipeline.wait_ready(worker)
    pipeline.add(items[80:160])
    pipeline.wait_indexed(40, 120)

    indexed_at_stop = pipeline.indexed_count()
    pipeline.stack.stop_es()
    stopped = time.monotonic()
    pipeline.add(items[160:])  # keep arriving during the outage

    def says_what_it_waits_for() -> bool:
        return "waiting for elasticsearch" in pipeline.log_of(worker)

    wait_for(says_what_it_waits_for, OUTAGE_S, "the worker to say it waits for Elasticsearch")
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
    assert worker.poll() is None, "the worker must wait, not exit"

    up = pipeline.stack.up()
    assert "Kafka already running" in up.stderr, "stack up must restart only what is down"
    back = time.monotonic()
    pipeline.wait_complete(240)
    recovered_s = time.monotonic() - back

    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - stopped
    log = pipeline.log_of(worker)
    outcome.notes.update(indexed_at_stop=indexed_at_stop, outage_s=round(back - stopped, 1),
                         recovered_after_up_s=round(recovered_s, 1),
                         retries_logged=log.count("waiting for elasticsearch"))
    report("elasticsearch-stopped-30s", outcome)
    outcome.assert_exactly_once(max_tag_duplicates=0)
    assert worker.poll() is None, "the same worker carries on"
    assert "after retries" in log, "the worker must say when Elasticsearch answered again"
