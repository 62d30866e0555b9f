"""The spike detector's parameters: one frozen dataclass, two presets, JSON overrides. Pure.

Two presets because the two inputs differ in kind, not only in scale:

- ``ARTICLE_DEFAULTS``: article records (and watches). Stories on a key are rare (half the
  tag x entity keys see under 0.3 an hour), so the test is a plain Poisson tail on a
  60-minute window, guarded by a minimum count, at least 3 sources with no single source
  carrying the spike, and a ratio to the baseline.
- ``COUNT_DEFAULTS``: pre-bucketed count series (``--counts``). Real volume series are far
  more variable than Poisson (bursts of retweets), so the tail is quasi-Poisson with a
  dispersion estimated per series, the window is longer and there is no source rule (no
  sources). Count series are unrelated to each other, so each keeps its own daily profile
  instead of sharing the all-stories profile.

The values were chosen on the development benchmarks and checked on others
(processors/alerts/README.md, ``python -m processors.alerts.evaluate``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from newsflow.errors import ConfigError

__all__ = ["ARTICLE_DEFAULTS", "COUNT_DEFAULTS", "DetectorConfig", "config_overrides"]


@dataclass(frozen=True)
class DetectorConfig:
    """Every knob of `SpikeDetector`. Times are in event time (the records' own clock)."""

    # --- the test ---------------------------------------------------------------------------
    # The stories of the trailing `window_min` minutes, tested whenever a story (a bucket)
    # arrives on the key. An alert needs all of: p (the count's tail probability under the
    # baseline) below `p_max`, count >= `min_ratio` x baseline, count >= `min_count`.
    window_min: float = 60.0
    p_max: float = 5e-5
    min_ratio: float = 3.0
    min_count: int = 5
    # Articles only: distinct sources in the window, and no single source carrying it (the
    # most prolific source counts no more than the second, and not at all when it has more
    # stories than all the others together).
    min_sources: int = 3
    cap_top_source: bool = True
    # After an alert a key stays quiet this long: one alert per episode.
    cooldown_min: float = 360.0
    # The window is tested against an upper bound of the baseline, level x (1 + z /
    # sqrt(n)) with n the stories the level rests on (0: the estimate itself).
    baseline_z: float = 0.5
    # A rising key's level is less certain than a steady one's (an EWMA lags a rise, and a
    # chance high on a key already climbing for days looks like a spike): the bound is
    # widened by (1 + baseline_drift x (r - 1)), r the level over the longest level (at most
    # 4; 1 for a steady or falling key). 0.5: of 0.2, 0.35, 0.5, 0.75, 1.0, the least that
    # left no slow trend alerting on the dev set and sets A, C, E; sets B, D, F then checked
    # it (processors/alerts/README.md).
    baseline_drift: float = 0.5

    # --- the level (baseline.py) ------------------------------------------------------------
    # The exponentially weighted rate of the stories before the window, one per half-life.
    # The baseline takes the largest: the short one follows a slow trend, the long one
    # remembers a key's usual rate through a quiet spell.
    half_lives_h: tuple[float, ...] = (12.0, 24.0, 96.0)
    # Each shorter level is shrunk towards the longest by this many pseudo-stories (a
    # sparse key's last hours say little; a maximum over noisy levels is biased upwards).
    level_prior_stories: float = 5.0
    # A growing key (shortest level above the next) is carried forward by the growth the two
    # imply (1: fully, 0: not), at most x `trend_cap`, the ratio shrunk towards 1 by
    # `trend_prior_stories`: an EWMA lags a slow trend, and the lag made trends look like
    # spikes.
    trend_extrapolation: float = 1.0
    trend_cap: float = 2.0
    trend_prior_stories: float = 10.0
    # A key with no history: `prior_rate_per_h` weighted as `prior_hours` of exposure, and
    # never less than `min_baseline` stories expected in a window (a ratio to ~0 means
    # nothing).
    prior_rate_per_h: float = 0.02
    prior_hours: float = 0.25
    min_baseline: float = 0.05

    # --- the profile (profile.py, baseline.py) ----------------------------------------------
    # Time of day x weekday/weekend, exponentially weighted with this half-life.
    profile_half_life_d: float = 7.0
    weekend: bool = True
    # The all-keys profile (articles: news follows newsroom hours), shrunk to flat by
    # `shared_profile_prior` pseudo-stories per slot; off for independent count series.
    shared_profile: bool = True
    shared_profile_prior: float = 20.0
    # A key's own deviation from it, shrunk by `key_profile_prior` pseudo-stories towards
    # its entity's (`entity_profiles`: learnt from every story naming the entity) or 1, its
    # hour counts spread over +-`key_profile_smoothing_h` hours.
    key_profile_prior: float = 60.0
    key_profile_smoothing_h: int = 2
    entity_profiles: bool = True

    # --- counts only --------------------------------------------------------------------------
    # Quasi-Poisson dispersion per key from its hourly Pearson residuals (robust: an hour
    # weighs at most `dispersion_clip` x the current value).
    dispersion: bool = False
    dispersion_half_life_h: float = 72.0
    dispersion_clip: float = 10.0

    # --- housekeeping -----------------------------------------------------------------------
    # No alerts in the detector's first hours of event time (nothing is known yet).
    warmup_h: float = 24.0
    # A key idle this long starts afresh (and its state may be dropped): bounded state.
    max_idle_d: float = 21.0
    # At most this many article ids in an alert's evidence (the most recent ones).
    max_evidence_ids: int = 200

    def __post_init__(self) -> None:
        problems = []
        positive = ("window_min", "p_max", "profile_half_life_d", "max_idle_d",
                    "dispersion_half_life_h", "min_baseline", "prior_hours")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number, got {value!r}")
        non_negative = ("cooldown_min", "baseline_z", "baseline_drift", "level_prior_stories",
                        "trend_extrapolation", "trend_prior_stories", "prior_rate_per_h",
                        "warmup_h", "shared_profile_prior", "key_profile_prior",
                        "key_profile_smoothing_h", "min_count", "min_sources")
        for name in non_negative:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a number >= 0, got {value!r}")
        if not (isinstance(self.p_max, int | float) and 0 < self.p_max <= 1):
            problems.append(f"p_max must be in (0, 1], got {self.p_max!r}")
        if not (isinstance(self.min_ratio, int | float) and self.min_ratio >= 1):
            problems.append(f"min_ratio must be >= 1 (a spike is above its baseline), "
                            f"got {self.min_ratio!r}")
        if not (isinstance(self.trend_cap, int | float) and self.trend_cap >= 1):
            problems.append(f"trend_cap must be >= 1, got {self.trend_cap!r}")
        if not (isinstance(self.dispersion_clip, int | float) and self.dispersion_clip >= 1):
            problems.append(f"dispersion_clip must be >= 1, got {self.dispersion_clip!r}")
        if not self.half_lives_h or not all(
            isinstance(h, int | float) and math.isfinite(h) and h > 0 for h in self.half_lives_h
        ):
            problems.append(f"half_lives_h must be positive numbers, got {self.half_lives_h!r}")
        if not (isinstance(self.key_profile_smoothing_h, int)
                and 0 <= self.key_profile_smoothing_h <= 6):
            problems.append(f"key_profile_smoothing_h must be an integer in 0..6, "
                            f"got {self.key_profile_smoothing_h!r}")
        if not (isinstance(self.max_evidence_ids, int) and self.max_evidence_ids >= 1):
            problems.append(f"max_evidence_ids must be an integer >= 1, "
                            f"got {self.max_evidence_ids!r}")
        if problems:
            raise ConfigError("alert detector: " + "; ".join(problems))

    def replace(self, overrides: Mapping[str, Any]) -> DetectorConfig:
        """A copy with `overrides` (field name -> value, e.g. parsed from --config-json)
        applied; unknown names and bad values raise ConfigError."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ConfigError(f"alert detector: unknown parameters {unknown}; "
                              f"known: {sorted(known)}")
        values: dict[str, Any] = {}
        for name, value in overrides.items():
            default = getattr(self, name)
            if isinstance(default, tuple):
                if not isinstance(value, list | tuple):
                    raise ConfigError(f"alert detector: {name} must be a list, got {value!r}")
                value = tuple(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"alert detector: {name} must be true or false, "
                                      f"got {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"alert detector: {name} must be an integer, "
                                      f"got {value!r}")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ConfigError(f"alert detector: {name} must be a number, got {value!r}")
                value = float(value)
            values[name] = value
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}


def config_overrides(text: str) -> dict[str, Any]:
    """Parameter overrides from a JSON object (``--config-json``); ConfigError when the text
    is not one. The names and values are checked by `DetectorConfig.replace`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"alert detector: the parameters are not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError("alert detector: the parameters must be a JSON object, e.g. "
                          '{"p_max": 1e-5}')
    return value


ARTICLE_DEFAULTS = DetectorConfig()

COUNT_DEFAULTS = DetectorConfig(
    window_min=120.0,
    p_max=1e-5,
    min_ratio=2.0,
    min_count=0,
    min_sources=0,
    cap_top_source=False,
    cooldown_min=1440.0,
    shared_profile=False,
    entity_profiles=False,
    dispersion=True,
    dispersion_clip=20.0,
    baseline_drift=0.0,  # the count presets were chosen without it (NAB)
)
