"""A poll that changes only a feed's schedule (a 304 after a 304) is kept in memory and
written at most every ``schedule_save_interval_s``, at shutdown and when the feed is handed
over; anything else a poll changes is written at once (ingest/state.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ingest import state as state_module
from ingest.feeds import FeedSpec
from ingest.poller import Poller
from ingest.schedule import Policy, after_failure, after_success
from ingest.state import (
    SCHEDULE_FIELDS,
    AsyncStateStore,
    FeedState,
    StateStore,
    only_schedule_differs,
)
from newsflow.settings import PollerSettings
from tests.unit.ingest.test_poller import FakeFetcher, FakeSink, InlineParser, not_modified, ok, rss

URL = "https://f.example/rss"
NOW = 1_780_000_000.0
POLICY = Policy(min_interval_s=60.0)


def polled(status: int = 304) -> FeedState:
    """A healthy feed whose last poll answered ``status``."""
    state = FeedState(url=URL, etag='"e1"', seen={"a" * 32: int(NOW) - 600})
    return after_success(state, NOW - 120, POLICY, status=status, etag='"e1"')


def changed_fields(before: FeedState, after: FeedState) -> set[str]:
    return {name for name in FeedState.model_fields
            if getattr(before, name) != getattr(after, name)}


def test_a_304_after_a_304_changes_only_the_schedule_fields() -> None:
    before = polled(304)
    after = after_success(before.model_copy(deep=True), NOW, POLICY, status=304)
    assert changed_fields(before, after) and changed_fields(before, after) <= SCHEDULE_FIELDS
    assert only_schedule_differs(before, after)


@pytest.mark.parametrize("poll", [
    pytest.param(lambda s: after_success(s, NOW, POLICY, status=304), id="304 after a 200"),
    pytest.param(lambda s: after_success(s, NOW, POLICY, status=200, new_ids=["b" * 32]),
                 id="new articles"),
    pytest.param(lambda s: after_failure(s, NOW, POLICY, "HTTP 503", status=503),
                 id="a failure"),
])
def test_any_other_poll_changes_more_than_the_schedule(poll) -> None:  # type: ignore[no-untyped-def]
    before = polled(200)
    after = poll(before.model_copy(deep=True))
    assert not only_schedule_differs(before, after)


def test_a_schedule_change_stays_in_memory_until_flushed(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", polled())
    on_disk = store.path("f").read_bytes()
    newer = after_success(store.load("f", URL), NOW, POLICY, status=304)
    assert store.defer_schedule("f", newer, every_s=60.0)
    assert store.path("f").read_bytes() == on_disk  # not written
    assert store.load("f", URL).next_poll_at == newer.next_poll_at  # but this store knows it
    assert StateStore(tmp_path).load("f", URL).next_poll_at < newer.next_poll_at  # the file
    assert store.flush() == 1
    assert StateStore(tmp_path).load("f", URL).next_poll_at == newer.next_poll_at
    assert store.flush() == 0  # nothing left to write


def test_material_changes_are_written_at_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", polled())
    for change in ({"etag": '"e2"'}, {"consecutive_failures": 1}, {"last_status": 200},
                   {"seen": {"b" * 32: int(NOW)}}, {"disabled_reason": "gone"}):
        state = store.load("f", URL).model_copy(update=change)
        assert not store.defer_schedule("f", state, every_s=60.0), change


def test_the_schedule_is_written_once_the_last_write_is_every_s_old(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(state_module.time, "monotonic", lambda: clock[0])
    store = StateStore(tmp_path)
    store.save("f", polled())
    on_disk = store.path("f").read_bytes()
    newer = after_success(store.load("f", URL), NOW, POLICY, status=304)
    states = AsyncStateStore(store)  # the poller's way in
    clock[0] += 59.0
    asyncio.run(states.save_schedule("f", newer, every_s=60.0))
    assert store.path("f").read_bytes() == on_disk  # kept in memory
    clock[0] += 1.0
    asyncio.run(states.save_schedule("f", newer, every_s=60.0))
    assert StateStore(tmp_path).load("f", URL).next_poll_at == newer.next_poll_at


def test_nothing_is_kept_when_every_s_is_zero_or_the_store_never_wrote_the_feed(
        tmp_path: Path) -> None:
    StateStore(tmp_path).save("f", polled())  # another process wrote it
    store = StateStore(tmp_path)
    newer = after_success(store.load("f", URL), NOW, POLICY, status=304)
    assert not store.defer_schedule("f", newer, every_s=60.0)
    store.save("f", newer)
    newest = after_success(store.load("f", URL), NOW + 60, POLICY, status=304)
    assert not store.defer_schedule("f", newest, every_s=0.0)


def test_flush_leaves_another_writers_state_alone(tmp_path: Path) -> None:
    mine, theirs = StateStore(tmp_path), StateStore(tmp_path)
    mine.save("f", polled())
    assert mine.defer_schedule("f", after_success(mine.load("f", URL), NOW, POLICY,
                                                  status=304), every_s=60.0)
    taken_over = polled().model_copy(update={"etag": '"theirs"'})
    theirs.save("f", taken_over)
    assert mine.flush() == 0
    assert StateStore(tmp_path).load("f", URL).etag == '"theirs"'
    assert mine.load("f", URL).etag == '"theirs"'


# -- the poller ----------------------------------------------------------------------------

def poller_of_one_feed(tmp_path: Path, every_s: float
                       ) -> tuple[Poller, StateStore, list[float]]:
    """A poller of one feed whose next fetches answer a 200, a 304 and a 304; its clock."""
    clock, fetcher = [NOW], FakeFetcher()
    fetcher.add(URL, ok(URL, rss("https://n.example/1"), '"e1"'), not_modified(URL),
                not_modified(URL))
    store = StateStore(tmp_path)
    settings = PollerSettings.model_validate({"min_host_gap_s": 0.0,
                                              "schedule_save_interval_s": every_s})
    p = Poller(settings, [FeedSpec(url=URL)], fetcher=fetcher, parser=InlineParser(),
               sink=FakeSink(), store=store, clock=lambda: clock[0])
    return p, store, clock


def file_state(tmp_path: Path) -> FeedState:
    return StateStore(tmp_path).load(FeedSpec(url=URL).id, URL)


async def poll_three_times(p: Poller, clock: list[float]) -> None:
    """The 200, then the two 304s, ten seconds apart: the last one moves only the schedule."""
    for _ in range(3):
        await p.run_once()
        clock[0] += 10.0


def test_the_poller_writes_a_second_304_at_shutdown(tmp_path: Path) -> None:
    p, store, clock = poller_of_one_feed(tmp_path, every_s=60.0)

    async def go() -> None:
        await poll_three_times(p, clock)
        # The 200 and the first 304 (its status changed) were written; the second was not.
        assert file_state(tmp_path).last_poll_at == NOW + 10.0
        assert store.load(FeedSpec(url=URL).id, URL).last_poll_at == NOW + 20.0
        await p.shutdown()

    asyncio.run(go())
    assert file_state(tmp_path).last_poll_at == NOW + 20.0


def test_the_poller_writes_a_feed_it_hands_over(tmp_path: Path) -> None:
    p, _store, clock = poller_of_one_feed(tmp_path, every_s=60.0)

    async def go() -> None:
        await poll_three_times(p, clock)
        assert file_state(tmp_path).last_poll_at == NOW + 10.0
        await p.release([FeedSpec(url=URL).id])

    asyncio.run(go())
    assert file_state(tmp_path).last_poll_at == NOW + 20.0


def test_with_a_zero_interval_every_poll_is_written(tmp_path: Path) -> None:
    p, _store, clock = poller_of_one_feed(tmp_path, every_s=0.0)
    asyncio.run(poll_three_times(p, clock))
    assert file_state(tmp_path).last_poll_at == NOW + 20.0
