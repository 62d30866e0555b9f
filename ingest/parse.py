"""Feed bytes to article records: defuse, parse (feedparser-rs or feedparser), normalise.

feedparser is given the bytes with the response headers (so that the HTTP charset counts)
and never a string (a string that looks like a URL would make it fetch). Before that, the
document's internal DTD subset is removed: feedparser keeps "safe-looking" entity
declarations and, when expat refuses an entity amplification, its fallback parser expands
them anyway (a 1 MB entity referenced 3,000 times took 54 s and 8.7 GB here). Without the
subset, undefined entities make the XML not well-formed and feedparser's loose parser keeps
the entries with the references left as text.

With ``fast=True`` the defused body goes to feedparser-rs first (ingest/fastparse.py), and to
feedparser wherever that answer is doubtful; both give the same articles
(tests/unit/ingest/test_parse_equivalence.py). A body whose DTD subset was removed always
goes to feedparser.

Entries whose id the caller already holds (``known_ids``: the poller passes the ids its feed
state has seen) are identified and counted in ``ParsedFeed.known``, not normalised: a feed
lists its newest N items on every poll, so most entries are ones the poller published
before and would only drop as duplicates. Normalising them (HTML to text, authors,
language, the Article record, pickling it back from the parser process) took ~40 % of the
parser's CPU for a 20-item feed with 16 known entries (1.24 -> 0.78 ms with the result's
pickling, measured); the identity is cheap (canonical link + SHA-256). On the fast path
even that is skipped for an item the parser process read and checked before, byte for
byte in the same context (ingest/fastparse.py, "Items seen before"): its identity is
remembered, and its entry is None in the fast result.

Outcomes: entries -> articles; a recoverable "bozo" feed keeps its entries (the problem is
noted); a body that yields no entries and is not a valid empty feed raises FeedError with a
reason a person can act on (it becomes the feed's health reason).
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import feedparser

from ingest.defuse import defuse_xml
from ingest.fastparse import fast_parse
from ingest.normalize import (
    FeedContext,
    Identity,
    LanguageDetector,
    article_from_entry,
    entry_identity,
    primary_language,
)
from newsflow.article import Article
from newsflow.errors import FeedError

__all__ = ["ParsedFeed", "detect_language", "parse_articles", "parse_feed"]

# An entry flood is a hostile or broken feed; real feeds carry tens to a few hundred items.
MAX_ENTRIES = 2_000
_MIN_DETECT_CHARS = 20


@dataclass
class ParsedFeed:
    articles: list[Article] = field(default_factory=list)
    entries: int = 0  # entries in the document (before dropping unidentifiable ones)
    skipped: int = 0  # entries nothing identified (no link, GUID or title)
    # Ids of entries found in known_ids, in document order (repeats kept): not normalised.
    # The poller counts them as duplicates and keeps them as present in the feed (the
    # feed state remembers ids the feed still lists, however old).
    known: list[str] = field(default_factory=list)
    title: str = ""
    language: str | None = None
    version: str = ""
    problem: str = ""  # a recoverable problem (bozo) that did not cost the entries
    parser: str = "feedparser"  # or "feedparser-rs"
    fallback: str = ""  # why feedparser parsed it although the fast parser was asked


_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)",
                         re.IGNORECASE | re.DOTALL)
_ALTERNATE = re.compile(
    rb"<link[^>]+type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.IGNORECASE
)
_HREF = re.compile(rb"href=[\"']([^\"']+)[\"']", re.IGNORECASE)


def _html_reason(body: bytes, content_type: str) -> str:
    reason = f"not a feed: the server sent an HTML page (Content-Type {content_type or 'none'})"
    link = _ALTERNATE.search(body[:262_144])
    if link:
        href = _HREF.search(link.group())
        if href:
            return f"{reason}; it advertises a feed at {href.group(1).decode('utf-8', 'replace')}"
    return reason


def _bozo_text(parsed: Mapping[str, Any]) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else "malformed"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    feed: FeedContext,
    seen_at: datetime,
    *,
    detect_language: LanguageDetector | None = None,
    future_tolerance: timedelta = timedelta(hours=1),
    fast: bool = False,
    known_ids: Container[str] = frozenset(),
) -> ParsedFeed:
    """Parse one response body into articles, or raise FeedError saying why none came out.

    ``fast``: try feedparser-rs first, feedparser where its answer is doubtful.
    ``known_ids``: article ids the caller has already; entries with one of them go to
    ``known`` instead of ``articles`` (any other entry is normalised as without it).
    """
    if not body.strip():
        raise FeedError("empty body", url=feed.feed_url)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    safe_body, defused = defuse_xml(body)
    parsed: Mapping[str, Any] | None = None
    identities: list[Identity | None] | None = None
    fallback = ""
    if fast:
        if defused:
            fallback = "DTD internal subset removed"
        else:
            quick = fast_parse(safe_body, headers, max_entries=MAX_ENTRIES,
                               feed_url=feed.feed_url, known_ids=known_ids)
            parsed, fallback, identities = quick.parsed, quick.fallback, quick.identities
    if parsed is None:
        response_headers = {k.lower(): v for k, v in headers.items()}
        # feedparser resolves relative links against Content-Location.
        response_headers.setdefault("content-location", feed.feed_url)
        parsed = feedparser.parse(
            safe_body,
            response_headers=response_headers,
            sanitize_html=False,  # we reduce everything to plain text ourselves
            resolve_relative_uris=False,
        )
    entries = list(parsed.get("entries") or ())
    meta = parsed.get("feed") or {}
    problem = _bozo_text(parsed) if parsed.get("bozo") else ""
    if defused:
        problem = "; ".join(p for p in ("DTD internal subset removed", problem) if p)
    if not entries:
        if _HTML_SNIFF.match(safe_body[:4096]) or (
            "html" in content_type.lower() and not parsed.get("version")
        ):
            raise FeedError(_html_reason(safe_body, content_type), url=feed.feed_url)
        if not parsed.get("version"):
            raise FeedError(f"not a feed: unparseable ({problem or 'no feed elements'})",
                            url=feed.feed_url)
        # A well-formed feed with no items: valid, nothing to do.
    language = primary_language(feed.language) or primary_language(meta.get("language"))
    context = FeedContext(
        feed_url=feed.feed_url,
        labels=feed.labels,
        language=language,
        title=str(meta.get("title") or ""),
    )
    result = ParsedFeed(
        entries=len(entries),
        title=context.title,
        language=language,
        version=str(parsed.get("version") or ""),
        problem=problem,
        parser="feedparser" if fallback or not fast else "feedparser-rs",
        fallback=fallback,
    )
    if len(entries) > MAX_ENTRIES:
        result.problem = "; ".join(
            p for p in (f"{len(entries)} entries, only the first {MAX_ENTRIES} kept",
                        result.problem) if p
        )
        entries = entries[:MAX_ENTRIES]
    for n, entry in enumerate(entries):
        # The fast path computed the identities (and left out the entries it remembered
        # whose id is known: None here); context.feed_url is feed.feed_url.
        identity = entry_identity(entry, context.feed_url) if identities is None else \
            identities[n]
        if identity is None:
            result.skipped += 1
        elif entry is None or identity[0] in known_ids:
            result.known.append(identity[0])
        else:
            result.articles.append(article_from_entry(
                entry, identity, context, seen_at,
                detect_language=detect_language, future_tolerance=future_tolerance,
            ))
    return result


def parse_articles(
    body: bytes,
    headers: Mapping[str, str],
    feed: FeedContext,
    seen_at: datetime,
    future_tolerance: timedelta = timedelta(hours=1),
    fast: bool = False,
    known_ids: Container[str] = frozenset(),
) -> ParsedFeed:
    """parse_feed with the language detector: the function parser processes run."""
    return parse_feed(body, headers, feed, seen_at, detect_language=detect_language,
                      future_tolerance=future_tolerance, fast=fast, known_ids=known_ids)


def detect_language(text: str) -> str | None:
    """py3langid's guess, or None when the text is too short to guess from."""
    if len(text) < _MIN_DETECT_CHARS:
        return None
    import py3langid  # loads its model on first use

    lang, _score = py3langid.classify(text)
    return str(lang) if lang else None
