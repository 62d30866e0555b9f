"""The dead-letter record: what could not be processed, why, and the original bytes. Pure.

A dead letter on ``news.deadletter`` is JSON, keyed like the original message::

    {"reason": "...", "stage": "decode|enrich|index|route", "error": "SchemaError",
     "source": {"topic": "news.articles", "partition": 0, "offset": 42},
     "article_id": "…" | null, "failed_at": "2025-…Z",
     "original": "<the value as text, when it is UTF-8>" | null,
     "original_b64": "<the exact original bytes, base64>"}

``original_b64`` is always there, so a fixed record can be replayed byte for byte.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["MAX_REASON_CHARS", "DeadLetter", "decode_dead_letter", "encode_dead_letter"]

# Elasticsearch quotes the offending value in its reason; keep the record readable.
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    stage: str
    error: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    original: bytes | None
    failed_at: datetime
    article_id: str | None = None

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


def _reason(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def encode_dead_letter(letter: DeadLetter) -> bytes:
    original_text: str | None
    try:
        original_text = letter.original.decode("utf-8") if letter.original is not None else None
    except UnicodeDecodeError:
        original_text = None
    record: dict[str, Any] = {
        "reason": _reason(letter.reason),
        "stage": letter.stage,
        "error": letter.error,
        "source": {
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
        },
        "article_id": letter.article_id,
        "failed_at": letter.failed_at.isoformat(),
        "original": original_text,
        "original_b64": (
            base64.b64encode(letter.original).decode("ascii")
            if letter.original is not None
            else None
        ),
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def decode_dead_letter(raw: bytes) -> dict[str, Any]:
    """The record as a dict, with ``original_bytes`` restored (for tools and tests)."""
    record: dict[str, Any] = json.loads(raw.decode("utf-8"))
    b64 = record.get("original_b64")
    record["original_bytes"] = base64.b64decode(b64) if b64 is not None else None
    return record
