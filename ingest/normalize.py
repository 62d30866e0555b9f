"""Feed entries to article records: canonical URLs, stable ids, plain text, dates, language.

Pure: no I/O, no clock, no settings. The caller passes ``seen_at`` and the tolerances; the
language detector is passed in too (it is a model, and tests swap it for a fixed answer).
"""

from __future__ import annotations

import calendar
import html
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from newsflow.article import Article, article_id

__all__ = [
    "FeedContext",
    "Identity",
    "LanguageDetector",
    "article_from_entry",
    "canonical_url",
    "entry_identity",
    "fold_whitespace",
    "normalize_entry",
    "plain_text",
    "primary_language",
    "resolve_published",
    "source_of",
]

LanguageDetector = Callable[[str], "str | None"]
Identity = tuple[str, str, str]  # (article id, url, canonical url): entry_identity's answer

# Query parameters that identify a campaign or a click, never the document.
_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
    "oly_enc_id", "vero_id", "wt.mc_id", "ncid", "cmpid", "at_medium", "at_campaign",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Caps keep one absurd entry from producing a message Kafka refuses (1 MB default).
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 200_000
MAX_AUTHORS = 20


@dataclass(frozen=True)
class FeedContext:
    """What normalisation needs to know about the feed an entry came from."""

    feed_url: str
    labels: tuple[str, ...] = ()
    language: str | None = None  # the feed entry's option, else what the feed declares
    title: str = ""


def canonical_url(url: str) -> str | None:
    """The URL that identifies the document, or None when it is not an http(s) URL.

    Lower-case scheme and host, default port and fragment dropped, tracking parameters
    dropped (the rest keep their order), empty path made "/".
    """
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(query, quote_via=quote), ""))


def source_of(url: str) -> str:
    """The outlet's domain: the host without a leading www."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object"})
    _BREAK = frozenset({
        "br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer",
        "figure", "figcaption", "dd", "dt",
    })

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_WS = re.compile(r"\s+")
# Zero-width and control characters that survive HTML decoding but are not text.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200d\u2060\ufeff]")
_ENTITY = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def fold_whitespace(text: str) -> str:
    return _WS.sub(" ", _INVISIBLE.sub("", text)).strip()


def plain_text(value: str | None, limit: int | None = None) -> str:
    """HTML (or text that may hold some) to one line of plain text.

    Tags dropped (script/style content too), entities decoded, whitespace folded. Feeds
    often escape twice ("&amp;amp;"), so entities left after one pass are decoded again.
    """
    if not value:
        return ""
    text = value
    if "<" in text or "&" in text:
        extractor = _TextExtractor()
        try:
            extractor.feed(text)
            extractor.close()
            text = "".join(extractor.parts)
        except (AssertionError, ValueError):  # html.parser on pathological input
            text = html.unescape(re.sub(r"<[^>]*>", " ", text))
        if _ENTITY.search(text):
            text = html.unescape(text)
    text = fold_whitespace(text)
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


def primary_language(tag: str | None) -> str | None:
    """'en-US' -> 'en'; None for empty or malformed tags."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _struct_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _own(entry: Mapping[str, Any], key: str) -> Any:
    """``entry[key]`` only when the entry itself has it. feedparser answers a missing
    ``updated``/``updated_parsed`` with ``published``/``published_parsed`` (a fallback it
    has deprecated, warning on every read); the callers fall back on their own terms."""
    return entry[key] if key in entry else None  # noqa: SIM401 (.get() is what falls back)


def resolve_published(
    entry: Mapping[str, Any], seen_at: datetime, future_tolerance: timedelta
) -> tuple[datetime, bool]:
    """published_at and whether it is estimated.

    The entry's published (else updated, else created) date; missing -> seen_at; later
    than seen_at + tolerance (a wrong clock or time zone) -> clamped to seen_at.
    """
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = _struct_to_datetime(_own(entry, key))
        if parsed is not None:
            if parsed > seen_at + future_tolerance:
                return seen_at, True
            return parsed, False
    return seen_at, True


def entry_identity(entry: Mapping[str, Any], feed_url: str) -> Identity | None:
    """(id, url, canonical_url) for an entry, or None when nothing identifies it.

    The id hashes the canonical URL; without a usable link it hashes the GUID (scoped by
    the feed when the GUID is not itself a URI, as GUIDs like "1234" are only unique per
    feed); without either, the title and date (so that the same entry still gets one id).
    """
    link = _entry_link(entry)
    canonical = canonical_url(link) if link else None
    if canonical:
        return article_id(canonical), link, canonical
    guid = str(entry.get("id") or "").strip()
    guid_url = canonical_url(guid) if guid else None
    if guid_url:
        return article_id(guid_url), guid, guid_url
    feed_key = canonical_url(feed_url) or feed_url
    if guid:
        identity = guid if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S", guid) else f"{feed_key} {guid}"
        return article_id(identity), "", ""
    title = str(entry.get("title") or "").strip()
    if not title:
        return None
    dated = _own(entry, "published") or _own(entry, "updated") or ""
    return article_id(f"{feed_key} {title} {dated}"), "", ""


def _entry_link(entry: Mapping[str, Any]) -> str:
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        return link.strip()
    for item in entry.get("links") or ():
        if isinstance(item, Mapping) and item.get("rel", "alternate") == "alternate":
            href = item.get("href")
            if isinstance(href, str) and href.strip():
                return href.strip()
    return ""


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for item in entry.get("authors") or ():
        if isinstance(item, Mapping):
            names.append(str(item.get("name") or item.get("email") or ""))
    if not names and entry.get("author"):
        names.append(str(entry["author"]))
    out: list[str] = []
    for raw in names:
        name = plain_text(raw, 200)
        name = re.sub(r"^(by|from)\s+", "", name, flags=re.IGNORECASE).strip(" ,;")
        if name and name not in out:
            out.append(name)
    return out[:MAX_AUTHORS]


def _content(entry: Mapping[str, Any]) -> str:
    items: Iterable[Any] = entry.get("content") or ()
    texts = [
        plain_text(str(item.get("value") or ""), MAX_CONTENT_CHARS)
        for item in items
        if isinstance(item, Mapping)
    ]
    return max(texts, key=len, default="")


def normalize_entry(
    entry: Mapping[str, Any],
    feed: FeedContext,
    seen_at: datetime,
    *,
    detect_language: LanguageDetector | None = None,
    future_tolerance: timedelta = timedelta(hours=1),
) -> Article | None:
    """One feedparser entry to an Article, or None when nothing identifies the entry."""
    identity = entry_identity(entry, feed.feed_url)
    if identity is None:
        return None
    return article_from_entry(entry, identity, feed, seen_at, detect_language=detect_language,
                              future_tolerance=future_tolerance)


def article_from_entry(
    entry: Mapping[str, Any],
    identity: Identity,
    feed: FeedContext,
    seen_at: datetime,
    *,
    detect_language: LanguageDetector | None = None,
    future_tolerance: timedelta = timedelta(hours=1),
) -> Article:
    """One identified entry to an Article: the costly part of normalize_entry.

    Separate so that a caller can look at the (cheap) identity first and skip entries it
    already has (ingest/parse.py ``known_ids``) without computing the identity twice.
    """
    ident, url, canonical = identity
    title = plain_text(entry.get("title"), MAX_TITLE_CHARS)
    summary = plain_text(entry.get("summary") or entry.get("description"), MAX_SUMMARY_CHARS)
    content = _content(entry)
    if content == summary:
        content = ""
    if not summary and content:
        summary = content[:MAX_SUMMARY_CHARS]
    language = primary_language(feed.language) or primary_language(entry.get("language"))
    if language is None and detect_language is not None:
        language = detect_language(" ".join(p for p in (title, summary or content[:2000]) if p))
    published_at, estimated = resolve_published(entry, seen_at, future_tolerance)
    return Article(
        id=ident,
        url=url,
        canonical_url=canonical,
        feed_url=feed.feed_url,
        source=source_of(canonical or feed.feed_url),
        title=title,
        summary=summary,
        content=content,
        authors=_authors(entry),
        language=language,
        published_at=published_at,
        published_at_estimated=estimated,
        seen_at=seen_at,
        feed_labels=list(feed.labels),
    )
