"""Per-host lanes: the politeness rules for one host, written once. No I/O, no clock.

Feeds are grouped by host into lanes. A lane asks its host one thing at a time; after each
request the host rests ``min_host_gap_s``, or as long as it asked (Retry-After on a 429 or
503), which holds every feed of the host, not only the one that was refused. A Retry-After
kept in a feed's state (``FeedState.host_retry_at``) holds the lane when the feed joins it,
so the next run honours it too.

``next_step`` is a lane's one decision: poll the head feed now, wait, or, when there is a
deadline (a one-shot poll) that the wait would reach, defer instead of sleeping. Lanes are
independent: one host's rest never delays another host's feeds.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEADLINE_REACHED",
    "HOST_GAP",
    "RETRY_AFTER",
    "Defer",
    "Go",
    "HostLane",
    "Wait",
    "next_step",
]

# Why a feed was deferred (the summary's reason).
RETRY_AFTER = "the host asked to wait (Retry-After)"
HOST_GAP = "the host's gap between requests ends after the cycle deadline"
DEADLINE_REACHED = "not reached before the cycle deadline"


@dataclass(frozen=True)
class Go:
    """Poll the head feed now."""


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Defer:
    """Poll no more in this cycle; the lane's feeds are next due at ``due_at``."""

    due_at: float
    reason: str


Step = Go | Wait | Defer


def next_step(now: float, due: float, free_at: float, held_by: str,
              deadline: float | None = None) -> Step:
    """What a lane does about its head feed (``due`` then) while its host is free at
    ``free_at`` (rested because of ``held_by``); ``deadline``: the cycle's end, if any."""
    start = max(due, free_at)
    if deadline is None or max(start, now) < deadline:
        return Go() if start <= now else Wait(start - now)
    if free_at >= deadline and free_at >= due:
        return Defer(free_at, held_by)
    return Defer(max(start, now), DEADLINE_REACHED)


class HostLane:
    """The feeds of one host waiting for their turn, and when the host may next be asked.

    ``heap`` holds (due, generation, feed id); an entry whose generation is no longer the
    feed's current one (released, removed, rescheduled) is skipped. ``wake`` tells the
    lane's task (``task``) that its heap changed.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self.heap: list[tuple[float, int, str]] = []
        self.free_at = 0.0
        self.held_by = HOST_GAP  # why the host rests until free_at
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def push(self, due: float, generation: int, feed_id: str) -> None:
        heapq.heappush(self.heap, (due, generation, feed_id))
        self.wake.set()

    def hold(self, until: float | None) -> None:
        """The host asked (Retry-After, as kept in a feed state) not to be asked before."""
        if until is not None and until > self.free_at:
            self.free_at, self.held_by = until, RETRY_AFTER
            self.wake.set()

    def rest(self, now: float, min_gap_s: float, retry_after: float | None) -> None:
        """The host-gap rule: after a request that ended at ``now``, the host rests the
        gap, or as long as it asked; never less than a hold it is already under."""
        asked = retry_after is not None and retry_after > min_gap_s
        until = now + (retry_after if asked and retry_after is not None else min_gap_s)
        if until >= self.free_at:
            self.free_at, self.held_by = until, RETRY_AFTER if asked else HOST_GAP

    def head(self, current: Callable[[str, int], bool]) -> tuple[float, int, str] | None:
        """The next entry still current, dropping stale ones on the way."""
        while self.heap and not current(self.heap[0][2], self.heap[0][1]):
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None

    def pop(self) -> tuple[float, int, str]:
        return heapq.heappop(self.heap)

    def step(self, now: float, current: Callable[[str, int], bool],
             deadline: float | None = None) -> Step | None:
        """``next_step`` for the head entry; None when the lane has nothing to poll."""
        head = self.head(current)
        if head is None:
            return None
        return next_step(now, head[0], self.free_at, self.held_by, deadline)

    def drain(self, current: Callable[[str, int], bool]) -> list[str]:
        """Empty the lane; the ids of the feeds that were still waiting in it."""
        waiting = [fid for _due, gen, fid in sorted(self.heap) if current(fid, gen)]
        self.heap.clear()
        return waiting
