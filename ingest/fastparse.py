"""feedparser-rs on the hot path; None (with the reason) wherever its answer is doubtful.

feedparser needs ~16 ms for a 45 KB, 70-item wire feed here; feedparser-rs (Rust, the same
result shape) needs ~0.4 ms. feedparser stays the reference: ``fast_parse`` returns a
feedparser-shaped dict only for documents of the kind where the two were checked to give
the same articles (tests/unit/ingest/test_parse_equivalence.py; ``bench.parse.compare``
over feedparser's own test suite), and otherwise a reason to ask feedparser:

1. Transport: an XML media type with no charset but UTF-8, no Content-Language header
   (feedparser's default language), no encoding declared but UTF-8, no DOCTYPE, valid
   UTF-8. feedparser decodes by the HTTP charset and notes a missing or text/* type as a
   problem; feedparser-rs reads UTF-8 and replaces bad bytes without a word.
2. Shape, checked by expat (the parser feedparser itself tries first, so a document it
   rejects here is one feedparser would flag as bozo and read with its loose parser):
   well-formed, namespace-correct RSS 2.0 or Atom 1.0, and every element inside an item or
   entry one of a known vocabulary (title, link, description, guid, pubDate, category,
   dc:creator, content:encoded, media:*, ...; Atom's own elements). feedparser knows many
   more (``<body>``, ``<fullitem>``, ``dc:language``, itunes, base64 content, ``xml:lang``
   and ``xml:base`` anywhere) and some it reads differently; those documents fall back.
3. The fast result: an exception, bozo, no entries or more than kept; any entry without an
   absolute http(s) link or a parsed date, with a date string it could not parse, with
   ``author`` but no ``authors`` (feedparser splits "mail (Name)" its own way), with an
   e-mail address in an author name, with the Atom feed's own authors (feedparser-rs lets
   entries inherit them, feedparser does not), with C1 control characters (feedparser maps
   them as windows-1252), or with as many authors, links or content blocks as
   feedparser-rs keeps at most.

One known difference is mended instead: feedparser-rs 0.7.1 returns attribute values
undecoded, so an Atom ``<link href="...?a=1&amp;b=2">`` comes back with ``&amp;``; the five
XML entities and character references are decoded here (the equivalence tests pin this,
so an upgrade that fixes it shows up as a failure, not as double decoding).

The caller runs ``defuse_xml`` first and falls back when it removed something: the fast
path never sees an internal DTD subset.

Items seen before. A feed lists its newest N items on every poll, so most of a changed
feed's items are ones the poller has published. For those the caller only needs the id
(``known_ids``), yet reading each one out of feedparser-rs and checking it (``_entry``)
and computing its identity cost ~30 us an item, most of a re-listed feed's parse. The
shape check already walks every element with expat, so it also notes where each item
(RSS) or entry (Atom) starts and ends in the body. An item whose exact bytes, in the same
context (the feed URL, the root element's attributes, the namespace declarations in scope,
the feed's own authors as feedparser-rs reads them) passed ``_entry`` before in this
process is remembered with its identity (``_SEEN_ITEMS``, bounded); when that identity is
one of ``known_ids`` the item is not read again: its entry is None and its identity
given. ``_entry`` and ``entry_identity`` are functions of those bytes in that context, so
the answer is the one they would give. Anything else (an item not remembered, an item
whose id the caller does not hold, a document whose items could not be matched one to one
with feedparser-rs's entries) goes through ``_entry`` as before.
"""

from __future__ import annotations

import re
import threading
import xml.parsers.expat
from collections import OrderedDict
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.normalize import Identity, entry_identity

__all__ = ["FastResult", "fast_parse"]

# feedparser-rs keeps at most this many of each per entry (ParserLimits defaults); at the
# limit, what it dropped could have changed the article.
_MAX_AUTHORS = 20
_MAX_LINKS = 50
_MAX_CONTENT = 10

_XML_MEDIA_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
})
_UTF8 = frozenset({"utf-8", "utf8"})
_XML_DECL_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_XML_REF = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#[xX]([0-9a-fA-F]+));")
_XML_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_C1 = re.compile("[\u0080-\u009f]")

# expat's names: "namespace-uri local" (namespace_separator=" "), or "local" without one.
_ATOM = "http://www.w3.org/2005/Atom"
_DC = "http://purl.org/dc/elements/1.1/"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_MEDIA = "http://search.yahoo.com/mrss/"
_WFW = "http://wellformedweb.org/CommentAPI/"
_SLASH = "http://purl.org/rss/1.0/modules/slash/"
_FEEDBURNER = "http://rssnamespace.org/feedburner/ext/1.0"
_THR = "http://purl.org/syndication/thread/1.0"
_GEORSS = "http://www.georss.org/georss"
_XML_LANG = "http://www.w3.org/XML/1998/namespace lang"
_XML_BASE = "http://www.w3.org/XML/1998/namespace base"
# Names compared in the element handlers (which run for every element of every fast-parsed
# body): built once here.
_ATOM_FEED = f"{_ATOM} feed"
_ATOM_ENTRY_NAME = f"{_ATOM} entry"
_ATOM_LINK = f"{_ATOM} link"
_ATOM_PERSONS = frozenset({f"{_ATOM} author", f"{_ATOM} contributor"})
_RSS_ITEM = frozenset({
    "title", "link", "description", "guid", "pubDate", "category", "comments", "enclosure",
    "source", f"{_DC} creator", f"{_DC} date", f"{_DC} subject", f"{_CONTENT} encoded",
    _ATOM_LINK,  # not rel="alternate": checked below
    f"{_WFW} commentRss", f"{_SLASH} comments", f"{_FEEDBURNER} origLink", f"{_THR} total",
    f"{_GEORSS} point",
})
_RSS_ITEM_ONCE = frozenset({
    "title", "link", "description", "guid", "pubDate", f"{_DC} date", f"{_CONTENT} encoded",
})
_ATOM_ENTRY = frozenset(f"{_ATOM} {name}" for name in (
    "title", "link", "id", "updated", "published", "author", "contributor", "category",
    "summary", "content", "rights",
))
_ATOM_ENTRY_ONCE = frozenset(f"{_ATOM} {name}" for name in (
    "title", "id", "updated", "published", "summary", "content",
))
_ATOM_PERSON = frozenset(f"{_ATOM} {name}" for name in ("name", "email", "uri"))
_ATOM_TEXT = frozenset(f"{_ATOM} {name}" for name in ("title", "summary", "content", "rights"))
# Media RSS elements feedparser does not read into the entry's text (it reads
# media:description as content, so that one is out).
_MEDIA_OK = frozenset(f"{_MEDIA} {name}" for name in (
    "content", "thumbnail", "credit", "title", "keywords", "category", "rating", "copyright",
    "group",
))
_CHANNEL_LANGUAGE = frozenset({f"{_DC} language", f"{_DC} title"})


@dataclass
class FastResult:
    parsed: dict[str, Any] | None  # feedparser-shaped: version, bozo, feed, entries
    fallback: str  # why feedparser must parse this body instead ("" when parsed is set)
    # When parsed is set: each entry's identity (entry_identity with the feed_url given),
    # in entry order. An entry remembered from an earlier parse whose id is in known_ids
    # is None in parsed["entries"] (not read again); its identity is here.
    identities: list[Identity | None] | None = None


# Items that passed _entry before, by (context + item bytes) -> their identity. Bounded by
# the bytes of the keys (the items' own bytes, a few hundred each); least recently used
# first out. Per process: each parser process has its own.
SEEN_ITEMS_BYTES = 16 * 1024 * 1024
_SEEN_ITEMS: OrderedDict[bytes, Identity] = OrderedDict()
_seen_items_bytes = 0
_seen_items_lock = threading.Lock()  # parse_feed may run in threads (parse_workers=0)


def _recall(key: bytes) -> Identity | None:
    with _seen_items_lock:
        identity = _SEEN_ITEMS.get(key)
        if identity is not None:
            _SEEN_ITEMS.move_to_end(key)
        return identity


def _remember(key: bytes, identity: Identity) -> None:
    global _seen_items_bytes
    with _seen_items_lock:
        if key in _SEEN_ITEMS or len(key) > SEEN_ITEMS_BYTES:
            return
        _SEEN_ITEMS[key] = identity
        _seen_items_bytes += len(key)
        while _seen_items_bytes > SEEN_ITEMS_BYTES:
            dropped, _ = _SEEN_ITEMS.popitem(last=False)
            _seen_items_bytes -= len(dropped)


def forget_seen_items() -> None:
    """Empty the remembered items (tests; a long-lived process never needs to)."""
    global _seen_items_bytes
    with _seen_items_lock:
        _SEEN_ITEMS.clear()
        _seen_items_bytes = 0


class _Doubt(Exception):
    pass


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _transport_doubt(body: bytes, headers: Mapping[str, str]) -> str:
    media_type, _, params = _header(headers, "content-type").partition(";")
    media_type = media_type.strip().lower()
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    if not media_type:
        return "no Content-Type"
    if charset and charset not in _UTF8:
        return f"charset {charset}"
    # text/xml without a charset means us-ascii (RFC 3023): feedparser notes the override.
    if media_type not in _XML_MEDIA_TYPES and not (media_type == "text/xml" and charset):
        return f"Content-Type {media_type}"
    if _header(headers, "content-language"):
        return "Content-Language header"
    declared = _XML_DECL_ENCODING.match(body)
    if declared and declared.group(1).decode("ascii", "replace").lower() not in _UTF8:
        return f"declared encoding {declared.group(1).decode('ascii', 'replace')}"
    if _DOCTYPE.search(body, 0, 65_536):
        return "DOCTYPE"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    return ""


class _ShapeCheck:
    """expat start/end handlers that raise _Doubt at the first element outside the
    vocabulary both parsers were checked on."""

    def __init__(self, parser: Any = None) -> None:
        self.parser = parser  # for the byte offsets of items (None: not noted)
        self.stack: list[str] = []
        self.kind = ""  # "rss" or "atom", from the root element
        self.root_attrs: tuple[tuple[str, str], ...] = ()
        self.seen: set[str] = set()  # once-only children of the current item/entry
        self.alternates = 0
        self.xhtml_depth = 0  # > 0: inside an Atom type="xhtml" text construct
        # Namespace declarations in scope, in order; each item's (start, end, in scope)
        # where body[start:end] is the item from its start tag up to its end tag.
        self.namespaces: list[tuple[str, str]] = []
        self.items: list[tuple[int, int, tuple[tuple[str, str], ...]]] = []
        self._item_at = -1
        self._item_namespaces: tuple[tuple[str, str], ...] = ()

    def start_namespace(self, prefix: str | None, uri: str) -> None:
        self.namespaces.append((prefix or "", uri))

    def end_namespace(self, prefix: str | None) -> None:
        prefix = prefix or ""
        for i in range(len(self.namespaces) - 1, -1, -1):
            if self.namespaces[i][0] == prefix:
                del self.namespaces[i]
                return

    def _item_starts(self) -> None:
        if self.parser is not None:
            self._item_at = self.parser.CurrentByteIndex
            self._item_namespaces = tuple(self.namespaces)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        depth = len(self.stack)
        self.stack.append(name)
        if _XML_BASE in attrs:
            raise _Doubt("xml:base")
        if _XML_LANG in attrs and not (depth == 0 and name == _ATOM_FEED):
            raise _Doubt("xml:lang")
        if self.xhtml_depth:
            self.xhtml_depth += 1
            return
        if depth == 0:
            if name == "rss" and attrs.get("version") in ("2.0", "2.00"):
                self.kind = "rss"
            elif name == _ATOM_FEED:
                self.kind = "atom"
            else:
                raise _Doubt(f"root element {name}")
            self.root_attrs = tuple(sorted(attrs.items()))
            return
        if name.startswith(_MEDIA) and name not in _MEDIA_OK:
            raise _Doubt(f"element {name}")
        if self.kind == "rss":
            self._rss(name, depth, attrs)
        else:
            self._atom(name, depth, attrs)

    def _rss(self, name: str, depth: int, attrs: dict[str, str]) -> None:
        parent = self.stack[-2]
        if depth == 1 and name != "channel":
            raise _Doubt(f"{name} outside the channel")
        if depth == 2:
            if name == "item":
                self.seen = set()
                self._item_starts()
            elif name in _CHANNEL_LANGUAGE:
                raise _Doubt(f"channel {name}")
        elif depth == 3 and parent == "item":
            if name.startswith(_MEDIA):
                return
            if name not in _RSS_ITEM:
                raise _Doubt(f"item element {name}")
            if name == _ATOM_LINK and attrs.get("rel", "alternate") == "alternate":
                raise _Doubt("atom:link alternate in an item")
            if name in _RSS_ITEM_ONCE:
                if name in self.seen:
                    raise _Doubt(f"item element {name} twice")
                self.seen.add(name)
        elif depth >= 4 and "item" in self.stack[:3] and not parent.startswith(_MEDIA):
            raise _Doubt(f"{name} nested in item element {parent}")

    def _atom(self, name: str, depth: int, attrs: dict[str, str]) -> None:
        parent = self.stack[-2]
        if depth == 1:
            if name == _ATOM_ENTRY_NAME:
                self.seen = set()
                self.alternates = 0
                self._item_starts()
            return
        if self.stack[1] != _ATOM_ENTRY_NAME:
            return  # feed-level metadata: only title and xml:lang are used
        if depth == 2:
            if name.startswith(_MEDIA):
                return
            if name not in _ATOM_ENTRY:
                raise _Doubt(f"entry element {name}")
            if name in _ATOM_ENTRY_ONCE:
                if name in self.seen:
                    raise _Doubt(f"entry element {name} twice")
                self.seen.add(name)
            if name in _ATOM_TEXT:
                kind = attrs.get("type", "text")
                if kind not in ("text", "html", "xhtml") or "src" in attrs:
                    raise _Doubt(f"{name} of type {kind}")
                if kind == "xhtml":
                    self.xhtml_depth = 1
            if name == _ATOM_LINK and attrs.get("rel", "alternate") == "alternate":
                self.alternates += 1
                if self.alternates > 1:
                    raise _Doubt("two alternate links in an entry")
        elif parent in _ATOM_PERSONS and depth == 3:
            if name not in _ATOM_PERSON:
                raise _Doubt(f"person element {name}")
        elif not parent.startswith(_MEDIA):
            raise _Doubt(f"{name} nested in entry element {parent}")

    def end(self, name: str) -> None:
        depth = len(self.stack) - 1
        self.stack.pop()
        if self.xhtml_depth:
            self.xhtml_depth -= 1
        elif self._item_at >= 0 and (
                (depth == 2 and name == "item") if self.kind == "rss"
                else (depth == 1 and name == _ATOM_ENTRY_NAME)):
            self.items.append((self._item_at, self.parser.CurrentByteIndex,
                               self._item_namespaces))
            self._item_at = -1


def _shape_doubt(body: bytes, check: _ShapeCheck | None = None) -> str:
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    if check is None:
        check = _ShapeCheck()
    else:
        check.parser = parser
        parser.StartNamespaceDeclHandler = check.start_namespace
        parser.EndNamespaceDeclHandler = check.end_namespace
    parser.StartElementHandler = check.start
    parser.EndElementHandler = check.end
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as exc:
        return f"expat: {xml.parsers.expat.ErrorString(exc.code)}"
    except _Doubt as exc:
        return str(exc)
    return ""


def _xml_unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, dec, hexa = match.groups()
        if name:
            return _XML_ENTITIES[name]
        code = int(dec) if dec else int(hexa, 16)
        return chr(code) if 0 < code <= 0x10FFFF else match.group()

    return _XML_REF.sub(one, value) if "&" in value else value


def _absolute_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _entry(entry: Any, atom: bool, feed_authors: list[str]) -> dict[str, Any]:
    """One feedparser-rs entry as the mapping normalize_entry reads; _Doubt if doubtful."""
    link = (entry.link or "").strip()
    if atom:
        link = _xml_unescape(link)
    elif _XML_REF.search(link):
        raise _Doubt("entity reference left in an RSS link")
    if not _absolute_http(link):
        raise _Doubt("entry without an absolute link")
    # Read once: each read of a *_parsed attribute builds a new struct_time (~0.8 us).
    published, updated = entry.published_parsed, entry.updated_parsed
    created = entry.created_parsed
    if published is None and updated is None:
        raise _Doubt("entry without a parsed date")
    for text, parsed in ((entry.published, published), (entry.updated, updated),
                         (entry.created, created)):
        if text and parsed is None:  # feedparser may read a date this parser could not
            raise _Doubt("entry with an unparsed date")
    authors = [(a.name or "", a.email) for a in entry.authors or ()]
    if not authors and entry.author:
        raise _Doubt("author without authors")
    if any("@" in name for name, _ in authors):
        raise _Doubt("e-mail address in an author name")
    if feed_authors and [name for name, _ in authors] == feed_authors:
        raise _Doubt("entry authors equal the feed's (inherited?)")
    contents = [c.value or "" for c in entry.content or ()]
    if (len(authors) >= _MAX_AUTHORS or len(entry.links or ()) >= _MAX_LINKS
            or len(contents) >= _MAX_CONTENT):
        raise _Doubt("entry at a feedparser-rs collection limit")
    texts = (entry.title or "", entry.summary or "", *contents, *(n for n, _ in authors))
    if any(_C1.search(text) for text in texts):
        raise _Doubt("C1 control character")
    return {
        "link": link,
        "id": entry.id,
        "title": entry.title,
        "summary": entry.summary,
        "published": entry.published,
        "updated": entry.updated,
        "published_parsed": published,
        "updated_parsed": updated,
        "created_parsed": created,
        "content": [{"value": value} for value in contents],
        "authors": [{"name": name, "email": email} for name, email in authors],
        "language": entry.language,
    }


def _item_keys(body: bytes, check: _ShapeCheck, feed_url: str, version: str, meta: Any,
               count: int) -> list[bytes | None]:
    """Each entry's key in _SEEN_ITEMS (its context and its bytes); all None when the items
    the shape check found do not match feedparser-rs's entries one to one."""
    if len(check.items) != count:
        return [None] * count
    authors = [(a.name, a.email) for a in meta.authors or ()]
    head = repr((feed_url, version, check.root_attrs, meta.author, authors)).encode()
    keys: list[bytes | None] = []
    contexts: dict[tuple[tuple[str, str], ...], bytes] = {}
    for start, end, namespaces in check.items:
        context = contexts.get(namespaces)
        if context is None:
            context = contexts[namespaces] = head + repr(namespaces).encode() + b"\x00"
        keys.append(context + body[start:end] if end > start else None)
    return keys


def fast_parse(body: bytes, headers: Mapping[str, str], *, max_entries: int,
               feed_url: str = "", known_ids: Container[str] = frozenset()) -> FastResult:
    """feedparser-rs's reading of a defused body, or the reason to ask feedparser instead.

    ``feed_url`` is what the identities are computed with (``entry_identity``); entries
    remembered from an earlier parse whose id is in ``known_ids`` are not read again.
    """
    check = _ShapeCheck()
    reason = _transport_doubt(body, headers) or _shape_doubt(body, check)
    if reason:
        return FastResult(None, reason)
    import feedparser_rs  # a compiled extension: imported where it is used

    try:
        # bytes, never str: a str starting with "http" would be fetched.
        parsed = feedparser_rs.parse(bytes(body), sanitize_html=False,
                                     resolve_relative_uris=False)
    except Exception as exc:  # any failure of the fast parser means: ask feedparser
        return FastResult(None, f"feedparser-rs raised {type(exc).__name__}")
    version = str(parsed.version or "")
    try:
        if parsed.bozo:
            raise _Doubt("bozo")
        if version not in ("rss20", "atom10"):
            raise _Doubt(f"version {version or 'unknown'}")
        raw_entries = list(parsed.entries)
        if not raw_entries:
            raise _Doubt("no entries")
        if len(raw_entries) > max_entries:
            raise _Doubt("more entries than kept")
        atom = version == "atom10"
        meta = parsed.feed
        # feedparser-rs gives Atom entries the feed's authors; feedparser does not.
        feed_authors = [a.name or "" for a in meta.authors or ()] if atom else []
        keys = _item_keys(body, check, feed_url, version, meta, len(raw_entries))
        entries: list[dict[str, Any] | None] = []
        identities: list[Identity | None] = []
        fresh: list[tuple[bytes, Identity]] = []
        for raw, key in zip(raw_entries, keys, strict=True):
            remembered = None if key is None else _recall(key)
            if remembered is not None and remembered[0] in known_ids:
                entries.append(None)  # read and checked before, and the caller has it
                identities.append(remembered)
                continue
            entry = _entry(raw, atom, feed_authors)
            identity = remembered or entry_identity(entry, feed_url)
            entries.append(entry)
            identities.append(identity)
            if key is not None and remembered is None and identity is not None:
                fresh.append((key, identity))
    except _Doubt as exc:
        return FastResult(None, str(exc))
    for key, identity in fresh:  # the whole document passed: its items did
        _remember(key, identity)
    return FastResult({
        "version": version,
        "bozo": False,
        "feed": {"title": meta.title, "language": meta.language},
        "entries": entries,
    }, "", identities)
