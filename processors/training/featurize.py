"""Labelled items -> what the model learns from, through the product's own path: the same
Article text, the same NER and entity normalisation, the same rule engine as the worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from newsflow.article import Article
from processors.enrich.enrichment import Enricher
from processors.enrich.tagmodel import rule_features, rule_openings
from processors.training.corpus import LabelledItem
from processors.training.fit import TrainingSet

__all__ = ["as_article", "training_set"]


def as_article(item: LabelledItem, now: datetime | None = None) -> Article:
    """A feed item as the poller would publish it: title and description (summary)."""
    when = now or datetime(2023, 1, 1, tzinfo=UTC)
    return Article(
        id=item.id, url="", canonical_url="", feed_url="", source="corpus",
        title=item.title, summary=item.text, published_at=when, seen_at=when,
    )


def training_set(items: Sequence[LabelledItem], enricher: Enricher) -> TrainingSet:
    articles = [as_article(i) for i in items]
    texts = [a.text_for_analysis() for a in articles]
    entities = enricher.entities_for(texts)
    analyses = [
        enricher.tagger.rules.analyse(text, ents, title_end=len(a.title.strip()))
        for a, text, ents in zip(articles, texts, entities, strict=True)
    ]
    return TrainingSet(
        texts=texts,
        titles=[a.title.strip() for a in articles],
        rules=[rule_features(a) for a in analyses],
        tags=[i.tags for i in items],
        openings=[rule_openings(a) for a in analyses],
    )
