"""What the API's three Server-Sent-Events routes (tag streams, watch streams, alerts) share:
where a reconnecting client resumes, and the response headers of a stream."""

from __future__ import annotations

from fastapi import HTTPException

from processors.streams.sse import decode_position

__all__ = ["SSE_HEADERS", "resume_positions"]

# No caching, and no buffering by a proxy in front (nginx): each event must go out at once.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def resume_positions(header: str | None, query: str | None) -> dict[int, int] | None:
    """The stream positions to resume after: the ``Last-Event-ID`` header (what a browser's
    EventSource sends on reconnect), else the ``last_event_id`` query parameter; None for a
    fresh stream. A position the API never wrote is the client's error (400)."""
    resume = header or query
    if not resume:
        return None
    try:
        return decode_position(resume)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
