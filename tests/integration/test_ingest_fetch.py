"""The fetcher against real HTTP servers on loopback addresses (no Kafka needed here)."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ingest.fetch import Fetcher
from ingest.guard import IPAddress
from newsflow.errors import FeedError, RefusedError, TransientError
from newsflow.settings import PollerSettings
from tests.integration.ingest_feedserver import ConditionalFeed, FeedServer, Reply, rss

pytestmark = pytest.mark.integration


def loopback_only() -> aiohttp.TraceConfig:
    """Test safety net: whatever the guard decides, no request leaves 127.0.0.0/8."""
    trace = aiohttp.TraceConfig()

    async def on_request_start(_session: object, _context: object,
                               params: aiohttp.TraceRequestStartParams) -> None:
        host = params.url.host or ""
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the fetcher tried to connect to {host}")

    trace.on_request_start.append(on_request_start)
    return trace


def settings(**changes: object) -> PollerSettings:
    base = {"allow_hosts": ["127.0.0.2"], "connect_timeout_s": 2.0, "read_timeout_s": 2.0,
            "total_timeout_s": 5.0, "max_body_bytes": 1_000_000, "min_host_gap_s": 0.0}
    base.update(changes)
    return PollerSettings.model_validate(base)


def fetch(poller: PollerSettings, url: str, **kwargs: object) -> object:
    async def go() -> object:
        async with Fetcher(poller, trace_configs=[loopback_only()]) as fetcher:
            return await fetcher.fetch(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.2") as srv:
        yield srv


def test_conditional_get_sends_validators_and_gets_304(server: FeedServer) -> None:
    feed = ConditionalFeed(rss([("https://news.test/a", "A")]))
    server.routes["/feed"] = feed
    first = fetch(settings(), server.url("/feed"))
    assert first.status == 200 and first.etag == feed.etag and b"<rss" in first.body
    second = fetch(settings(), server.url("/feed"), etag=first.etag)
    assert second.not_modified and second.body == b""
    assert server.hits("/feed")[-1].headers["if-none-match"] == feed.etag


def test_unchanged_polls_keep_their_connection_alive(server: FeedServer) -> None:
    """A 304 hands its connection back to the pool: the next poll of the host reuses it
    (before, each 304 closed it, and every unchanged poll paid a new connection)."""
    feed = ConditionalFeed(rss([("https://news.test/a", "A")]))
    server.routes["/feed"] = feed

    async def three_polls() -> list[int]:
        async with Fetcher(settings(), trace_configs=[loopback_only()]) as fetcher:
            first = await fetcher.fetch(server.url("/feed"))
            second = await fetcher.fetch(server.url("/feed"), etag=first.etag)
            third = await fetcher.fetch(server.url("/feed"), etag=first.etag)
            return [first.status, second.status, third.status]

    assert asyncio.run(three_polls()) == [200, 304, 304]
    ports = [seen.client[1] for seen in server.hits("/feed")]
    assert len(ports) == 3 and len(set(ports)) == 1, ports


def test_user_agent_and_gzip(server: FeedServer) -> None:
    body = rss([("https://news.test/a", "A")])
    server.routes["/gz"] = lambda req: Reply(200, gzip.compress(body),
                                             {"Content-Encoding": "gzip"})
    result = fetch(settings(user_agent="newsflow-test/1.0"), server.url("/gz"))
    assert result.body == body
    seen = server.hits("/gz")[0].headers
    assert seen["user-agent"] == "newsflow-test/1.0" and "gzip" in seen["accept-encoding"]


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/feed",  # loopback, but only 127.0.0.2 is allowlisted
    "http://10.11.12.13/feed",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:{port}/feed",
])
def test_redirect_into_private_space_is_refused(server: FeedServer, target: str) -> None:
    location = target.format(port=server.port)
    server.routes["/go"] = lambda req: Reply(302, b"", {"Location": location})
    with pytest.raises(RefusedError, match=r"refused: .* resolves to"):
        fetch(settings(), server.url("/go"))


def test_redirect_allowed_when_feed_allows_private(server: FeedServer) -> None:
    with FeedServer("127.0.0.1") as other:
        other.routes["/feed"] = lambda req: Reply(200, rss([("https://news.test/a", "A")]))
        server.routes["/go"] = lambda req: Reply(301, b"", {"Location": other.url("/feed")})
        result = fetch(settings(), server.url("/go"), allow_private=True)
        assert result.status == 200 and result.redirects == [other.url("/feed")]
        assert result.permanent_redirect == other.url("/feed")


def test_unlisted_loopback_feed_is_refused() -> None:
    with FeedServer("127.0.0.3") as srv:
        srv.routes["/feed"] = lambda req: Reply(200, b"<rss/>")
        with pytest.raises(RefusedError, match=r"loopback address 127\.0\.0\.3"):
            fetch(settings(), srv.url("/feed"))
        assert srv.requests == []  # refused before connecting


def test_at_most_five_redirects(server: FeedServer) -> None:
    for n in range(7):
        server.routes[f"/r{n}"] = lambda req, n=n: Reply(302, b"", {"Location": f"/r{n + 1}"})
    server.routes["/r5"] = lambda req: Reply(200, rss([("https://news.test/a", "A")]))
    assert fetch(settings(), server.url("/r0")).status == 200  # 5 hops: fine
    server.routes["/r5"] = lambda req: Reply(302, b"", {"Location": "/r6"})
    with pytest.raises(FeedError, match="too many redirects"):
        fetch(settings(), server.url("/r0"))


def test_oversized_body_is_cut_at_the_cap(server: FeedServer) -> None:
    sent = {"chunks": 0}

    def endless(req: object) -> Reply:
        def chunks() -> Iterator[bytes]:
            for _ in range(2000):  # 2000 x 64 KiB = 125 MiB if nobody stopped reading
                sent["chunks"] += 1
                yield b"x" * 65536

        return Reply(200, chunks())

    server.routes["/big"] = endless
    server.routes["/declared"] = lambda req: Reply(200, b"y" * 2_000_000)
    started = time.monotonic()
    with pytest.raises(RefusedError, match="larger than the 1000000 bytes cap"):
        fetch(settings(), server.url("/big"))
    assert time.monotonic() - started < 5
    time.sleep(0.5)
    assert sent["chunks"] < 200  # the server was stopped early, not drained
    with pytest.raises(RefusedError, match="Content-Length 2000000, not read"):
        fetch(settings(), server.url("/declared"))


def test_gzip_bomb_is_cut_at_the_cap(server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire, 50 MB inflated
    server.routes["/bomb"] = lambda req: Reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(RefusedError, match="cap"):
        fetch(settings(), server.url("/bomb"))


def test_slow_server_times_out(server: FeedServer) -> None:
    server.routes["/stall"] = lambda req: Reply(200, b"<rss/>", delay_s=4)

    def drip(req: object) -> Reply:
        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                time.sleep(0.5)  # each read is quick, the whole is too slow
                yield b" "

        return Reply(200, chunks())

    server.routes["/drip"] = drip
    with pytest.raises(TransientError, match="read timeout"):
        fetch(settings(read_timeout_s=1.0), server.url("/stall"))
    started = time.monotonic()
    with pytest.raises(TransientError, match="total timeout"):
        fetch(settings(read_timeout_s=2.0, total_timeout_s=3.0), server.url("/drip"))
    assert time.monotonic() - started < 4.5


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_reported(server: FeedServer, status: int) -> None:
    server.routes["/busy"] = lambda req: Reply(status, b"", {"Retry-After": "7"})
    with pytest.raises(TransientError) as info:
        fetch(settings(), server.url("/busy"))
    assert info.value.retry_after == 7.0


def test_client_errors_are_permanent(server: FeedServer) -> None:
    server.routes["/gone"] = lambda req: Reply(410, b"")
    with pytest.raises(FeedError, match="HTTP 410"):
        fetch(settings(), server.url("/gone"))
    with pytest.raises(FeedError, match="HTTP 404"):
        fetch(settings(), server.url("/missing"))


def test_https_is_pinned_to_the_checked_address_and_keeps_the_name_for_tls(
        tmp_path: Path) -> None:
    """The connection goes to the address the resolver gave (and the guard checked); the TLS
    handshake names the feed's host (SNI) and the certificate is verified (self-signed here:
    refused, as a transient failure)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=feeds.test", "-addext", "subjectAltName=DNS:feeds.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def record_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record_name
    resolved: list[str] = []

    async def to_loopback(host: str, _port: int) -> list[IPAddress]:
        resolved.append(host)
        return [ipaddress.ip_address("127.0.0.2")]

    async def go() -> None:
        server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.2", 0,
                                            ssl=context)
        port = server.sockets[0].getsockname()[1]
        async with server, Fetcher(settings(), resolver=to_loopback,
                                   trace_configs=[loopback_only()]) as fetcher:
            with pytest.raises(TransientError, match="certificate"):
                await fetcher.fetch(f"https://feeds.test:{port}/rss")

    asyncio.run(go())
    assert resolved == ["feeds.test"] and names == ["feeds.test"]
