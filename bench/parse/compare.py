"""Both parse paths over a corpus: the fallback rate, and every disagreement.

    .venv/bin/python -m bench.parse.compare DIR [DIR ...] [--show 20]

Each file is parsed by ``parse_feed`` twice, feedparser only and fast-with-fallback, and
the outcomes are compared: the article records field by field, the recoverable problem,
the feed title and language, or the FeedError reason. A disagreement where the fast path
was taken is a bug in the fallback rules; the command exits 1 when there is one.

A file may start with feedparser's test-suite comment (``Header: Content-type: ...``
lines): those headers are sent with it. Otherwise the headers are ``--content-type``
(default ``application/xml``, an XML type whose default charset is UTF-8). feedparser's
own suite (about 2,200 small feeds, many of them deliberately odd) is a good corpus:
``pip download feedparser==6.0.14 --no-binary :all: --no-deps`` and unpack its tests/.

Most of those feeds have entries without a link or a date, which the fast path refuses
outright; ``--augment`` also parses a variant of each file in which every ``<item>`` or
``<entry>`` that lacks a link (or a date) gets one, so that the odd titles, summaries,
authors, entities and languages reach the fast path too.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed, parse_feed
from newsflow.errors import FeedError

SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FEED_URL = "https://feed.example/feed.xml"
_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


@dataclass
class Comparison:
    name: str
    parser: str  # what the fast path used: feedparser-rs, feedparser, or error
    fallback: str
    differences: list[str]


def headers_of(body: bytes, default_content_type: str) -> dict[str, str]:
    """The ``Header:`` lines of feedparser's test files (HTTP ones only), else a default."""
    headers: dict[str, str] = {}
    head = body[:2048]
    if b"<!--" in head:
        for name, value in _HEADER_LINE.findall(head.split(b"-->", 1)[0]):
            key = name.decode("ascii").title()
            if key in ("Content-Type", "Content-Language", "Content-Location"):
                headers[key] = value.decode("latin-1").strip()
    headers.setdefault("Content-Type", default_content_type)
    return headers


_ITEM = re.compile(rb"(<(item|entry)\b[^>]*>)(.*?)(</\2\s*>)", re.DOTALL)
_HAS_LINK = re.compile(rb"<link\b", re.IGNORECASE)
_HAS_DATE = re.compile(rb"<(pubDate|published|updated|issued|modified|created|dc:date)\b",
                       re.IGNORECASE)


def augment(body: bytes) -> bytes | None:
    """Give every item/entry a link and a date where it has none; None when nothing changed."""
    counter = 0

    def fill(match: re.Match[bytes]) -> bytes:
        nonlocal counter
        start, tag, inner, end = match.groups()
        extra = b""
        if not _HAS_LINK.search(inner):
            counter += 1
            extra += (b'<link href="https://aug.example/%d"/>' % counter if tag == b"entry"
                      else b"<link>https://aug.example/%d</link>" % counter)
        if not _HAS_DATE.search(inner):
            extra += (b"<updated>2026-03-01T10:00:00Z</updated>" if tag == b"entry"
                      else b"<pubDate>Sun, 01 Mar 2026 10:00:00 GMT</pubDate>")
        return start + extra + inner + end if extra else match.group()

    changed = _ITEM.sub(fill, body)
    return None if changed == body else changed


def _outcome(body: bytes, headers: Mapping[str, str], fast: bool) -> ParsedFeed | str:
    try:
        return parse_feed(body, headers, FeedContext(FEED_URL), SEEN, fast=fast)
    except FeedError as exc:
        return f"FeedError: {exc.reason}"


def article_differences(reference: ParsedFeed, fast: ParsedFeed) -> list[str]:
    """Field-by-field differences between two parse results (empty: the same)."""
    out: list[str] = []
    for field in ("entries", "skipped", "problem", "title", "language"):
        a, b = getattr(reference, field), getattr(fast, field)
        if a != b:
            out.append(f"{field}: feedparser={a!r} fast={b!r}")
    if len(reference.articles) != len(fast.articles):
        out.append(f"articles: feedparser={len(reference.articles)} "
                   f"fast={len(fast.articles)}")
    for i, (x, y) in enumerate(zip(reference.articles, fast.articles, strict=False)):
        a, b = x.model_dump(), y.model_dump()
        for key in a:
            if a[key] != b.get(key):
                out.append(f"article[{i}].{key}: feedparser={a[key]!r} fast={b.get(key)!r}")
    return out


def compare(name: str, body: bytes, headers: Mapping[str, str]) -> Comparison:
    reference = _outcome(body, headers, fast=False)
    fast = _outcome(body, headers, fast=True)
    if isinstance(reference, str) or isinstance(fast, str):
        diffs = [] if reference == fast else [f"outcome: feedparser={reference!r} "
                                              f"fast={fast!r}"]
        return Comparison(name, "error" if isinstance(fast, str) else fast.parser,
                          "" if isinstance(fast, str) else fast.fallback, diffs)
    return Comparison(name, fast.parser, fast.fallback, article_differences(reference, fast))


def corpus_files(dirs: Iterable[Path]) -> list[Path]:
    return sorted(p for d in dirs for p in (d.rglob("*") if d.is_dir() else [d])
                  if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".rdf", ".html", ""))


def summarize(results: list[Comparison]) -> dict[str, Any]:
    fast = [r for r in results if r.parser == "feedparser-rs"]
    fallback = Counter(r.fallback for r in results if r.parser == "feedparser")
    return {
        "files": len(results),
        "fast": len(fast),
        "fallback": sum(fallback.values()),
        "no_articles_either_way": sum(1 for r in results if r.parser == "error"),
        "fallback_reasons": dict(fallback.most_common()),
        "disagreements_on_fast_path": sum(1 for r in fast if r.differences),
        "disagreements_on_fallback": sum(1 for r in results
                                         if r.parser != "feedparser-rs" and r.differences),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--content-type", default="application/xml")
    parser.add_argument("--show", type=int, default=20, help="disagreements to print")
    parser.add_argument("--augment", action="store_true",
                        help="also parse each file with links and dates filled in")
    args = parser.parse_args()
    results = []
    for path in corpus_files(args.dirs):
        body = path.read_bytes()
        headers = headers_of(body, args.content_type)
        results.append(compare(str(path), body, headers))
        filled = augment(body) if args.augment else None
        if filled is not None:
            results.append(compare(f"{path} (augmented)", filled, headers))
    summary = summarize(results)
    for key, value in summary.items():
        print(f"{key}: {value}")
    shown = 0
    for r in results:
        if r.differences and shown < args.show:
            shown += 1
            print(f"\n{r.name} ({r.parser}, {r.fallback or 'no fallback'})")
            for line in r.differences[:6]:
                print(f"  {line[:300]}")
    sys.exit(1 if summary["disagreements_on_fast_path"] else 0)


if __name__ == "__main__":
    main()
