"""A key's baseline: how many stories its window should hold. Pure.

The model: stories on a key arrive as a Poisson process with rate ``level x profile(t)``.

- ``profile(t)`` is the shared (day class, hour) shape times the key's own deviation from
  it, per hour of day and per day class, each shrunk towards 1 by `key_profile_prior`
  pseudo-stories. A key reported from Tokyo peaks in other UTC hours than one reported from
  Washington; a key with ten stories a week has no profile of its own worth the name and
  follows the shared one. A key's hour counts are smoothed over neighbouring hours
  (`key_profile_smoothing_h`): newsroom days are smooth, and a sparse key's empty hour is
  chance, not a rule (unsmoothed, a key with 40 stories a week had hours at a quarter of
  their true rate, and alerted there).
- ``level`` is the exponentially weighted maximum-likelihood rate given that profile:
  weighted stories / weighted exposure, ``N / X`` with ``N = sum e^(-(b - t_i) / tau)`` and
  ``X = integral of e^(-(b - u) / tau) profile(u) du`` up to the key's *cursor* b. The cursor
  is the start of the tested window: the stories under test never inflate their own
  baseline. A prior of `prior_rate_per_h` worth `prior_hours` keeps new and silent keys
  finite. One level per half-life; the baseline takes the largest.

Sparse keys are the common case (half the tag x entity keys see under 0.3 stories an hour):
nothing here needs a key to have a story in every hour, and a key touched after a long
silence catches up in one pass over the hours in between.
"""

from __future__ import annotations

import math
from typing import Any

from processors.alerts.config import DetectorConfig
from processors.alerts.profile import HOUR, ClockProfile, hour_kernel
from processors.alerts.state import as_float, as_float_list

__all__ = ["BaselineModel", "KeyBaseline"]


class KeyBaseline:
    """One key's baseline state: levels up to the cursor and its profile counts."""

    __slots__ = ("cursor", "days", "expected_days", "expected_hours", "expected_total", "hours",
                 "n", "total", "x")

    def __init__(self, cursor: float, levels: int) -> None:
        self.cursor = cursor  # stories and exposure are accounted up to here
        self.n = [0.0] * levels  # weighted stories, one per half-life
        self.x = [0.0] * levels  # weighted exposure (profile-hours), one per half-life
        # The key's profile: stories per hour of day and per day class, and the stories
        # its level and the shared shape expected there (reference form, see profile.py).
        self.hours = [0.0] * 24
        self.days = [0.0, 0.0]
        self.total = 0.0
        self.expected_hours = [0.0] * 24
        self.expected_days = [0.0, 0.0]
        self.expected_total = 0.0

    def to_list(self) -> list[Any]:
        return [self.cursor, self.n, self.x, self.hours, self.days, self.total,
                self.expected_hours, self.expected_days, self.expected_total]

    @classmethod
    def from_list(cls, data: Any, levels: int) -> KeyBaseline:
        if not isinstance(data, list) or len(data) != 9:
            raise ValueError("a key baseline is a list of 9 items")
        state = cls(as_float(data[0], "baseline.cursor"), levels)
        state.n = as_float_list(data[1], "baseline.n", levels)
        state.x = as_float_list(data[2], "baseline.x", levels)
        state.hours = as_float_list(data[3], "baseline.hours", 24)
        state.days = as_float_list(data[4], "baseline.days", 2)
        state.total = as_float(data[5], "baseline.total")
        state.expected_hours = as_float_list(data[6], "baseline.expected_hours", 24)
        state.expected_days = as_float_list(data[7], "baseline.expected_days", 2)
        state.expected_total = as_float(data[8], "baseline.expected_total")
        return state


class BaselineModel:
    """The arithmetic over `KeyBaseline` states, given the configuration and the clock."""

    def __init__(self, config: DetectorConfig, clock: ClockProfile) -> None:
        self.clock = clock
        self.taus = [h * HOUR / math.log(2.0) for h in sorted(config.half_lives_h)]
        self.tau_hours = [t / HOUR for t in self.taus]
        self.hour_decay = [math.exp(-HOUR / t) for t in self.taus]
        self.key_prior = config.key_profile_prior
        self.prior_n = config.prior_rate_per_h * config.prior_hours
        self.prior_x = config.prior_hours
        self.min_baseline = config.min_baseline
        # For exponential growth g, an EWMA of mean age tau lags by e^(-g tau): with the two
        # shortest mean ages tau_s < tau_l, short / long = e^(g (tau_l - tau_s)), and the
        # level now is short x (short / long)^(tau_s / (tau_l - tau_s)).
        ordered = sorted(config.half_lives_h)
        self.taus = [h * HOUR / math.log(2.0) for h in ordered]
        self.trend_power = 0.0
        if config.trend_extrapolation and len(ordered) > 1:
            self.trend_power = config.trend_extrapolation * ordered[0] / (ordered[1] - ordered[0])
        self.trend_cap = config.trend_cap
        self.kernel = hour_kernel(config.key_profile_smoothing_h)
        self.weekend = config.weekend

    def new(self, cursor: float) -> KeyBaseline:
        """A key first seen now. It was silent since the clock started, and that silence is
        evidence: its exposure is the time since then (with a flat profile)."""
        state = KeyBaseline(cursor, len(self.taus))
        origin = self.clock.origin if self.clock.origin is not None else cursor
        age = max(0.0, cursor - origin)
        state.x = [th * (1.0 - math.exp(-age / t)) for th, t in zip(self.tau_hours, self.taus,
                                                                     strict=True)]
        return state

    def profile(self, state: KeyBaseline, ts: float) -> float:
        """The key's relative rate at ts: shared shape x its own hour and day deviations."""
        return self._profile(state, int(ts // HOUR), self.key_prior * self.clock.scale)

    def _profile(self, state: KeyBaseline, hour_index: int, prior: float) -> float:
        # A deviation is observed / expected stories in that hour (day class), each
        # expected story weighed by the key's level when it was expected: so growth (or a
        # quiet week) does not bend the profile. Shrunk towards 1 by `prior` pseudo-stories
        # and normalised so that its mean over the expected stories is 1.
        shape = self.clock.shape
        h = hour_index % 24
        c = 1 if self.weekend and (hour_index // 24 + 3) % 7 >= 5 else 0
        expected_total = state.expected_total
        if expected_total <= 0:
            return shape[c][h]
        denominator = state.total + prior
        expected_hour = state.expected_hours[h]
        expected_day = state.expected_days[c]
        by_hour = ((expected_total * state.hours[h] / expected_hour + prior) / denominator
                   if expected_hour > 0 else 1.0)
        by_day = ((expected_total * state.days[c] / expected_day + prior) / denominator
                  if expected_day > 0 else 1.0)
        return shape[c][h] * by_hour * by_day

    def advance(self, state: KeyBaseline, to: float) -> None:
        """Move the cursor to `to`: exposure accrues, weighted stories decay, and the
        key's profile expects stories at its present level."""
        u = state.cursor
        if to <= u:
            return
        taus, tau_hours, hour_decay = self.taus, self.tau_hours, self.hour_decay
        levels = range(len(taus))
        n, x = state.n, state.x
        clock = self.clock
        prior = self.key_prior * clock.scale
        level = self._raw_level(state)
        expected_hours = state.expected_hours
        kernel = self.kernel
        while u < to:
            hour_index = int(u // HOUR)
            end = min(to, (hour_index + 1) * HOUR)
            span = end - u
            p = self._profile(state, hour_index, prior)
            for j in levels:
                decay = hour_decay[j] if span == HOUR else math.exp(-span / taus[j])
                x[j] = x[j] * decay + p * tau_hours[j] * (1.0 - decay)
                n[j] *= decay
            h = hour_index % 24
            c = 1 if self.weekend and (hour_index // 24 + 3) % 7 >= 5 else 0
            e = level * clock.shape[c][h] * span / HOUR * clock.weight(u)
            for d, k in kernel:
                expected_hours[(h + d) % 24] += e * k
            state.expected_days[c] += e
            state.expected_total += e
            u = end
        state.cursor = to

    def add(self, state: KeyBaseline, ts: float, weight: float = 1.0) -> None:
        """A story (or `weight` of them) at ts <= the cursor joins the baseline."""
        clock = self.clock
        w = weight * clock.weight(ts)
        age = state.cursor - ts
        n = state.n
        for j, tau in enumerate(self.taus):
            n[j] += weight * math.exp(-age / tau) if age > 0 else weight
        h = int(ts // HOUR) % 24
        hours = state.hours
        for d, k in self.kernel:  # spread over neighbouring hours: see _profile
            hours[(h + d) % 24] += w * k
        state.days[clock.day_class(ts)] += w
        state.total += w

    def _raw_level(self, state: KeyBaseline) -> float:
        return max((n + self.prior_n) / (x + self.prior_x)
                   for n, x in zip(state.n, state.x, strict=True))

    def level(self, state: KeyBaseline) -> float:
        """Stories per profile-hour: the largest of the levels and, when the shortest level
        is above the next one (a key that is growing), the shortest carried forward by the
        growth the two imply."""
        levels = [(n + self.prior_n) / (x + self.prior_x)
                  for n, x in zip(state.n, state.x, strict=True)]
        best = max(levels)
        if self.trend_power > 0:
            short, long = levels[0], levels[1]
            if short > long:
                growth = min(self.trend_cap, (short / long) ** self.trend_power)
                best = max(best, short * growth)
        return best

    def integral(self, state: KeyBaseline, start: float, end: float) -> float:
        """Profile-hours in [start, end)."""
        total = 0.0
        u = start
        prior = self.key_prior * self.clock.scale
        while u < end:
            hour_index = int(u // HOUR)
            seg_end = min(end, (hour_index + 1) * HOUR)
            total += self._profile(state, hour_index, prior) * (seg_end - u)
            u = seg_end
        return total / HOUR

    def expected(self, state: KeyBaseline, start: float, end: float) -> float:
        """Stories expected in [start, end) (at least `min_baseline`)."""
        return max(self.min_baseline, self.level(state) * self.integral(state, start, end))

    def rebase(self, state: KeyBaseline, factor: float) -> None:
        """The clock moved its origin (profile.py): rescale the reference-form sums."""
        state.hours = [v * factor for v in state.hours]
        state.days = [v * factor for v in state.days]
        state.total *= factor
        state.expected_hours = [v * factor for v in state.expected_hours]
        state.expected_days = [v * factor for v in state.expected_days]
        state.expected_total *= factor
