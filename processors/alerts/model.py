"""What goes into the spike detector and what comes out. Pure.

`AlertInput` is the little the detector needs of an article: its id, source, publication
time (event time), its keys (tags, tag x entity pairs, later "watch:<name>") and whether it
is a syndicated copy. `Alert` is one alert with its evidence; `Alert.to_record()` is the JSON
line of ``newsflow alerts replay`` (and what the live path will index and publish), and
`Alert.alert_id` is deterministic so that the same alert raised twice (two workers, a
replay after a restart) lands on the same Elasticsearch document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from processors.alerts.keys import article_keys, entity_profile_keys

__all__ = ["Alert", "AlertInput", "format_time"]


@dataclass(frozen=True)
class AlertInput:
    """One article as the detector sees it.

    ``keys`` are derived from ``tags`` and ``entities`` (see `processors.alerts.keys`);
    ``extra_keys`` are added as they are (watches: ``"watch:<name>"``). ``dup_of`` is the id
    of the original when this record is a syndicated copy: a copy counts nothing.
    ``published_at`` must be timezone-aware (UTC or any offset); a naive time is read as UTC.
    """

    id: str
    source: str
    published_at: datetime
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    dup_of: str | None = None
    extra_keys: tuple[str, ...] = ()

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The keys it counts on: tags, tag|entity pairs, then the extra keys."""
        keys = article_keys(self.tags, self.entities)
        if self.extra_keys:
            seen = set(keys)
            keys = keys + tuple(k for k in dict.fromkeys(self.extra_keys) if k not in seen)
        return keys

    @cached_property
    def profile_keys(self) -> tuple[str, ...]:
        """The internal keys that learn its entities' time-of-day profiles."""
        return entity_profile_keys(self.tags, self.entities)

    @property
    def timestamp(self) -> float:
        """Epoch seconds (naive times are UTC)."""
        at = self.published_at
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.timestamp()


def format_time(ts: float) -> str:
    """ISO 8601 in UTC with a Z: whole seconds when the time is whole (the replay's records),
    else microseconds (a live clock), so that ``at`` is never printed before its evidence."""
    at = datetime.fromtimestamp(ts, UTC)
    spec = "seconds" if at.microsecond == 0 else "microseconds"
    return at.isoformat(timespec=spec).replace("+00:00", "Z")


@dataclass(frozen=True)
class Alert:
    """A key's count in the trailing window jumped well above its baseline.

    ``count`` is the count the test used (for articles: stories, copies collapsed, the most
    prolific source counted no more than the second), ``baseline`` the stories expected in
    the same window, ``p`` the tail probability of ``count`` under it (quasi-Poisson with
    ``dispersion`` > 1 for count series), ``sources`` the distinct sources in the window
    (None for count series), ``article_ids`` the window's stories, oldest first, all
    published at or before ``at``. ``stories`` is every story in the window (the dominant
    source uncapped).
    """

    key: str
    at: float  # event time (epoch seconds): when the evidence was complete
    count: int
    baseline: float
    p: float
    window_min: float
    sources: int | None = None
    article_ids: tuple[str, ...] = ()
    stories: int = 0
    dispersion: float = 1.0
    window_start: float = 0.0

    @property
    def at_iso(self) -> str:
        return format_time(self.at)

    @property
    def at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    @property
    def ratio(self) -> float:
        return self.count / self.baseline if self.baseline > 0 else float("inf")

    @property
    def alert_id(self) -> str:
        """Deterministic: the key and the moment it fired. The same input (and the same state)
        gives the same alert at the same time, so two workers, or a worker replaying after a
        restart, write the same document (index with ``_id = alert_id``, op_type create)."""
        digest = hashlib.sha256(f"{self.key}\x1f{self.at_iso}".encode()).hexdigest()
        return digest[:24]

    def to_record(self) -> dict[str, Any]:
        """The JSON line of ``newsflow alerts replay``: the required fields first."""
        return {
            "key": self.key,
            "at": self.at_iso,
            "count": self.count,
            "baseline": round(self.baseline, 4),
            "sources": self.sources,
            "article_ids": list(self.article_ids),
            "p": float(f"{self.p:.4g}"),
            "ratio": round(self.ratio, 2),
            "stories": self.stories,
            "dispersion": round(self.dispersion, 3),
            "window_min": self.window_min,
            "window_start": format_time(self.window_start),
            "alert_id": self.alert_id,
        }
