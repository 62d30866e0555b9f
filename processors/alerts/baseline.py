"""A key's baseline: how many stories its window should hold. Pure.

The model: stories on a key arrive as a Poisson process with rate ``level x profile(t)``.

- ``profile(t)`` is the shared (day class, hour) shape times the key's own deviation from
  it per hour of day and per day class. A deviation is the key's stories in that hour
  over the stories its level and the shared shape expected there, each expected story
  weighed by the key's level *when* it was expected, so growth does not bend the profile.
  It is shrunk by `key_profile_prior` pseudo-stories towards the deviation of the key's
  entity (a tag|entity key; the entity's profile learns from every story naming it) or
  towards 1: a key reported from Tokyo peaks in other UTC hours than one reported from
  Washington, and a key with ten stories a week has no profile of its own worth the name.
  Hour counts are spread over neighbouring hours (`key_profile_smoothing_h`): newsroom days
  are smooth, and a sparse key's empty hour is chance, not a rule.
- ``level`` is the exponentially weighted maximum-likelihood rate given that profile:
  ``N / X`` with ``N = sum e^(-(b - t_i) / tau)`` and ``X = integral of e^(-(b - u) / tau)
  profile(u) du`` up to the key's *cursor* b, the start of the tested window: the stories
  under test never inflate their own baseline. One level per half-life; the shorter ones
  are shrunk towards the longest (`level_prior_stories`), a growing key's short level is
  carried forward by the growth the levels imply, and the baseline takes the largest.
- The window is tested against ``level x (1 + z / sqrt(n)) x integral of the profile over
  the window``, n the stories the level rests on: an upper bound, so that a level that
  happens to be low does not turn an ordinary cluster into an alert.

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

# The key-profile prior's share per day class: the calendar's (weekdays, weekend).
_DAY_CLASS_SHARE = (5.0 / 7.0, 2.0 / 7.0)


class KeyBaseline:
    """One key's baseline state: levels up to the cursor and its profile counts."""

    __slots__ = ("cursor", "days", "expected_days", "expected_hours", "expected_total", "hours",
                 "n", "parent", "total", "x")

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
        # The profile this one is shrunk towards, when it has one (a tag|entity key: the
        # entity's, from every story naming it). Linked by the detector, not saved.
        self.parent: KeyBaseline | None = None

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
        # Under exponential growth g an EWMA with time constant tau reads r / (1 + g tau):
        # with the two shortest, R = short / long = (1 + g tau_l) / (1 + g tau_s), so
        # g tau_s = (R - 1) / (rho - R) with rho = tau_l / tau_s, and the level now is
        # short x (1 + g tau_s). R of a sparse key is mostly noise: it is shrunk towards 1 by
        # the stories behind the short level (`trend_prior_stories`).
        ordered = sorted(config.half_lives_h)
        self.trend = config.trend_extrapolation if len(ordered) > 1 else 0.0
        self.trend_rho = ordered[1] / ordered[0] if len(ordered) > 1 else 1.0
        self.trend_cap = config.trend_cap
        self.trend_prior = config.trend_prior_stories
        self.level_prior = config.level_prior_stories
        self.z = config.baseline_z
        self.drift = config.baseline_drift
        # A story in hour h is spread over these (hour, weight) pairs.
        kernel = hour_kernel(config.key_profile_smoothing_h)
        self.spread = [[((h + d) % 24, k) for d, k in kernel] for h in range(24)]
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
        # expected story weighed by the key's level when it was expected (so growth, or a
        # quiet week, does not bend the profile), the expected scaled to the observed total
        # (so the deviations average 1). Shrunk towards the parent's deviation (or 1) by
        # `prior` pseudo-stories spread over the day (a share per hour, per day class): an
        # hour the key has hardly been seen in keeps the parent's value.
        h = hour_index % 24
        c = 1 if self.weekend and (hour_index // 24 + 3) % 7 >= 5 else 0
        prior_hour = prior / 24.0
        prior_day = prior * _DAY_CLASS_SHARE[c]
        by_hour = by_day = 1.0
        parent = state.parent
        if parent is not None and parent.expected_total > 0:
            scale = parent.total / parent.expected_total
            by_hour = ((parent.hours[h] + prior_hour)
                       / (parent.expected_hours[h] * scale + prior_hour))
            by_day = ((parent.days[c] + prior_day)
                      / (parent.expected_days[c] * scale + prior_day))
        if state.expected_total > 0:
            scale = state.total / state.expected_total
            by_hour = ((state.hours[h] + prior_hour * by_hour)
                       / (state.expected_hours[h] * scale + prior_hour))
            by_day = ((state.days[c] + prior_day * by_day)
                      / (state.expected_days[c] * scale + prior_day))
        return self.clock.shape[c][h] * by_hour * by_day

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
        shape = clock.shape
        prior = self.key_prior * clock.scale
        level = self._raw_level(state)
        expected_hours, expected_days = state.expected_hours, state.expected_days
        spread = self.spread
        weekend = self.weekend
        while u < to:
            hour_index = int(u // HOUR)
            end = (hour_index + 1) * HOUR
            if end > to:
                end = to
            span = end - u
            p = self._profile(state, hour_index, prior)
            if span == HOUR:
                for j in levels:
                    decay = hour_decay[j]
                    x[j] = x[j] * decay + p * tau_hours[j] * (1.0 - decay)
                    n[j] *= decay
            else:
                for j in levels:
                    decay = math.exp(-span / taus[j])
                    x[j] = x[j] * decay + p * tau_hours[j] * (1.0 - decay)
                    n[j] *= decay
            h = hour_index % 24
            c = 1 if weekend and (hour_index // 24 + 3) % 7 >= 5 else 0
            e = level * shape[c][h] * span / HOUR * clock.hour_weight(hour_index)
            for i, k in spread[h]:
                expected_hours[i] += e * k
            expected_days[c] += e
            state.expected_total += e
            u = end
        state.cursor = to

    def add(self, state: KeyBaseline, ts: float, weight: float = 1.0) -> None:
        """A story (or `weight` of them) at ts <= the cursor joins the baseline."""
        clock = self.clock
        w = weight * clock.weight(ts)
        age = state.cursor - ts
        n = state.n
        if age > 0:
            for j, tau in enumerate(self.taus):
                n[j] += weight * math.exp(-age / tau)
        else:
            for j in range(len(n)):
                n[j] += weight
        hours = state.hours
        for i, k in self.spread[int(ts // HOUR) % 24]:  # over neighbouring hours: _profile
            hours[i] += w * k
        state.days[clock.day_class(ts)] += w
        state.total += w

    def _raw_level(self, state: KeyBaseline) -> float:
        """The largest unshrunk level: what the key's profile expects stories at."""
        prior_n, prior_x = self.prior_n, self.prior_x
        best = 0.0
        for n, x in zip(state.n, state.x, strict=True):
            level = (n + prior_n) / (x + prior_x)
            if level > best:
                best = level
        return best

    def levels(self, state: KeyBaseline) -> list[float]:
        """The level per half-life, shortest first. The longest is the plain weighted rate;
        each shorter one is shrunk towards it by `level_prior_stories` pseudo-stories (a
        sparse key's last twelve hours say little, and a maximum over noisy levels is
        biased upwards; a busy key's say a lot and keep their own level)."""
        n_all, x_all = state.n, state.x
        longest = (n_all[-1] + self.prior_n) / (x_all[-1] + self.prior_x)
        m = self.level_prior
        if longest <= 0 or m <= 0:
            return [(n + self.prior_n) / (x + self.prior_x)
                    for n, x in zip(n_all, x_all, strict=True)]
        pseudo_x = m / longest
        out = [(n + m) / (x + pseudo_x) for n, x in zip(n_all[:-1], x_all[:-1], strict=True)]
        out.append(longest)
        return out

    def level(self, state: KeyBaseline) -> float:
        """Stories per profile-hour: the largest of the levels and, when the shortest level
        is above the next one (a key that is growing), the shortest carried forward by the
        growth the two imply."""
        return self._level(state)[0]

    def _level(self, state: KeyBaseline) -> tuple[float, float, float]:
        """(level, the stories it rests on, the longest level)."""
        levels = self.levels(state)
        stories = [n + self.level_prior for n in state.n[:-1]] + [state.n[-1] + self.prior_n]
        j = max(range(len(levels)), key=levels.__getitem__)
        best, support = levels[j], stories[j]
        if self.trend > 0 and len(levels) > 1:
            short, long = levels[0], levels[1]
            if short > long:
                n = state.n[0]
                ratio = 1.0 + (short / long - 1.0) * n / (n + self.trend_prior)
                rho = self.trend_rho
                growth = self.trend_cap if ratio >= rho else min(
                    self.trend_cap, 1.0 + self.trend * (ratio - 1.0) / (rho - ratio))
                if short * growth > best:
                    best, support = short * growth, stories[0]
        return best, support, levels[-1]

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
        """Stories expected in [start, end) (at least `min_baseline`), from the level's
        upper bound: level x (1 + z / sqrt(stories behind it)). A level resting on a dozen
        stories is off by a third as often as not; tested against the estimate itself, the
        keys whose estimate happened to be low (and the busy ones, tested at every story)
        produced most of the false alarms, trending keys first."""
        level, support, longest = self._level(state)
        widen = 1.0
        if self.z > 0 and support > 0:
            widen += self.z / math.sqrt(support)
        if self.drift > 0 and longest > 0:
            rise = min(4.0, max(1.0, level / longest))
            widen *= 1.0 + self.drift * (rise - 1.0)
        level *= widen
        return max(self.min_baseline, level * self.integral(state, start, end))

    def rebase(self, state: KeyBaseline, factor: float) -> None:
        """The clock moved its origin (profile.py): rescale the reference-form sums."""
        state.hours = [v * factor for v in state.hours]
        state.days = [v * factor for v in state.days]
        state.total *= factor
        state.expected_hours = [v * factor for v in state.expected_hours]
        state.expected_days = [v * factor for v in state.expected_days]
        state.expected_total *= factor
