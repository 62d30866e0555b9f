"""Search and statistics over the article index: request bodies in, results out. Pure.

The adapter (processors.store.index.ArticleIndex.search) sends what these functions build; the
CLI, the HTTP API and tests share them, so a filter means the same thing everywhere:

- the query string uses Elasticsearch's ``simple_query_string`` (quotes, ``-not``, ``a | b``,
  prefix ``*``) over title (boosted), summary, content and authors, all words required;
- ``tags``: every tag given must be on the article;
- ``entities``: every name given must be among the article's entities (any kind, canonical
  name or surface text, case-insensitive);
- ``sources``: any of them; ``since``/``until``: on ``published_at`` (event time), inclusive
  start, exclusive end;
- ``collapse``: one hit per story (``story_id``), the best-ranked or newest of its articles;
  articles without a story (indexed before stories existed) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from newsflow.article import Article
from processors.store.documents import article_from_document

__all__ = [
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "Stats",
    "StatsQuery",
    "build_search",
    "build_stats",
    "filter_clauses",
    "parse_search",
    "parse_stats",
    "parse_when",
    "text_clauses",
]

_TEXT_FIELDS = ("title^3", "summary^2", "content", "authors")
_HIGHLIGHT_FIELDS = ("title", "summary", "content")
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime) -> datetime:
    """``2025-06-01``, ``2025-06-01T08:00:00Z`` / ``+02:00``, or relative ``90m``, ``24h``,
    ``7d``, ``2w`` (before ``now``). Naive times are UTC. ValueError otherwise."""
    value = text.strip()
    relative = _RELATIVE.match(value.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"not a date: {text!r} (use 2025-06-01, 2025-06-01T08:00:00Z or 7d, 24h, 90m)"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    size: int = 10
    offset: int = 0
    highlight_tags: tuple[str, str] = ("<em>", "</em>")
    # One hit per story (the best or newest of it), with how many of its articles matched.
    collapse: bool = False


def _filters(
    tags: Sequence[str], entities: Sequence[str], sources: Sequence[str],
    since: datetime | None, until: datetime | None,
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"tags": tag}} for tag in tags]
    for name in entities:
        # The nested entities alone: the per-kind arrays (``entity.people``, ...) list each
        # entity's canonical name, or its text where it has none (documents.entity_names), so
        # every name they hold is a nested entity's canonical name or text as well. Asking
        # them too cost seven more case-insensitive term queries (each an automaton walked
        # over a field's terms) for no article more: twice the CPU of an entity filter, and
        # two thirds of the watches' matching search (bench/RESULTS.md, session 26).
        filters.append({"nested": {"path": "entities", "query": {"bool": {
            "minimum_should_match": 1,
            "should": [
                {"term": {"entities.text": {"value": name, "case_insensitive": True}}},
                {"term": {"entities.canonical": {"value": name, "case_insensitive": True}}},
            ],
        }}}})
    if sources:
        filters.append({"terms": {"source": list(sources)}})
    if since or until:
        window: dict[str, str] = {}
        if since:
            window["gte"] = since.isoformat()
        if until:
            window["lt"] = until.isoformat()
        filters.append({"range": {"published_at": window}})
    return filters


def text_clauses(text: str) -> list[dict[str, Any]]:
    """The query string as ``must`` clauses: none for a blank one. (Watches share it.)"""
    if not text.strip():
        return []
    return [{"simple_query_string": {
        "query": text, "fields": list(_TEXT_FIELDS), "default_operator": "and",
    }}]


def filter_clauses(
    *, tags: Sequence[str] = (), entities: Sequence[str] = (), sources: Sequence[str] = (),
    since: datetime | None = None, until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The filters of a search, as ``filter`` clauses. (Watches share them.)"""
    return _filters(tags, entities, sources, since, until)


def build_search(query: SearchQuery) -> dict[str, Any]:
    must = text_clauses(query.text)
    body: dict[str, Any] = {
        "query": {"bool": {
            "must": must or [{"match_all": {}}],
            "filter": _filters(query.tags, query.entities, query.sources, query.since,
                               query.until),
        }},
        "size": query.size,
        "from": query.offset,
        "track_total_hits": True,
        # Relevance first when there is a query string, newest first otherwise.
        "sort": (["_score", {"published_at": "desc"}] if must
                 else [{"published_at": "desc"}, "_score"]),
    }
    if query.collapse:
        # Articles indexed before stories existed have no story_id: collapsing would lump
        # them all into one hit, so they are left out.
        body["collapse"] = {"field": "story_id"}
        body["aggs"] = {"stories": {"cardinality": {"field": "story_id"}}}
        body["query"]["bool"]["filter"].append({"exists": {"field": "story_id"}})
    if must:
        pre, post = query.highlight_tags
        body["highlight"] = {
            "pre_tags": [pre], "post_tags": [post],
            "fields": {
                "title": {"number_of_fragments": 0},
                "summary": {"fragment_size": 160, "number_of_fragments": 2},
                "content": {"fragment_size": 160, "number_of_fragments": 2},
            },
        }
    return body


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float | None
    highlights: dict[str, list[str]]
    index: str

    def to_json(self) -> dict[str, Any]:
        """The article record plus ``score`` and ``highlights`` (field -> fragments)."""
        return {**self.article.model_dump(mode="json"), "score": self.score,
                "highlights": self.highlights}


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]
    stories: int | None = None  # with collapse: how many stories the matches belong to


def parse_search(response: Mapping[str, Any]) -> SearchResult:
    hits = response["hits"]
    total = hits["total"]["value"] if isinstance(hits["total"], dict) else int(hits["total"])
    stories = response.get("aggregations", {}).get("stories", {}).get("value")
    return SearchResult(total=total, stories=stories, hits=[
        SearchHit(
            article=article_from_document(hit["_source"]),
            score=hit.get("_score"),
            highlights={f: list(v) for f, v in hit.get("highlight", {}).items()
                        if f in _HIGHLIGHT_FIELDS},
            index=hit["_index"],
        )
        for hit in hits["hits"]
    ])


# -- statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsQuery:
    tags: tuple[str, ...] = ()  # empty: every tag
    since: datetime | None = None
    until: datetime | None = None
    interval: str = "day"  # calendar interval of the histogram: day, week, month
    top: int = 10  # top entities per kind, for each tag in ``tags``
    max_tags: int = 100


@dataclass
class Stats:
    total: int
    untagged: int
    # tag -> [(bucket start as YYYY-MM-DD, articles)], empty buckets left out
    per_tag: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    tag_totals: dict[str, int] = field(default_factory=dict)
    # tag -> kind -> [(name, articles)]
    top_entities: dict[str, dict[str, list[tuple[str, int]]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "untagged": self.untagged,
            "tags": {
                tag: {
                    "total": self.tag_totals.get(tag, 0),
                    "per_interval": [{"start": s, "articles": n} for s, n in buckets],
                    "top_entities": {
                        kind: [{"name": name, "articles": n} for name, n in names]
                        for kind, names in self.top_entities.get(tag, {}).items()
                    },
                }
                for tag, buckets in self.per_tag.items()
            },
        }


_TOP_KINDS = ("people", "organizations", "places", "groups")


def build_stats(query: StatsQuery) -> dict[str, Any]:
    """Articles per tag per interval (by published_at) and, for each requested tag, its top
    people, organizations, places and groups."""
    histogram = {"date_histogram": {
        "field": "published_at", "calendar_interval": query.interval, "min_doc_count": 1,
        "format": "yyyy-MM-dd",
    }}
    aggs: dict[str, Any] = {
        "per_tag": {
            "terms": {"field": "tags", "size": query.max_tags,
                      **({"include": list(query.tags)} if query.tags else {})},
            "aggs": {"over_time": histogram},
        },
        "untagged": {"missing": {"field": "tags"}},
    }
    for i, tag in enumerate(query.tags):
        aggs[f"top_{i}"] = {
            "filter": {"term": {"tags": tag}},
            "aggs": {kind: {"terms": {"field": f"entity.{kind}", "size": query.top}}
                     for kind in _TOP_KINDS},
        }
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": _filters((), (), (), query.since, query.until)}},
        "aggs": aggs,
    }


def parse_stats(query: StatsQuery, response: Mapping[str, Any]) -> Stats:
    aggs = response["aggregations"]
    total = response["hits"]["total"]
    stats = Stats(
        total=total["value"] if isinstance(total, dict) else int(total),
        untagged=int(aggs["untagged"]["doc_count"]),
    )
    for bucket in aggs["per_tag"]["buckets"]:
        tag = bucket["key"]
        stats.tag_totals[tag] = int(bucket["doc_count"])
        stats.per_tag[tag] = [(b["key_as_string"], int(b["doc_count"]))
                              for b in bucket["over_time"]["buckets"]]
    for i, tag in enumerate(query.tags):
        stats.per_tag.setdefault(tag, [])
        stats.tag_totals.setdefault(tag, 0)
        top = aggs[f"top_{i}"]
        stats.top_entities[tag] = {
            kind: [(b["key"], int(b["doc_count"])) for b in top[kind]["buckets"]]
            for kind in _TOP_KINDS
        }
    return stats
