"""The batch face of the detector (``newsflow alerts replay``): JSON lines in, alert lines out.

Articles: ``{"id", "source", "published_at", "tags", "entities", "dup_of"?}`` in arrival
order. Counts (``--counts``): ``{"key", "at", "count"}``, a key's buckets in time order and
equally spaced, keys interleaved. Each alert is one JSON object
(`processors.alerts.model.Alert.to_record`): ``{"key", "at", "count", "baseline", "sources",
"article_ids", ...}``; ``sources`` is null and ``article_ids`` empty for counts.

The replay is the live detector fed from a file: same class, same configuration, no clock
but the records'. A bad line stops the run with its number (SchemaError); the alerts of the
lines before it have been yielded by then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from newsflow.errors import SchemaError
from processors.alerts.config import ARTICLE_DEFAULTS, COUNT_DEFAULTS, DetectorConfig
from processors.alerts.detector import SpikeDetector
from processors.alerts.model import AlertInput

__all__ = ["parse_article", "parse_count", "parse_time", "replay_articles", "replay_counts"]


def parse_time(value: Any, line_no: int, name: str) -> datetime:
    """ISO 8601 (a trailing Z, any offset; no offset means UTC) -> an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"line {line_no}: {name!r} must be an ISO 8601 time string")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SchemaError(f"line {line_no}: {name!r} is not an ISO 8601 time: {value!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _strings(value: Any, line_no: int, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SchemaError(f"line {line_no}: {name!r} must be a list of strings")
    return tuple(value)


def _decode(line: str, line_no: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise SchemaError(f"line {line_no}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise SchemaError(f"line {line_no}: expected a JSON object, got {type(record).__name__}")
    return record


def parse_article(record: dict[str, Any], line_no: int) -> AlertInput:
    """One article record -> the detector's input."""
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, str | int) or record_id == "":
        raise SchemaError(f"line {line_no}: 'id' must be a non-empty string or integer")
    source = record.get("source")
    if not isinstance(source, str) or not source:
        raise SchemaError(f"line {line_no}: 'source' must be a non-empty string")
    dup_of = record.get("dup_of")
    if dup_of is not None and not isinstance(dup_of, str | int):
        raise SchemaError(f"line {line_no}: 'dup_of' must be null or an article id")
    return AlertInput(
        id=str(record_id),
        source=source,
        published_at=parse_time(record.get("published_at"), line_no, "published_at"),
        tags=_strings(record.get("tags"), line_no, "tags"),
        entities=_strings(record.get("entities"), line_no, "entities"),
        dup_of=None if dup_of is None else str(dup_of),
    )


def parse_count(record: dict[str, Any], line_no: int) -> tuple[str, datetime, int]:
    """One count line -> (key, bucket start, count)."""
    key = record.get("key")
    if not isinstance(key, str) or not key:
        raise SchemaError(f"line {line_no}: 'key' must be a non-empty string")
    count = record.get("count")
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise SchemaError(f"line {line_no}: 'count' must be an integer >= 0")
    return key, parse_time(record.get("at"), line_no, "at"), count


def replay_articles(lines: Iterable[str], config: DetectorConfig = ARTICLE_DEFAULTS,
                    detector: SpikeDetector | None = None) -> Iterator[dict[str, Any]]:
    """Alert records for article lines (blank lines are skipped)."""
    detector = detector or SpikeDetector(config)
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = parse_article(_decode(line, line_no), line_no)
        for alert in detector.observe(item):
            yield alert.to_record()


def replay_counts(lines: Iterable[str], config: DetectorConfig = COUNT_DEFAULTS,
                  detector: SpikeDetector | None = None) -> Iterator[dict[str, Any]]:
    """Alert records for count lines (blank lines are skipped)."""
    detector = detector or SpikeDetector(config)
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, at, count = parse_count(_decode(line, line_no), line_no)
        for alert in detector.observe_count(key, at, count):
            yield alert.to_record()
