"""The HTTP API's stories and alerts: ``/stories``, ``/stories/{id}``, ``/alerts/recent`` and
``/alerts/stream`` (Server-Sent Events, resumable like the tag streams). Included by
processors.service.api.create_app; thin handlers over processors.store.stories,
processors.store.alert_index and the alerts topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from newsflow.settings import Settings
from processors.service.sse_params import SSE_HEADERS, resume_positions
from processors.store.alert_documents import build_recent_alerts
from processors.store.alert_index import AlertIndex
from processors.store.index import ArticleIndex
from processors.store.stories import StoryStore
from processors.store.story_documents import STORY_SORTS, build_story_list
from processors.streams.sse import encode_position, sse_comment

__all__ = ["stories_router"]

HEARTBEAT_S = 15.0
# The fields of a story's article the story view shows.
_ARTICLE_FIELDS = ["id", "title", "url", "source", "published_at", "dup_of", "tags",
                   "story_sources"]


def stories_router(settings: Settings, index: ArticleIndex) -> APIRouter:
    router = APIRouter()
    stories = StoryStore(settings.elasticsearch)
    alerts = AlertIndex(settings.elasticsearch)

    @router.get("/stories", summary="Stories, newest or biggest first")
    def list_stories(
        sort: Annotated[str, Query(pattern="^(" + "|".join(STORY_SORTS) + ")$")] = "newest",
        size: Annotated[int, Query(ge=1, le=500)] = 20,
        tag: Annotated[list[str] | None, Query()] = None,
        min_sources: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        body = build_story_list(sort=sort, size=size, tags=tuple(tag or ()),
                                min_sources=min_sources)
        reply = stories.search(body)
        return {"total": reply["hits"]["total"]["value"],
                "stories": [hit["_source"] for hit in reply["hits"]["hits"]]}

    @router.get("/stories/{story_id}", summary="One story and its articles, oldest first")
    def one_story(story_id: str,
                  size: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
        story = stories.get(story_id)
        if story is None:
            raise HTTPException(404, f"no story {story_id!r}")
        reply = index.search({"query": {"term": {"story_id": story_id}},
                              "sort": [{"published_at": "asc"}], "size": size,
                              "_source": _ARTICLE_FIELDS})
        return {"story": story, "articles": [hit["_source"] for hit in reply["hits"]["hits"]]}

    @router.get("/alerts/recent", summary="Spike alerts, newest first")
    def recent_alerts(
        size: Annotated[int, Query(ge=1, le=500)] = 20,
        key: Annotated[list[str] | None, Query()] = None,
        tag: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        reply = alerts.search(build_recent_alerts(size=size, keys=tuple(key or ()),
                                                  tags=tuple(tag or ())))
        return {"alerts": [hit["_source"] for hit in reply["hits"]["hits"]]}

    @router.get(
        "/alerts/stream",
        summary="Spike alerts as they are raised, as Server-Sent Events",
        description="Each event: `event: alert`, `data:` the alert JSON, `id:` the stream "
                    "position after it; reconnect with `Last-Event-ID` to resume exactly "
                    "after it. Without it the stream starts at new alerts (or "
                    "`from=beginning`).",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def alert_stream(
        request: Request,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        last_event_id: str | None = None,
        start: Annotated[str, Query(alias="from", pattern="^(latest|beginning)$")] = "latest",
        max_events: Annotated[int | None, Query(alias="max", ge=1)] = None,
        timeout: Annotated[float | None, Query(gt=0)] = None,
    ) -> StreamingResponse:
        positions = resume_positions(last_event_id_header, last_event_id)
        reader = AlertReader(settings, positions, start)
        await run_in_threadpool(reader.open)
        return StreamingResponse(
            _alert_events(reader, request, max_events, timeout),
            media_type="text/event-stream", headers=SSE_HEADERS)

    return router


class AlertReader:
    """The alerts topic from explicit positions (no group, nothing committed); each message
    is the alert's JSON document."""

    def __init__(self, settings: Settings, positions: dict[int, int] | None,
                 start: str) -> None:
        self.topic = settings.kafka.alerts_topic
        self._kafka = settings.kafka
        self._wanted = dict(positions or {})
        self._start = start
        self._consumer: Any = None
        self.positions: dict[int, int] = {}

    def open(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from newsflow_adapters.topics import ensure_topics
        from processors.streams.subscribe import partitions_of

        ensure_topics(self._kafka, [self.topic], self._kafka.tag_partitions)
        consumer = KafkaConsumer(**self._kafka.client_config(), group_id=None,
                                 enable_auto_commit=False, client_id="newsflow-sse-alerts")
        tps = {p: TopicPartition(self.topic, p)
               for p in sorted(partitions_of(consumer, self.topic))}
        consumer.assign(list(tps.values()))
        ends = consumer.end_offsets(list(tps.values()))
        begins = consumer.beginning_offsets(list(tps.values()))
        for p, tp in tps.items():
            if p in self._wanted:
                offset = min(max(self._wanted[p], begins[tp]), ends[tp])
            elif self._wanted or self._start == "beginning":
                offset = begins[tp]
            else:
                offset = ends[tp]
            consumer.seek(tp, offset)
            self.positions[p] = offset
        self._consumer = consumer

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        events = []
        for records in self._consumer.poll(timeout_ms=int(timeout_s * 1000)).values():
            for record in records:
                self.positions[record.partition] = record.offset + 1
                try:
                    alert = json.loads(record.value or b"")
                except ValueError:
                    continue
                events.append((encode_position(self.positions), alert))
        return events

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None


async def _alert_events(reader: AlertReader, request: Request, max_events: int | None,
                        idle_timeout_s: float | None) -> AsyncIterator[str]:
    sent = 0
    last_activity = last_arrival = time.monotonic()
    try:
        yield f"retry: 2000\n{sse_comment(f'stream {reader.topic}')}"
        while True:
            if await request.is_disconnected():
                return
            events = await run_in_threadpool(reader.poll, 0.5)
            for position, alert in events:
                yield (f"id: {position}\nevent: alert\n"
                       f"data: {json.dumps(alert, ensure_ascii=False)}\n\n")
                sent += 1
                if max_events is not None and sent >= max_events:
                    return
            now = time.monotonic()
            if events:
                last_activity = last_arrival = now
            if idle_timeout_s is not None and now - last_arrival >= idle_timeout_s:
                return
            if now - last_activity >= HEARTBEAT_S:
                last_activity = now
                yield sse_comment("keep-alive")
    finally:
        await run_in_threadpool(reader.close)
