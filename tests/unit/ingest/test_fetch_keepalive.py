"""The fetcher's connections (ingest/fetch.py): idle keep-alive connections are reused, and
one the server closed is noticed (so the next request opens a new one instead of failing).
A local HTTP/1.1 server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import resource

from ingest.fetch import Fetcher
from ingest.guard import AllowList
from newsflow.settings import PollerSettings

BODY = b'<rss version="2.0"><channel><title>t</title></channel></rss>'


class _Server:
    """Answers every request on a connection with BODY (keep-alive), counting connections;
    ``hang_up`` closes the connections it holds."""

    def __init__(self) -> None:
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def hang_up(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await asyncio.sleep(0.05)  # let the FINs arrive


def test_the_fetcher_reuses_idle_connections_and_notices_ones_the_server_closed() -> None:
    async def run() -> tuple[list[bytes], int]:
        server = _Server()
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/rss"
        settings = PollerSettings.model_validate({"min_host_gap_s": 0.0})
        bodies = []
        async with listener, Fetcher(settings, allow=AllowList.parse(["127.0.0.1"])) as f:
            bodies.append((await f.fetch(url)).body)
            bodies.append((await f.fetch(url)).body)  # the same connection
            await server.hang_up()
            bodies.append((await f.fetch(url)).body)  # a new one, no error
        return bodies, server.connections

    bodies, connections = asyncio.run(run())
    assert bodies == [BODY, BODY, BODY]
    assert connections == 2


def test_a_fetcher_raises_the_open_files_limit_to_the_hard_one_as_it_starts() -> None:
    """An idle connection per recently asked host: thousands of sockets with many hosts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))

    async def start() -> None:
        async with Fetcher(PollerSettings()):
            pass

    try:
        asyncio.run(start())
        now_soft, now_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert now_hard == hard
    assert now_soft == (hard if hard != resource.RLIM_INFINITY else 1 << 20)
