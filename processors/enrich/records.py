"""The batch face of the Enricher (``newsflow enrich``): JSON lines ``{"id", "title",
"text"}`` in, the same records with ``entities`` and ``tags`` out.

Offsets index into ``Article.text_for_analysis()`` inside the Enricher; here they are mapped
back onto the record's own ``title`` or ``text`` string (each item's ``field``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from newsflow.article import Article
from newsflow.errors import SchemaError
from processors.enrich.enrichment import Enricher
from processors.enrich.nlp import PIPE_BATCH_SIZE
from processors.enrich.offsets import FieldLocator

__all__ = ["article_to_record", "enrich_lines", "record_to_article"]


def record_to_article(record: Any, line_no: int, now: datetime) -> Article:
    """Map one ``{"id", "title", "text"}`` record onto an Article (title + summary)."""
    if not isinstance(record, dict):
        raise SchemaError(f"line {line_no}: expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
        raise SchemaError(f"line {line_no}: 'id' must be a non-empty string or integer")
    fields: dict[str, str] = {}
    for name in ("title", "text"):
        value = record.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise SchemaError(f"line {line_no}: {name!r} must be a string")
        fields[name] = value
    if not (fields["title"].strip() or fields["text"].strip()):
        raise SchemaError(f"line {line_no}: needs a non-empty 'title' or 'text'")
    return Article(
        id=str(record_id),
        url="",
        canonical_url="",
        feed_url="",
        source="",
        title=fields["title"],
        summary=fields["text"],
        published_at=now,
        seen_at=now,
    )


def article_to_record(record: dict[str, Any], article: Article) -> dict[str, Any]:
    """The input record plus ``entities`` and ``tags``, offsets into ``title`` or ``text``
    as each item's ``field`` says. Each entity's ``start``/``end`` is its first mention;
    ``mentions`` lists every occurrence."""
    # record_to_article put the record's "text" into the summary.
    where = FieldLocator(
        article.text_for_analysis(), [("title", article.title), ("text", article.summary)]
    )
    entities = []
    for e in article.entities:
        field, start, end = where.field_at(e.start, e.end)
        mentions = [
            {"field": "text" if m.field == "summary" else m.field, "start": m.start, "end": m.end}
            for m in e.mentions
        ]
        entities.append({
            "text": e.text, "label": e.label, "canonical": e.canonical, "count": e.count,
            "field": field, "start": start, "end": end, "country_code": e.country_code,
            "mentions": mentions,
        })
    tags = []
    for t in article.tags:
        evidence = []
        for ev in t.evidence:
            field, start, end = where.field_at(ev.start, ev.end)
            evidence.append({
                "sentence": ev.sentence, "field": field, "start": start, "end": end,
                "cues": ev.cues, "score": ev.score,
            })
        tags.append({
            "tag": t.tag, "score": t.score, "taxonomy_version": t.taxonomy_version,
            "evidence": evidence,
        })
    return {**record, "entities": entities, "tags": tags}


def enrich_lines(
    lines: Iterable[str], enricher: Enricher, now: datetime, batch_size: int = PIPE_BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Enrich JSON lines in batches; blank lines are skipped. A bad line raises SchemaError
    naming its number (records of earlier batches have been yielded by then)."""
    batch: list[tuple[dict[str, Any], Article]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"line {line_no}: not JSON: {exc.msg} (column {exc.colno})") from exc
        batch.append((record, record_to_article(record, line_no, now)))
        if len(batch) >= batch_size:
            yield from _enrich_batch(batch, enricher, now)
            batch = []
    if batch:
        yield from _enrich_batch(batch, enricher, now)


def _enrich_batch(
    batch: list[tuple[dict[str, Any], Article]], enricher: Enricher, now: datetime
) -> Iterator[dict[str, Any]]:
    enriched = enricher.enrich([article for _, article in batch], now)
    for (record, _), article in zip(batch, enriched, strict=True):
        yield article_to_record(record, article)
