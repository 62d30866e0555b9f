"""CPU per unchanged poll's HTTP request: the poller's fetcher against HTTP clients alone.

    .venv/bin/python -m bench.poller.clients [--requests 3000] [--hosts 25] [--feeds 50]
        [--rounds 2]

Starts bench/e2e's feed farm (127.20.x.y, every feed empty and unchanged, so every
conditional GET is answered 304), fetches each feed once for its ETag, then measures the
CPU time of this process over ``--requests`` conditional GETs, round robin over the feeds,
one at a time, with:

- ``fetcher``: the poller's ``ingest.fetch.Fetcher`` (the SSRF guard, the limits; on aiohttp since
  e3588bc, on httpx before: 1.2-1.3 ms per request here);
- ``httpcore``: httpcore's connection pool alone (what httpx sends through), with a
  keep-alive pool large enough for every host;
- ``aiohttp``: aiohttp's client session alone (already installed: faust-streaming's
  dependency), raw body, no cookies.

Prints CPU ms and wall ms per request per client and round, with the core count and the
load average. What it answers: how much of an unchanged poll is the HTTP client
(bench/RESULTS.md, session 24).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.e2e.farm import feed_urls
from bench.farmhttp import wait_ready

Get = Callable[[str, str | None], Awaitable[str | None]]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(get: Get, urls: list[str], requests: int) -> tuple[float, float]:
    etags = {url: await get(url, None) for url in urls}
    cpu, wall = _cpu_s(), time.monotonic()
    for n in range(requests):
        url = urls[n % len(urls)]
        await get(url, etags[url])
    return (_cpu_s() - cpu) * 1000 / requests, (time.monotonic() - wall) * 1000 / requests


async def fetcher(urls: list[str], requests: int) -> tuple[float, float]:
    from ingest.fetch import Fetcher
    from newsflow.settings import PollerSettings

    settings = PollerSettings.model_validate({"allow_hosts": ["127.20.0.0/16"],
                                              "min_host_gap_s": 0})
    async with Fetcher(settings) as f:
        async def get(url: str, etag: str | None) -> str | None:
            return (await f.fetch(url, etag=etag)).etag

        return await _measure(get, urls, requests)


async def httpcore_pool(urls: list[str], requests: int) -> tuple[float, float]:
    import httpcore

    timeout = {"connect": 10.0, "read": 20.0, "write": 20.0, "pool": 60.0}
    async with httpcore.AsyncConnectionPool(max_connections=128,
                                            max_keepalive_connections=len(urls),
                                            keepalive_expiry=10.0) as pool:
        async def get(url: str, etag: str | None) -> str | None:
            headers = [(b"User-Agent", b"newsflow-bench"), (b"Accept-Encoding", b"gzip")]
            if etag:
                headers.append((b"If-None-Match", etag.encode()))
            async with pool.stream("GET", url, headers=headers,
                                   extensions={"timeout": timeout}) as response:
                async for _chunk in response.aiter_stream():
                    pass
                return next((v.decode() for k, v in response.headers
                             if k.lower() == b"etag"), None)

        return await _measure(get, urls, requests)


async def aiohttp_session(urls: list[str], requests: int) -> tuple[float, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=128, keepalive_timeout=10.0, use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=60.0, sock_connect=10.0, sock_read=20.0)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=timeout) as session:
        async def get(url: str, etag: str | None) -> str | None:
            headers = {"User-Agent": "newsflow-bench", "Accept-Encoding": "gzip"}
            if etag:
                headers["If-None-Match"] = etag
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                async for _chunk in response.content.iter_chunked(65_536):
                    pass
                return response.headers.get("etag")

        return await _measure(get, urls, requests)


CLIENTS = {"fetcher": fetcher, "httpcore": httpcore_pool, "aiohttp": aiohttp_session}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=25)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=18590)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-clients-") as tmp:
        ready = Path(tmp) / "farm.ready"
        farm = subprocess.Popen([
            sys.executable, "-m", "bench.e2e.farm", "--hosts", str(args.hosts),
            "--feeds", str(args.feeds), "--window", "20", "--port", str(args.port),
            "--control", str(Path(tmp) / "phase.json"), "--ready", str(ready),
            "--stats", str(Path(tmp) / "farm.json"), "--lifetime", "3600"])
        try:
            wait_ready(farm, ready, 30)
            urls = feed_urls(args.hosts, args.feeds, args.port)
            load = os.getloadavg()[0]
            print(f"cores={os.cpu_count()} load1 {load:.2f}; {args.requests} conditional GETs "
                  f"(304) per run over {args.feeds} feeds on {args.hosts} hosts")
            for n in range(1, args.rounds + 1):
                for name, client in CLIENTS.items():
                    cpu_ms, wall_ms = asyncio.run(client(urls, args.requests))
                    print(f"round {n} {name:9} {cpu_ms:.3f} ms CPU, {wall_ms:.3f} ms wall "
                          f"per request")
            print(f"load1 at the end {os.getloadavg()[0]:.2f}")
        finally:
            farm.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                farm.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
