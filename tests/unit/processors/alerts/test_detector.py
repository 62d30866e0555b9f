"""processors.alerts.detector: what alerts and what does not (bursts, floods, copies, slow
trends), cooldown, evidence, event time (late records, no look-ahead), determinism and the
prefix property, snapshot/restore, count series."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.errors import ConfigError
from processors.alerts.config import ARTICLE_DEFAULTS, COUNT_DEFAULTS, DetectorConfig
from processors.alerts.detector import SpikeDetector
from processors.alerts.model import Alert, AlertInput

from .samples import (
    KEY,
    T0,
    TAG,
    alerts_of,
    background,
    burst,
    copies,
    day_shape,
    merged,
)

BURST_AT = T0 + timedelta(days=2, hours=14, minutes=3)


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def test_an_independent_burst_alerts_once_when_its_evidence_is_in() -> None:
    quiet = background(3)
    news = burst(BURST_AT, 10, 5)
    alerts = list(alerts_of(merged(quiet, news)))
    pair = [a for a in alerts if a["key"] == KEY]
    assert len(pair) == 1, alerts  # the cooldown keeps the rest of the burst quiet
    alert = pair[0]
    fired = parse(alert["at"])
    # Not before the fifth story (min_count), and as soon as a burst story completes the
    # evidence: its time is one of the burst stories' own.
    assert fired >= news[4].published_at
    assert fired in {n.published_at for n in news}
    assert fired - BURST_AT <= timedelta(minutes=40)
    assert alert["sources"] >= 3 and alert["count"] >= 5
    assert alert["count"] >= 3 * alert["baseline"] and alert["p"] < ARTICLE_DEFAULTS.p_max
    # The evidence: the window's stories, on the key, none after the alert.
    published = {a.id: a.published_at for a in merged(quiet, news)}
    assert set(alert["article_ids"]) >= {n.id for n in news if n.published_at <= fired}
    assert all(published[i] <= fired for i in alert["article_ids"])
    assert alert["window_min"] == 60.0 and alert["alert_id"]
    # The tag key carries the same stories.
    assert {a["key"] for a in alerts} <= {KEY, TAG}


def test_one_outlet_flooding_a_key_does_not_alert() -> None:
    flood = burst(BURST_AT, 25, 1, minutes_apart=2.0)  # a live blog: 25 items in 50 min
    assert list(alerts_of(merged(background(3), flood))) == []


def test_a_flood_beside_a_few_other_reports_does_not_alert() -> None:
    # Four ordinary reports in the hour and one outlet with twelve items: capped at the
    # second outlet's count the window holds five, but the flood outnumbers all the others
    # together, so it counts nothing.
    others = burst(BURST_AT, 4, 4, minutes_apart=12.0, prefix="o")
    flood = burst(BURST_AT + timedelta(minutes=1), 12, 1, minutes_apart=4.0, prefix="f")
    flood = [replace(f, source="liveblog.example") for f in flood]
    assert list(alerts_of(merged(background(3), others, flood))) == []


def test_syndicated_copies_count_once() -> None:
    original = burst(BURST_AT, 1, 1)[0]
    reprints = copies(original, 10)
    assert list(alerts_of(merged(background(3), [original], reprints))) == []
    # The same ten stories as independent reports do alert.
    independent = [replace(c, dup_of=None, id=f"i{n}") for n, c in enumerate(reprints)]
    assert list(alerts_of(merged(background(3), [original], independent)))


def test_a_copy_of_an_unknown_original_counts_nothing() -> None:
    orphans = [replace(c, dup_of="never-seen") for c in burst(BURST_AT, 10, 10)]
    assert list(alerts_of(merged(background(3), orphans))) == []


def test_a_slow_trend_does_not_alert() -> None:
    # From 0.5 to about 7 stories an hour in six days: a key growing, never jumping.
    trend = background(6, growth_per_day=0.45, seed=3)
    assert len(trend) > 300
    assert list(alerts_of(trend)) == []


def test_cooldown_then_a_second_episode() -> None:
    quiet = background(4)
    first = burst(BURST_AT, 8, 4, prefix="x")
    soon = burst(BURST_AT + timedelta(hours=3), 8, 4, prefix="y")
    later = burst(BURST_AT + timedelta(hours=30), 8, 4, prefix="z")
    alerts = [a for a in alerts_of(merged(quiet, first, soon, later)) if a["key"] == KEY]
    assert len(alerts) == 2, alerts
    assert alerts[0]["article_ids"][0].startswith("x")
    assert parse(alerts[1]["at"]) >= later[0].published_at
    # Without the cooldown the second burst alerts too.
    detector = SpikeDetector(ARTICLE_DEFAULTS.replace({"cooldown_min": 60}))
    again = [a for a in alerts_of(merged(quiet, first, soon, later), detector)
             if a["key"] == KEY]
    assert len(again) == 3


def test_no_alert_during_the_warm_up() -> None:
    early = burst(T0 + timedelta(hours=10), 12, 6)
    assert list(alerts_of(merged(background(3), early))) == []


def test_same_input_same_alerts_and_a_prefix_gives_the_same_alerts_up_to_its_end() -> None:
    stream = merged(background(4), burst(BURST_AT, 10, 5),
                    burst(BURST_AT + timedelta(hours=20), 9, 4, prefix="y"))
    full = list(alerts_of(stream))
    assert len(full) >= 2
    assert list(alerts_of(stream)) == full
    for cut in (len(stream) // 3, len(stream) - 12, len(stream) - 3):
        end = stream[cut - 1].published_at
        prefix = list(alerts_of(stream[:cut]))
        assert prefix == [a for a in full if parse(a["at"]) <= end]


def test_snapshot_restore_then_continue_equals_never_stopping() -> None:
    stream = merged(background(4), burst(BURST_AT, 10, 5),
                    burst(BURST_AT + timedelta(hours=20), 9, 4, prefix="y"))
    straight = SpikeDetector()
    expected = list(alerts_of(stream, straight))
    assert expected
    for cut in (len(stream) // 2, next(i for i, s in enumerate(stream) if s.id == "x003")):
        first = SpikeDetector()
        before = list(alerts_of(stream[:cut], first))
        blob = first.snapshot()
        json.loads(blob)  # plain JSON, no pickle
        restored = SpikeDetector.restore(blob)
        assert restored.snapshot() == blob
        after = list(alerts_of(stream[cut:], restored))
        assert before + after == expected
        assert restored.snapshot() == straight.snapshot()
        assert restored.stats == straight.stats


def test_a_snapshot_that_does_not_fit_is_a_config_error() -> None:
    for blob in (b"{not json", b'{"format": "other"}', b"[1, 2]"):
        with pytest.raises(ConfigError):
            SpikeDetector.restore(blob)
    good = json.loads(SpikeDetector().snapshot())
    good["config"]["p_max"] = "high"
    with pytest.raises(ConfigError):
        SpikeDetector.restore(json.dumps(good).encode())


def test_a_late_record_is_counted_and_the_clock_never_goes_back() -> None:
    quiet = background(3)
    news = burst(BURST_AT, 8, 4)
    # The sixth story arrives after the seventh and eighth (a roughly ordered live stream).
    late = news[5]
    stream = merged(quiet, [n for n in news if n is not late])
    index = stream.index(news[7]) + 1
    stream.insert(index, late)
    detector = SpikeDetector()
    alerts = [a for a in alerts_of(stream, detector) if a["key"] == KEY]
    assert len(alerts) == 1
    assert detector.now == max(n.published_at for n in stream)
    assert detector.stats.late >= 1
    # An alert is stamped with the clock, never before its evidence.
    fired = parse(alerts[0]["at"])
    published = {a.id: a.published_at for a in stream}
    assert all(published[i] <= fired for i in alerts[0]["article_ids"])


def test_a_redelivered_article_counts_once() -> None:
    quiet = background(3)
    news = burst(BURST_AT, 4, 4)
    twice = merged(quiet, news, news)  # every burst story delivered twice: still 4 stories
    detector = SpikeDetector()
    assert [a for a in alerts_of(twice, detector) if a["key"] == KEY] == []
    assert detector.stats.redelivered == 4


def test_advance_ticks_the_clock_forward_only_and_raises_nothing() -> None:
    detector = SpikeDetector()
    for item in background(2):
        detector.observe(item)
    now = detector.now
    assert now is not None
    assert detector.advance(now - timedelta(hours=5)) == []
    assert detector.now == now
    assert detector.advance(now + timedelta(minutes=30)) == []
    assert detector.now == now + timedelta(minutes=30)


def test_idle_keys_start_afresh_and_are_dropped() -> None:
    detector = SpikeDetector(ARTICLE_DEFAULTS.replace({"max_idle_d": 1.0}))
    for item in background(1, tag="drone-warfare", entity="Kyiv", prefix="k"):
        detector.observe(item)
    keys_before = detector.keys
    assert keys_before >= 3  # the tag, the pair and the entity's profile
    detector.advance(T0 + timedelta(days=3))
    assert detector.keys == 0


def test_alert_ids_are_deterministic_per_key_and_moment() -> None:
    at = BURST_AT.timestamp()
    a = Alert(key=KEY, at=at, count=6, baseline=0.5, p=1e-6, window_min=60.0)
    same = Alert(key=KEY, at=at, count=7, baseline=0.4, p=1e-7, window_min=60.0)
    other_key = Alert(key=TAG, at=at, count=6, baseline=0.5, p=1e-6, window_min=60.0)
    other_time = Alert(key=KEY, at=at + 1, count=6, baseline=0.5, p=1e-6, window_min=60.0)
    assert a.alert_id == same.alert_id
    assert len({a.alert_id, other_key.alert_id, other_time.alert_id}) == 3
    assert a.to_record()["at"] == "2026-03-04T14:03:00Z"


def test_watch_keys_are_counted_like_any_key() -> None:
    quiet = [replace(i, extra_keys=("watch:iran-oil",)) for i in background(3)]
    news = [replace(i, extra_keys=("watch:iran-oil",)) for i in burst(BURST_AT, 10, 5)]
    keys = {a["key"] for a in alerts_of(merged(quiet, news))}
    assert "watch:iran-oil" in keys


def test_an_article_without_tags_counts_on_no_key() -> None:
    untagged = [replace(i, tags=()) for i in burst(BURST_AT, 10, 5)]
    detector = SpikeDetector()
    assert list(alerts_of(merged(background(3), untagged), detector)) == []


# --- count series ------------------------------------------------------------------------


def series(days: int, spike_at: int | None = None, spike: int = 0,
           start: datetime = T0) -> list[tuple[datetime, int]]:
    """5-minute buckets with a daily rhythm around 20 per bucket; `spike` added to six
    buckets from bucket `spike_at`."""
    out = []
    for n in range(days * 288):
        at = start + timedelta(minutes=5 * n)
        value = round(20 * day_shape(at) + (4 if n % 7 == 0 else 0) - (3 if n % 5 == 0 else 0))
        if spike_at is not None and spike_at <= n < spike_at + 6:
            value += spike
        out.append((at, value))
    return out


def test_counts_mode_alerts_on_a_spike_and_not_on_the_rhythm() -> None:
    detector = SpikeDetector(COUNT_DEFAULTS)
    quiet = [a for at, c in series(6) for a in detector.observe_count("AAPL", at, c)]
    assert quiet == []
    spike_at = 5 * 288 + 100
    detector = SpikeDetector(COUNT_DEFAULTS)
    alerts = [a for at, c in series(6, spike_at, 300)
              for a in detector.observe_count("AAPL", at, c)]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.sources is None and alert.article_ids == ()
    assert alert.key == "AAPL"
    first = T0 + timedelta(minutes=5 * spike_at)
    assert first <= alert.at_datetime <= first + timedelta(minutes=25)
    record = alert.to_record()
    assert record["sources"] is None and record["article_ids"] == []


def test_counts_and_articles_do_not_share_a_key() -> None:
    detector = SpikeDetector(COUNT_DEFAULTS)
    detector.observe_count(TAG, T0, 3)
    with pytest.raises(ValueError, match="both"):
        detector.observe(AlertInput(id="a", source="s", published_at=T0, tags=(TAG,)))
    with pytest.raises(ValueError, match="integer"):
        detector.observe_count("x", T0, -1)


def test_counts_snapshot_restore_equivalence() -> None:
    buckets = series(6, 5 * 288 + 100, 300)
    straight = SpikeDetector(COUNT_DEFAULTS)
    expected = [a for at, c in buckets for a in straight.observe_count("k", at, c)]
    first = SpikeDetector(COUNT_DEFAULTS)
    cut = len(buckets) - 200
    got = [a for at, c in buckets[:cut] for a in first.observe_count("k", at, c)]
    restored = SpikeDetector.restore(first.snapshot())
    assert restored.config == COUNT_DEFAULTS
    got += [a for at, c in buckets[cut:] for a in restored.observe_count("k", at, c)]
    assert got == expected and expected
    assert restored.snapshot() == straight.snapshot()


def test_naive_times_are_utc() -> None:
    aware = AlertInput(id="a", source="s", published_at=datetime(2026, 3, 2, 12, tzinfo=UTC))
    naive = replace(aware, published_at=datetime(2026, 3, 2, 12))
    assert aware.timestamp == naive.timestamp


def test_a_rising_key_is_tested_against_a_wider_bound_and_a_steady_one_is_not() -> None:
    """The rise term: on a key climbing for days the bound is wider than the level's own
    (its estimate is less certain); on a steady key it changes little."""
    at = T0 + timedelta(days=4, hours=14, minutes=3)
    # The background runs on through the burst (a key gone quiet would have a falling level).
    rising = merged(background(4.7, growth_per_day=0.4, seed=5), burst(at, 20, 10))
    steady = merged(background(4.7, rate_per_h=2.0, seed=5), burst(at, 20, 10))
    no_rise = replace(ARTICLE_DEFAULTS, baseline_drift=0.0)

    def baseline(stream: list[AlertInput], config: DetectorConfig) -> float:
        [alert] = [a for a in alerts_of(stream, SpikeDetector(config)) if a["key"] == KEY]
        return float(alert["baseline"])

    assert ARTICLE_DEFAULTS.baseline_drift > 0
    widened_rising = baseline(rising, ARTICLE_DEFAULTS) / baseline(rising, no_rise)
    widened_steady = baseline(steady, ARTICLE_DEFAULTS) / baseline(steady, no_rise)
    assert widened_rising > 1.15
    # A steady key's short level is above its long one only by chance: a little widening.
    assert 1.0 <= widened_steady < 1.1
