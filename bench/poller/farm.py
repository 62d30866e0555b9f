"""A local feed farm: many loopback hosts (127.10.x.y), a few feeds each, one process.

A minimal asyncio HTTP/1.1 server (keep-alive, GET only) so that the farm costs little CPU
next to the poller it feeds. Modes, switched through a control file the parent writes:
``new:<n>`` serves generation n of every feed (all items new when n changes, ETag
"g<n>"); a request whose If-None-Match equals the current ETag gets 304. The farm exits
by itself after ``--lifetime`` seconds, whatever happens to its parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from email.utils import formatdate
from pathlib import Path

from bench.farmhttp import feed_response, listen, loopback_hosts, serve_keepalive


def hosts(count: int) -> list[str]:
    return loopback_hosts(10, count)


def feed_body(host: str, path: str, generation: int, items: int) -> bytes:
    now = formatdate(time.time(), usegmt=True)
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
             f"<title>Farm {host}{path}</title><link>http://{host}/</link>"
             f"<language>en</language><lastBuildDate>{now}</lastBuildDate>"]
    for i in range(items):
        parts.append(
            f"<item><title>Generation {generation} story {i} from {host}{path}</title>"
            f"<link>https://farm.test/{host}{path}/g{generation}/{i}?utm_source=rss</link>"
            f"<guid>https://farm.test/{host}{path}/g{generation}/{i}</guid>"
            f"<pubDate>{now}</pubDate>"
            f"<description>&lt;p&gt;Ministers from two countries met on the {i}th day to "
            f"discuss joint exercises, logistics and a framework for cooperation; "
            f"officials said talks would continue.&lt;/p&gt;</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class Farm:
    def __init__(self, control: Path, items: int) -> None:
        self.control = control
        self.items = items
        self.generation = 0
        self._checked = 0.0
        self.requests = 0
        self.not_modified = 0

    def current(self) -> int:
        now = time.monotonic()
        if now - self._checked > 0.2:
            self._checked = now
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.generation = int(self.control.read_text().split(":")[1])
        return self.generation

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_keepalive(reader, writer, self.respond)

    def respond(self, host: str, path: str, headers: dict[str, str]) -> bytes:
        generation = self.current()
        self.requests += 1
        response, sent = feed_response(
            f'"g{generation}"', headers.get("if-none-match"),
            lambda: feed_body(host, path, generation, self.items),
        )
        if sent is None:
            self.not_modified += 1
        return response


async def serve(count: int, port: int, control: Path, items: int, lifetime: float,
                ready: Path) -> None:
    farm = Farm(control, items)
    await listen(farm.handle, hosts(count), port, backlog=64, ready=ready, lifetime=lifetime)
    Path(str(ready) + ".stats").write_text(f"{farm.requests} {farm.not_modified}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--lifetime", type=float, default=900.0)
    args = parser.parse_args()
    asyncio.run(serve(args.hosts, args.port, args.control, args.items, args.lifetime,
                      args.ready))


if __name__ == "__main__":
    main()
