"""Stories in Elasticsearch, the pure part: the stories index's mapping, a story's document,
and the story engine's snapshot cut into documents. No client here (processors.store.stories
is the adapter).

A story document is keyed by its story_id and rewritten with the story's latest summary after
each batch (idempotent); its title is the first article's and is set only when the document
is created. The snapshot of the engine is compressed and cut into chunks small enough for one
request each; a meta document says which generation of chunks is current and which offset
of the enriched topic it covers, and is written last, so a reader never sees half a
snapshot.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "SNAPSHOT_CHUNK_BYTES",
    "STORY_SORTS",
    "build_story_list",
    "chunk_id",
    "join_chunks",
    "meta_id",
    "snapshot_chunks",
    "state_mappings",
    "stories_mappings",
    "story_document",
]

# Raw bytes per chunk document (base64 makes it a third larger): well under
# Elasticsearch's 100 MB request limit, small enough not to stall the node.
SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024


def stories_mappings() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "properties": {
            "story_id": keyword,
            "title": {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                             "ignore_above": 512}}},
            "first_at": {"type": "date"},
            "last_at": {"type": "date"},
            "updated_at": {"type": "date"},
            "article_count": {"type": "integer"},
            "independent_sources": {"type": "integer"},
            "source_domains": keyword,
            "tags": keyword,
            "top_entities": keyword,
            "first_article_id": keyword,
        },
    }


def state_mappings() -> dict[str, Any]:
    """Snapshot documents: nothing is searched, everything only stored."""
    return {"dynamic": False, "properties": {"key": {"type": "keyword"}}}


def story_document(summary: Mapping[str, Any], updated_at: datetime) -> dict[str, Any]:
    """The fields rewritten on every update (not the title: that is the first article's)."""
    return {
        "story_id": summary["story_id"],
        "first_at": summary["first_at"],
        "last_at": summary["last_at"],
        "updated_at": updated_at.isoformat(),
        "article_count": summary["article_count"],
        "independent_sources": summary["independent_sources"],
        "source_domains": list(summary["source_domains"]),
        "tags": list(summary["tags"]),
        "top_entities": list(summary["top_entities"]),
    }


def meta_id(key: str) -> str:
    return f"{key}/meta"


def chunk_id(key: str, generation: int, n: int) -> str:
    return f"{key}/g{generation}/c{n}"


def snapshot_chunks(blob: bytes) -> Iterator[str]:
    """The snapshot compressed and cut into base64 chunks."""
    packed = zlib.compress(blob, 3)
    for start in range(0, max(len(packed), 1), SNAPSHOT_CHUNK_BYTES):
        yield base64.b64encode(packed[start:start + SNAPSHOT_CHUNK_BYTES]).decode("ascii")


def join_chunks(chunks: list[str]) -> bytes:
    """The snapshot back from its chunks, in order."""
    return zlib.decompress(b"".join(base64.b64decode(chunk) for chunk in chunks))


# newest: the last article's time; biggest: independent sources, then articles.
STORY_SORTS = {
    "newest": [{"last_at": "desc"}, {"story_id": "asc"}],
    "biggest": [{"independent_sources": "desc"}, {"article_count": "desc"},
                {"last_at": "desc"}, {"story_id": "asc"}],
}


def build_story_list(
    *, sort: str = "newest", size: int = 20, tags: tuple[str, ...] = (),
    active_since: datetime | None = None, min_sources: int = 0,
) -> dict[str, Any]:
    """The search body for ``newsflow stories`` and ``GET /stories``."""
    if sort not in STORY_SORTS:
        raise ValueError(f"sort must be one of {', '.join(STORY_SORTS)}, not {sort!r}")
    filters: list[dict[str, Any]] = [{"term": {"tags": tag}} for tag in tags]
    if active_since is not None:
        filters.append({"range": {"last_at": {"gte": active_since.isoformat()}}})
    if min_sources:
        filters.append({"range": {"independent_sources": {"gte": min_sources}}})
    return {"query": {"bool": {"filter": filters}}, "sort": STORY_SORTS[sort], "size": size,
            "track_total_hits": True}
