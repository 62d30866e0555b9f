"""Articles for the browser tests: enriched (tags, entities) and written straight to the test's
own index or tag topic, the way the worker would have."""

from __future__ import annotations

from datetime import datetime, timedelta

from newsflow.article import Article, Entity, Tag, utc_now
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex
from processors.store.ports import IndexRequest
from tests.integration.processors_support import ES_URL, Names, make_article


def enriched(n: int, title: str, *, tags: tuple[str, ...] = (), source: str = "wire.example",
             summary: str = "", entities: tuple[tuple[str, str], ...] = (),
             minutes_ago: float = 0) -> Article:
    published: datetime = utc_now() - timedelta(minutes=minutes_ago)
    article = make_article(n, title, source=source, summary=summary, published_at=published)
    return article.model_copy(update={
        "tags": [Tag(tag=t, score=0.8, taxonomy_version="t") for t in tags],
        "entities": [Entity(text=name, label=label, canonical=name, start=0, end=len(name))
                     for name, label in entities],
    })


def _settings(names: Names) -> ElasticsearchSettings:
    return ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias)


def create_index(names: Names) -> None:
    """The test's index and alias, empty (what the worker does when it starts)."""
    with ArticleIndex(_settings(names)) as index:
        index.ensure_ready(utc_now())


def index_articles(names: Names, articles: list[Article]) -> None:
    with ArticleIndex(_settings(names)) as index:
        index.ensure_ready(utc_now())
        outcome = index.bulk_index([
            IndexRequest(a.id, backing_index(names.alias, a.published_at),
                         article_document(a, taxonomy_version="t", indexed_at=utc_now()))
            for a in articles])
        assert sorted(outcome.indexed) == sorted(a.id for a in articles), outcome
        index.refresh()

