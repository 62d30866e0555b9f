"""What goes into the story engine and what comes out of it.

``StoryInput`` is one article as the engine needs it: the worker builds it from an enriched
``Article`` (``StoryInput.from_article``), ``newsflow cluster`` from a JSON line and the
Enricher's entities. ``Assignment`` is the answer for that article: its story, the article
it copies (``dup_of``) and the story's summary after it joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow.article import Article, Entity

__all__ = ["Assignment", "StoryEntity", "StoryInput", "StorySummary"]


@dataclass(frozen=True)
class StoryEntity:
    """A named entity of an article: its canonical name, NER label, number of mentions."""

    name: str
    label: str
    count: int = 1
    country: str | None = None

    @classmethod
    def of(cls, entity: Entity | tuple[str, str] | StoryEntity) -> StoryEntity:
        """From the project's ``Entity`` (canonical name, label, count, country code), a
        ``(text, label)`` pair, or itself."""
        if isinstance(entity, StoryEntity):
            return entity
        if isinstance(entity, Entity):
            return cls(entity.canonical or entity.text, entity.label, max(1, entity.count),
                       entity.country_code)
        text, label = entity
        return cls(str(text), str(label))


@dataclass(frozen=True)
class StoryInput:
    """One article for the engine. ``published_at`` is the event time (UTC); ``source`` is
    the outlet's domain; ``url``/``guid`` feed the exact-duplicate check."""

    id: str
    title: str
    text: str
    source: str
    published_at: datetime
    url: str | None = None
    guid: str | None = None
    entities: Sequence[StoryEntity] = ()
    tags: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a story input needs a non-empty id")
        if self.published_at.tzinfo is None:
            object.__setattr__(self, "published_at", self.published_at.replace(tzinfo=UTC))

    @classmethod
    def from_article(cls, article: Article) -> StoryInput:
        """The worker's view: an enriched Article (entities and tags already set)."""
        summary, content = article.summary.strip(), article.content.strip()  # stripped once
        text = summary if content == summary else "\n".join(p for p in (summary, content) if p)
        return cls(
            id=article.id,
            title=article.title,
            text=text,
            source=article.source,
            published_at=article.published_at,
            url=article.canonical_url or article.url or None,
            entities=tuple(StoryEntity.of(e) for e in article.entities),
            tags=tuple(article.tag_names),
        )

    @property
    def epoch_s(self) -> float:
        return self.published_at.timestamp()


@dataclass(frozen=True)
class StorySummary:
    """A story as it stands after an assignment.

    ``independent_sources`` counts distinct outlets among the story's articles that are not
    copies: a syndicated copy printed by a tenth site adds a source domain, not an
    independent source."""

    story_id: str
    first_at: datetime
    last_at: datetime
    article_count: int
    tags: tuple[str, ...]
    source_domains: tuple[str, ...]
    independent_sources: int
    top_entities: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "first_at": _iso(self.first_at),
            "last_at": _iso(self.last_at),
            "article_count": self.article_count,
            "tags": list(self.tags),
            "source_domains": list(self.source_domains),
            "independent_sources": self.independent_sources,
            "top_entities": list(self.top_entities),
        }


@dataclass(frozen=True)
class Assignment:
    """The engine's answer for one article."""

    article_id: str
    story_id: str
    dup_of: str | None
    story: StorySummary
    new_story: bool = False
    # How it was decided, for logs and evaluation: "new", "joined", "copy", "exact", "seen".
    reason: str = "joined"
    score: float = 0.0  # the best story's similarity score, or the copy match's score

    def to_json(self) -> dict[str, Any]:
        """The record ``newsflow cluster`` writes (and the worker may index)."""
        return {
            "id": self.article_id,
            "story_id": self.story_id,
            "dup_of": self.dup_of,
            "new_story": self.new_story,
            "article_count": self.story.article_count,
            "independent_sources": self.story.independent_sources,
            "story": self.story.to_json(),
        }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
