"""The article record: the one schema shared by ingest/ and processors/.

An article travels as schema-versioned JSON (UTF-8 bytes) on every Kafka topic and becomes
the Elasticsearch document. Ingest fills the feed fields; processors add entities and tags.

Ids are stable: the same story polled twice, by two pollers, or replayed, gets the same id,
which is both the Kafka key and the Elasticsearch ``_id``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsflow.errors import SchemaError

__all__ = [
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "Article",
    "Entity",
    "Evidence",
    "Mention",
    "Tag",
    "article_id",
    "decode_article",
    "encode_article",
    "utc_now",
]

# 2 added the enrich stage's taxonomy_version, the story fields and watches; 1 is still
# read (its records simply have none of them).
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


def utc_now() -> datetime:
    return datetime.now(UTC)


def article_id(identity: str) -> str:
    """Stable id from the canonical URL (or, without one, the feed's GUID).

    32 hex characters of SHA-256: short enough for a Kafka key and an ES _id, wide enough
    that collisions among billions of articles are not a concern.
    """
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


class _Record(BaseModel):
    # extra="forbid": a producer that adds fields without a schema bump is caught early.
    model_config = ConfigDict(extra="forbid", frozen=False)


class Mention(_Record):
    """One occurrence of an entity: ``article.<field>[start:end]`` is its text.

    Offsets point into the field itself (title, summary or content, not stripped), not into
    ``text_for_analysis()``, so that a search highlighter can use them on the stored field.
    """

    field: str  # title, summary or content (``newsflow enrich`` records: title or text)
    start: int
    end: int


class Entity(_Record):
    """A named entity found in the article's text (title + summary + content)."""

    text: str
    label: str  # PERSON, ORG, GPE, LOC, NORP, EVENT, FAC, PRODUCT, ...
    canonical: str  # normalised name: titles stripped, short forms merged, countries named
    count: int = 1  # occurrences; equals len(mentions) when mentions are filled
    start: int  # first offset in Article.text_for_analysis()
    end: int
    # ISO 3166-1 alpha-2: the country itself for countries and nationalities, the country a
    # city or region lies in for places (Moscow -> RU).
    country_code: str | None = None
    # Every occurrence, in text order (empty in records written before mentions existed).
    mentions: list[Mention] = Field(default_factory=list)


class Evidence(_Record):
    """Why a tag applies: the sentence and the cues that fired in it."""

    sentence: str
    start: int
    end: int
    cues: list[str] = Field(default_factory=list)
    score: float = 0.0


class Tag(_Record):
    tag: str  # kebab-case taxonomy id, e.g. military-cooperation
    score: float
    evidence: list[Evidence] = Field(default_factory=list)
    taxonomy_version: str


class Article(_Record):
    schema_version: int = SCHEMA_VERSION
    id: str
    url: str
    canonical_url: str
    feed_url: str
    source: str  # outlet domain, e.g. reuters.com
    title: str
    summary: str = ""
    content: str = ""
    authors: list[str] = Field(default_factory=list)
    language: str | None = None
    published_at: datetime  # event time; seen_at when the feed gives none
    published_at_estimated: bool = False  # True when missing or clamped from the future
    seen_at: datetime  # first poll that saw it
    feed_labels: list[str] = Field(default_factory=list)
    # Filled by processors/.
    entities: list[Entity] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    enriched_at: datetime | None = None
    # The taxonomy (and tag model) version the enrich stage tagged it with.
    taxonomy_version: str | None = None
    # Stories (processors/stories), set by the ordered stage before indexing: the story it
    # joined, the earlier article it is a syndicated copy of, the story's independent
    # sources at that moment, and the tags this article is the story's first article in.
    story_id: str | None = None
    dup_of: str | None = None
    story_sources: int | None = None
    story_new_tags: list[str] = Field(default_factory=list)
    # The saved searches (watches) it matched when it was indexed.
    watches: list[str] = Field(default_factory=list)
    indexed_at: datetime | None = None

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in READABLE_VERSIONS:
            raise ValueError(f"unknown schema_version {value}, this build reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
        return value

    @field_validator("published_at", "seen_at", "enriched_at", "indexed_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def text_for_analysis(self) -> str:
        """The text entities and tags are computed on; their offsets point into it."""
        title, summary, content = self.title.strip(), self.summary.strip(), self.content.strip()
        # Feeds often repeat the summary as the content, or as its first paragraph (a lead
        # that would then be read, and quoted as evidence, twice): keep the content alone.
        if content == summary:
            content = ""
        elif content and summary and _repeats(summary, content):
            summary = ""
        return "\n\n".join(p for p in (title, summary, content) if p)

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


def _repeats(summary: str, content: str) -> bool:
    """True when ``content`` starts with ``summary``, up to whitespace and a trailing
    ellipsis (feeds cut their descriptions: "The lead sentence of the piece…")."""
    head = " ".join(summary.split()).rstrip(".\u2026 ")
    return bool(head) and " ".join(content.split()).startswith(head)


def encode_article(article: Article) -> bytes:
    return article.model_dump_json().encode("utf-8")


def decode_article(raw: bytes | str | dict[str, Any]) -> Article:
    """Parse one message into an Article, or raise SchemaError saying what is wrong."""
    if isinstance(raw, bytes | str):
        # pydantic's own JSON parser builds the record without Python's dict in between
        # (about 25 against 45 µs for an enriched feed item); what it refuses takes the path
        # below, which gives the same record and says what is wrong.
        try:
            return Article.model_validate_json(raw)
        except ValidationError:
            pass
    try:
        if isinstance(raw, dict):
            return Article.model_validate(raw)
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return Article.model_validate(json.loads(text))
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not JSON: {exc.msg} at {exc.pos}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise SchemaError(f"not an article record: {problems}") from exc
