"""The HTTP side of the benchmarks' feed farms: a minimal keep-alive HTTP/1.1 loop and the
conditional-GET answer (ETag / If-None-Match -> 304). Hand-written on asyncio streams
because a farm serves tens of thousands of requests per second on one core, which a full
HTTP framework cannot do here."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = ["NOT_FOUND", "feed_response", "listen", "loopback_hosts", "serve_keepalive",
           "wait_ready"]

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

# respond(local address, path, lower-cased headers) -> the whole response
Responder = Callable[[str, str, dict[str, str]], bytes]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


def wait_ready(farm: subprocess.Popen[bytes], ready: Path, timeout_s: float) -> None:
    """Wait until a farm process started with ``--ready ready`` listens (it creates the file
    then); SystemExit if it exits or does not get there in time."""
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if farm.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the feed farm did not start")
        time.sleep(0.1)


def loopback_hosts(second_octet: int, count: int) -> list[str]:
    """127.<second_octet>.0.1, 127.<second_octet>.0.2, ... (skipping .0 and .255)."""
    return [f"127.{second_octet}.{n // 254}.{n % 254 + 1}" for n in range(count)]


async def listen(handle: Handler, hosts: list[str], port: int, *, backlog: int, ready: Path,
                 lifetime: float) -> None:
    """Serve ``handle`` on every host until SIGTERM, SIGINT or ``lifetime`` seconds, whichever
    comes first (bounded in time, whatever happens to the parent); ``ready`` gets this
    process's pid once every host listens."""
    servers = [await asyncio.start_server(handle, host, port, backlog=backlog)
               for host in hosts]
    ready.write_text(str(os.getpid()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.call_later(lifetime, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def feed_response(etag: str, if_none_match: str | None,
                  make_body: Callable[[], bytes]) -> tuple[bytes, bytes | None]:
    """(response, body) — body is None when the client's validator matched (304)."""
    if if_none_match == etag:
        return (f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n"
                "Content-Length: 0\r\n\r\n").encode(), None
    body = make_body()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
            f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body, body


async def serve_keepalive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          respond: Responder) -> None:
    """Answer requests on one connection until the client closes or asks to."""
    local = writer.get_extra_info("sockname")[0]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {k.lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            writer.write(respond(local, path, headers))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
