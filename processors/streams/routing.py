"""Which tag topics an article goes to. Pure.

One copy of the enriched article per distinct tag, keyed by article id (so that all copies of
one article sit in one partition of each tag topic and keep their order).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from newsflow.article import Article, encode_article
from processors.store.watches import watch_topic_name
from processors.streams.ports import OutMessage

__all__ = [
    "Route",
    "WatchRoute",
    "is_valid_tag",
    "opens_story",
    "route_article",
    "route_articles",
    "route_watches",
    "tag_topic_name",
]

# Kafka allows [a-zA-Z0-9._-] up to 249 characters; taxonomy tags are kebab-case.
_TAG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAX_TOPIC_LEN = 249


@dataclass(frozen=True)
class Route:
    tag: str
    topic: str
    key: bytes
    value: bytes
    article_id: str

    def message(self) -> OutMessage:
        return OutMessage(self.tag, self.key, self.value)

    def fits(self, limit: int | None) -> bool:
        """Whether it fits in one Kafka message of at most ``limit`` bytes (None: no limit).
        An enriched article can outgrow the limit (entities and evidence are added to it)."""
        return limit is None or len(self.key) + len(self.value) <= limit


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag))


def tag_topic_name(prefix: str, tag: str) -> str:
    """``news.tag.<tag>``; ValueError for a tag that cannot name a Kafka topic."""
    if not is_valid_tag(tag):
        raise ValueError(f"tag {tag!r} is not kebab-case (a-z, 0-9, single hyphens)")
    name = f"{prefix}{tag}"
    if len(name) > _MAX_TOPIC_LEN:
        raise ValueError(f"topic name for tag {tag!r} is longer than {_MAX_TOPIC_LEN}")
    return name


def route_article(
    article: Article, prefix: str, *, tags: Collection[str] | None = None
) -> tuple[list[Route], list[str]]:
    """The messages to produce for ``article`` and the tags that cannot name a topic.

    ``tags`` limits the routes to those tags (retag sends only newly gained ones). The
    taxonomy loader refuses bad tag names, so the second list is empty in practice; the
    caller warns about it rather than dropping silently.
    """
    routes: list[Route] = []
    skipped: list[str] = []
    value: bytes | None = None  # encoded once, and only for an article that has a route
    for tag in dict.fromkeys(article.tag_names):
        if tags is not None and tag not in tags:
            continue
        if not is_valid_tag(tag):
            skipped.append(tag)
            continue
        if value is None:
            value = encode_article(article)
        key = article.id.encode("utf-8")
        routes.append(Route(tag, tag_topic_name(prefix, tag), key, value, article.id))
    return routes, skipped


def route_articles(
    articles: Iterable[Article], prefix: str
) -> tuple[list[Route], list[tuple[str, str]]]:
    """Routes for every article; skipped (article id, tag) pairs."""
    routes: list[Route] = []
    skipped: list[tuple[str, str]] = []
    for article in articles:
        mine, bad = route_article(article, prefix)
        routes.extend(mine)
        skipped.extend((article.id, tag) for tag in bad)
    return routes, skipped


def opens_story(article: Article, tag: str) -> bool:
    """Whether ``article`` is its story's first article on ``tag`` (what a collapsed
    subscription delivers). An article without story fields (indexed before stories
    existed) counts as opening its own."""
    if article.story_id is None:
        return True
    return tag in article.story_new_tags


@dataclass(frozen=True)
class WatchRoute:
    """One article on the topic of one watch it matched (``news.watch.<name>``)."""

    watch: str
    topic: str
    key: bytes
    value: bytes
    article_id: str

    def message(self) -> OutMessage:
        return OutMessage(None, self.key, self.value, topic=self.topic)

    def fits(self, limit: int | None) -> bool:
        return limit is None or len(self.key) + len(self.value) <= limit


def route_watches(
    articles: Iterable[Article], watch_prefix: str, encoded: Mapping[str, bytes] | None = None
) -> list[WatchRoute]:
    """One message per (article, watch in ``article.watches``), keyed by article id, the
    article (with its ``watches``) as value. Names that cannot name a topic are left out:
    the watches index accepts none (processors.store.watches). ``encoded``: article id ->
    the article already encoded (by its tag routes), so it is not encoded twice."""
    routes: list[WatchRoute] = []
    for article in articles:
        if not article.watches:
            continue
        value = (encoded or {}).get(article.id) or encode_article(article)
        key = article.id.encode("utf-8")
        for name in dict.fromkeys(article.watches):
            try:
                topic = watch_topic_name(watch_prefix, name)
            except ValueError:
                continue
            routes.append(WatchRoute(name, topic, key, value, article.id))
    return routes
