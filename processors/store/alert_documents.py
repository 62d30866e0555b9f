"""Alerts in Elasticsearch, the pure part: the alerts index's mapping and an alert's document.
No client here (processors.store.alert_index is the adapter).

An alert's document id is its ``alert_id`` (the key and the moment it fired), written with
op_type create: the same alert raised again, after a restart or by a second worker that
replayed the same records, is refused as a conflict instead of stored twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["alert_document", "alerts_mappings", "build_recent_alerts", "story_of"]


def alerts_mappings() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "properties": {
            "alert_id": keyword,
            "key": keyword,
            "tag": keyword,
            "entity": keyword,
            "watch": keyword,
            "at": {"type": "date"},
            "raised_at": {"type": "date"},
            "window_start": {"type": "date"},
            "window_min": {"type": "float"},
            "count": {"type": "integer"},
            "stories": {"type": "integer"},
            "baseline": {"type": "float"},
            "ratio": {"type": "float"},
            "p": {"type": "double"},
            "dispersion": {"type": "float"},
            "sources": {"type": "integer"},
            "source_domains": keyword,
            "article_ids": keyword,
            "story_id": keyword,
        },
    }


def split_key(key: str) -> dict[str, str | None]:
    """``tag``, ``tag|entity`` or ``watch:<name>`` as its parts (for filtering in Kibana)."""
    if key.startswith("watch:"):
        return {"tag": None, "entity": None, "watch": key.removeprefix("watch:")}
    tag, _, entity = key.partition("|")
    return {"tag": tag, "entity": entity or None, "watch": None}


def story_of(story_ids: Sequence[str | None]) -> str | None:
    """The story most of an alert's articles belong to (ties: the first seen)."""
    counts = Counter(s for s in story_ids if s)
    return counts.most_common(1)[0][0] if counts else None


def alert_document(
    record: Mapping[str, Any], *, source_domains: Sequence[str], story_id: str | None,
    raised_at: datetime,
) -> dict[str, Any]:
    """``record`` is ``Alert.to_record()``; the rest is looked up from the articles."""
    return {
        "alert_id": record["alert_id"],
        "key": record["key"],
        **split_key(record["key"]),
        "at": record["at"],
        "raised_at": raised_at.isoformat(),
        "window_start": record["window_start"],
        "window_min": record["window_min"],
        "count": record["count"],
        "stories": record["stories"],
        "baseline": record["baseline"],
        "ratio": None if record["ratio"] == float("inf") else record["ratio"],
        "p": record["p"],
        "dispersion": record["dispersion"],
        "sources": record["sources"],
        "source_domains": list(source_domains),
        "article_ids": list(record["article_ids"]),
        "story_id": story_id,
    }


def build_recent_alerts(*, size: int = 20, since: datetime | None = None,
                        keys: Sequence[str] = (), tags: Sequence[str] = ()) -> dict[str, Any]:
    """Newest first (by the time they fired)."""
    filters: list[dict[str, Any]] = []
    if since is not None:
        filters.append({"range": {"at": {"gte": since.isoformat()}}})
    if keys:
        filters.append({"terms": {"key": list(keys)}})
    if tags:
        filters.append({"terms": {"tag": list(tags)}})
    return {"query": {"bool": {"filter": filters}},
            "sort": [{"at": "desc"}, {"alert_id": "asc"}], "size": size}
