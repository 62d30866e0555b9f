"""`SpikeDetector`: the one spike detector, for the replay and the live worker alike. Pure.

Feed it articles in arrival order (`observe`) or pre-bucketed counts (`observe_count`); it
returns the alerts each one completes. Everything runs on event time (``published_at``, a
bucket's start): the detector never reads the wall clock, so the same input always gives the
same alerts, and an alert at T rests only on records published at or before T.

Per record, for each of its keys:

1. The clock moves to the record's time (never back: a record a little older than the
   clock, as a live stream delivers them, is counted where it belongs, and its alert, if
   any, is stamped with the clock's time).
2. A syndicated copy (``dup_of``) counts nothing: its original counted already, for the
   original's source; a copy whose original was never seen counts nothing either. An
   article id seen again within the window (a redelivery) counts nothing.
3. Stories older than the window leave it and join the key's baseline
   (`processors.alerts.baseline`); the new story joins the window.
4. The window is tested: at least `min_sources` sources; the count with its most prolific
   source counted no more than the second, and not at all when it outnumbers all the others
   together (`window.corroborated`), at least `min_count` and `min_ratio` x the baseline;
   its Poisson tail (quasi-Poisson for count series) below `p_max`; the key not in its
   cooldown; the detector past its warm-up.

An article also feeds one hidden key per entity ("*|<entity>"), never tested: its profile
is what a sparse tag|entity key's profile is shrunk towards (baseline.py).

Alerts fire on the record that completes the evidence, in the same call: a live worker
raises them as soon as it has handed the record over. `advance(now)` moves the clock
without a record (housekeeping: idle keys, the redelivery guard) and returns no alerts: a
window only loses stories while no record arrives, so there is nothing new to test, and
testing on ticks would make the live path depend on when it ticked.

State: `snapshot()` is JSON bytes (`restore` reads it back); continuing from a restored
snapshot gives exactly the alerts of never having stopped. It is bounded: per key, the
baseline (about 70 numbers) and the window's stories; keys idle for `max_idle_d` start
afresh, which is exactly what happens when their state is dropped, so dropping them (once
an event-time hour) changes nothing. Live: the id of an alert (`Alert.alert_id`: key and
time) is the same whoever raises it from the same records, so storing it with that id
keeps a second worker, or a replay after a restart, from raising it twice.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from processors.alerts.baseline import BaselineModel, KeyBaseline
from processors.alerts.config import ARTICLE_DEFAULTS, DetectorConfig
from processors.alerts.keys import profile_parent
from processors.alerts.model import Alert, AlertInput
from processors.alerts.profile import DAY, HOUR, ClockProfile
from processors.alerts.state import (
    FORMAT,
    as_float,
    as_int,
    as_mapping,
    as_optional_float,
    as_str,
    snapshot_error,
)
from processors.alerts.tails import poisson_sf, quasi_poisson_sf
from processors.alerts.window import CountWindow, StoryWindow, corroborated

__all__ = ["DetectorStats", "SpikeDetector"]

_NEVER = -math.inf


@dataclass
class DetectorStats:
    """What the detector has seen (for logs and metrics)."""

    records: int = 0  # articles observed
    copies: int = 0  # ... of which syndicated copies (count nothing)
    redelivered: int = 0  # ... article ids seen again within the window (count nothing)
    late: int = 0  # ... published before the clock (counted where they belong)
    stories: int = 0  # counted stories (originals)
    buckets: int = 0  # count buckets observed
    alerts: int = 0


class _Key:
    """One key: its baseline, its window, its cooldown and (count series) dispersion."""

    __slots__ = ("base", "dispersion", "hour", "hour_count", "quiet_until", "touched", "window")

    def __init__(self, base: KeyBaseline, window: StoryWindow | CountWindow, now: float) -> None:
        self.base = base
        self.window = window
        self.quiet_until = _NEVER  # cooldown: no alert before this
        self.touched = now  # the clock when a record last reached this key
        self.dispersion = 1.0  # variance / mean of the key's hourly counts (count series)
        self.hour = _NEVER  # the hour being summed for the dispersion (count series)
        self.hour_count = 0


def _utc_seconds(at: datetime) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


class SpikeDetector:
    """Spike alerts over article keys (`observe`) or count series (`observe_count`)."""

    def __init__(self, config: DetectorConfig = ARTICLE_DEFAULTS) -> None:
        self.config = config
        self.stats = DetectorStats()
        self._clock = ClockProfile(config)
        self._model = BaselineModel(config, self._clock)
        self._keys: dict[str, _Key] = {}
        self._now: float | None = None
        self._warm_until = math.inf
        self._window = config.window_min * 60.0
        self._cooldown = config.cooldown_min * 60.0
        self._idle = config.max_idle_d * DAY
        self._dispersion_weight = 1.0 - math.exp(-math.log(2.0) / config.dispersion_half_life_h)
        # The redelivery guard: article ids counted within the last window (arrival clock).
        self._recent: deque[tuple[float, str]] = deque()
        self._recent_ids: set[str] = set()

    # --- the clock --------------------------------------------------------------------------

    @property
    def now(self) -> datetime | None:
        """The event-time clock: the newest time observed (None before any record)."""
        return None if self._now is None else datetime.fromtimestamp(self._now, UTC)

    @property
    def keys(self) -> int:
        """Keys with state."""
        return len(self._keys)

    def _tick(self, ts: float) -> float:
        if self._now is None:
            self._now = ts
            self._clock.start(ts)
            self._warm_until = ts + self.config.warmup_h * HOUR
        elif ts > self._now:
            self._now = ts
            if self._clock.advance(ts):
                self._hourly()
        now = self._now
        recent = self._recent
        while recent and recent[0][0] <= now - self._window:
            self._recent_ids.discard(recent.popleft()[1])
        return now

    def _hourly(self) -> None:
        """Once per event-time hour: drop keys idle past `max_idle_d` (they would start
        afresh on their next record anyway) and rebase the reference-form sums when due."""
        assert self._now is not None
        stale = self._now - self._idle
        for key in [k for k, s in self._keys.items() if s.touched < stale]:
            del self._keys[key]
        if self._clock.needs_rebase():
            factor = self._clock.rebase()
            for state in self._keys.values():
                self._model.rebase(state.base, factor)

    def advance(self, now: datetime) -> list[Alert]:
        """Move the clock to `now` without a record (a live worker's tick; never moves it
        back). Tick with the event time the stream has reached, not ahead of records still
        expected: a record older than the clock is counted, but stamped with the clock's time.
        Returns no alerts: alerts fire on the record that completes their evidence."""
        self._tick(_utc_seconds(now))
        return []

    def _key(self, key: str, now: float, kind: type[StoryWindow] | type[CountWindow]) -> _Key:
        state = self._keys.get(key)
        if state is None or state.touched < now - self._idle:
            state = _Key(self._model.new(now - self._window), kind(), now)
            self._keys[key] = state
        elif not isinstance(state.window, kind):
            raise ValueError(f"key {key!r} is used both for articles and for counts")
        state.touched = now
        return state

    def _parent_of(self, key: str) -> _Key | None:
        parent = profile_parent(key)
        return None if parent is None else self._keys.get(parent)

    def _slide(self, state: _Key, now: float) -> None:
        """Stories older than the window leave it and join the baseline. The cursor moves
        only as far as it must (to the newest leaving story); `_ready` takes it to the
        window's start when a test needs the baseline. Most records on a sparse key fail the
        cheap checks and never need it."""
        cutoff = now - self._window
        window = state.window
        if not window.items or window.items[0][0] > cutoff:
            return
        model = self._model
        base = state.base
        if isinstance(window, StoryWindow):
            gone = window.pop_until(cutoff)
            model.advance(base, gone[-1])
            for ts in gone:
                model.add(base, ts)
        else:
            buckets = window.pop_until(cutoff)
            model.advance(base, buckets[-1][0])
            for ts, count in buckets:
                if count:
                    model.add(base, ts, count)

    def _late(self, state: _Key, ts: float, weight: int = 1) -> None:
        """A record older than the window: the baseline only."""
        self._model.advance(state.base, ts)
        self._model.add(state.base, ts, weight)

    def _ready(self, state: _Key, start: float, now: float) -> float:
        """The baseline's expected count for the window [start, now]."""
        self._model.advance(state.base, start)
        return self._model.expected(state.base, start, now)

    # --- articles ---------------------------------------------------------------------------

    def observe(self, item: AlertInput) -> list[Alert]:
        """One article, in arrival order; returns the alerts it completes."""
        ts = item.timestamp
        now = self._tick(ts)
        stats = self.stats
        stats.records += 1
        if ts < now:
            stats.late += 1
        if item.dup_of is not None:
            stats.copies += 1
            return []
        if item.id in self._recent_ids:
            stats.redelivered += 1
            return []
        if not item.keys:
            return []
        self._recent.append((now, item.id))
        self._recent_ids.add(item.id)
        stats.stories += 1
        self._clock.add(ts)
        if self.config.entity_profiles:
            for key in item.profile_keys:  # the entities' profiles: counted, never tested
                state = self._key(key, now, StoryWindow)
                self._slide(state, now)
                if ts <= now - self._window:
                    self._late(state, ts)
                else:
                    assert isinstance(state.window, StoryWindow)
                    state.window.add(ts, item.id, item.source)
        alerts: list[Alert] = []
        for key in item.keys:
            state = self._key(key, now, StoryWindow)
            if self.config.entity_profiles:
                parent = self._parent_of(key)
                state.base.parent = None if parent is None else parent.base
            self._slide(state, now)
            if ts <= now - self._window:  # older than the window: the baseline only
                self._late(state, ts)
                continue
            window = state.window
            assert isinstance(window, StoryWindow)
            window.add(ts, item.id, item.source)
            alert = self._test_stories(key, state, window, now)
            if alert is not None:
                alerts.append(alert)
        stats.alerts += len(alerts)
        return alerts

    def _test_stories(self, key: str, state: _Key, window: StoryWindow,
                      now: float) -> Alert | None:
        config = self.config
        if now < self._warm_until or now < state.quiet_until:
            return None
        sources = len(window.per_source)
        if sources < config.min_sources:
            return None
        count = corroborated(window.per_source, config.cap_top_source)
        if count < config.min_count:
            return None
        start = now - self._window
        expected = self._ready(state, start, now)
        if count < config.min_ratio * expected:
            return None
        p = poisson_sf(count, expected)
        if p >= config.p_max:
            return None
        state.quiet_until = now + self._cooldown
        return Alert(key=key, at=now, count=count, baseline=expected, p=p,
                     window_min=config.window_min, sources=sources,
                     article_ids=window.ids(config.max_evidence_ids), stories=len(window),
                     window_start=start)

    # --- count series -----------------------------------------------------------------------

    def observe_count(self, key: str, at: datetime, count: int) -> list[Alert]:
        """One bucket of a count series: `count` stories in the bucket starting at `at`.
        Buckets of a key come in time order, equally spaced; keys may interleave. There are
        no sources: the source rule does not apply. Returns the alert it completes, if any."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"a bucket count must be an integer >= 0, got {count!r}")
        ts = _utc_seconds(at)
        now = self._tick(ts)
        self.stats.buckets += 1
        state = self._key(key, now, CountWindow)
        self._slide(state, now)
        if count:
            self._clock.add(ts, count)
        if self.config.dispersion:
            self._track_dispersion(state, ts, now, count)
        window = state.window
        assert isinstance(window, CountWindow)
        if ts <= now - self._window:
            if count:
                self._late(state, ts, count)
            return []
        window.add(ts, count)
        alert = self._test_counts(key, state, window, now)
        if alert is None:
            return []
        self.stats.alerts += 1
        return [alert]

    def _track_dispersion(self, state: _Key, ts: float, now: float, count: int) -> None:
        """Sum the key's counts per hour; when an hour is complete, fold its squared Pearson
        residual (against the baseline of the moment) into the key's dispersion. Robust: one
        hour's residual weighs at most `dispersion_clip` x the current dispersion, so the
        spikes we are looking for do not teach the detector to ignore them."""
        hour = math.floor(ts / HOUR) * HOUR
        if hour > state.hour:
            if state.hour != _NEVER and hour - state.hour <= HOUR:  # a complete hour
                self._model.advance(state.base, now - self._window)
                expected = self._model.expected(state.base, state.hour, state.hour + HOUR)
                residual = (state.hour_count - expected) ** 2 / expected
                cap = self.config.dispersion_clip * max(1.0, state.dispersion)
                w = self._dispersion_weight
                state.dispersion = (1.0 - w) * state.dispersion + w * min(residual, cap)
            state.hour = hour
            state.hour_count = 0
        if hour == state.hour:
            state.hour_count += count

    def _test_counts(self, key: str, state: _Key, window: CountWindow,
                     now: float) -> Alert | None:
        config = self.config
        if now < self._warm_until or now < state.quiet_until:
            return None
        count = window.total
        if count < config.min_count or count <= 0:
            return None
        start = now - self._window
        expected = self._ready(state, start, now)
        if count < config.min_ratio * expected:
            return None
        dispersion = max(1.0, state.dispersion) if config.dispersion else 1.0
        p = quasi_poisson_sf(count, expected, dispersion)
        if p >= config.p_max:
            return None
        state.quiet_until = now + self._cooldown
        return Alert(key=key, at=now, count=count, baseline=expected, p=p,
                     window_min=config.window_min, sources=None, article_ids=(),
                     stories=count, dispersion=dispersion, window_start=start)

    # --- state ------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as JSON bytes (no pickle); `restore` reads it back. Taking a
        snapshot changes nothing."""
        keys: dict[str, Any] = {}
        for key, s in self._keys.items():
            keys[key] = {
                "kind": "stories" if isinstance(s.window, StoryWindow) else "counts",
                "base": s.base.to_list(),
                "window": s.window.to_list(),
                "quiet_until": None if s.quiet_until == _NEVER else s.quiet_until,
                "touched": s.touched,
                "dispersion": [s.dispersion, None if s.hour == _NEVER else s.hour,
                               s.hour_count],
            }
        doc = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "now": self._now,
            "warm_until": None if self._warm_until == math.inf else self._warm_until,
            "clock": self._clock.to_dict(),
            "recent": [[ts, article_id] for ts, article_id in self._recent],
            "stats": asdict(self.stats),
            "keys": keys,
        }
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")

    @classmethod
    def restore(cls, data: bytes, config: DetectorConfig | None = None) -> SpikeDetector:
        """A detector in the state `snapshot` wrote. Its configuration is the snapshot's
        unless `config` is given (which must keep the same number of half-lives). A
        snapshot that does not fit raises ConfigError."""
        try:
            doc = as_mapping(json.loads(data), "the snapshot")
        except (ValueError, UnicodeDecodeError) as exc:
            raise snapshot_error(f"not JSON ({exc})") from None
        if doc.get("format") != FORMAT:
            raise snapshot_error(f"format {doc.get('format')!r}, expected {FORMAT!r}")
        saved = ARTICLE_DEFAULTS.replace(as_mapping(doc.get("config"), "config"))
        if config is None:
            config = saved
        elif len(config.half_lives_h) != len(saved.half_lives_h):
            raise snapshot_error("the configuration has another number of half-lives")
        detector = cls(config)
        detector._now = as_optional_float(doc.get("now"), "now")
        warm = as_optional_float(doc.get("warm_until"), "warm_until")
        detector._warm_until = math.inf if warm is None else warm
        detector._clock.load(as_mapping(doc.get("clock"), "clock"))
        recent = doc.get("recent")
        if not isinstance(recent, list):
            raise snapshot_error("recent must be a list")
        for item in recent:
            if not isinstance(item, list) or len(item) != 2:
                raise snapshot_error("a recent id is [time, id]")
            article_id = as_str(item[1], "recent id")
            detector._recent.append((as_float(item[0], "recent time"), article_id))
            detector._recent_ids.add(article_id)
        stats = as_mapping(doc.get("stats"), "stats")
        detector.stats = DetectorStats(**{
            name: as_int(stats.get(name, 0), f"stats.{name}")
            for name in asdict(DetectorStats())})
        levels = len(config.half_lives_h)
        for key, raw in as_mapping(doc.get("keys"), "keys").items():
            item = as_mapping(raw, f"key {key!r}")
            kind = item.get("kind")
            window: StoryWindow | CountWindow
            if kind == "stories":
                window = StoryWindow.from_list(item.get("window"))
            elif kind == "counts":
                window = CountWindow.from_list(item.get("window"))
            else:
                raise snapshot_error(f"key {key!r}: kind {kind!r}")
            try:
                base = KeyBaseline.from_list(item.get("base"), levels)
            except ValueError as exc:
                raise snapshot_error(f"key {key!r}: {exc}") from None
            state = _Key(base, window, as_float(item.get("touched"), "touched"))
            quiet = as_optional_float(item.get("quiet_until"), "quiet_until")
            state.quiet_until = _NEVER if quiet is None else quiet
            disp = item.get("dispersion")
            if not isinstance(disp, list) or len(disp) != 3:
                raise snapshot_error(f"key {key!r}: dispersion is [value, hour, count]")
            state.dispersion = as_float(disp[0], "dispersion")
            hour = as_optional_float(disp[1], "dispersion hour")
            state.hour = _NEVER if hour is None else hour
            state.hour_count = as_int(disp[2], "dispersion count")
            detector._keys[key] = state
        return detector
