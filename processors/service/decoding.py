"""The first step of a batch: news.articles records (or the enriched topic's envelopes,
opened) -> articles; what cannot be decoded, and what any later step refuses, becomes a
dead letter with its source position. Pure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from newsflow.article import Article, decode_article
from newsflow.errors import SchemaError
from processors.service.ports import Received
from processors.store.deadletter import DeadLetter
from processors.streams.envelope import unpack

__all__ = ["dead_letter", "decode_batch", "expand_envelopes", "last_per_id"]

logger = logging.getLogger(__name__)


def decode_batch(
    batch: Sequence[Received], now: datetime
) -> tuple[list[tuple[Received, Article]], list[DeadLetter]]:
    """The articles of the batch, each with its record, and the poison records' letters."""
    decoded: list[tuple[Received, Article]] = []
    letters: list[DeadLetter] = []
    for received in batch:
        try:
            if not received.value:
                raise SchemaError("empty message (no value)")
            article = decode_article(received.value)
        except SchemaError as exc:
            letters.append(dead_letter(received, "decode", exc, now))
            logger.warning(
                "undecodable message dead-lettered at=%s reason=%s", received.position, exc
            )
            continue
        logger.debug("article received id=%s at=%s", article.id, received.position)
        decoded.append((received, article))
    return decoded, letters


def expand_envelopes(batch: Sequence[Received]) -> list[Received]:
    """The records of a batch of enriched-topic messages, each hand-over envelope opened:
    every record keeps its message's offset and gets its index inside it."""
    records: list[Received] = []
    for received in batch:
        values = unpack(received.value)
        if len(values) == 1 and values[0] is received.value:
            records.append(received)
            continue
        records.extend(
            Received(received.topic, received.partition, received.offset, received.key, value,
                     index)
            for index, value in enumerate(values)
        )
    return records


def dead_letter(
    received: Received,
    stage: str,
    exc: Exception,
    now: datetime,
    article_id: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        reason=str(exc) or repr(exc),
        stage=stage,
        error=type(exc).__name__,
        topic=received.topic,
        partition=received.partition,
        offset=received.offset,
        key=received.key,
        original=received.value,
        failed_at=now,
        article_id=article_id,
    )


def last_per_id(
    items: list[tuple[Received, Article]],
) -> tuple[list[tuple[Received, Article]], int]:
    """The same article twice in one batch is indexed and forwarded once (the later copy)."""
    latest: dict[str, tuple[Received, Article]] = {}
    for received, article in items:
        latest.pop(article.id, None)
        latest[article.id] = (received, article)
    return list(latest.values()), len(items) - len(latest)
