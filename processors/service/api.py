"""The HTTP API (`newsflow api`): search, articles, tags, stats, tag streams as SSE, health
and metrics. FastAPI; the OpenAPI description is served at /openapi.json (docs at /docs).
The monitor page (processors/service/web/: plain HTML, CSS and ES modules, no build step) is
served at / and its files under /static/; neither is part of the OpenAPI description.

Handlers are thin: query building and parsing live in processors.store.search, Elasticsearch
in processors.store.index, Kafka in processors.streams.sse. Blocking calls run in worker
threads.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import Scope

from newsflow.article import utc_now
from newsflow.errors import ConfigError, NewsflowError, SearchUnavailableError
from newsflow.settings import Settings
from processors.service.api_stories import stories_router
from processors.service.api_watches import watches_router
from processors.service.sse_params import SSE_HEADERS, resume_positions
from processors.store.index import ArticleIndex
from processors.store.search import (
    SearchQuery,
    StatsQuery,
    build_search,
    build_stats,
    parse_search,
    parse_stats,
    parse_when,
)
from processors.streams.routing import is_valid_tag
from processors.streams.sse import TagStreamReader, sse_comment, sse_event

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0

# The monitor page's files, shipped as package data.
WEB_DIR = Path(__file__).resolve().parent / "web"
# The page loads nothing but its own files and talks only to this API: no inline script, no
# other origin. Text from articles is never parsed as HTML (web/app.js), and this header is
# the second line of defence.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on each load: a page reloaded after an upgrade never mixes old and new files.
    "Cache-Control": "no-cache",
}


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("newsflow_api_requests_total", "HTTP requests by route and "
                                "status.", ["route", "status"], registry=r)
        self.latency = Histogram("newsflow_api_request_seconds", "Time to respond (to the "
                                 "first byte for streams), by route.", ["route"], registry=r)
        self.stream_clients = Gauge("newsflow_api_stream_clients", "Open SSE connections.",
                                    ["tag"], registry=r)
        self.stream_events = Counter("newsflow_api_stream_events_total", "Articles sent over "
                                     "SSE, by tag.", ["tag"], registry=r)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, utc_now())
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from exc


def _kafka_reachable(bootstrap: str, timeout_s: float = 2.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def create_app(settings: Settings, index: ArticleIndex | None = None) -> FastAPI:
    index = index or ArticleIndex(settings.elasticsearch)
    metrics = ApiMetrics()
    app = FastAPI(
        title="newsflow",
        version="1",
        description="Search enriched news articles and follow topic tags as they arrive.",
    )

    @app.middleware("http")
    async def measure(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.monotonic()
        try:
            response = await call_next(request)
        except Exception:
            metrics.requests.labels(_route(request), "500").inc()
            raise
        metrics.requests.labels(_route(request), str(response.status_code)).inc()
        metrics.latency.labels(_route(request)).observe(time.monotonic() - started)
        return response

    @app.exception_handler(SearchUnavailableError)
    async def unavailable(request: Request, exc: SearchUnavailableError) -> Response:
        return _json_error(503, f"Elasticsearch unavailable: {exc}")

    @app.exception_handler(NewsflowError)
    async def failed(request: Request, exc: NewsflowError) -> Response:
        return _json_error(502, str(exc))

    @app.get("/search", summary="Full-text search with filters")
    def search(
        q: Annotated[str, Query(description="simple query string over title, summary, "
                                            "content, authors")] = "",
        tag: Annotated[list[str] | None, Query(description="every tag given")] = None,
        entity: Annotated[list[str] | None, Query(description="every entity given")] = None,
        source: Annotated[list[str] | None, Query(description="any source given")] = None,
        since: Annotated[str | None, Query(description="published at/after (ISO or 7d)")] = None,
        until: Annotated[str | None, Query(description="published before")] = None,
        size: Annotated[int, Query(ge=1, le=500)] = 10,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
        collapse: Annotated[bool, Query(description="one hit per story")] = False,
    ) -> dict[str, Any]:
        query = SearchQuery(text=q, tags=tuple(tag or ()), entities=tuple(entity or ()),
                            sources=tuple(source or ()), since=_when(since, "since"),
                            until=_when(until, "until"), size=size, offset=offset,
                            collapse=collapse)
        result = parse_search(index.search(build_search(query)))
        reply: dict[str, Any] = {"total": result.total,
                                 "hits": [hit.to_json() for hit in result.hits]}
        if collapse:
            reply["stories"] = result.stories
        return reply

    @app.get("/articles/{article_id}", summary="One article by id")
    def article(article_id: str) -> dict[str, Any]:
        from processors.store.documents import article_from_document

        source = index.get(article_id)
        if source is None:
            raise HTTPException(404, f"no article with id {article_id}")
        return article_from_document(source).model_dump(mode="json")

    @app.get("/tags", summary="Taxonomy tags, their article counts and stream topics")
    def tags() -> dict[str, Any]:
        from processors.enrich.taxonomy import load_taxonomy

        try:
            taxonomy = load_taxonomy(settings.processors.taxonomy_file)
        except ConfigError as exc:
            raise HTTPException(500, str(exc)) from exc
        stats = parse_stats(StatsQuery(), index.search(build_stats(StatsQuery())))
        return {
            "taxonomy_version": taxonomy.version,
            "tags": [
                {"tag": t.id, "label": t.label, "description": t.description,
                 "articles": stats.tag_totals.get(t.id, 0),
                 "stream": settings.kafka.tag_topic(t.id), "sse": f"/streams/{t.id}"}
                for t in taxonomy.tags
            ],
        }

    @app.get("/stats", summary="Articles per tag per interval; top entities per given tag")
    def stats(
        tag: Annotated[list[str] | None, Query()] = None,
        since: str | None = None,
        until: str | None = None,
        interval: Annotated[str, Query(pattern="^(day|week|month)$")] = "day",
        top: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        query = StatsQuery(tags=tuple(tag or ()), since=_when(since, "since"),
                           until=_when(until, "until"), interval=interval, top=top)
        return parse_stats(query, index.search(build_stats(query))).to_json()

    @app.get(
        "/streams/{tag}",
        summary="Articles arriving on a tag, as Server-Sent Events",
        description="Each event: `event: article`, `data:` the article JSON, `id:` the stream "
                    "position after it. Reconnect with the `Last-Event-ID` header (or "
                    "`last_event_id`) to resume exactly after the last event received. "
                    "Without it the stream starts at new articles, or `from=beginning`, or "
                    "`since`. `max` and `timeout` (seconds without an article) end it.",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        tag: str,
        request: Request,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        last_event_id: str | None = None,
        start: Annotated[str, Query(alias="from", pattern="^(latest|beginning)$")] = "latest",
        since: str | None = None,
        max_events: Annotated[int | None, Query(alias="max", ge=1)] = None,
        timeout: Annotated[float | None, Query(gt=0)] = None,
    ) -> StreamingResponse:
        if not is_valid_tag(tag):
            raise HTTPException(404, f"{tag!r} is not a tag (kebab-case)")
        positions = resume_positions(last_event_id_header, last_event_id)
        reader = TagStreamReader(settings.kafka, tag, positions=positions, start=start,
                                 since=_when(since, "since"))
        await run_in_threadpool(reader.open)
        return StreamingResponse(
            _events(reader, tag, request, metrics, max_events, timeout),
            media_type="text/event-stream", headers=SSE_HEADERS,
        )

    @app.get("/healthz", summary="Elasticsearch and Kafka reachable")
    def healthz(response: Response) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            health = index.health()
            checks["elasticsearch"] = {"ok": health.get("status") in ("green", "yellow"),
                                       "status": health.get("status")}
        except NewsflowError as exc:
            checks["elasticsearch"] = {"ok": False, "error": str(exc)}
        checks["kafka"] = {"ok": _kafka_reachable(settings.kafka.bootstrap_servers)}
        ok = all(c["ok"] for c in checks.values())
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "unavailable", **checks}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Stories, alerts (their SSE stream too) and watch streams: routers of their own.
    app.include_router(stories_router(settings, index))
    app.include_router(watches_router(
        settings, lambda reader, label, request, max_events, timeout: _events(
            reader, label, request, metrics, max_events, timeout)))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", _PageFiles(directory=WEB_DIR), name="static")
    return app


class _PageFiles(StaticFiles):
    """The page's files, with the page's headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


async def _events(
    reader: TagStreamReader, tag: str, request: Request, metrics: ApiMetrics,
    max_events: int | None, idle_timeout_s: float | None,
) -> AsyncIterator[str]:
    sent = 0
    last_activity = last_arrival = time.monotonic()
    metrics.stream_clients.labels(tag).inc()
    try:
        # Tell EventSource to reconnect after 2 s; the first comment flushes headers.
        yield f"retry: 2000\n{sse_comment(f'stream {reader.topic}')}"
        while True:
            if await request.is_disconnected():
                return
            remaining = None if max_events is None else max_events - sent
            events = await run_in_threadpool(reader.poll, 0.5, remaining)
            for event in events:
                if event.article is None:
                    continue
                yield sse_event(event.position, event.article.model_dump(mode="json"))
                metrics.stream_events.labels(tag).inc()
                sent += 1
            now = time.monotonic()
            if events:
                last_activity = last_arrival = now
            if max_events is not None and sent >= max_events:
                return
            if idle_timeout_s is not None and now - last_arrival >= idle_timeout_s:
                return
            if now - last_activity >= HEARTBEAT_S:
                last_activity = now
                yield sse_comment("keep-alive")
    finally:
        metrics.stream_clients.labels(tag).dec()
        await run_in_threadpool(reader.close)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def _json_error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)
