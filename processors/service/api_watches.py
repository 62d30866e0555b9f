"""The HTTP API's watch streams: ``/streams/watch/{name}``, the articles matching a saved
watch (``news.watch.<name>``) as Server-Sent Events, resumable like the tag streams. Included
by processors.service.api.create_app, which hands in its SSE loop (metrics and heartbeats
stay in one place).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from newsflow.article import utc_now
from newsflow.settings import Settings
from processors.service.sse_params import SSE_HEADERS, resume_positions
from processors.store.search import parse_when
from processors.store.watch_index import WatchIndex
from processors.store.watches import watch_topic_name
from processors.streams.sse import TagStreamReader

__all__ = ["StreamEvents", "watches_router"]

# api._events without its metrics argument: (reader, label, request, max, idle timeout).
StreamEvents = Callable[
    [TagStreamReader, str, Request, int | None, float | None], AsyncIterator[str]
]


def watches_router(settings: Settings, events: StreamEvents) -> APIRouter:
    router = APIRouter()
    # One client for the router's life: a stream opened is not worth a new connection pool.
    watches = WatchIndex(settings.elasticsearch)

    def exists(name: str) -> bool:
        return watches.get(name) is not None

    @router.get(
        "/streams/watch/{name}",
        summary="Articles matching a watch (a saved search), as Server-Sent Events",
        description="Like `/streams/{tag}`, for the watch's topic `news.watch.<name>` "
                    "(`newsflow watch add`); 404 when there is no watch of that name. Each "
                    "event: `event: article`, `data:` the article JSON (its `watches` name "
                    "the watches it matched), `id:` the stream position after it.",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def watch_stream(
        name: str,
        request: Request,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        last_event_id: str | None = None,
        start: Annotated[str, Query(alias="from", pattern="^(latest|beginning)$")] = "latest",
        since: str | None = None,
        max_events: Annotated[int | None, Query(alias="max", ge=1)] = None,
        timeout: Annotated[float | None, Query(gt=0)] = None,
    ) -> StreamingResponse:
        try:
            topic = watch_topic_name(settings.kafka.watch_topic_prefix, name)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc
        if not await run_in_threadpool(exists, name):
            raise HTTPException(404, f"no watch named {name!r} (see newsflow watch list)")
        positions = resume_positions(last_event_id_header, last_event_id)
        try:
            since_at = parse_when(since, utc_now()) if since is not None else None
        except ValueError as exc:
            raise HTTPException(422, f"since: {exc}") from exc
        reader = TagStreamReader(settings.kafka, name, topic=topic, positions=positions,
                                 start=start, since=since_at)
        await run_in_threadpool(reader.open)
        return StreamingResponse(
            events(reader, f"watch:{name}", request, max_events, timeout),
            media_type="text/event-stream", headers=SSE_HEADERS,
        )

    return router
