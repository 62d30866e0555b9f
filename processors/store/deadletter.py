"""The dead-letter record: what could not be processed, why, and the original bytes. Pure.

A dead letter on ``news.deadletter`` is JSON, keyed like the original message::

    {"reason": "...", "stage": "decode|enrich|index|route", "error": "SchemaError",
     "source": {"topic": "news.articles", "partition": 0, "offset": 42},
     "article_id": "…" | null, "failed_at": "2025-…Z",
     "original": "<the value as text, when it is valid UTF-8>" | null,
     "original_b64": "<the exact bytes, base64, when they are not UTF-8>" | null,
     "original_size": 1234, "original_sha256": "…", "original_truncated": false}

The original is kept once: as text when it is valid UTF-8 (which re-encodes to the very same
bytes), else as base64 — so a fixed record can be replayed byte for byte, and the dead
letter of a 5 MB article is not three times its size. A dead letter must always fit in one
Kafka message (``max_bytes``), or the worker could never get past the record that caused
it; when it would not fit, the original is cut to a prefix and ``original_truncated`` is
true (size and SHA-256 still describe the whole).
"""

from __future__ import annotations

import base64
import hashlib
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


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def encode_dead_letter(letter: DeadLetter, max_bytes: int | None = None) -> bytes:
    """The JSON record; at most ``max_bytes`` long (the original is cut to fit)."""
    head: dict[str, Any] = {
        "reason": _reason(letter.reason),
        "stage": letter.stage,
        "error": letter.error,
        "source": {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset},
        "article_id": letter.article_id,
        "failed_at": letter.failed_at.isoformat(),
    }
    original = letter.original
    if original is None:
        return _dumps({**head, "original": None, "original_b64": None, "original_size": 0,
                       "original_sha256": None, "original_truncated": False})
    # What describes the whole original is worked out once, whatever prefix is kept.
    sha256 = hashlib.sha256(original).hexdigest()
    try:
        original.decode("utf-8")
        is_text = True
    except UnicodeDecodeError:
        is_text = False

    def encode(limit: int) -> bytes:
        kept = original[:limit]
        return _dumps({
            **head,
            # errors="ignore" only drops a multi-byte character split by the cut.
            "original": kept.decode("utf-8", "ignore") if is_text else None,
            "original_b64": None if is_text else base64.b64encode(kept).decode("ascii"),
            "original_size": len(original),
            "original_sha256": sha256,
            "original_truncated": len(kept) < len(original),
        })

    limit = len(original)
    encoded = encode(limit)
    # JSON escaping and base64 make the record larger than the bytes it keeps: shrink the
    # kept prefix until it fits (a few rounds at most).
    while max_bytes is not None and len(encoded) > max_bytes and limit > 0:
        # Scale the kept prefix by how much the record overshoots (escaping and base64
        # cost a roughly constant factor per byte), with a little margin.
        limit = max(0, int(limit * max_bytes / len(encoded) * 0.99) - 64)
        encoded = encode(limit)
    return encoded


def decode_dead_letter(raw: bytes) -> dict[str, Any]:
    """The record as a dict, with ``original_bytes`` restored (for tools and tests)."""
    record: dict[str, Any] = json.loads(raw.decode("utf-8"))
    if record.get("original") is not None:
        record["original_bytes"] = record["original"].encode("utf-8")
    elif record.get("original_b64") is not None:
        record["original_bytes"] = base64.b64decode(record["original_b64"])
    else:
        record["original_bytes"] = None
    return record
