"""Poller benchmark: >= 10,000 feeds over many loopback hosts, three cycles.

    .venv/bin/python -m bench.poller.run [--feeds 10000] [--hosts 2000] [--items 5]

Starts the feed farm (bench/poller/farm.py) in its own process, then runs the real poller
(fetcher with the SSRF guard allowing 127.10.0.0/16, per-host gap and concurrency 1,
parser pool, Kafka publisher with acks=all on a unique topic, state on disk) through:
1. all new: a fresh state, every feed answers 200 with ``items`` new items;
2. all 304: the same feeds again, every one answers 304 to the ETag;
3. all new again: the farm moves to the next generation, every item is new.
Reports feeds/s, articles/s, CPU seconds (poller + its parser processes, and the farm
separately), peak RSS, and the core count. The farm stops itself after its lifetime; the
topic is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.e2e.procs import ProcStat, sample
from bench.farmhttp import wait_ready
from bench.poller.farm import hosts

REPO = Path(__file__).resolve().parents[2]


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _farm(pid: int) -> ProcStat:
    stat = sample(pid)
    assert stat is not None, f"the feed farm (pid {pid}) is gone"
    return stat


def _parsers(poller: Any) -> list[ProcStat]:
    """The parser processes that are still there."""
    return [s for s in map(sample, _parser_pids(poller)) if s is not None]


async def _cycle(poller: Any, name: str, farm_pid: int) -> dict[str, Any]:
    own0, _ = _cpu()
    farm0 = _farm(farm_pid).cpu_s
    parse_cpu0 = _parser_cpu(poller)
    started = time.monotonic()
    summary = await poller.run_once()
    wall = time.monotonic() - started
    own1, _ = _cpu()
    parse_cpu = _parser_cpu(poller) - parse_cpu0
    return {
        "cycle": name,
        "feeds": summary.feeds_polled,
        "wall_s": round(wall, 1),
        "feeds_per_s": round(summary.feeds_polled / wall, 1),
        "new_articles": summary.new_articles,
        "articles_per_s": round(summary.new_articles / wall, 1),
        "not_modified": summary.not_modified,
        "errors": summary.errors,
        "poller_cpu_s": round(own1 - own0, 1),
        "parser_cpu_s": round(parse_cpu, 1),
        "farm_cpu_s": round(_farm(farm_pid).cpu_s - farm0, 1),
        "error_sample": list(summary.error_feeds.items())[:3],
    }


def _parser_pids(poller: Any) -> list[int]:
    executor = getattr(poller.parser, "_executor", None)
    return list(getattr(executor, "_processes", None) or {})


def _parser_cpu(poller: Any) -> float:
    return sum(s.cpu_s for s in _parsers(poller))


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from ingest.feeds import FeedSpec
    from ingest.fetch import Fetcher
    from ingest.parsepool import ParserPool
    from ingest.poller import Poller
    from ingest.publish import Publisher
    from ingest.state import StateStore
    from newsflow.settings import KafkaSettings, PollerSettings

    host_list = hosts(args.hosts)
    per_host = -(-args.feeds // args.hosts)
    specs = [FeedSpec(url=f"http://{h}:{args.port}/f{n}.xml")
             for n in range(per_host) for h in host_list][: args.feeds]
    control = workdir / "control"
    control.write_text("new:1")
    ready = workdir / "ready"
    farm = subprocess.Popen(
        [sys.executable, "-m", "bench.poller.farm", "--hosts", str(args.hosts), "--port",
         str(args.port), "--items", str(args.items), "--control", str(control), "--ready",
         str(ready), "--lifetime", str(args.max_seconds)], cwd=REPO)
    topic = f"bench.poller.{uuid.uuid4().hex[:8]}"
    results: list[dict[str, Any]] = []
    try:
        wait_ready(farm, ready, 60)
        settings = PollerSettings(
            allow_hosts=["127.10.0.0/16"], min_host_gap_s=args.gap,
            concurrency=args.concurrency, state_dir=workdir / "state",
            parse_workers=args.parse_workers, fast_parser=args.fast_parser,
        )
        kafka = KafkaSettings(articles_topic=topic, articles_partitions=4)
        with Publisher(kafka) as publisher:
            async with ParserPool(settings.parse_workers, fast=settings.fast_parser) as parser, \
                    Fetcher(settings) as fetcher:
                poller = Poller(settings, specs, fetcher=fetcher, parser=parser,
                                sink=publisher, store=StateStore(settings.state_dir))
                results.append(await _cycle(poller, "all new (cold state)", farm.pid))
                results.append(await _cycle(poller, "all 304", farm.pid))
                control.write_text("new:2")
                time.sleep(0.5)
                results.append(await _cycle(poller, "all new (generation 2)", farm.pid))
                parser_rss_kib = sum(s.peak_rss_kb for s in _parsers(poller))
                farm_rss_kib = _farm(farm.pid).peak_rss_kb
    finally:
        farm.terminate()
        try:
            farm.wait(timeout=30)
        except subprocess.TimeoutExpired:
            farm.kill()
        _delete_topic(topic)
    return {
        "feeds": len(specs), "hosts": args.hosts, "items_per_feed": args.items,
        "min_host_gap_s": args.gap, "concurrency": args.concurrency,
        "fast_parser": args.fast_parser, "parse_workers": args.parse_workers or os.cpu_count(),
        "cores": os.cpu_count(), "python": platform.python_version(),
        "poller_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "parser_processes_peak_rss_mib": round(parser_rss_kib / 1024),
        "farm_peak_rss_mib": round(farm_rss_kib / 1024),
        "cycles": results,
    }


def _delete_topic(topic: str) -> None:
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:19092")
        admin.delete_topics([topic])
        admin.close()
    except Exception as exc:  # the bench result matters more than the cleanup
        print(f"could not delete topic {topic}: {exc}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--items", type=int, default=5, help="items per feed")
    parser.add_argument("--gap", type=float, default=5.0, help="per-host gap, seconds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--parse-workers", type=int, default=None)
    parser.add_argument("--fast-parser", action=argparse.BooleanOptionalAction, default=True,
                        help="feedparser-rs with feedparser fallback (poller.fast_parser)")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="the farm's lifetime: the bench cannot run longer")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    try:
        report = asyncio.run(bench(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2))
    print()
    print(f"feeds={report['feeds']} hosts={report['hosts']} cores={report['cores']} "
          f"gap={report['min_host_gap_s']}s concurrency={report['concurrency']} "
          f"items={report['items_per_feed']} fast_parser={report['fast_parser']}")
    print("| cycle | wall s | feeds/s | new articles/s | 304s | errors | poller CPU s | "
          "parser CPU s | farm CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in report["cycles"]:
        print(f"| {c['cycle']} | {c['wall_s']} | {c['feeds_per_s']} | {c['articles_per_s']} | "
              f"{c['not_modified']} | {c['errors']} | {c['poller_cpu_s']} | "
              f"{c['parser_cpu_s']} | {c['farm_cpu_s']} |")
    print(f"peak RSS MiB: poller {report['poller_peak_rss_mib']}, parser processes "
          f"{report['parser_processes_peak_rss_mib']} (sum), farm {report['farm_peak_rss_mib']}")


if __name__ == "__main__":
    main()
