"""The Elasticsearch adapter of watches (saved searches): the watches index, matching a batch
of article documents against every watch, and back-filling a watch from the article alias.
The pure part (records, queries, request bodies, parsing) is processors.store.watches.

Errors as in processors.store.index: unreachable, 429 and 5xx become SearchUnavailableError
(the caller retries with backoff and says what it waits for); 401/403 ConfigError; anything
else NewsflowError.

The index ``elasticsearch.watches_index`` (``_id`` = the watch's name) holds a percolator
field where the cluster has the percolator module, and the watch's query in _source only
where it has not (the integ-test distribution of the local stack); ``ensure_ready`` finds
out which once and ``match`` works the same either way (processors/store/watches.py).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from elasticsearch import ApiError, Elasticsearch

from newsflow.article import Article, encode_article
from newsflow.errors import BrokerUnavailableError, NewsflowError, SearchUnavailableError
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_from_document
from processors.store.index import es_client, translate_error
from processors.store.watches import (
    Watch,
    article_mappings,
    backfill_body,
    filters_search_body,
    matched_document,
    parse_filters_search,
    parse_percolate,
    percolate_body,
    percolate_total,
    watch_document,
    watch_from_document,
    watches_mappings,
)
from processors.streams.ports import OutMessage, Producing

__all__ = ["BackfillHit", "BackfillReport", "WatchExistsError", "WatchIndex", "run_backfill"]

logger = logging.getLogger(__name__)

# How long the watches known to this process are trusted before they are read again: a
# watch added or removed elsewhere counts after at most this long; an empty watches index
# costs one request per this long, not one per batch.
KNOWN_TTL_S = 5.0
# Watches per search in "search" mode (one filters bucket each).
_CHUNK = 500
# Scratch copies deleted in one request once this many are left over ("search" mode). Every
# search is filtered to its own batch's ids, so a copy left behind is never matched again;
# deleting each batch's copies right after its search was one more bulk request per batch.
FORGET_EVERY = 2_000


class WatchExistsError(NewsflowError):
    """A watch of that name exists already (add it with replace=True to change it)."""


@dataclass(frozen=True)
class BackfillHit:
    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class WatchIndex:
    def __init__(
        self,
        settings: ElasticsearchSettings,
        client: Elasticsearch | None = None,
        *,
        percolator: bool | None = None,
        known_ttl_s: float = KNOWN_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        forget_every: int = FORGET_EVERY,
    ) -> None:
        self.index = settings.watches_index
        self.scratch_index = f"{settings.watches_index}-batch"
        self.alias = settings.alias
        self._analyzer = settings.text_analyzer
        self._replicas = settings.replicas
        self._client = client or es_client(settings)
        # None: found out by ensure_ready (True where the percolator module is installed).
        self._want_percolator = percolator
        self.percolator: bool | None = None
        self._known_ttl_s = known_ttl_s
        self._monotonic = monotonic
        self._known: list[Watch] | None = None
        self._known_at = 0.0
        self._forget_every = forget_every
        self._left_over: list[str] = []  # scratch copies not deleted yet

    def close(self) -> None:
        if self._left_over:
            self._forget(self._left_over)
            self._left_over = []
        self._client.close()

    # -- set-up ---------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """The watches index (and, without the percolator module, the scratch index) in
        place; usable as soon as this returns. Idempotent."""
        try:
            exists = bool(self._client.indices.exists(index=self.index))
            if exists:
                self.percolator = self._has_percolator_field()
            else:
                self.percolator = self._create()
            if self.percolator:
                # Article fields added since the index was made (additions only).
                self._client.indices.put_mapping(
                    index=self.index, properties=article_mappings(self._analyzer)["properties"])
            else:
                self._create_scratch()
        except NewsflowError:
            raise
        except Exception as exc:
            raise translate_error(exc, f"creating the watches index {self.index}") from exc
        logger.info("watches index ready index=%s mode=%s", self.index,
                    "percolate" if self.percolator else "search")

    def _has_percolator_field(self) -> bool:
        mappings = self._client.indices.get_mapping(index=self.index)
        for body in mappings.values():
            query = body["mappings"].get("properties", {}).get("query", {})
            return bool(query.get("type") == "percolator")
        return False

    def _create(self) -> bool:
        # Saved by users, not rebuilt from anything: replicated like the articles.
        settings = {"number_of_shards": 1, "number_of_replicas": self._replicas}
        if self._want_percolator is not False:
            try:
                self._client.indices.create(
                    index=self.index, settings=settings,
                    mappings=watches_mappings(self._analyzer, percolator=True))
                return True
            except ApiError as exc:
                if _already_exists(exc):
                    return self._has_percolator_field()
                if exc.meta.status != 400 or "percolator" not in _body_text(exc) \
                        or self._want_percolator:
                    raise
                logger.warning(
                    "Elasticsearch has no percolator module (the integ-test distribution): "
                    "watches are matched with a search over a scratch index instead "
                    "index=%s scratch=%s", self.index, self.scratch_index)
        try:
            self._client.indices.create(
                index=self.index, settings=settings,
                mappings=watches_mappings(self._analyzer, percolator=False))
        except ApiError as exc:
            if not _already_exists(exc):
                raise
            return self._has_percolator_field()
        return False

    def _create_scratch(self) -> None:
        if self._client.indices.exists(index=self.scratch_index):
            return
        try:
            self._client.indices.create(
                index=self.scratch_index,
                # Refreshed by the writes that need it, never on a timer; throw-away copies:
                # no fsync per request, no _source.
                settings={"number_of_shards": 1, "number_of_replicas": 0,
                          "refresh_interval": "-1", "translog": {"durability": "async"}},
                mappings={**article_mappings(self._analyzer), "_source": {"enabled": False}})
        except ApiError as exc:
            if not _already_exists(exc):
                raise

    def _ready(self) -> None:
        if self.percolator is None:
            self.ensure_ready()

    # -- the watches ----------------------------------------------------------------------

    def add(self, watch: Watch, *, replace: bool = False) -> bool:
        """Store ``watch``; WatchExistsError when the name is taken and not ``replace``.
        Returns whether it replaced one. Searchable (and matched) as soon as it returns."""
        self._ready()
        try:
            reply = self._client.index(
                index=self.index, id=watch.name, document=watch_document(watch),
                op_type="index" if replace else "create", refresh=True)
        except ApiError as exc:
            if exc.meta.status == 409:
                raise WatchExistsError(
                    f"a watch named {watch.name!r} exists already (replace it with "
                    "--replace, or remove it first)") from exc
            raise translate_error(exc, f"adding watch {watch.name}") from exc
        except Exception as exc:
            raise translate_error(exc, f"adding watch {watch.name}") from exc
        self._known = None
        return bool(reply.get("result") == "updated")

    def remove(self, name: str) -> bool:
        """Whether there was a watch of that name (it is gone now)."""
        try:
            reply = self._client.options(ignore_status=404).delete(
                index=self.index, id=name, refresh=True)
        except Exception as exc:
            raise translate_error(exc, f"removing watch {name}") from exc
        self._known = None
        return bool(reply.get("result") == "deleted")

    def get(self, name: str) -> Watch | None:
        """The watch of that name; None also before the index exists (nothing created)."""
        try:
            reply = self._client.options(ignore_status=404).get(
                index=self.index, id=name, source_includes=["watch"])
        except Exception as exc:
            raise translate_error(exc, f"reading watch {name}") from exc
        return watch_from_document(reply["_source"]) if reply.get("found") else None

    def known(self) -> list[Watch]:
        """The watches, read again at most every ``known_ttl_s`` (for the worker)."""
        if self._known is None or self._monotonic() - self._known_at >= self._known_ttl_s:
            return self.list()
        return self._known

    def has_watches(self) -> bool:
        return bool(self.known())

    # -- matching -------------------------------------------------------------------------

    def match(self, documents: Sequence[Mapping[str, Any]]) -> list[list[str]]:
        """For each article document, in order, the names of the watches it matches. One
        request for the batch (percolate); none while there are no watches. Only the fields
        watches read are sent (``matched_document``); a document Elasticsearch cannot parse
        in those matches nothing (the article index refuses it too)."""
        if not documents:
            return []
        watches = self.known()
        if not watches:
            return [[] for _ in documents]
        self._ready()
        documents = [matched_document(document) for document in documents]
        if self.percolator:
            return self._percolate(documents, len(watches))
        return self._search(documents, watches)

    def _percolate(
        self, documents: Sequence[Mapping[str, Any]], watches: int
    ) -> list[list[str]]:
        size = watches + 50  # room for watches added since they were counted
        try:
            reply = dict(self._client.search(index=self.index,
                                              **percolate_body(documents, size)))
            total = percolate_total(reply)
            if total > len(reply["hits"]["hits"]):
                reply = dict(self._client.search(index=self.index,
                                                 **percolate_body(documents, total)))
        except ApiError as exc:
            if exc.meta.status == 400 and len(documents) > 1:
                # One document the mapping cannot parse fails the request: each alone.
                logger.warning("percolating documents=%d refused, one by one: %s",
                               len(documents), _body_text(exc)[:300])
                return [self._percolate([doc], watches)[0] for doc in documents]
            if exc.meta.status == 400:
                logger.warning("document not percolated id=%s reason=%s",
                               documents[0].get("id"), _body_text(exc)[:300])
                return [[]]
            raise translate_error(exc, f"percolating {len(documents)} documents") from exc
        except Exception as exc:
            raise translate_error(exc, f"percolating {len(documents)} documents") from exc
        return parse_percolate(reply, len(documents))

    def _search(
        self, documents: Sequence[Mapping[str, Any]], watches: Sequence[Watch]
    ) -> list[list[str]]:
        token = uuid.uuid4().hex[:16]
        ids = [f"{token}-{slot}" for slot in range(len(documents))]
        operations: list[Mapping[str, Any]] = []
        for doc_id, document in zip(ids, documents, strict=True):
            operations.append({"index": {"_index": self.scratch_index, "_id": doc_id}})
            operations.append({**document, "id": doc_id})
        what = f"matching {len(documents)} documents against {len(watches)} watches"
        try:
            written = self._client.bulk(operations=operations, refresh=True)
            if written.get("errors"):
                for item in written["items"]:
                    result = next(iter(item.values()))
                    if int(result.get("status", 0)) >= 300:
                        logger.warning("document not matched against watches reason=%s",
                                       json.dumps(result.get("error"))[:300])
            matched: list[list[str]] = [[] for _ in documents]
            chunks = [watches[i:i + _CHUNK] for i in range(0, len(watches), _CHUNK)]
            replies = ([dict(self._client.search(index=self.scratch_index,
                                                 **filters_search_body(chunks[0], ids)))]
                       if len(chunks) == 1 else self._msearch(chunks, ids))
            for reply in replies:
                for slot, names in enumerate(parse_filters_search(reply, ids)):
                    matched[slot] = sorted({*matched[slot], *names})
        except NewsflowError:
            raise
        except Exception as exc:
            raise translate_error(exc, what) from exc
        finally:
            self._left_over.extend(ids)
            if len(self._left_over) >= self._forget_every:
                self._forget(self._left_over)
                self._left_over = []
        return matched

    def _msearch(
        self, chunks: Sequence[Sequence[Watch]], ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        searches: list[Mapping[str, Any]] = []
        for chunk in chunks:
            searches.append({"index": self.scratch_index})
            searches.append(filters_search_body(chunk, ids))
        reply = self._client.msearch(searches=searches)
        for response in reply["responses"]:
            if "error" in response:
                raise SearchUnavailableError(
                    f"watch search failed: {json.dumps(response['error'])[:300]}")
        return [dict(r) for r in reply["responses"]]

    def _forget(self, ids: Sequence[str]) -> None:
        try:
            self._client.bulk(operations=[{"delete": {"_index": self.scratch_index,
                                                      "_id": doc_id}} for doc_id in ids])
        except Exception as exc:  # left behind: never matched again (queries filter by id)
            logger.warning("scratch documents not deleted index=%s reason=%s",
                           self.scratch_index, exc)

    # -- back-fill ------------------------------------------------------------------------

    def backfill(
        self, watch: Watch, *, since: datetime | None, page_size: int = 200
    ) -> Iterator[list[BackfillHit]]:
        """The articles already indexed that match ``watch``, newest first, page by page."""
        after: list[Any] | None = None
        while True:
            body = backfill_body(watch, since=since, size=page_size, search_after=after)
            try:
                reply = self._client.options(ignore_status=404).search(index=self.alias,
                                                                       **body)
            except Exception as exc:
                raise translate_error(exc, f"searching {self.alias} for watch "
                                           f"{watch.name}") from exc
            hits = reply.get("hits", {}).get("hits", [])
            if not hits:
                return
            yield [BackfillHit(hit["_index"], int(hit["_seq_no"]), int(hit["_primary_term"]),
                               dict(hit["_source"])) for hit in hits]
            if len(hits) < page_size:
                return
            after = list(hits[-1]["sort"])

    def record(self, name: str, hits: Sequence[BackfillHit]) -> tuple[int, int]:
        """Add ``name`` to the stored articles' ``watches`` in place (same backing index and
        _id), each only if unchanged since it was read. Returns (updated, skipped: changed
        meanwhile or refused)."""
        operations: list[Mapping[str, Any]] = []
        for hit in hits:
            watches = list(hit.source.get("watches") or [])
            if name in watches:
                continue
            operations.append({"index": {"_index": hit.index, "_id": hit.source["id"],
                                         "if_seq_no": hit.seq_no,
                                         "if_primary_term": hit.primary_term}})
            operations.append({**hit.source, "watches": sorted({*watches, name})})
        if not operations:
            return 0, 0
        try:
            reply = self._client.bulk(operations=operations)
        except Exception as exc:
            raise translate_error(exc, f"recording watch {name} on stored articles") from exc
        updated = skipped = 0
        for item in reply["items"]:
            result = next(iter(item.values()))
            if 200 <= int(result.get("status", 0)) < 300:
                updated += 1
            else:
                skipped += 1
                if int(result.get("status", 0)) != 409:
                    logger.warning("watch not recorded on article id=%s reason=%s",
                                   result.get("_id"), json.dumps(result.get("error"))[:300])
        return updated, skipped


    # Last in the class: below it, ``list`` would name this method for mypy.
    def list(self) -> list[Watch]:
        """Every watch, by name (none before the index exists: nothing is created)."""
        try:
            reply = self._client.options(ignore_status=404).search(
                index=self.index, query={"match_all": {}}, source_includes=["watch"],
                sort=[{"watch.name": "asc"}], size=10_000)
        except Exception as exc:
            raise translate_error(exc, f"listing the watches in {self.index}") from exc
        watches = []
        for hit in reply.get("hits", {}).get("hits", []):
            try:
                watches.append(watch_from_document(hit["_source"]))
            except (KeyError, ValueError) as exc:  # written by hand, not by newsflow
                logger.warning("watch document skipped id=%s reason=%s", hit["_id"], exc)
        self._known, self._known_at = watches, self._monotonic()
        return watches


def _already_exists(exc: ApiError) -> bool:
    return exc.meta.status == 400 and "resource_already_exists" in _body_text(exc)


def _body_text(exc: ApiError) -> str:
    try:
        return json.dumps(exc.body)
    except (TypeError, ValueError):
        return str(exc)


# -- back-fill: the stored matches to the watch's topic -----------------------------------


class Backfilling(Protocol):
    def backfill(self, watch: Watch, *, since: datetime | None, page_size: int = 200
                 ) -> Iterator[list[BackfillHit]]: ...

    def record(self, name: str, hits: Sequence[BackfillHit]) -> tuple[int, int]: ...


@dataclass
class BackfillReport:
    watch: str
    topic: str
    matched: int = 0
    produced: int = 0
    recorded: int = 0
    skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"watch": self.watch, "topic": self.topic, "matched": self.matched,
                "produced": self.produced, "recorded": self.recorded,
                "skipped": self.skipped}


async def run_backfill(
    *,
    index: Backfilling,
    producer: Producing,
    watch: Watch,
    topic: str,
    since: datetime | None,
    page_size: int = 200,
) -> BackfillReport:
    """Produce every stored article matching ``watch`` (newest first, published at/after
    ``since``) to ``topic``, keyed by article id, then record the watch on the stored
    article. Produce first: a run stopped in between is simply run again (at-least-once:
    the key lets subscribers drop repeats). BrokerUnavailableError when Kafka did not
    acknowledge a page. Its Elasticsearch calls block: a one-shot job (the CLI)."""
    report = BackfillReport(watch=watch.name, topic=topic)
    for page in index.backfill(watch, since=since, page_size=page_size):
        report.matched += len(page)
        messages = []
        for hit in page:
            article: Article = article_from_document(hit.source)
            if watch.name not in article.watches:
                article = article.model_copy(
                    update={"watches": sorted({*article.watches, watch.name})})
            messages.append(OutMessage(None, article.id.encode("utf-8"),
                                       encode_article(article), topic=topic))
        outcome = await producer.send_all(messages)
        if outcome.unacknowledged:
            raise outcome.error or BrokerUnavailableError(
                f"{len(outcome.unacknowledged)} messages to {topic} not acknowledged")
        report.produced += len(messages)
        updated, skipped = index.record(watch.name, page)
        report.recorded += updated
        report.skipped += skipped
    return report
