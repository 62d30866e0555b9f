"""Keeping the poller in line with the world: which feeds it polls, and what interrupted
polls did produce.

- ``Roster``: the feeds this poller polls, the feed list less the feeds it does not own (a
  group assigns a share) or that are switched off. Each feed it starts on gets a new
  generation; queued work of an older generation (a feed released, removed or rescheduled
  since) is stale and skipped. Pure: the poller does the loading and scheduling.
- ``recover``: a poll that died between Kafka's acknowledgement and its state save left
  ``publishing_since`` set in the feed state; the articles topic is read from that moment
  to learn which of its articles did arrive, and those are marked seen, so that they are
  not produced twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable

from ingest.feeds import FeedSpec
from ingest.schedule import recovered
from ingest.state import AsyncStateStore

__all__ = ["RECOVERY_MARGIN_S", "Recovery", "Roster", "recover"]

log = logging.getLogger(__name__)

# (since epoch s, feed urls) -> {feed url: article ids found on the topic}; blocking.
Recovery = Callable[[float, set[str]], dict[str, set[str]]]
RECOVERY_MARGIN_S = 5.0  # producer clocks vs. the marker's clock


class Roster:
    """The wanted feeds (enabled, owned) and the generation of each one being polled."""

    def __init__(self, feeds: Iterable[FeedSpec]) -> None:
        self.feeds: dict[str, FeedSpec] = {}
        self.owned: Callable[[str], bool] = lambda _fid: True
        self.active: dict[str, int] = {}  # feed id -> generation
        self._seq = itertools.count()
        self.set_feeds(feeds)

    def set_feeds(self, feeds: Iterable[FeedSpec]) -> None:
        self.feeds = {spec.id: spec for spec in feeds}

    def wanted(self) -> set[str]:
        return {fid for fid, spec in self.feeds.items() if spec.enabled and self.owned(fid)}

    def reconcile(self) -> list[tuple[FeedSpec, int]]:
        """Drop the feeds no longer wanted; start the wanted ones not yet active, each with a
        new generation, and return those (the caller loads their state and schedules)."""
        wanted = self.wanted()
        for fid in list(self.active):
            if fid not in wanted:
                del self.active[fid]
        started = []
        for fid in sorted(wanted - self.active.keys()):
            self.active[fid] = gen = next(self._seq)
            started.append((self.feeds[fid], gen))
        return started

    def is_current(self, feed_id: str, generation: int) -> bool:
        return self.active.get(feed_id) == generation

    def drop(self, feed_ids: Iterable[str], generation: int | None = None) -> None:
        """Stop polling these feeds (only if still at ``generation``, when given)."""
        for fid in feed_ids:
            if generation is None or self.active.get(fid) == generation:
                self.active.pop(fid, None)


async def recover(states: AsyncStateStore, read_topic: Recovery | None,
                  specs: Iterable[FeedSpec], now: float) -> int:
    """Mark as seen what interrupted polls of these feeds did produce; returns how many."""
    specs = list(specs)
    loaded = await states.load_many((s.id, s.url) for s in specs)
    marked = [(s, st) for s, st in zip(specs, loaded, strict=True)
              if st.publishing_since is not None]
    if not marked or read_topic is None:  # no read_topic: e.g. a dry run, nothing produced
        return 0
    since = min(st.publishing_since or 0.0 for _, st in marked) - RECOVERY_MARGIN_S
    urls = {s.url for s, _ in marked}
    found = await asyncio.get_running_loop().run_in_executor(None, read_topic, since, urls)

    def apply() -> int:
        total = 0
        for spec, _ in marked:
            state = states.store.load(spec.id, spec.url)  # fresh: the marker may be gone
            ids = found.get(spec.url, set())
            total += len(ids - state.seen.keys())
            states.store.save(spec.id, recovered(state, ids, now))
            log.info("recovered interrupted poll url=%s found_on_topic=%s", spec.url, len(ids))
        return total

    return await states.run(apply)
