from __future__ import annotations

import pytest

from ingest.schedule import (
    Policy,
    after_failure,
    after_success,
    backoff_delay,
    enable,
    jitter,
    next_interval,
    update_rate,
)
from ingest.state import FeedState

POLICY = Policy(min_interval_s=60, max_interval_s=3600, default_interval_s=300, max_failures=3)


@pytest.mark.parametrize(("current", "rate", "expected"), [
    (None, None, 300),  # first poll: the default
    (300, None, 300),
    (300, 0.0, 600),  # nothing new: slow down, at most 2x
    (3000, 0.0, 3600),  # ... up to the max
    (300, 1 / 200, 200),  # one item per 200 s: poll every 200 s
    (300, 1.0, 150),  # very busy: speed up, at most 2x per poll
    (60, 1.0, 60),  # ... down to the min
    (10, None, 60),  # a stored interval below the bounds is clamped
])
def test_next_interval(current: float | None, rate: float | None, expected: float) -> None:
    assert next_interval(current, rate, POLICY) == pytest.approx(expected)


@pytest.mark.parametrize(("failures", "retry_after", "expected"), [
    (1, None, 60), (2, None, 120), (3, None, 240), (6, None, 1920), (7, None, 3600),
    (50, None, 3600), (1, 900.0, 900), (4, 10.0, 480),
])
def test_backoff_delay(failures: int, retry_after: float | None, expected: float) -> None:
    assert backoff_delay(failures, retry_after, POLICY) == expected


def test_update_rate_smooths() -> None:
    assert update_rate(None, 10, 100) == 0.1
    assert update_rate(0.1, 0, 100) == pytest.approx(0.07)
    assert update_rate(0.1, 5, None) == 0.1


def test_jitter_is_deterministic_and_bounded() -> None:
    values = {jitter("https://f.example/", t, 100.0) for t in range(200)}
    assert all(90.0 <= v <= 110.0 for v in values) and len(values) > 100
    assert jitter("u", 1.0, 100.0) == jitter("u", 1.0, 100.0)


def test_success_marks_new_ids_and_validators() -> None:
    state = FeedState(url="https://f.example/")
    after_success(state, 1000.0, POLICY, status=200, present_ids=["a", "b"], new_ids=["a", "b"],
                  etag='"e1"', last_modified="lm")
    assert set(state.seen) == {"a", "b"} and state.items_seen == 2
    assert (state.etag, state.last_modified) == ('"e1"', "lm")
    assert state.status == "ok" and state.next_poll_at > 1000.0
    assert state.new_in_last(1000.0) == 2


def test_incomplete_publish_keeps_validators_and_unacked_ids_unseen() -> None:
    state = FeedState(url="https://f.example/", etag='"old"')
    after_success(state, 1000.0, POLICY, status=200, present_ids=["a", "b"], new_ids=["a"],
                  etag='"new"', complete=False)
    assert state.etag == '"old"'  # the next poll must get the body again
    assert set(state.seen) == {"a"}


def test_304_keeps_everything_but_the_schedule() -> None:
    state = FeedState(url="https://f.example/", etag='"e"', seen={"a": 1})
    after_success(state, 1000.0, POLICY, status=304)
    assert state.etag == '"e"' and state.seen == {"a": 1} and state.last_status == 304


def test_seen_ids_forget_old_ids_no_longer_listed() -> None:
    day = 86_400
    state = FeedState(url="u", seen={"old": 0, "listed-old": 0, "recent": 20 * day})
    after_success(state, 20 * day + 1, POLICY, status=200, present_ids=["listed-old"])
    assert set(state.seen) == {"listed-old", "recent"}


def test_failures_back_off_then_disable_with_reason() -> None:
    state = FeedState(url="https://f.example/")
    after_failure(state, 1000.0, POLICY, "HTTP 500")
    assert state.status == "failing" and 1054 <= state.next_poll_at <= 1066
    after_failure(state, 2000.0, POLICY, "HTTP 500")
    assert 2108 <= state.next_poll_at <= 2132
    after_failure(state, 3000.0, POLICY, "connect timeout")
    assert state.status == "disabled"
    assert state.disabled_reason == ("disabled after 3 consecutive failures; "
                                     "last: connect timeout")
    enable(state, 4000.0)
    assert state.status == "failing" or state.consecutive_failures == 0
    assert state.disabled_reason is None and state.next_poll_at == 4000.0


def test_retry_after_is_a_floor() -> None:
    state = FeedState(url="https://f.example/")
    after_failure(state, 1000.0, POLICY, "HTTP 429", retry_after=500.0)
    assert state.next_poll_at >= 1500.0


def test_success_resets_failures() -> None:
    state = FeedState(url="u", consecutive_failures=2, last_error="x")
    after_success(state, 10.0, POLICY, status=200)
    assert state.consecutive_failures == 0 and state.status == "ok"


def test_a_retry_after_is_kept_for_the_host_until_a_success() -> None:
    state = after_failure(FeedState(url="u"), 1000.0, POLICY, "HTTP 429, Retry-After 3600 s",
                          retry_after=3600.0, status=429)
    assert state.host_retry_at == 4600.0 and state.last_status == 429
    after_failure(state, 5000.0, POLICY, "HTTP 503", status=503)  # no Retry-After this time
    assert state.host_retry_at is None
    after_failure(state, 6000.0, POLICY, "HTTP 503, Retry-After 60 s", retry_after=60.0)
    after_success(state, 6100.0, POLICY, status=200)
    assert state.host_retry_at is None


def _remember_reference(seen: dict[str, int], present: list[str], now: float) -> dict[str, int]:
    """ingest/schedule.py's _remember as first written (a rebuild and a full sort)."""
    from ingest.schedule import SEEN_MIN_CAP, SEEN_RETENTION_S

    present_ids = set(present)
    cutoff = now - SEEN_RETENTION_S
    kept = {i: t for i, t in seen.items() if i in present_ids or t >= cutoff}
    cap = max(SEEN_MIN_CAP, 2 * len(present_ids))
    if len(kept) > cap:
        gone = sorted((t, i) for i, t in kept.items() if i not in present_ids)
        for _t, i in gone[: len(kept) - cap]:
            del kept[i]
    return kept


def test_remember_keeps_exactly_what_the_rebuild_and_sort_kept() -> None:
    import random

    from ingest.schedule import SEEN_RETENTION_S, _remember
    from ingest.state import FeedState

    rng = random.Random(5)
    now = 1_800_000_000.0
    for case in range(200):
        size = rng.choice([0, 5, 150, 1_999, 2_000, 2_003, 2_600])
        old = rng.random() < 0.5  # some ids past the retention, or none
        span = int(SEEN_RETENTION_S * (1.5 if old else 0.9))
        seen = {f"{case}-{n}": int(now) - rng.randrange(span) for n in range(size)}
        present = rng.sample(sorted(seen), min(len(seen), rng.choice([0, 20, 40]))) + \
            [f"new-{n}" for n in range(rng.choice([0, 2]))]
        state = FeedState(url="u", seen=dict(seen))
        _remember(state, present, now)
        want = _remember_reference(seen, present, now)
        assert state.seen == want and list(state.seen) == list(want), case
