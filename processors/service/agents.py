"""The two agents: news.articles -> enrich -> news.enriched, and news.enriched -> stories ->
Elasticsearch -> news.tag.<tag>.

Each agent is a short loop over ``stream.take_events(n, within=s)``; each batch goes through
its handler (enrich_batches.EnrichBatchHandler: decode, enrich, hand over;
batches.BatchHandler: decode, stories, index, forward; all acknowledged), and only then does
the stream advance.

Offsets: Faust acks the events of a take() batch in a ``finally`` when the generator resumes,
which also runs when the agent raises or is cancelled (shutdown, rebalance). To commit only
after Elasticsearch acknowledged, the agent holds one extra reference on each message of the
batch and drops it only when the batch is done; an abandoned batch therefore never reaches
refcount 0, is never marked acked and is never committed: Kafka delivers it again and the
idempotent _id absorbs the repeat. See processors/README.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from processors.service.batches import BatchHandler
from processors.service.enrich_batches import EnrichBatchHandler
from processors.service.ports import BatchReport, Received

if TYPE_CHECKING:
    import faust

    from processors.service.topics import Topics

__all__ = [
    "ENVELOPES_PER_ORDERED_BATCH",
    "hold",
    "received_from_event",
    "register_agents",
    "release",
]

logger = logging.getLogger(__name__)

# Messages per take of the ordered stage. Two workers hand over an envelope per enrich batch
# each; four envelopes bound an ordered batch to about four enrich batches.
ENVELOPES_PER_ORDERED_BATCH = 4
# How long the ordered stage waits for more envelopes before it starts a batch. An envelope
# is a batch already (the enrich stage waited to fill it), and the envelopes that arrived
# while the previous batch ran are in the take buffer already, so a longer wait only adds
# latency: take() starts its wait after each batch, whatever the buffer holds. At 100
# articles/s the enrich stage's 0.25 s here put p95 poll -> searchable at 1.53-2.77 s in
# eight runs; 0.05 s gave 1.18-1.65 s in four, at no measured CPU cost (bench/RESULTS.md,
# 2026-12-04).
ORDERED_WITHIN_S = 0.05


# -- the Faust agent ----------------------------------------------------------------------


def hold(events: Sequence[Any]) -> list[Any]:
    """One extra reference on each message, so take()'s own acks cannot complete them."""
    messages = [event.message for event in events]
    for message in messages:
        message.incref()
    return messages


def release(messages: Sequence[Any]) -> None:
    """Drop the hold; take() acks (and the consumer may commit) when the stream advances."""
    for message in messages:
        message.decref()


def received_from_event(event: Any) -> Received:
    message = event.message
    return Received(message.topic, message.partition, message.offset, message.key, message.value)


def register_agents(
    app: faust.App,
    topics: Topics,
    enrich: EnrichBatchHandler | None,
    ordered: BatchHandler | None,
    *,
    batch_size: int,
    within_s: float,
    on_batch: Callable[[str, BatchReport], None] | None = None,
) -> list[faust.types.AgentT[bytes]]:
    """The two agents: enrich (news.articles, a partition per worker) and the ordered stage
    (news.enriched, one partition: stories, index, tag streams). A worker running one stage
    (settings: role) passes None for the other: it does not subscribe to that topic, and the
    group gives that topic's partitions to the members that do."""
    from mode import CrashingSupervisor

    def agent(topic: Any, name: str, stage: str, handle: Callable[[list[Received]], Any],
              take: int, within: float) -> faust.types.AgentT[bytes]:
        # A crash stops the worker (the held batch stays uncommitted) instead of restarting
        # an actor that would go on past it: Faust would then commit over the gap (README).
        @app.agent(topic, name=name, supervisor_strategy=CrashingSupervisor)
        async def run(stream: faust.StreamT[bytes]) -> None:
            # take_events is faust-streaming's (not in the StreamT protocol's stubs).
            async for events in stream.take_events(  # type: ignore[attr-defined]
                take, within=within
            ):
                held = hold(events)
                report: BatchReport = await handle([received_from_event(e) for e in events])
                release(held)
                logger.info(
                    "batch done stage=%s received=%d enriched=%d indexed=%d duplicates=%d "
                    "dead_letters=%d tag_messages=%d retries=%d",
                    stage, report.received, report.enriched, report.indexed,
                    report.duplicates, report.dead_letters, report.tag_messages,
                    report.retries,
                )
                if on_batch is not None:
                    on_batch(stage, report)

        return run

    agents = []
    if enrich is not None:
        agents.append(agent(topics.articles, "newsflow.enrich-articles", "enrich",
                            enrich.handle, batch_size, within_s))
    if ordered is not None:
        # An enriched message is a hand-over envelope of up to batch_size articles: a few of
        # them make an ordered batch of the same order of size as an enrich batch.
        agents.append(agent(topics.enriched, "newsflow.index-articles", "index",
                            ordered.handle, ENVELOPES_PER_ORDERED_BATCH,
                            min(within_s, ORDERED_WITHIN_S)))
    return agents
