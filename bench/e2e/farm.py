"""The benchmark's feed farm: many RSS feeds on loopback hosts (127.20.x.y), one process.

Items are released over time at an offered rate. A phase, read from the control file when
it changes (JSON: {"phase", "run", "t0", "count", "rate", "window", "full_text"}), releases
item i at ``t0 + i / rate`` (all at t0 when rate is 0: a burst) on feed ``i % feeds``; each
feed lists its newest ``window`` released items, newest first, with an ETag so that an
unchanged feed answers 304. Item XML is rendered once per phase, so serving costs little
CPU next to the pipeline it feeds. Counters (feed bodies and items served, 304s) go to
``--stats`` every second. The farm exits by itself after ``--lifetime`` seconds.

    python -m bench.e2e.farm --hosts 20 --feeds 60 --port 18580 --control FILE --ready FILE
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.e2e.wire import CHANNEL_TAIL, channel_head, item_xml, make_item
from bench.farmhttp import NOT_FOUND, feed_response, listen, loopback_hosts, serve_keepalive

__all__ = ["feed_urls", "hosts"]


def hosts(count: int) -> list[str]:
    return loopback_hosts(20, count)


def feed_urls(n_hosts: int, n_feeds: int, port: int) -> list[str]:
    names = hosts(n_hosts)
    return [f"http://{names[f % n_hosts]}:{port}/f{f}.xml" for f in range(n_feeds)]


class Farm:
    def __init__(self, control: Path, feeds: int, window: int) -> None:
        self.control = control
        self.feeds = feeds
        self.window = window
        self.phase: dict[str, object] = {}
        self.xml: list[str] = []
        self._mtime = 0.0
        self._checked = 0.0
        self.requests = 0
        self.not_modified = 0
        self.bodies = 0
        self.items_served = 0

    def _reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < 0.1:
            return
        self._checked = now
        with contextlib.suppress(OSError, ValueError):
            mtime = self.control.stat().st_mtime
            if mtime == self._mtime:
                return
            phase = json.loads(self.control.read_text())
            self._mtime = mtime
            t0, rate = float(phase["t0"]), float(phase["rate"])
            self.xml = [
                item_xml(make_item(i, run=str(phase["run"]), full_text=bool(phase["full_text"]),
                                   seed=int(phase.get("seed", 7))),
                         datetime.fromtimestamp(t0 + (i / rate if rate > 0 else 0.0), UTC))
                for i in range(int(phase["count"]))
            ]
            self.window = int(phase.get("window", self.window))
            self.phase = phase

    def released(self, feed: int) -> list[int]:
        """Indexes of the items feed ``feed`` lists now, newest first."""
        if not self.phase:
            return []
        t0, rate = float(self.phase["t0"]), float(self.phase["rate"])  # type: ignore[arg-type]
        if time.time() < t0:
            return []
        out_of = len(self.xml) if rate <= 0 else min(len(self.xml),
                                                    int((time.time() - t0) * rate) + 1)
        if out_of <= feed:
            return []
        last = feed + ((out_of - 1 - feed) // self.feeds) * self.feeds
        return list(range(last, -1, -self.feeds))[: self.window]

    def body(self, feed: int) -> tuple[str, bytes]:
        self._reload()
        shown = self.released(feed)
        etag = f'"{self.phase.get("phase", "none")}-{shown[0] if shown else -1}"'
        body = (channel_head(f"Bench wire {feed}", "newsflow e2e benchmark")
                + "".join(self.xml[i] for i in shown) + CHANNEL_TAIL)
        return etag, body.encode("utf-8")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_keepalive(reader, writer, self.respond)

    def respond(self, _local: str, path: str, headers: dict[str, str]) -> bytes:
        self.requests += 1
        try:
            feed = int(path.split("?")[0].removeprefix("/f").removesuffix(".xml"))
        except ValueError:
            return NOT_FOUND
        etag, body = self.body(feed)
        response, sent = feed_response(etag, headers.get("if-none-match"), lambda: body)
        if sent is None:
            self.not_modified += 1
        else:
            self.bodies += 1
            self.items_served += sent.count(b"<item>")
        return response


async def serve(args: argparse.Namespace) -> None:
    farm = Farm(args.control, args.feeds, args.window)

    async def stats() -> None:
        while True:
            tmp = args.stats.with_suffix(".tmp")
            tmp.write_text(json.dumps({"requests": farm.requests, "bodies": farm.bodies,
                                       "items_served": farm.items_served,
                                       "not_modified": farm.not_modified}))
            tmp.replace(args.stats)
            await asyncio.sleep(1.0)

    writer = asyncio.create_task(stats())
    await listen(farm.handle, hosts(args.hosts), args.port, backlog=128, ready=args.ready,
                 lifetime=args.lifetime)
    writer.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=60)
    parser.add_argument("--window", type=int, default=20, help="items a feed lists")
    parser.add_argument("--port", type=int, default=18580)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--lifetime", type=float, default=1800.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
