"""Fault (b): the worker SIGKILLed mid-stream, while batches are being indexed and forwarded,
then restarted (and the same for the ordered-stage process of a split deployment). Nothing
may be lost; Kafka delivers the uncommitted batch again, the idempotent _id absorbs the
repeat in Elasticsearch, and the only duplicates allowed on the tag streams are of the
articles that were delivered again."""

from __future__ import annotations

import subprocess
import time

import pytest

from bench.e2e.wire import make_items
from tests.faults.harness import Pipeline, report, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ARTICLES = 240
BATCH = ["--batch-size", "20", "--within", "0.5"]


# The processes started, by deployment, and which may be killed: the one worker running
# both stages; or (split roles, as on Kubernetes) the ordered-stage process while the enrich
# worker goes on handing over; or, with a second ordered process as a standby, whichever of
# the two owns news.enriched: the standby takes over, nothing is restarted.
DEPLOYMENTS = {
    "worker-sigkill": [("all", True)],
    "ordered-sigkill": [("enrich", False), ("ordered", True)],
    "ordered-standby-takeover": [("enrich", False), ("ordered", True), ("ordered", True)],
}


@pytest.mark.parametrize("fault", list(DEPLOYMENTS))
def test_worker_sigkilled_mid_batch_loses_nothing(pipeline: Pipeline, fault: str) -> None:
    items = make_items(ARTICLES, run=pipeline.run)
    pipeline.add(items[:80])
    pipeline.start_poller()
    started = [(role, killed, pipeline.start_worker("--role", role, *BATCH))
               for role, killed in DEPLOYMENTS[fault]]
    for _, _, worker in started:
        pipeline.wait_ready(worker)
    candidates = [(role, worker) for role, killable, worker in started if killable]

    def owner() -> tuple[str, subprocess.Popen[str]] | None:
        # The group's assignment settles after the last joiner; one candidate owns it.
        return next((c for c in candidates if pipeline.worker_status(c[1]).get("partitions")),
                    None)

    wait_for(lambda: owner() is not None, 60, "a killable process to own its partitions")
    victim_role, victim = owner() or candidates[0]
    standby = next((w for r, w in candidates if w is not victim and r == victim_role), None)
    pipeline.add(items[80:160])

    # Kill the moment a bulk has just landed: the batch's tag messages and the offset commit
    # (Faust commits every few seconds) are still to come.
    before = pipeline.indexed_count()
    wait_for(lambda: pipeline.indexed_count() > max(before, 40), 120,
             "the worker to be indexing", every=0.1)
    pipeline.kill(victim)
    killed_at = time.monotonic()
    indexed_at_kill = pipeline.indexed_count()
    assert indexed_at_kill < ARTICLES, "the kill came too late to be mid-stream"

    pipeline.add(items[160:])
    if standby is None:
        restarted = pipeline.start_worker("--role", victim_role, *BATCH)
        outcome_notes = {"restart_ready_s": round(pipeline.wait_ready(restarted), 1)}
    else:
        restarted = standby
        outcome_notes = {}
    pipeline.wait_complete(240)
    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - killed_at
    outcome.notes.update(indexed_at_kill=indexed_at_kill, **outcome_notes)
    report(fault, outcome)
    outcome.assert_exactly_once(duplicates_from_redelivery=True)
    survivors = {restarted, *(worker for _, _, worker in started if worker is not victim)}
    assert all(worker.poll() is None for worker in survivors), "all must still be running"
    if standby is not None:  # the standby took the partition over and did the rest
        assert pipeline.worker_status(standby)["partitions"]
        assert pipeline.worker_status(standby)["batches"]["index"]["indexed"] > 0
    for role, _, worker in started:
        if role == "enrich":  # an enrich-only worker never ran the ordered stage
            assert pipeline.worker_status(worker)["batches"]["index"]["count"] == 0
