"""The fetcher's errors carry the HTTP status and the Retry-After as attributes, and a body
that drips in is cut at the total per-fetch deadline. Against an aiohttp server on loopback
(allowed for these tests) answering every request with one scripted response."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.fetch import Fetcher
from newsflow.errors import (
    FeedError,
    FeedTimeoutError,
    FeedUnavailableError,
    NewsflowError,
    TransientError,
)
from newsflow.settings import PollerSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answering(status: int, headers: dict[str, str] | None = None) -> Handler:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers=headers)

    return handler


async def drip(request: web.Request) -> web.StreamResponse:
    """A byte every 50 ms, for ever: each read is quick, the whole never ends."""
    response = web.StreamResponse()
    await response.prepare(request)
    while True:
        await asyncio.sleep(0.05)
        await response.write(b" ")


def fetch_error(handler: Handler, **settings: float) -> tuple[NewsflowError, str]:
    """The error of fetching from a server answering with ``handler``; and the URL."""
    conf = PollerSettings.model_validate({"min_host_gap_s": 0.0, "allow_hosts": ["127.0.0.1"],
                                          **settings})

    async def go() -> tuple[NewsflowError, str]:
        app = web.Application()
        app.router.add_get("/rss", handler)
        async with TestServer(app, host="127.0.0.1") as server:
            url = str(server.make_url("/rss"))
            async with Fetcher(conf) as fetcher:
                with pytest.raises(NewsflowError) as info:
                    await fetcher.fetch(url)
        return info.value, url

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
    error, url = fetch_error(answering(status, headers))
    assert type(error) is kind and str(error) == reason
    assert isinstance(error, FeedError | FeedUnavailableError)
    assert error.status == status and error.url == url
    assert getattr(error, "retry_after", None) == retry_after


def test_a_drip_is_cut_at_the_total_deadline() -> None:
    started = time.monotonic()
    error, _url = fetch_error(drip, read_timeout_s=5.0, total_timeout_s=0.5)
    assert time.monotonic() - started < 2.0
    assert isinstance(error, FeedTimeoutError) and isinstance(error, TransientError)
    assert str(error) == "total timeout: no complete response within 0.5 s"
    assert error.status is None and error.retry_after is None
