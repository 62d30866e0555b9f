"""processors.store.documents: Article <-> document, index names, the template's strict mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow.article import Article, Entity, Evidence, Mention, Tag, article_id
from newsflow.errors import DocumentRejectedError
from processors.store import documents
from processors.store.documents import (
    ENTITY_KINDS,
    article_document,
    article_from_document,
    backing_index,
    entity_kind,
    entity_names,
    index_pattern,
    index_template,
    mapping_field_paths,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_article(**changes: object) -> Article:
    fields: dict[str, object] = {
        "id": article_id("https://example.com/a"),
        "url": "https://example.com/a",
        "canonical_url": "https://example.com/a",
        "feed_url": "https://example.com/feed.xml",
        "source": "example.com",
        "title": "Japan and Australia sign defence pact",
        "summary": "Tokyo and Canberra agreed to hold joint exercises.",
        "published_at": datetime(2025, 3, 31, 23, 59, tzinfo=UTC),
        "seen_at": NOW,
        "entities": [
            Entity(text="Tokyo", label="GPE", canonical="Japan", count=1, start=50, end=55,
                   country_code="JP"),
            Entity(text="Japan", label="GPE", canonical="Japan", count=2, start=0, end=5,
                   country_code="JP", mentions=[Mention(field="title", start=0, end=5),
                                                Mention(field="content", start=9, end=14)]),
            Entity(text="Anthony Albanese", label="PERSON", canonical="Anthony Albanese",
                   start=80, end=96),
            Entity(text="Australians", label="NORP", canonical="Australia", start=100,
                   end=111, country_code="AU"),
            Entity(text="ASEAN", label="ORG", canonical="ASEAN", count=3, start=120, end=125),
            Entity(text="2025", label="DATE", canonical="2025", start=130, end=134),
        ],
        "tags": [
            Tag(tag="military-cooperation", score=0.8, taxonomy_version="v1-2025.1",
                evidence=[Evidence(sentence="Tokyo and Canberra agreed to hold joint exercises.",
                                   start=39, end=90, cues=["joint exercises"], score=0.8)]),
        ],
        "enriched_at": NOW,
    }
    fields.update(changes)
    return Article.model_validate(fields)


@pytest.mark.parametrize(
    ("label", "kind"),
    [("PERSON", "people"), ("ORG", "organizations"), ("GPE", "places"), ("LOC", "places"),
     ("FAC", "places"), ("NORP", "groups"), ("EVENT", "events"), ("PRODUCT", "products"),
     ("DATE", "other"), ("WORK_OF_ART", "other"), ("person", "people")],
)
def test_entity_kind(label: str, kind: str) -> None:
    assert entity_kind(label) == kind


def test_backing_index_is_monthly_by_published_at_and_matches_the_pattern() -> None:
    assert backing_index("news-articles", datetime(2025, 3, 31, 23, 59, tzinfo=UTC)) == \
        "news-articles-v1-2025.03"
    assert backing_index("news-articles", datetime(2025, 4, 1, tzinfo=UTC)) == \
        "news-articles-v1-2025.04"
    assert index_pattern("news-articles") == "news-articles-v1-*"


def test_entity_names_group_by_kind_most_mentioned_first_without_repeats() -> None:
    names = entity_names(make_article().entities)
    assert names["places"] == ["Japan"]
    assert names["people"] == ["Anthony Albanese"]
    assert names["groups"] == ["Australia"]
    assert names["organizations"] == ["ASEAN"]
    assert names["other"] == ["2025"]
    assert names["countries"] == ["JP", "AU"]
    assert set(names) == {*ENTITY_KINDS, "countries"}


def test_every_name_of_the_kind_arrays_is_a_nested_entitys_canonical_name_or_text() -> None:
    # The entity filter of searches and watches asks only the nested entities
    # (processors.store.search): it finds what the per-kind arrays hold only while this holds.
    article = make_article(entities=[
        *make_article().entities,
        Entity(text="Mr Putin", label="PERSON", canonical="Vladimir Putin", start=140, end=148),
        Entity(text="Kursk", label="GPE", canonical="", start=150, end=155),
    ])
    doc = article_document(article, taxonomy_version="v1", indexed_at=NOW)
    nested = {name for entity in doc["entities"]
              for name in (entity["canonical"], entity["text"])}
    listed = {name for kind in ENTITY_KINDS for name in doc["entity"][kind]}
    assert {"Vladimir Putin", "Kursk"} <= listed
    assert listed <= nested


def test_document_has_tag_keywords_details_entity_arrays_and_versions() -> None:
    article = make_article()
    doc = article_document(article, taxonomy_version="v1-2025.1", indexed_at=NOW)
    assert doc["id"] == article.id
    assert doc["tags"] == ["military-cooperation"]
    assert doc["tag_details"][0]["score"] == 0.8
    assert doc["tag_details"][0]["evidence"][0]["cues"] == ["joint exercises"]
    assert doc["entity"]["places"] == ["Japan"]
    assert doc["taxonomy_version"] == "v1-2025.1"
    assert doc["indexed_at"] == "2026-11-28T12:00:00Z"
    assert doc["published_at"] == "2025-03-31T23:59:00Z"
    assert len(doc["entities"]) == 6


def test_document_round_trips_to_the_same_article() -> None:
    article = make_article()
    doc = article_document(article, taxonomy_version="v1", indexed_at=NOW)
    back = article_from_document(doc)
    assert back == article.model_copy(update={"indexed_at": NOW, "taxonomy_version": "v1"})


def test_every_document_field_is_declared_in_the_strict_mapping() -> None:
    template = index_template("news-articles", analyzer="standard")
    mappings = template["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    declared = mapping_field_paths(mappings)
    doc = article_document(make_article(), taxonomy_version="v1", indexed_at=NOW)

    def paths(value: object, prefix: str) -> set[str]:
        found: set[str] = set()
        if isinstance(value, dict):
            for key, sub in value.items():
                found.add(f"{prefix}{key}")
                found |= paths(sub, f"{prefix}{key}.")
        elif isinstance(value, list):
            for item in value:
                found |= paths(item, prefix)
        return found

    assert paths(doc, "") <= declared
    # and every Article field is mapped, so nothing the schema carries is refused
    assert set(Article.model_fields) - {"tags"} <= declared


def test_template_uses_the_configured_analyzer_alias_and_settings() -> None:
    template = index_template("nf-x", analyzer="whitespace", shards=2, replicas=1,
                              refresh_interval="5s")
    assert template["index_patterns"] == ["nf-x-v1-*"]
    assert template["template"]["aliases"] == {"nf-x": {}}
    props = template["template"]["mappings"]["properties"]
    assert props["title"]["analyzer"] == "whitespace"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert props["content"]["analyzer"] == "whitespace"
    assert props["tag_details"]["type"] == "nested"
    assert template["template"]["settings"] == {
        "number_of_shards": 2, "number_of_replicas": 1, "refresh_interval": "5s"}


@pytest.mark.parametrize("bad_id", ["", "x" * (documents.MAX_ID_BYTES + 1)])
def test_ids_elasticsearch_would_refuse_for_the_whole_bulk_are_rejected_here(
    bad_id: str,
) -> None:
    with pytest.raises(DocumentRejectedError):
        article_document(make_article(id=bad_id), taxonomy_version=None, indexed_at=NOW)


def test_untagged_article_has_empty_tag_fields() -> None:
    doc = article_document(make_article(tags=[], entities=[]), taxonomy_version="v1",
                           indexed_at=NOW)
    assert doc["tags"] == []
    assert doc["tag_details"] == []
    assert doc["entity"]["people"] == []


def test_mentions_are_stored_for_highlighting_but_not_indexed() -> None:
    from processors.store.documents import mapping_additions

    mappings = index_template("news-articles")["template"]["mappings"]
    entities = mappings["properties"]["entities"]
    assert entities["type"] == "nested"
    mentions = entities["properties"]["mentions"]
    assert mentions["type"] == "object"  # not nested: no extra Lucene document per mention
    assert all(f["index"] is False and f["doc_values"] is False
               for f in mentions["properties"].values())
    # existing v1 indices get exactly what the template declares
    added = mapping_additions()["entities"]
    assert added["type"] == "nested" and added["properties"]["mentions"] == mentions
