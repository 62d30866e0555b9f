"""The fast parser in the parser processes: same articles, and the limits still hold."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, datetime

from bench.parse.feeds import generated_feeds
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed
from ingest.parsepool import ParserPool

SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


async def _parse_in_workers(fast: bool, names: list[str]) -> list[ParsedFeed]:
    feeds = generated_feeds()
    async with ParserPool(1, fast=fast) as pool:
        return [await pool.parse(feeds[n][0], feeds[n][1], FeedContext("https://f.example/"),
                                 SEEN) for n in names]


def test_worker_processes_use_the_fast_parser_and_give_the_same_articles() -> None:
    names = ["wire-rss-70", "wire-atom-70"]
    fast = asyncio.run(_parse_in_workers(True, names))
    slow = asyncio.run(_parse_in_workers(False, names))
    assert [r.parser for r in fast] == ["feedparser-rs", "feedparser-rs"]
    assert [r.parser for r in slow] == ["feedparser", "feedparser"]
    for quick, reference in zip(fast, slow, strict=True):
        assert len(quick.articles) == 70
        assert [a.model_dump() for a in quick.articles] == \
            [a.model_dump() for a in reference.articles]


def test_in_process_pool_honours_the_flag() -> None:
    async def run(fast: bool) -> str:
        body, headers = generated_feeds()["wire-rss-20"]
        async with ParserPool(0, fast=fast) as pool:
            return (await pool.parse(body, headers, FeedContext("https://f.example/"),
                                     SEEN)).parser

    assert asyncio.run(run(True)) == "feedparser-rs"
    assert asyncio.run(run(False)) == "feedparser"


def test_cpu_backstop_ends_a_process_stuck_outside_the_interpreter() -> None:
    # The alarm cannot interrupt one long native call (a feedparser-rs parse); the CPU
    # limit each parse re-arms ends the worker with SIGXCPU instead. A busy loop with
    # SIGALRM ignored stands in for the native call.
    code = ("import signal; from ingest.parsepool import cpu_backstop\n"
            "signal.signal(signal.SIGALRM, signal.SIG_IGN); signal.setitimer("
            "signal.ITIMER_REAL, 0.1)\ncpu_backstop(0.2)\nwhile True: pass\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=30, check=False)
    assert done.returncode == -signal.SIGXCPU
