"""The per-host rules (ingest/lanes.py): the host gap, Retry-After holds, and the one-shot
poll's deadline decision."""

from __future__ import annotations

import pytest

from ingest.lanes import (
    DEADLINE_REACHED,
    HOST_GAP,
    RETRY_AFTER,
    Defer,
    Go,
    HostLane,
    Step,
    Wait,
    next_step,
)


@pytest.mark.parametrize(("now", "due", "free_at", "deadline", "expected"), [
    # No deadline (continuous): go when both the feed and its host are ready, else wait.
    (100.0, 100.0, 0.0, None, Go()),
    (100.0, 105.0, 0.0, None, Wait(5.0)),
    (100.0, 100.0, 103.0, None, Wait(3.0)),
    (100.0, 100.0, 3700.0, None, Wait(3600.0)),
    # A deadline ahead of both: the same.
    (100.0, 100.0, 0.0, 160.0, Go()),
    (100.0, 100.0, 105.0, 160.0, Wait(5.0)),
    # The host rests past the deadline: defer to when it is free, never sleep on it.
    (100.0, 100.0, 3700.0, 160.0, Defer(3700.0, RETRY_AFTER)),
    (100.0, 100.0, 160.0, 160.0, Defer(160.0, RETRY_AFTER)),
    # The deadline has passed: nothing more starts; due now.
    (170.0, 100.0, 0.0, 160.0, Defer(170.0, DEADLINE_REACHED)),
    (160.0, 100.0, 150.0, 160.0, Defer(160.0, DEADLINE_REACHED)),
    # The feed itself is not due before the deadline (its host is free).
    (100.0, 200.0, 0.0, 160.0, Defer(200.0, DEADLINE_REACHED)),
])
def test_next_step(now: float, due: float, free_at: float, deadline: float | None,
                   expected: Step) -> None:
    assert next_step(now, due, free_at, RETRY_AFTER, deadline) == expected


def test_the_host_gap_rule() -> None:
    lane = HostLane("h.example")
    lane.rest(100.0, 5.0, None)
    assert (lane.free_at, lane.held_by) == (105.0, HOST_GAP)
    lane.rest(110.0, 5.0, 2.0)  # a Retry-After shorter than the gap: the gap
    assert (lane.free_at, lane.held_by) == (115.0, HOST_GAP)
    lane.rest(120.0, 5.0, 3600.0)  # longer: the host rests as long as it asked
    assert (lane.free_at, lane.held_by) == (3720.0, RETRY_AFTER)


def test_a_kept_retry_after_holds_the_lane_and_outlives_a_gap() -> None:
    lane = HostLane("h.example")
    lane.hold(None)
    assert lane.free_at == 0.0
    lane.hold(500.0)
    assert (lane.free_at, lane.held_by) == (500.0, RETRY_AFTER)
    lane.hold(400.0)  # an older one changes nothing
    assert lane.free_at == 500.0
    lane.rest(100.0, 5.0, None)  # a request that ended meanwhile does not shorten it
    assert (lane.free_at, lane.held_by) == (500.0, RETRY_AFTER)


def test_stale_entries_are_skipped_and_drain_lists_the_waiting() -> None:
    lane = HostLane("h.example")
    for due, gen, fid in [(3.0, 1, "c"), (1.0, 0, "a"), (2.0, 5, "b"), (4.0, 2, "d")]:
        lane.push(due, gen, fid)
    current = {"a": 9, "b": 5, "c": 1, "d": 2}  # "a" was rescheduled: its entry is stale

    def is_current(fid: str, gen: int) -> bool:
        return current[fid] == gen

    assert lane.head(is_current) == (2.0, 5, "b")
    assert lane.step(2.0, is_current) == Go()
    assert lane.pop() == (2.0, 5, "b")
    assert lane.step(2.0, is_current, deadline=3.5) == Wait(1.0)
    assert lane.step(2.0, is_current, deadline=2.5) == Defer(3.0, DEADLINE_REACHED)
    assert lane.drain(is_current) == ["c", "d"]
    assert lane.step(2.0, is_current) is None
