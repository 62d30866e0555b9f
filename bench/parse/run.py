"""Parse benchmark: feedparser vs the fast path (feedparser-rs, feedparser fallback).

    .venv/bin/python -m bench.parse.run [--seconds 1.0] [--quirks 1000] [--json]

For each feed (the generated 45 KB / 70-item RSS 2.0 and Atom wire feeds, smaller ones,
and the repository's fixture feeds) it times, in this one process (so per core):

- ``feedparser``: ``feedparser.parse`` alone, as ingest/parse.py calls it;
- ``feedparser-rs``: ``feedparser_rs.parse`` alone;
- ``fast_parse``: feedparser-rs plus the checks that decide on a fallback, and the
  conversion to feedparser's shape (ingest/fastparse.py);
- ``articles, feedparser`` and ``articles, fast``: ``parse_articles`` end to end (defuse,
  parse, normalise to Article records), what a parser process runs per feed.

Each figure is the median of repeated runs over ``--seconds`` per cell. Then the fallback
rate: which of the test feeds (generated, fixtures, and ``--quirks`` small quirky feeds
from bench/parse/feeds.py) took the fast path, and why the others fell back.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import feedparser_rs

from bench.parse.feeds import generated_feeds, quirk_feeds
from ingest.defuse import defuse_xml
from ingest.fastparse import fast_parse
from ingest.normalize import FeedContext
from ingest.parse import MAX_ENTRIES, parse_articles
from newsflow.errors import FeedError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "feeds"
SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FEED_URL = "https://feed.example/feed.xml"


def _median_ms(call: Callable[[], object], seconds: float) -> float:
    call()  # warm up (imports, caches)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < 5 or (time.perf_counter() < deadline and len(samples) < 2000):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _feedparser_only(body: bytes, headers: dict[str, str]) -> None:
    safe, _ = defuse_xml(body)
    response_headers = {k.lower(): v for k, v in headers.items()}
    response_headers.setdefault("content-location", FEED_URL)
    feedparser.parse(safe, response_headers=response_headers, sanitize_html=False,
                     resolve_relative_uris=False)


def _articles(body: bytes, headers: dict[str, str], fast: bool) -> None:
    with contextlib.suppress(FeedError):  # no articles: a cost like any other
        parse_articles(body, headers, FeedContext(FEED_URL), SEEN, fast=fast)


def test_feeds() -> dict[str, tuple[bytes, dict[str, str]]]:
    feeds = dict(generated_feeds())
    for path in sorted(FIXTURES.iterdir()):
        kind = "atom" if path.suffix == ".xml" and b"<feed" in path.read_bytes()[:400] else "rss"
        content_type = "text/html" if path.suffix == ".html" else f"application/{kind}+xml"
        feeds[f"fixture {path.name}"] = (path.read_bytes(), {"Content-Type": content_type})
    return feeds


def time_feeds(seconds: float) -> list[dict[str, Any]]:
    rows = []
    for name, (body, headers) in test_feeds().items():
        if not body.strip():
            continue
        quick = fast_parse(defuse_xml(body)[0], headers, max_entries=MAX_ENTRIES)
        row: dict[str, Any] = {
            "feed": name, "bytes": len(body),
            "items": len(feedparser.parse(body).entries),
            "path": "feedparser-rs" if quick.parsed is not None else
                    f"fallback: {quick.fallback}",
            "feedparser_ms": _median_ms(lambda b=body, h=headers: _feedparser_only(b, h),
                                        seconds),
            "feedparser_rs_ms": _median_ms(
                lambda b=body: feedparser_rs.parse(b, sanitize_html=False,
                                                   resolve_relative_uris=False), seconds),
            "fast_parse_ms": _median_ms(
                lambda b=body, h=headers: fast_parse(defuse_xml(b)[0], h,
                                                     max_entries=MAX_ENTRIES), seconds),
            "articles_feedparser_ms": _median_ms(
                lambda b=body, h=headers: _articles(b, h, False), seconds),
            "articles_fast_ms": _median_ms(lambda b=body, h=headers: _articles(b, h, True),
                                           seconds),
        }
        rows.append(row)
    return rows


def fallback_rate(quirks: int) -> dict[str, Any]:
    feeds = dict(test_feeds())
    feeds.update(quirk_feeds(quirks))
    reasons: Counter[str] = Counter()
    fast = errors = 0
    for body, headers in feeds.values():
        try:
            result = parse_articles(body, headers, FeedContext(FEED_URL), SEEN, fast=True)
        except FeedError:
            errors += 1  # no articles either way (the equivalence tests check the reason)
            continue
        if result.parser == "feedparser-rs":
            fast += 1
        else:
            reasons[result.fallback] += 1
    parsed = fast + sum(reasons.values())
    return {
        "feeds": len(feeds), "no_articles": errors, "fast": fast,
        "fallback": parsed - fast, "fallback_rate": round((parsed - fast) / parsed, 3),
        "reasons": dict(reasons.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="per timing cell")
    parser.add_argument("--quirks", type=int, default=1000,
                        help="quirky feeds for the fallback rate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = time_feeds(args.seconds)
    rate = fallback_rate(args.quirks)
    report = {
        "cores": os.cpu_count(), "python": platform.python_version(),
        "feedparser": feedparser.__version__, "feedparser_rs": feedparser_rs.__version__,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "feeds": rows, "fallback": rate,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"cores={report['cores']} python={report['python']} feedparser="
          f"{report['feedparser']} feedparser-rs={report['feedparser_rs']} "
          f"load avg={report['load_avg']}")
    print("ms per feed (median), one process; feeds/s per core = 1000 / ms\n")
    print("| feed | KB | items | feedparser ms | feedparser-rs ms | fast_parse ms | "
          "articles, feedparser ms (feeds/s) | articles, fast ms (feeds/s) | speed-up | "
          "fast path |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        slow, quick = r["articles_feedparser_ms"], r["articles_fast_ms"]
        print(f"| {r['feed']} | {r['bytes'] / 1024:.1f} | {r['items']} | "
              f"{r['feedparser_ms']:.2f} | {r['feedparser_rs_ms']:.2f} | "
              f"{r['fast_parse_ms']:.2f} | {slow:.2f} ({1000 / slow:.0f}) | "
              f"{quick:.2f} ({1000 / quick:.0f}) | {slow / quick:.1f}x | {r['path']} |")
    print(f"\nfallback on {rate['feeds']} test feeds ({rate['no_articles']} give no articles "
          f"either way): fast {rate['fast']}, fallback {rate['fallback']} "
          f"(rate {rate['fallback_rate']:.1%})")
    for reason, count in rate["reasons"].items():
        print(f"  {count:5}  {reason}")


if __name__ == "__main__":
    main()
