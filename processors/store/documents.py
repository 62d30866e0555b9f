"""Article <-> Elasticsearch document, and the index template that holds them. Pure.

Index layout: the alias (``news-articles``) spans monthly backing indices named
``<alias>-v<MAPPING_VERSION>-YYYY.MM`` after the article's ``published_at``. newsflow picks the
backing index itself ("rollover" without ILM, which the test distribution lacks), and because
the month comes from the article, the same article always lands in the same index: the
``_id`` (= article id) stays idempotent across months, replays and re-tagging. The template
attaches the alias, so an index created for a new month joins the alias by itself.

The mapping is strict: a field that is not declared here is a rejected document, not a new
column. It keeps every field of the Article record under its own name, except:

- ``tags`` holds the tag names as keywords (for filters and Kibana terms charts); the full
  Tag objects (score, evidence, taxonomy version) live in ``tag_details`` (nested);
- ``entity.<kind>`` holds canonical entity names as keyword arrays per kind (people,
  organizations, places, groups, ...), next to the detailed ``entities`` (nested);
- ``entities.mentions`` (every occurrence: field, start, end) is kept in ``_source`` for
  highlighting and not indexed: an object array, not nested (nested objects would each cost
  a Lucene document), with neither index nor doc values. Added to v1 in place
  (``mapping_additions``): adding a field needs no new index version.
- ``taxonomy_version`` records which taxonomy the worker applied (retag uses it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from newsflow.article import Article, Entity
from newsflow.errors import DocumentRejectedError

__all__ = [
    "ENTITY_KINDS",
    "MAPPING_VERSION",
    "MAX_ID_BYTES",
    "article_document",
    "article_from_document",
    "backing_index",
    "check_document_id",
    "entity_kind",
    "entity_names",
    "index_pattern",
    "index_template",
    "mapping_additions",
    "mapping_field_paths",
]

MAPPING_VERSION = 1
# Elasticsearch refuses a longer _id for the whole bulk request, not just the item.
MAX_ID_BYTES = 512

# spaCy labels -> the keyword array they are listed in (``entity.<kind>``).
_KIND_OF_LABEL = {
    "PERSON": "people",
    "PER": "people",
    "ORG": "organizations",
    "GPE": "places",
    "LOC": "places",
    "FAC": "places",
    "NORP": "groups",
    "EVENT": "events",
    "PRODUCT": "products",
}
ENTITY_KINDS = ("people", "organizations", "places", "groups", "events", "products", "other")

# Keyword sub-fields longer than this are not indexed (the text still is).
_KEYWORD_IGNORE_ABOVE = 1024


def entity_kind(label: str) -> str:
    return _KIND_OF_LABEL.get(label.upper(), "other")


def index_pattern(alias: str) -> str:
    return f"{alias}-v{MAPPING_VERSION}-*"


def backing_index(alias: str, published_at: datetime) -> str:
    """The monthly backing index for an article published at ``published_at`` (UTC)."""
    # Not ``{published_at:%Y.%m}``: strftime costs 2-3 µs per article, the integers 0.5.
    return f"{alias}-v{MAPPING_VERSION}-{published_at.year:04d}.{published_at.month:02d}"


def _text(analyzer: str, *, keyword: bool) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "text", "analyzer": analyzer}
    if keyword:
        field["fields"] = {"keyword": {"type": "keyword", "ignore_above": _KEYWORD_IGNORE_ABOVE}}
    return field


# Stored in _source only: highlighting reads offsets from there, nobody searches on them.
_STORED_ONLY_INT = {"type": "integer", "index": False, "doc_values": False}
_MENTIONS = {
    "type": "object",
    "properties": {
        "field": {"type": "keyword", "index": False, "doc_values": False},
        "start": _STORED_ONLY_INT,
        "end": _STORED_ONLY_INT,
    },
}


def mapping_additions() -> dict[str, Any]:
    """Fields added to mapping v1 after indices were created with it: PUT _mapping adds them
    to existing backing indices (new ones get them from the template). Only additions may
    go here; a changed field needs a new MAPPING_VERSION and a reindex."""
    return {"entities": {"type": "nested", "properties": {"mentions": _MENTIONS}},
            **_STORY_FIELDS}


# Stories (processors/stories): the story an article joined, the article it copies, the
# story's independent sources then, and the tags it opened in its story.
_STORY_FIELDS: dict[str, Any] = {
    "story_id": {"type": "keyword"},
    "dup_of": {"type": "keyword"},
    "story_sources": {"type": "integer"},
    "story_new_tags": {"type": "keyword"},
    # Watches (saved searches) it matched.
    "watches": {"type": "keyword"},
}


def _mappings(analyzer: str) -> dict[str, Any]:
    keyword = {"type": "keyword"}
    date = {"type": "date"}
    evidence = {
        "type": "object",
        "properties": {
            "sentence": _text(analyzer, keyword=False),
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "cues": keyword,
            "score": {"type": "float"},
        },
    }
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "schema_version": {"type": "integer"},
            # No ignore_above on ids and URLs: a 32 KB URL is junk and should be rejected
            # (and dead-lettered), not silently left out of the keyword index.
            "id": keyword,
            "url": keyword,
            "canonical_url": keyword,
            "feed_url": keyword,
            "source": keyword,
            "title": _text(analyzer, keyword=True),
            "summary": _text(analyzer, keyword=True),
            "content": _text(analyzer, keyword=False),
            "authors": _text(analyzer, keyword=True),
            "language": keyword,
            "published_at": date,
            "published_at_estimated": {"type": "boolean"},
            "seen_at": date,
            "feed_labels": keyword,
            "enriched_at": date,
            "indexed_at": date,
            "taxonomy_version": keyword,
            **_STORY_FIELDS,
            "tags": keyword,
            "tag_details": {
                "type": "nested",
                "properties": {
                    "tag": keyword,
                    "score": {"type": "float"},
                    "taxonomy_version": keyword,
                    "evidence": evidence,
                },
            },
            "entities": {
                "type": "nested",
                "properties": {
                    "text": keyword,
                    "label": keyword,
                    "canonical": keyword,
                    "count": {"type": "integer"},
                    "start": {"type": "integer"},
                    "end": {"type": "integer"},
                    "country_code": keyword,
                    "mentions": _MENTIONS,
                },
            },
            "entity": {
                "type": "object",
                "properties": {
                    **{kind: keyword for kind in ENTITY_KINDS},
                    "countries": keyword,
                },
            },
        },
    }


def index_template(
    alias: str,
    *,
    analyzer: str = "standard",
    shards: int = 1,
    replicas: int = 0,
    refresh_interval: str = "1s",
) -> dict[str, Any]:
    """Body of PUT _index_template/<name> for the backing indices of ``alias``."""
    return {
        "index_patterns": [index_pattern(alias)],
        # Above the built-in templates' 100 and 200 would be pointless: ours is specific.
        "priority": 150,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "refresh_interval": refresh_interval,
            },
            "mappings": _mappings(analyzer),
            "aliases": {alias: {}},
        },
        "_meta": {"managed_by": "newsflow", "mapping_version": MAPPING_VERSION},
    }


def mapping_field_paths(mappings: Mapping[str, Any]) -> set[str]:
    """Every field path a mapping declares, sub-fields included (``title.keyword``)."""
    paths: set[str] = set()

    def walk(properties: Mapping[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            paths.add(path)
            for sub in spec.get("fields", {}):
                paths.add(f"{path}.{sub}")
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")

    walk(mappings.get("properties", {}), "")
    return paths


def entity_names(entities: Iterable[Entity]) -> dict[str, list[str]]:
    """Canonical names per kind, each once, most mentioned first; plus country codes."""
    ranked = sorted(entities, key=lambda e: (-e.count, e.start))
    names: dict[str, list[str]] = {kind: [] for kind in ENTITY_KINDS}
    countries: list[str] = []
    for entity in ranked:
        bucket = names[entity_kind(entity.label)]
        name = entity.canonical or entity.text
        if name not in bucket:
            bucket.append(name)
        if entity.country_code and entity.country_code not in countries:
            countries.append(entity.country_code)
    return {**names, "countries": countries}


def check_document_id(doc_id: str) -> None:
    """DocumentRejectedError for an ``_id`` Elasticsearch refuses with the whole bulk
    request rather than with the one item (empty, or longer than 512 bytes)."""
    if not doc_id or len(doc_id.encode("utf-8")) > MAX_ID_BYTES:
        raise DocumentRejectedError(
            f"article id must be 1..{MAX_ID_BYTES} bytes, got {len(doc_id.encode())}",
            doc_id=doc_id[:64],
        )


def article_document(
    article: Article, *, taxonomy_version: str | None, indexed_at: datetime
) -> dict[str, Any]:
    """The document stored for ``article`` (its ``_id`` is ``article.id``).

    Raises DocumentRejectedError for what Elasticsearch would refuse for the whole bulk
    request rather than for the one item (an _id longer than 512 bytes).
    """
    check_document_id(article.id)
    record = article.model_copy(update={"indexed_at": indexed_at}).model_dump(mode="json")
    tag_details = record.pop("tags")
    return {
        **record,
        "taxonomy_version": taxonomy_version,
        "tags": list(dict.fromkeys(tag["tag"] for tag in tag_details)),
        "tag_details": tag_details,
        "entity": entity_names(article.entities),
    }


def article_from_document(source: Mapping[str, Any]) -> Article:
    """The Article back from a stored document (derived fields dropped)."""
    record = {
        key: value
        for key, value in source.items()
        if key not in ("tags", "tag_details", "entity")
    }
    record["tags"] = source.get("tag_details") or []
    return Article.model_validate(record)
