"""Per-feed state (validators, seen ids, schedule, health) and its persistence.

One JSON file per feed, ``<state_dir>/feeds/<feed id>.json``, replaced atomically (write a
temporary file, then rename), so a poller killed at any point leaves either the old or the
new state, never half of one. Pollers that share a state directory share the feeds' state:
that is what lets one take over another's feeds without re-publishing them.

The poller saves a feed's state only after Kafka acknowledged the feed's new articles.
``StateStore`` remembers the last state it saved for each feed with the exact bytes it
wrote (a bounded cache): a load whose file holds those same bytes gets a copy of that
state instead of decoding the JSON again (~0.1 ms for 150 seen ids, ~0.4 ms for 2,000);
any other bytes (another poller saved, an edit, a corrupt file) are decoded as always, so
the file stays the truth.
A poll that found nothing new (a 304) changes only the feed's schedule (when it was last
and is next polled, its adapted interval and rate). Writing the file for that alone is most
of what an unchanged poll costs the poller (the write, the rename, their system calls: ~0.6
ms of ~3 ms per 304 at 50 feeds polled every second, bench/e2e), so ``defer_schedule``
keeps such a state in memory instead, and loads return it, until the file is ``every_s``
old or something besides the schedule changes; ``flush`` writes what was kept (the poller
does at shutdown and before it hands feeds to another poller). A poller that dies loses at
most ``every_s`` of its feeds' schedules: each such feed is polled once earlier than it
would have been, a conditional GET. The poller's setting is ``schedule_save_interval_s``.
``StateStore`` is plain blocking file I/O (the CLI's ``feeds`` commands use it as is);
the poller goes through ``AsyncStateStore``, which runs every read and write in a thread
pool: a rename over an existing file makes ext4 flush the data first (~1 ms), which on the
event loop would stall every other poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from newsflow.errors import ConfigError

__all__ = ["AsyncStateStore", "FeedState", "StateStore"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

STATE_VERSION = 1


class FeedState(BaseModel):
    """Everything the poller remembers about one feed. Times are Unix epoch seconds."""

    version: int = STATE_VERSION
    url: str
    etag: str | None = None
    last_modified: str | None = None
    seen: dict[str, int] = Field(default_factory=dict)  # article id -> first seen (epoch s)
    # Schedule.
    interval_s: float | None = None
    rate_per_s: float | None = None  # smoothed rate of new items
    next_poll_at: float = 0.0
    last_poll_at: float | None = None
    # Health.
    last_status: int | None = None
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    last_problem: str | None = None  # a recoverable parse problem (kept entries)
    permanent_redirect: str | None = None
    # The host's Retry-After (429/503) from this feed's last poll, as a time: no request
    # goes to the host before it, for any of its feeds, in this run or the next one.
    host_retry_at: float | None = None
    # Set (and saved) just before new articles are produced, cleared with the state save
    # that follows the acknowledgement: when found set, a poller died in between, and the
    # topic is read back from this time to learn which of them did reach Kafka.
    publishing_since: float | None = None
    items_seen: int = 0  # articles produced over the feed's life
    new_items: list[tuple[float, int]] = Field(default_factory=list)  # (when, how many), 24 h
    saved_at: float = 0.0

    @property
    def status(self) -> str:
        if self.disabled_reason:
            return "disabled"
        if self.last_poll_at is None:
            return "new"
        if self.consecutive_failures:
            return "failing"
        return "ok"

    def new_in_last(self, now: float, seconds: float = 86_400.0) -> int:
        return sum(n for when, n in self.new_items if when >= now - seconds)


# What a poll that found the feed unchanged changes (schedule.after_success with a 304), and
# when the state was written. Any other field that differs makes a state worth writing.
SCHEDULE_FIELDS = frozenset({"next_poll_at", "last_poll_at", "last_success_at", "interval_s",
                             "rate_per_s", "saved_at"})
_MATERIAL_FIELDS = tuple(name for name in FeedState.model_fields if name not in SCHEDULE_FIELDS)


def only_schedule_differs(before: FeedState, after: FeedState) -> bool:
    """True when ``after`` differs from ``before`` in its schedule fields alone."""
    return all(getattr(before, name) == getattr(after, name) for name in _MATERIAL_FIELDS)


def _copy(state: FeedState) -> FeedState:
    """A copy that shares nothing mutable with ``state`` (its other fields are immutable)."""
    copy = state.model_copy()
    copy.seen = dict(state.seen)
    copy.new_items = list(state.new_items)
    return copy


# How many bytes of state files the store keeps decoded in memory (the most recently saved
# feeds'); the decoded objects take a few times that. Enough for every feed of a poller
# that polls a few hundred busy ones every few seconds, where decoding costs the most.
SAVED_CACHE_BYTES = 32 * 1024 * 1024


@dataclass
class _Saved:
    data: bytes  # the bytes this store last wrote to the feed's file
    written: FeedState  # the state they encode (a private copy)
    written_at: float  # time.monotonic() of that write
    latest: FeedState | None = None  # newer, only its schedule differs, not written yet


class StateStore:
    """Feed states as files under ``root``. Cheap enough to save after every poll."""

    def __init__(self, root: Path, *, cache_bytes: int = SAVED_CACHE_BYTES) -> None:
        self.root = Path(root)
        self._dir = self.root / "feeds"
        # feed id -> what this store last wrote (and a newer schedule not written yet)
        self._saved: OrderedDict[str, _Saved] = OrderedDict()
        self._saved_bytes = 0
        self._cache_bytes = cache_bytes
        self._lock = threading.Lock()  # loads and saves run on a thread pool
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the poller state directory {self._dir}: "
                              f"{exc.strerror}") from exc

    def path(self, feed_id: str) -> Path:
        return self._dir / f"{feed_id}.json"

    def load(self, feed_id: str, url: str) -> FeedState:
        """The stored state, or a fresh one (a corrupt file is moved aside, not trusted)."""
        path = self.path(feed_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return FeedState(url=url)
        with self._lock:
            saved = self._saved.get(feed_id)
        if saved is not None and saved.data == raw:
            # The file holds exactly what this store last wrote: that state (or its newer
            # schedule), not decoded.
            state = _copy(saved.latest or saved.written)
            if state.url != url:
                state.url = url
            return state
        try:
            state = FeedState.model_validate_json(raw)
        except ValidationError as exc:
            aside = path.with_suffix(f".corrupt-{int(time.time())}")
            path.replace(aside)
            log.warning("feed state unreadable url=%s file=%s moved_to=%s error=%s",
                        url, path, aside, exc.errors()[:1])
            return FeedState(url=url)
        if state.url != url:
            state.url = url
        return state

    def save(self, feed_id: str, state: FeedState) -> None:
        state.saved_at = time.time()
        path = self.path(feed_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        data = state.model_dump_json().encode("utf-8")
        tmp.write_bytes(data)
        tmp.replace(path)
        self._remember(feed_id, data, _copy(state))

    def defer_schedule(self, feed_id: str, state: FeedState, every_s: float) -> bool:
        """Keep ``state`` in memory instead of writing it, if it differs from the state this
        store last wrote only in its schedule and that write is under ``every_s`` old.

        True: kept (loads return it while the file holds that last write; ``flush`` writes
        it). False: the caller saves it as usual.
        """
        if every_s <= 0:
            return False
        with self._lock:
            saved = self._saved.get(feed_id)
            if (saved is None or time.monotonic() - saved.written_at >= every_s
                    or not only_schedule_differs(saved.written, state)):
                return False
            saved.latest = _copy(state)
            return True

    def flush(self, feed_ids: Iterable[str] | None = None) -> int:
        """Write the schedules kept in memory (of these feeds; default all); how many.

        One whose file no longer holds this store's last write is dropped, not written:
        another writer (a poller that took the feed over, an edit) has the newer state.
        """
        wanted = None if feed_ids is None else set(feed_ids)
        with self._lock:
            pending = [(fid, saved) for fid, saved in self._saved.items()
                       if saved.latest is not None and (wanted is None or fid in wanted)]
        written = 0
        for feed_id, saved in pending:
            try:
                unchanged = self.path(feed_id).read_bytes() == saved.data
            except FileNotFoundError:
                unchanged = False
            if unchanged and saved.latest is not None:
                self.save(feed_id, saved.latest)
                written += 1
            else:
                saved.latest = None
        return written

    def deferred(self) -> int:
        """How many feeds' latest schedule is held in memory, not written yet (lost if the
        process dies: each of those feeds is then polled once early)."""
        with self._lock:
            return sum(1 for saved in self._saved.values() if saved.latest is not None)

    def _remember(self, feed_id: str, data: bytes, state: FeedState) -> None:
        with self._lock:
            old = self._saved.pop(feed_id, None)
            if old is not None:
                self._saved_bytes -= len(old.data)
            if len(data) > self._cache_bytes:
                return
            self._saved[feed_id] = _Saved(data, state, time.monotonic())
            self._saved_bytes += len(data)
            while self._saved_bytes > self._cache_bytes:
                # A schedule kept in memory goes with it: that feed is polled on the one
                # its file holds, a little earlier than it would have been.
                _fid, dropped = self._saved.popitem(last=False)
                self._saved_bytes -= len(dropped.data)

    def items(self) -> Iterator[tuple[str, FeedState]]:
        for path in sorted(self._dir.glob("*.json")):
            try:
                yield path.stem, FeedState.model_validate_json(path.read_bytes())
            except (ValidationError, OSError, json.JSONDecodeError):
                continue


class AsyncStateStore:
    """A StateStore for the event loop: every read and write runs in a thread pool.

    A pool of its own, so that state files never queue behind what else uses the loop's
    default executor (in-process parsing, the recovery read of the topic).
    """

    def __init__(self, store: StateStore, threads: int = 16) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed-state")

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in the pool: for work that reads many states at once."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def load(self, feed_id: str, url: str) -> FeedState:
        return await self.run(self.store.load, feed_id, url)

    async def load_many(self, feeds: Iterable[tuple[str, str]]) -> list[FeedState]:
        """The states of these (feed id, url) pairs, in order, in one trip to the pool."""
        pairs = list(feeds)
        return await self.run(lambda: [self.store.load(fid, url) for fid, url in pairs])

    async def save(self, feed_id: str, state: FeedState) -> None:
        await self.run(self.store.save, feed_id, state)

    async def save_schedule(self, feed_id: str, state: FeedState, every_s: float) -> bool:
        """``save``, unless ``StateStore.defer_schedule`` keeps the state in memory (then
        without a trip to the pool). True: kept in memory; False: written."""
        if self.store.defer_schedule(feed_id, state, every_s):
            return True
        await self.save(feed_id, state)
        return False

    async def flush(self, feed_ids: Iterable[str] | None = None) -> int:
        ids = None if feed_ids is None else list(feed_ids)
        return await self.run(self.store.flush, ids)
