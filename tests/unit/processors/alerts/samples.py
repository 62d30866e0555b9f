"""Small synthetic streams for the spike detector's tests, generated here (seeded)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.alerts.detector import SpikeDetector
from processors.alerts.model import AlertInput

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
TAG, ENTITY = "sanctions", "Iran"
KEY = f"{TAG}|{ENTITY}"


def day_shape(at: datetime) -> float:
    """A newsroom day in UTC: quiet at night, busiest in the afternoon (mean about 1)."""
    hour = at.hour + at.minute / 60
    return 1.0 + 0.8 * math.sin((hour - 9.0) / 24.0 * 2.0 * math.pi)


def background(days: float, *, rate_per_h: float = 0.5, seed: int = 1, tag: str = TAG,
               entity: str = ENTITY, prefix: str = "b", start: datetime = T0,
               growth_per_day: float = 0.0) -> list[AlertInput]:
    """Poisson stories on tag|entity (and so on tag) from 60 outlets, minute by minute, with
    a daily rhythm; `growth_per_day` > 0 makes the rate grow exponentially (a slow trend)."""
    rng = random.Random(seed)
    out: list[AlertInput] = []
    minutes = int(days * 24 * 60)
    for m in range(minutes):
        at = start + timedelta(minutes=m)
        rate = rate_per_h * day_shape(at) * math.exp(growth_per_day * m / 1440.0)
        if rng.random() < rate / 60.0:
            out.append(AlertInput(
                id=f"{prefix}{len(out):05d}", source=f"outlet{rng.randrange(60)}.example",
                published_at=at + timedelta(seconds=rng.randrange(60)), tags=(tag,),
                entities=(entity,)))
    return out


def burst(at: datetime, n: int, sources: int, *, minutes_apart: float = 4.0,
          prefix: str = "x", tag: str = TAG, entity: str = ENTITY) -> list[AlertInput]:
    """`n` stories from `sources` distinct outlets, one every `minutes_apart` minutes."""
    return [AlertInput(id=f"{prefix}{i:03d}", source=f"wire{i % sources}.example",
                       published_at=at + timedelta(minutes=minutes_apart * i), tags=(tag,),
                       entities=(entity,)) for i in range(n)]


def copies(original: AlertInput, n: int, *, minutes_apart: float = 2.0) -> list[AlertInput]:
    """`n` syndicated copies of `original` by other outlets."""
    return [AlertInput(id=f"{original.id}-c{i}", source=f"reprint{i}.example",
                       published_at=original.published_at + timedelta(
                           minutes=minutes_apart * (i + 1)),
                       tags=original.tags, entities=original.entities, dup_of=original.id)
            for i in range(n)]


def merged(*streams: Iterable[AlertInput]) -> list[AlertInput]:
    """Arrival order: by publication time (stable)."""
    return sorted((item for s in streams for item in s), key=lambda a: a.published_at)


def alerts_of(items: Iterable[AlertInput],
              detector: SpikeDetector | None = None) -> Iterator[dict[str, Any]]:
    """The alert records of a stream, through one detector (a fresh one by default)."""
    detector = detector or SpikeDetector()
    for item in items:
        for alert in detector.observe(item):
            yield alert.to_record()
