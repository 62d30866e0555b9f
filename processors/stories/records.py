"""The batch face of the story engine (``newsflow cluster``): JSON lines in, one line out per
record, in arrival order.

In: ``{"id", "title", "text", "source", "published_at"}`` (``url``/``guid`` optional, other
fields ignored). Out: ``{"id", "story_id", "dup_of", "new_story", "article_count",
"independent_sources", "story": {...}}`` as soon as the record is assigned.

Entities come from the worker's own Enricher (``with_entities``), batched through spaCy; the
engine then takes the batch's records one by one, so the answers are those of the worker,
which sees the same articles one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsflow.article import Article
from newsflow.errors import SchemaError
from processors.stories.engine import StoryEngine
from processors.stories.model import StoryEntity, StoryInput

if TYPE_CHECKING:
    from processors.enrich.enrichment import Enricher

__all__ = ["cluster_lines", "parse_record", "with_entities"]


def _text_field(record: dict[str, Any], name: str, line_no: int) -> str:
    value = record.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SchemaError(f"line {line_no}: {name!r} must be a string")
    return value


def parse_record(record: Any, line_no: int) -> StoryInput:
    """One JSON object onto a StoryInput, or SchemaError naming the line and the field."""
    if not isinstance(record, dict):
        raise SchemaError(f"line {line_no}: expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
        raise SchemaError(f"line {line_no}: 'id' must be a non-empty string or integer")
    title = _text_field(record, "title", line_no)
    text = _text_field(record, "text", line_no)
    if not (title.strip() or text.strip()):
        raise SchemaError(f"line {line_no}: needs a non-empty 'title' or 'text'")
    source = _text_field(record, "source", line_no)
    raw_time = record.get("published_at")
    if not isinstance(raw_time, str) or not raw_time.strip():
        raise SchemaError(f"line {line_no}: 'published_at' must be an ISO 8601 date-time")
    try:
        published = datetime.fromisoformat(raw_time.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SchemaError(
            f"line {line_no}: 'published_at' is not an ISO 8601 date-time: {raw_time!r}"
        ) from exc
    published = published.replace(tzinfo=UTC) if published.tzinfo is None else published
    return StoryInput(
        id=str(record_id),
        title=title,
        text=text,
        source=source.strip().lower(),
        published_at=published.astimezone(UTC),
        url=_text_field(record, "url", line_no) or None,
        guid=_text_field(record, "guid", line_no) or None,
    )


def with_entities(items: Sequence[StoryInput], enricher: Enricher) -> list[StoryInput]:
    """The items with the Enricher's entities and tags (title + text, as the worker sees a
    feed item: the text is the summary)."""
    articles = [
        Article(id=i.id, url="", canonical_url="", feed_url="", source=i.source, title=i.title,
                summary=i.text, published_at=i.published_at, seen_at=i.published_at)
        for i in items
    ]
    now = max((i.published_at for i in items), default=datetime.now(UTC))
    enriched = enricher.enrich(articles, now)
    return [
        replace(item, entities=tuple(StoryEntity.of(e) for e in article.entities),
                tags=tuple(article.tag_names))
        for item, article in zip(items, enriched, strict=True)
    ]


def cluster_lines(
    lines: Iterable[str],
    engine: StoryEngine,
    enricher: Enricher | None = None,
    batch_size: int = 64,
) -> Iterator[dict[str, Any]]:
    """Assign every record; blank lines are skipped. A bad line raises SchemaError naming
    its number (the records of earlier batches have been yielded by then)."""
    batch: list[StoryInput] = []

    def flush() -> Iterator[dict[str, Any]]:
        items = with_entities(batch, enricher) if enricher is not None else batch
        for item in items:
            yield engine.assign(item).to_json()

    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"line {line_no}: not JSON: {exc.msg} (column {exc.colno})") from exc
        batch.append(parse_record(record, line_no))
        if len(batch) >= batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
