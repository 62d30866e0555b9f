"""The fetcher's errors carry the HTTP status and the Retry-After as attributes, and a body
that drips in is cut at the total per-fetch deadline. No sockets: httpx's MockTransport and
a resolver that answers a public address."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.fetch import Fetcher
from ingest.guard import IPAddress
from newsflow.errors import (
    FeedError,
    FeedTimeoutError,
    FeedUnavailableError,
    NewsflowError,
    TransientError,
)
from newsflow.settings import PollerSettings

URL = "http://feeds.example/rss"


async def public(_host: str, _port: int) -> list[IPAddress]:
    return [ipaddress.ip_address("93.184.216.34")]


class Drip(httpx.AsyncByteStream):
    """A byte every 50 ms, for ever: each read is quick, the whole never ends."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.05)
            yield b" "


def fetch_error(response: httpx.Response, **settings: float) -> NewsflowError:
    conf = PollerSettings.model_validate({"min_host_gap_s": 0.0, **settings})

    async def go() -> NewsflowError:
        transport = httpx.MockTransport(lambda request: response)
        async with Fetcher(conf, resolver=public, transport=transport) as fetcher:
            with pytest.raises(NewsflowError) as info:
                await fetcher.fetch(URL)
        return info.value

    return asyncio.run(go())


@pytest.mark.parametrize(("status", "headers", "kind", "retry_after", "reason"), [
    (429, {"Retry-After": "3600"}, FeedUnavailableError, 3600.0,
     "HTTP 429, Retry-After 3600 s"),
    (503, {"Retry-After": "7"}, FeedUnavailableError, 7.0, "HTTP 503, Retry-After 7 s"),
    (503, {}, FeedUnavailableError, None, "HTTP 503"),
    (500, {}, FeedUnavailableError, None, "HTTP 500"),
    (404, {}, FeedError, None, "HTTP 404"),
    (410, {}, FeedError, None, "HTTP 410 (gone)"),
])
def test_http_errors_carry_status_and_retry_after(
        status: int, headers: dict[str, str], kind: type[NewsflowError],
        retry_after: float | None, reason: str) -> None:
    error = fetch_error(httpx.Response(status, headers=headers))
    assert type(error) is kind and str(error) == reason
    assert isinstance(error, FeedError | FeedUnavailableError)
    assert error.status == status and error.url == URL
    assert getattr(error, "retry_after", None) == retry_after


def test_a_drip_is_cut_at_the_total_deadline() -> None:
    started = time.monotonic()
    error = fetch_error(httpx.Response(200, stream=Drip()), read_timeout_s=5.0,
                        total_timeout_s=0.5)
    assert time.monotonic() - started < 2.0
    assert isinstance(error, FeedTimeoutError) and isinstance(error, TransientError)
    assert str(error) == "total timeout: no complete response within 0.5 s"
    assert error.status is None and error.retry_after is None
