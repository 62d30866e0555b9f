"""`newsflow retag`: apply the current taxonomy to stored articles.

Tags are recomputed from the stored text and entities (no NLP model needed: the tagger is
pure), documents whose tags or taxonomy version changed are re-indexed in place (same backing
index, same _id), and articles that *gained* a tag are published to that tag's stream, so
subscribers hear about stories that the new taxonomy now covers. Lost tags are only counted:
a tag stream is an append-only feed of arrivals.

By default only documents tagged by another taxonomy version are looked at; ``everything``
re-evaluates all of them (e.g. after a gazetteer change that keeps the version).

Gained tags go out through the tag streams' one producer interface
(``processors.streams.ports.Producing``, async): ``run_retag`` is a coroutine for that. It is
a one-shot job with nothing else on its event loop, so its Elasticsearch calls simply block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from newsflow.article import Article, Entity, Tag
from newsflow.errors import BrokerUnavailableError, SearchUnavailableError
from processors.store.documents import article_document, article_from_document
from processors.store.ports import BulkOutcome, IndexRequest
from processors.streams.ports import OutMessage, Producing
from processors.streams.routing import route_article

__all__ = ["Delays", "RetagReport", "Retagging", "retag_article", "retag_query", "run_retag"]

logger = logging.getLogger(__name__)


class Retagging(Protocol):
    @property
    def version(self) -> str: ...

    def tag(self, text: str, entities: Sequence[Entity] = (), *, title_end: int = 0) -> list[Tag]:
        ...


class RetagIndex(Protocol):
    def scan(self, query: Mapping[str, Any], *, batch_size: int = 500
             ) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome: ...


class Delays(Protocol):
    """How long to wait before retry ``attempt`` (the worker's Backoff fits)."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float: ...


def retag_article(article: Article, tagger: Retagging) -> tuple[Article, list[str], list[str]]:
    """The article with tags from ``tagger``, plus the tag names gained and lost. Pure."""
    tags = tagger.tag(article.text_for_analysis(), article.entities,
                      title_end=len(article.title.strip()))
    before, after = set(article.tag_names), {t.tag for t in tags}
    gained = [t.tag for t in tags if t.tag not in before]
    lost = sorted(before - after)
    return article.model_copy(update={"tags": tags}), gained, lost


def retag_query(*, version: str, since: datetime | None, everything: bool) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if since is not None:
        filters.append({"range": {"published_at": {"gte": since.isoformat()}}})
    must_not = [] if everything else [{"term": {"taxonomy_version": version}}]
    return {"bool": {"filter": filters, "must_not": must_not}}


@dataclass
class RetagReport:
    taxonomy_version: str
    scanned: int = 0
    changed: int = 0
    reindexed: int = 0
    published: int = 0
    rejected: list[str] = field(default_factory=list)
    gained: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "taxonomy_version": self.taxonomy_version, "scanned": self.scanned,
            "changed": self.changed, "reindexed": self.reindexed,
            "published": self.published, "rejected": self.rejected,
            "gained": self.gained, "lost": self.lost,
        }


async def run_retag(
    *,
    index: RetagIndex,
    producer: Producing,
    tagger: Retagging,
    tag_prefix: str,
    now: datetime,
    backoff: Delays,
    since: datetime | None = None,
    everything: bool = False,
    dry_run: bool = False,
    batch_size: int = 200,
    retries: int = 8,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RetagReport:
    report = RetagReport(taxonomy_version=tagger.version)
    query = retag_query(version=tagger.version, since=since, everything=everything)
    pending: list[tuple[IndexRequest, list[OutMessage]]] = []

    async def flush() -> None:
        if not pending or dry_run:
            pending.clear()
            return
        # Publish the gained tags first, index second: the index write stamps the new
        # taxonomy version, after which a later run skips the article. A failure between
        # the two steps must therefore repeat a message (at-least-once), never lose one.
        report.published += await _publish(producer, [m for _, ms in pending for m in ms])
        requests = [request for request, _ in pending]
        outcome = await _bulk_with_retries(index, requests, retries, backoff, sleep)
        report.reindexed += len(outcome.indexed)
        for failure in outcome.rejected:
            report.rejected.append(failure.doc_id)
            logger.warning("retag: document rejected id=%s reason=%s", failure.doc_id,
                           failure.describe()[:300])
        pending.clear()

    for backing, source in index.scan(query, batch_size=batch_size):
        report.scanned += 1
        article = article_from_document(source)
        retagged, gained, lost = retag_article(article, tagger)
        if retagged.tags == article.tags and source.get("taxonomy_version") == tagger.version:
            continue
        if gained or lost:
            report.changed += 1
        for tag in gained:
            report.gained[tag] = report.gained.get(tag, 0) + 1
        for tag in lost:
            report.lost[tag] = report.lost.get(tag, 0) + 1
        retagged = retagged.model_copy(update={"taxonomy_version": tagger.version})
        # Keep indexed_at: re-tagging is not re-indexing the story.
        document = article_document(retagged, taxonomy_version=tagger.version,
                                    indexed_at=article.indexed_at or now)
        routes, _ = route_article(retagged, tag_prefix, tags=set(gained))
        pending.append((IndexRequest(article.id, backing, document),
                        [route.message() for route in routes]))
        if len(pending) >= batch_size:
            await flush()
    await flush()
    return report


async def _publish(producer: Producing, messages: list[OutMessage]) -> int:
    """Every message acknowledged, or BrokerUnavailableError (the run stops; a rerun
    announces again what this one did not)."""
    if not messages:
        return 0
    outcome = await producer.send_all(messages)
    if outcome.unacknowledged:
        raise outcome.error or BrokerUnavailableError("tag streams did not acknowledge")
    return len(messages)


async def _bulk_with_retries(
    index: RetagIndex, requests: list[IndexRequest], retries: int, backoff: Delays,
    sleep: Callable[[float], Awaitable[None]],
) -> BulkOutcome:
    result = BulkOutcome()
    pending = requests
    for attempt in range(retries + 1):
        try:
            outcome = index.bulk_index(pending)
        except SearchUnavailableError as exc:
            if attempt == retries:
                raise
            logger.warning("retag: waiting for elasticsearch (%s), retry %d", exc, attempt + 1)
            await sleep(backoff.delay(attempt + 1, exc.retry_after))
            continue
        result.indexed += outcome.indexed
        result.rejected += outcome.rejected
        pending = outcome.still_pending(pending)
        if not pending:
            return result
        if attempt < retries:
            await sleep(backoff.delay(attempt + 1))
    raise SearchUnavailableError(f"Elasticsearch kept asking to retry {len(pending)} documents")
