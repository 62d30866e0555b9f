"""Which feeds a poller polls (Roster) and the recovery of interrupted polls."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ingest.feeds import FeedSpec
from ingest.reconcile import RECOVERY_MARGIN_S, Roster, recover
from ingest.state import AsyncStateStore, StateStore

A, B, C = (FeedSpec(url=f"https://{h}.example/rss") for h in "abc")
OFF = FeedSpec(url="https://off.example/rss", enabled=False)


def test_roster_starts_wanted_feeds_once_with_a_new_generation() -> None:
    roster = Roster([A, B, OFF])
    started = roster.reconcile()
    assert sorted(spec.url for spec, _ in started) == sorted([A.url, B.url])
    assert roster.reconcile() == []  # already active
    gen_a = roster.active[A.id]
    assert roster.is_current(A.id, gen_a) and not roster.is_current(A.id, gen_a + 100)

    roster.owned = lambda fid: fid != B.id  # the group took B away
    assert roster.reconcile() == [] and B.id not in roster.active

    roster.set_feeds([A, C])
    assert [spec for spec, _ in roster.reconcile()] == [C]
    roster.drop([A.id], gen_a + 1)  # an older caller's generation: A stays
    assert roster.is_current(A.id, gen_a)
    roster.drop([A.id])
    assert A.id not in roster.active
    (_, new_gen), = roster.reconcile()
    assert new_gen > gen_a  # a restarted feed's queued entries of old are stale


def test_recover_marks_what_reached_the_topic_and_clears_the_marker(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    marked = store.load(A.id, A.url)
    marked.publishing_since = 1000.0
    store.save(A.id, marked)
    asked: list[tuple[float, set[str]]] = []

    def read_topic(since: float, urls: set[str]) -> dict[str, set[str]]:
        asked.append((since, urls))
        return {A.url: {"id1", "id2"}}

    found = asyncio.run(recover(AsyncStateStore(store), read_topic, [A, B], now=2000.0))
    assert found == 2 and asked == [(1000.0 - RECOVERY_MARGIN_S, {A.url})]
    state = store.load(A.id, A.url)
    assert state.publishing_since is None and set(state.seen) == {"id1", "id2"}


def test_recover_reads_nothing_without_a_marker_or_a_topic(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    def read_topic(since: float, urls: set[str]) -> dict[str, set[str]]:
        raise AssertionError("no interrupted poll: no read")

    assert asyncio.run(recover(AsyncStateStore(store), read_topic, [A, B], now=1.0)) == 0
    marked = store.load(A.id, A.url)
    marked.publishing_since = 1000.0
    store.save(A.id, marked)
    assert asyncio.run(recover(AsyncStateStore(store), None, [A], now=1.0)) == 0  # dry run
