"""Watches: saved searches that every indexed article is matched against. Pure.

A watch is a query string plus tag and entity filters, with exactly the meaning of
``newsflow search QUERY --tag T --entity E`` (the clauses come from processors.store.search).
It is stored in Elasticsearch (index ``elasticsearch.watches_index``, ``_id`` = its name) as
a percolator query; the ordered stage percolates each batch of article documents in one
request and forwards every match to the Kafka topic ``news.watch.<name>``.

Two ways to match, one result (``{document slot -> [watch names]}``):

- **percolate** (clusters with the percolator module, i.e. every Elasticsearch distribution
  but the integ-test one): the watches index maps ``query`` as a percolator field next to the
  article mapping's properties (so that a percolated document is parsed as an indexed one
  is); one ``percolate`` query with ``documents: [...]``, each hit a watch with the slots it
  matched in ``fields._percolator_document_slot``.
- **search** (the local stack's integ-test distribution has no percolator module): the batch
  goes into a small scratch index with the article mapping (each copy's ``id`` = its slot's
  scratch id), and one search, filtered to the batch's ids, answers with a ``filters``
  aggregation: a bucket per watch with the ids it matched.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsflow.article import Article
from processors.store.documents import check_document_id, index_template
from processors.store.search import filter_clauses, text_clauses

__all__ = [
    "MAX_NAME_LENGTH",
    "PERCOLATE_MAX_SIZE",
    "Watch",
    "article_mappings",
    "backfill_body",
    "filters_search_body",
    "is_valid_name",
    "matched_article_document",
    "matched_document",
    "parse_filters_search",
    "parse_percolate",
    "percolate_body",
    "percolate_total",
    "watch_document",
    "watch_from_document",
    "watch_query",
    "watch_topic_name",
    "watches_mappings",
]

MAX_NAME_LENGTH = 100
# Kafka topic names: [a-zA-Z0-9._-], at most 249 characters.
_MAX_TOPIC_LENGTH = 249
# Like a tag: lower-case letters and digits, single hyphens between them.
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# The most hits one search returns without a scroll (index.max_result_window).
PERCOLATE_MAX_SIZE = 10_000

_WATCH_PROPERTIES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "keyword"},
        "query": {"type": "text"},
        "tags": {"type": "keyword"},
        "entities": {"type": "keyword"},
        "created_at": {"type": "date"},
    },
}


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_NAME_RE.match(name))


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise ValueError(
            f"watch name {name!r} must be 1..{MAX_NAME_LENGTH} characters of a-z and 0-9, "
            "with single hyphens between them (like a tag)"
        )


def watch_topic_name(prefix: str, name: str) -> str:
    """``news.watch.<name>``; ValueError for a name that cannot name a Kafka topic."""
    _check_name(name)
    topic = f"{prefix}{name}"
    if len(topic) > _MAX_TOPIC_LENGTH:
        raise ValueError(f"topic name for watch {name!r} is longer than {_MAX_TOPIC_LENGTH}")
    return topic


def _cleaned(values: Sequence[str], what: str) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(v.strip() for v in values))
    if any(not v for v in cleaned):
        raise ValueError(f"an empty {what} is not a filter")
    return cleaned


@dataclass(frozen=True)
class Watch:
    """A saved search. ValueError for a bad name, or for a watch with no query string, no
    tag and no entity (it would match every article)."""

    name: str
    query: str = ""
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    created_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "query", self.query.strip())
        object.__setattr__(self, "tags", _cleaned(self.tags, "tag"))
        object.__setattr__(self, "entities", _cleaned(self.entities, "entity"))
        if not (self.query or self.tags or self.entities):
            raise ValueError(f"watch {self.name!r} needs a query, a tag or an entity "
                             "(it would match every article)")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "query": self.query,
            "tags": list(self.tags),
            "entities": list(self.entities),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def watch_query(watch: Watch) -> dict[str, Any]:
    """The Elasticsearch query of ``watch``: ``newsflow search`` with the same text, tags and
    entities (build_search's ``query``, without the time window)."""
    return {"bool": {
        "must": text_clauses(watch.query) or [{"match_all": {}}],
        "filter": filter_clauses(tags=watch.tags, entities=watch.entities),
    }}


def watch_document(watch: Watch) -> dict[str, Any]:
    """The stored document: the query (the percolator field) and the watch as given."""
    return {"query": watch_query(watch), "watch": watch.to_json()}


def watch_from_document(source: Mapping[str, Any]) -> Watch:
    record = source["watch"]
    created = record.get("created_at")
    return Watch(
        name=record["name"],
        query=record.get("query") or "",
        tags=tuple(record.get("tags") or ()),
        entities=tuple(record.get("entities") or ()),
        created_at=datetime.fromisoformat(created) if created else None,
    )


def article_mappings(analyzer: str) -> dict[str, Any]:
    """The article index's mapping (strict), as the backing indices get it."""
    template = index_template("watches", analyzer=analyzer)
    return copy.deepcopy(template["template"]["mappings"])


def watches_mappings(analyzer: str, *, percolator: bool) -> dict[str, Any]:
    """The watches index. With ``percolator``: the article mapping's properties (percolated
    documents are parsed with them) plus ``query`` as a percolator field; without: ``query``
    kept in _source only (the scratch index has the article mapping)."""
    if not percolator:
        return {
            "dynamic": "strict",
            "properties": {
                "query": {"type": "object", "enabled": False},
                "watch": _WATCH_PROPERTIES,
            },
        }
    mappings = article_mappings(analyzer)
    properties = mappings["properties"]
    for name in ("query", "watch"):
        if name in properties:  # an article field of that name would be shadowed
            raise ValueError(f"the article mapping already has a field {name!r}")
    properties["query"] = {"type": "percolator"}
    properties["watch"] = _WATCH_PROPERTIES
    return mappings


# -- what a watch reads -------------------------------------------------------------------

# The article fields a watch's query reads (text_clauses: title, summary, content, authors;
# filter_clauses: tags, and entities' text and canonical names), and ``id``, which the
# scratch search keys its buckets on. tests/unit/processors/store checks this list against
# every field the query clauses name. (Not the per-kind ``entity`` arrays: an entity filter
# reads the nested entities only. A watch stored by an earlier version, whose percolator
# query still asks the arrays as well, finds the same articles: every name there is a nested
# entity's too.)
_MATCHED_FIELDS = ("id", "title", "summary", "content", "authors", "tags")
_MATCHED_ENTITY_FIELDS = ("text", "canonical")


def matched_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an article document that watches are matched on. The rest (tag details
    with their evidence sentences, entity mentions and offsets, URLs, dates, story fields) is
    never read by a watch, and each field costs Elasticsearch work for every document
    percolated or put into the scratch index: tag details and entities are nested, a Lucene
    document each."""
    matched = {name: document[name] for name in _MATCHED_FIELDS if name in document}
    entities = document.get("entities")
    if entities:
        matched["entities"] = [
            {k: entity[k] for k in _MATCHED_ENTITY_FIELDS if k in entity} for entity in entities
        ]
    return matched


def matched_article_document(article: Article) -> dict[str, Any]:
    """``matched_document(article_document(article, ...))``, built from the article's fields
    directly. The ordered stage matches every article of a batch before it indexes it; the
    full document's ``model_dump`` of every entity mention and tag evidence was most of the
    watch step's own CPU, for fields no watch reads. Raises DocumentRejectedError as
    ``article_document`` does. tests/unit/processors/store checks it gives the same
    document as the full path."""
    check_document_id(article.id)
    # The field the document derives; the others are the article's own, by name.
    derived: dict[str, Any] = {"tags": list(dict.fromkeys(tag.tag for tag in article.tags))}
    matched = {name: derived[name] if name in derived else getattr(article, name)
               for name in _MATCHED_FIELDS}
    if article.entities:
        matched["entities"] = [{k: getattr(entity, k) for k in _MATCHED_ENTITY_FIELDS}
                               for entity in article.entities]
    return matched


# -- percolate ----------------------------------------------------------------------------


def percolate_body(documents: Sequence[Mapping[str, Any]], size: int) -> dict[str, Any]:
    """One percolate request for a batch: every watch matching any of ``documents``."""
    return {
        "query": {"percolate": {"field": "query", "documents": list(documents)}},
        "size": max(1, min(size, PERCOLATE_MAX_SIZE)),
        "_source": False,
        "track_total_hits": True,
    }


def parse_percolate(response: Mapping[str, Any], documents: int) -> list[list[str]]:
    """For each document slot, the names of the watches it matched (sorted)."""
    matched: list[list[str]] = [[] for _ in range(documents)]
    for hit in response["hits"]["hits"]:
        slots = hit.get("fields", {}).get("_percolator_document_slot", [0])
        for slot in slots:
            if 0 <= int(slot) < documents:
                matched[int(slot)].append(str(hit["_id"]))
    return [sorted(names) for names in matched]


def percolate_total(response: Mapping[str, Any]) -> int:
    """How many watches matched (more than returned when ``size`` was too small)."""
    total = response["hits"]["total"]
    return int(total["value"] if isinstance(total, dict) else total)


# -- search (no percolator module) --------------------------------------------------------


def filters_search_body(watches: Sequence[Watch], doc_ids: Sequence[str]) -> dict[str, Any]:
    """One search over the scratch index, no hits: a ``filters`` aggregation with a bucket
    per watch, each listing the ids (the scratch copies' ``id``) of the batch it matches."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"ids": {"values": list(doc_ids)}},
        "aggs": {"watches": {
            "filters": {"filters": {watch.name: watch_query(watch) for watch in watches}},
            "aggs": {"docs": {"terms": {"field": "id", "size": max(1, len(doc_ids))}}},
        }},
    }


def parse_filters_search(
    response: Mapping[str, Any], doc_ids: Sequence[str]
) -> list[list[str]]:
    """For each of ``doc_ids`` (in order), the names of the watches it matched (sorted)."""
    slot_of = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    matched: list[list[str]] = [[] for _ in doc_ids]
    buckets = response.get("aggregations", {}).get("watches", {}).get("buckets", {})
    for name, bucket in sorted(buckets.items()):
        for doc in bucket.get("docs", {}).get("buckets", []):
            slot = slot_of.get(str(doc["key"]))
            if slot is not None:
                matched[slot].append(name)
    return matched


# -- back-fill ----------------------------------------------------------------------------


def backfill_body(
    watch: Watch, *, since: datetime | None, size: int,
    search_after: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """A page of the already-indexed articles matching ``watch``, newest first (published
    at/after ``since``), with what an in-place update needs (index, seq_no)."""
    query = watch_query(watch)
    if since is not None:
        query["bool"]["filter"].extend(filter_clauses(since=since))
    body: dict[str, Any] = {
        "query": query,
        "size": size,
        "sort": [{"published_at": "desc"}, {"id": "asc"}],
        "seq_no_primary_term": True,
        "track_total_hits": False,
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    return body
