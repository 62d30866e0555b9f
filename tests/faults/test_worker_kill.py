"""Fault (b): the worker SIGKILLed mid-stream, while batches are being indexed and forwarded,
then restarted. Nothing may be lost; Kafka delivers the uncommitted batch again, the
idempotent _id absorbs the repeat in Elasticsearch, and the only duplicates allowed on the
tag streams are of the articles that were delivered again."""

from __future__ import annotations

import time

import pytest

from bench.e2e.wire import make_items
from tests.faults.harness import Pipeline, report, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ARTICLES = 240
BATCH = ["--batch-size", "20", "--within", "0.5"]


def test_worker_sigkilled_mid_batch_loses_nothing(pipeline: Pipeline) -> None:
    items = make_items(ARTICLES, run=pipeline.run)
    pipeline.add(items[:80])
    pipeline.start_poller()
    worker = pipeline.start_worker(*BATCH)
    pipeline.wait_ready(worker)
    pipeline.add(items[80:160])

    # Kill the moment a bulk has just landed: the batch's tag messages and the offset commit
    # (Faust commits every few seconds) are still to come.
    before = pipeline.indexed_count()
    wait_for(lambda: pipeline.indexed_count() > max(before, 40), 120,
             "the worker to be indexing", every=0.1)
    pipeline.kill(worker)
    killed_at = time.monotonic()
    indexed_at_kill = pipeline.indexed_count()
    assert indexed_at_kill < ARTICLES, "the kill came too late to be mid-stream"

    pipeline.add(items[160:])
    restarted = pipeline.start_worker(*BATCH)
    ready_s = pipeline.wait_ready(restarted)
    pipeline.wait_complete(240)
    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - killed_at
    outcome.notes.update(indexed_at_kill=indexed_at_kill, restart_ready_s=round(ready_s, 1))
    report("worker-sigkill", outcome)
    outcome.assert_exactly_once(duplicates_from_redelivery=True)
    assert restarted.poll() is None, "the restarted worker must still be running"


def test_ordered_process_sigkilled_mid_batch_loses_nothing(pipeline: Pipeline) -> None:
    """The split deployment (`--role enrich` workers, one `--role ordered` process): the
    ordered process killed mid-stream while the enrich worker goes on handing over; its
    restart picks up news.enriched where the last commit left it."""
    items = make_items(ARTICLES, run=pipeline.run)
    pipeline.add(items[:80])
    pipeline.start_poller()
    enrich = pipeline.start_worker("--role", "enrich", *BATCH)
    ordered = pipeline.start_worker("--role", "ordered", *BATCH)
    pipeline.wait_ready(enrich)
    pipeline.wait_ready(ordered)
    pipeline.add(items[80:160])

    before = pipeline.indexed_count()
    wait_for(lambda: pipeline.indexed_count() > max(before, 40), 120,
             "the ordered process to be indexing", every=0.1)
    pipeline.kill(ordered)
    killed_at = time.monotonic()
    indexed_at_kill = pipeline.indexed_count()
    assert indexed_at_kill < ARTICLES, "the kill came too late to be mid-stream"

    pipeline.add(items[160:])
    restarted = pipeline.start_worker("--role", "ordered", *BATCH)
    ready_s = pipeline.wait_ready(restarted)
    pipeline.wait_complete(240)
    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - killed_at
    outcome.notes.update(indexed_at_kill=indexed_at_kill, restart_ready_s=round(ready_s, 1))
    report("ordered-sigkill", outcome)
    outcome.assert_exactly_once(duplicates_from_redelivery=True)
    assert restarted.poll() is None and enrich.poll() is None, "both must still be running"
    assert pipeline.worker_status(enrich)["batches"]["index"]["count"] == 0
