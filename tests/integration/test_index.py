"""processors.store.index.ArticleIndex against the real Elasticsearch: template and alias, bulk
idempotency, per-item rejections, monthly backing indices, unreachable server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from newsflow.article import utc_now
from newsflow.errors import NewsflowError, SearchUnavailableError
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex, ensure_plain_index
from processors.store.ports import IndexRequest
from tests.integration.processors_support import ES_URL, Names, make_article

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


@pytest.fixture
def index(names: Names) -> Iterator[ArticleIndex]:
    settings = ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias)
    with ArticleIndex(settings) as idx:
        yield idx


def request(idx: ArticleIndex, n: int, **changes: object) -> IndexRequest:
    article = make_article(n, f"Story {n}").model_copy(update=changes)
    doc = article_document(article, taxonomy_version="t1", indexed_at=utc_now())
    return IndexRequest(article.id, backing_index(idx.alias, article.published_at), doc)


def test_ensure_ready_puts_template_and_alias_and_is_idempotent(index: ArticleIndex,
                                                                  names: Names) -> None:
    now = datetime(2026, 11, 28, tzinfo=UTC)
    first = index.ensure_ready(now)
    assert index.ensure_ready(now) == first == f"{names.alias}-v1-2026.11"
    client = index._client
    template = client.indices.get_index_template(name=names.alias)["index_templates"][0]
    assert template["index_template"]["index_patterns"] == [f"{names.alias}-v1-*"]
    aliases = client.indices.get_alias(name=names.alias)
    assert list(aliases) == [first]
    mapping = client.indices.get_mapping(index=first)[first]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert index.count() == 0


def test_same_article_twice_keeps_count_one(index: ArticleIndex) -> None:
    index.ensure_ready(utc_now())
    req = request(index, 1)
    assert index.bulk_index([req]).indexed == [req.doc_id]
    again = index.bulk_index([req, req])
    assert again.rejected == [] and again.retryable == []
    index.refresh()
    assert index.count() == 1
    stored = index.get(req.doc_id)
    assert stored is not None and stored["title"] == "Story 1"


def test_each_month_gets_its_backing_index_behind_the_alias(index: ArticleIndex,
                                                            names: Names) -> None:
    index.ensure_ready(utc_now())
    old = request(index, 2, published_at=datetime(2024, 2, 29, 12, tzinfo=UTC))
    new = request(index, 3)
    outcome = index.bulk_index([old, new])
    assert sorted(outcome.indexed) == sorted([old.doc_id, new.doc_id])
    index.refresh()
    assert index.count() == 2
    located = index.locate([old.doc_id, new.doc_id])
    assert located[old.doc_id] == f"{names.alias}-v1-2024.02"
    assert located[new.doc_id] == backing_index(names.alias, utc_now())
    # the new month's index was created through the template: strict mapping and the alias
    assert names.alias in index._client.indices.get_alias(index=f"{names.alias}-v1-2024.02")[
        f"{names.alias}-v1-2024.02"]["aliases"]


def test_rejected_documents_are_per_item_failures_and_the_rest_is_indexed(
    index: ArticleIndex,
) -> None:
    index.ensure_ready(utc_now())
    good = request(index, 4)
    long_url = "https://example.com/" + "x" * 40_000  # an immense keyword term
    too_long = request(index, 5, url=long_url)
    junk_doc = dict(request(index, 6).document)
    junk_doc["unexpected_field"] = "junk"
    junk = IndexRequest(request(index, 6).doc_id, good.index, junk_doc)

    outcome = index.bulk_index([good, too_long, junk])

    assert outcome.indexed == [good.doc_id]
    assert outcome.retryable == []
    rejected = {f.doc_id: f for f in outcome.rejected}
    assert set(rejected) == {too_long.doc_id, junk.doc_id}
    assert rejected[too_long.doc_id].status == 400
    assert rejected[too_long.doc_id].error_type == "document_parsing_exception"
    assert rejected[junk.doc_id].error_type == "strict_dynamic_mapping_exception"
    index.refresh()
    assert index.count() == 1


def test_every_document_field_exists_in_the_live_mapping(index: ArticleIndex) -> None:
    index.ensure_ready(utc_now())
    fields = index.mapping_fields()
    assert {"tags", "tag_details.evidence.cues", "entity.people", "entities.canonical",
            "title.keyword", "published_at", "taxonomy_version"} <= fields


def test_unreachable_elasticsearch_is_a_transient_error() -> None:
    settings = ElasticsearchSettings(url="http://127.0.0.1:1", alias="it-none",
                                     template_name="it-none", request_timeout_s=2)
    with ArticleIndex(settings) as idx:
        with pytest.raises(SearchUnavailableError):
            idx.ensure_ready(utc_now())
        with pytest.raises(SearchUnavailableError):
            idx.bulk_index([IndexRequest("a", "it-none-v1-2026.01", {"id": "a"})])


def test_plain_index_creation_is_idempotent_and_reports_a_refused_mapping(
        index: ArticleIndex, names: Names) -> None:
    """ensure_plain_index (stories, snapshots, alerts) tolerates an index that exists but
    not any other 400: a mapping Elasticsearch refuses is an error, not a silent no-op."""
    client = index._client
    plain = f"{names.alias}-plain"
    mappings = {"properties": {"title": {"type": "keyword"}}}
    ensure_plain_index(client, plain, mappings)
    ensure_plain_index(client, plain, mappings)
    assert client.indices.get_mapping(index=plain)[plain]["mappings"] == mappings
    refused = f"{names.alias}-refused"
    with pytest.raises(NewsflowError, match=f"creating index {refused}"):
        ensure_plain_index(client, refused, {"properties": {"title": {"type": "no-such-type"}}})
    assert not client.indices.exists(index=refused)


def test_plain_index_created_by_many_at_once(index: ArticleIndex, names: Names) -> None:
    """Workers starting together all find the index missing and create it: one wins, the
    others' "resource_already_exists_exception" is no error."""
    from concurrent.futures import ThreadPoolExecutor

    client = index._client
    mappings = {"properties": {"title": {"type": "keyword"}}}
    for n in range(3):
        plain = f"{names.alias}-plain-{n}"
        with ThreadPoolExecutor(8) as pool:
            done = [pool.submit(ensure_plain_index, client, plain, mappings) for _ in range(8)]
        assert [f.result() for f in done] == [None] * 8
        assert client.indices.exists(index=plain)


def test_the_e2e_benchmarks_search_watcher_sees_exactly_the_refreshed_documents(
    index: ArticleIndex,
) -> None:
    # bench/e2e's "searchable" clock: it must see exactly the refreshed documents, with the
    # seen_at and indexed_at they carry.
    from bench.e2e.observe import SearchWatcher

    index.ensure_ready(utc_now())
    indexed_at = datetime(2026, 12, 6, 12, 0, 1, 250_000, tzinfo=UTC)
    docs = []
    for n in (1, 2):
        article = make_article(n, f"Story {n}")
        doc = article_document(article, taxonomy_version="t1", indexed_at=indexed_at)
        if n == 2:
            del doc["indexed_at"]  # indexed before the field existed: counts as when seen
        docs.append(IndexRequest(article.id, backing_index(index.alias, article.published_at),
                                 doc))
    stamped, older = docs
    assert index.bulk_index(docs).indexed == [stamped.doc_id, older.doc_id]
    index.refresh()
    not_yet = request(index, 3)

    watcher = SearchWatcher(ES_URL, index.alias)
    try:
        watcher.expect([stamped.doc_id, older.doc_id, not_yet.doc_id])
        watcher._look()
    finally:
        watcher.es.close()
    assert sorted(watcher.visible) == sorted([stamped.doc_id, older.doc_id])
    assert watcher.pending() == 1
    _, seen_at, at = watcher.visible[stamped.doc_id]
    assert at == pytest.approx(indexed_at.timestamp(), abs=0.001)
    assert seen_at == pytest.approx(
        datetime.fromisoformat(stamped.document["seen_at"]).timestamp(), abs=0.001)
    _, older_seen, older_at = watcher.visible[older.doc_id]
    assert older_at == older_seen == pytest.approx(
        datetime.fromisoformat(older.document["seen_at"]).timestamp(), abs=0.001)
