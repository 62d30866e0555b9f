"""The event-time clock and the shared time-of-day x weekday/weekend profile. Pure.

News has a daily rhythm (quiet at night) and a weekly one (weekends are quieter), so "how
many stories should this key have had in the last hour" depends on the hour. The profile is
a table over (day class, hour of day), UTC: for each slot, the stories seen in it divided by
the time spent in it, both exponentially weighted (half-life `profile_half_life_d`) so that
it follows slow changes. A slot's value is relative (only ratios matter) and shrunk towards
the mean by `shared_profile_prior` pseudo-stories, so a slot seen once is not trusted.

Weighted sums are kept in a *reference* form: a story at t adds e^((t - origin) / tau)
instead of decaying every sum at every tick; the ratio of two such sums is the ratio of the
decayed sums. The clock only moves forward, one hour at a time: each completed hour adds its
exposure once, whatever the steps the clock took to get there, so the state after reaching
time T does not depend on how often the clock was ticked (a live worker ticking every few
seconds and a replay moving from record to record agree).
"""

from __future__ import annotations

import math
from typing import Any

from processors.alerts.config import DetectorConfig
from processors.alerts.state import as_float, as_float_list, as_optional_float, snapshot_error

__all__ = ["DAY", "HOUR", "ClockProfile", "day_class", "hour_kernel", "hour_of_day"]

HOUR = 3600.0
DAY = 86400.0
# The reference-form exponent is rebased before floats get anywhere near overflow (e^709).
REBASE_EXPONENT = 300.0


def hour_of_day(ts: float) -> int:
    return int(ts // HOUR) % 24


def hour_kernel(half_width: int) -> list[tuple[int, float]]:
    """A triangular kernel over neighbouring hours, (offset, weight) with weights summing to
    1: half_width 2 spreads a story over 5 hours as 1, 2, 3, 2, 1 (/9)."""
    raw = [(d, float(half_width + 1 - abs(d))) for d in range(-half_width, half_width + 1)]
    total = sum(w for _, w in raw)
    return [(d, w / total) for d, w in raw]


def day_class(ts: float) -> int:
    """0 on Monday..Friday, 1 on Saturday and Sunday (UTC); 1970-01-01 was a Thursday."""
    return 1 if (int(ts // DAY) + 3) % 7 >= 5 else 0


class ClockProfile:
    """The detector's event-time clock (hour by hour) and the shared profile.

    ``shape[c][h]`` is the relative rate of slot (day class c, hour h), recomputed when an
    hour completes; a key's own profile is its deviation from it
    (`processors.alerts.baseline`). Without `shared_profile` (independent count series) the
    shape is flat and only the clock is kept.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.tau = config.profile_half_life_d * DAY / math.log(2.0)
        self.shared = config.shared_profile
        self.weekend = config.weekend
        self.prior = config.shared_profile_prior
        self.origin: float | None = None  # reference time of the weighted sums
        self.hour_start = 0.0  # start of the hour the clock is in
        self.counts = [[0.0] * 24, [0.0] * 24]
        self.exposure = [[0.0] * 24, [0.0] * 24]  # hours, reference-weighted
        self.shape = [[1.0] * 24, [1.0] * 24]
        self.scale = 1.0  # e^((hour_start - origin) / tau): a story's weight right now
        self._last_ts = math.nan
        self._last_weight = 1.0
        self._hour_weights: dict[int, float] = {}

    @property
    def started(self) -> bool:
        return self.origin is not None

    def start(self, ts: float) -> None:
        hour = math.floor(ts / HOUR) * HOUR
        self.origin = hour
        self._last_ts = math.nan
        self._hour_weights.clear()
        self.hour_start = hour
        self._recompute()

    def day_class(self, ts: float) -> int:
        return day_class(ts) if self.weekend else 0

    def weight(self, ts: float) -> float:
        """A story's weight at ts in the reference form (the last one is remembered: a
        story counts on several keys)."""
        if ts != self._last_ts:
            assert self.origin is not None
            self._last_ts = ts
            self._last_weight = math.exp((ts - self.origin) / self.tau)
        return self._last_weight

    def hour_weight(self, hour_index: int) -> float:
        """The weight of the start of an hour (hours since the epoch), remembered."""
        weight = self._hour_weights.get(hour_index)
        if weight is None:
            if len(self._hour_weights) > 4096:
                self._hour_weights.clear()
            weight = self._hour_weights[hour_index] = self.weight(hour_index * HOUR)
        return weight

    def advance(self, ts: float) -> int:
        """Move the clock to ts (never back); returns the number of hours completed."""
        if self.origin is None:
            self.start(ts)
            return 0
        hours = 0
        while ts >= self.hour_start + HOUR:
            start = self.hour_start
            c, h = self.day_class(start), hour_of_day(start)
            # The exposure of one whole hour, weighted like the stories in it.
            self.exposure[c][h] += (self.tau / HOUR) * (
                self.weight(start + HOUR) - self.weight(start))
            self.hour_start = start + HOUR
            hours += 1
        if hours:
            self._recompute()
        return hours

    def add(self, ts: float, weight: float = 1.0) -> None:
        """Count a story (or a bucket of `weight` stories) at ts in the shared profile."""
        if self.shared:
            self.counts[self.day_class(ts)][hour_of_day(ts)] += weight * self.weight(ts)

    def needs_rebase(self) -> bool:
        return (self.hour_start - (self.origin or 0.0)) / self.tau > REBASE_EXPONENT

    def rebase(self) -> float:
        """Move the origin to the current hour; returns the factor every reference-form sum
        (here and in the keys' profiles) must be multiplied by."""
        assert self.origin is not None
        factor = math.exp(-(self.hour_start - self.origin) / self.tau)
        self.origin = self.hour_start
        self._last_ts = math.nan
        self._hour_weights.clear()
        for table in (self.counts, self.exposure):
            for row in table:
                for h in range(24):
                    row[h] *= factor
        self._recompute()
        return factor

    def _recompute(self) -> None:
        assert self.origin is not None
        self.scale = math.exp((self.hour_start - self.origin) / self.tau)
        classes = (0, 1) if self.weekend else (0,)
        if self.shared:
            total_c = sum(sum(self.counts[c]) for c in classes)
            total_e = sum(sum(self.exposure[c]) for c in classes)
            rate = total_c / total_e if total_e > 0 else 0.0
            prior = self.prior * self.scale
            for c in classes:
                for h in range(24):
                    expected = rate * self.exposure[c][h]
                    self.shape[c][h] = ((self.counts[c][h] + prior) / (expected + prior)
                                        if expected + prior > 0 else 1.0)
        if not self.weekend:
            self.shape[1] = list(self.shape[0])

    def to_dict(self) -> dict[str, Any]:
        # The shape too: it is recomputed only when an hour completes, from the counts of
        # that moment, so recomputing it from later counts would not continue the same run.
        return {"origin": self.origin, "hour_start": self.hour_start,
                "counts": self.counts, "exposure": self.exposure, "shape": self.shape}

    def load(self, data: dict[str, Any]) -> None:
        """The state `to_dict` wrote (the configuration comes from the constructor)."""
        self.origin = as_optional_float(data.get("origin"), "clock.origin")
        self._last_ts = math.nan
        self._hour_weights.clear()
        self.hour_start = as_float(data.get("hour_start"), "clock.hour_start")
        for name in ("counts", "exposure", "shape"):
            rows = data.get(name)
            if not isinstance(rows, list) or len(rows) != 2:
                raise snapshot_error(f"clock.{name} must be two rows of 24 numbers")
            setattr(self, name, [as_float_list(row, f"clock.{name}", 24) for row in rows])
        if self.origin is not None:
            self.scale = math.exp((self.hour_start - self.origin) / self.tau)
