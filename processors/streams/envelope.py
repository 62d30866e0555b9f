"""The hand-over envelope: many encoded records in one Kafka message. Pure.

The enrich stage hands its batch to the ordered stage on the one-partition enriched topic.
One message per article cost about as much CPU as the rest of the ordered stage (each
message is produced, acknowledged, fetched, wrapped in a Faust event, acked and committed
on its own); one message per batch pays that once for a hundred articles
(bench/RESULTS.md, issue 17).

An envelope is a marker line and then one record per line::

    newsflow.envelope/1
    {"id": "...", ...}
    {"id": "...", ...}

A record is compact JSON (``newsflow.article.encode_article``), which never holds a raw
newline, so lines need no escaping. A message without the marker is one bare record: what
an older worker handed over, or a record too large to share a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["DEFAULT_ENVELOPE_BYTES", "MARKER", "Packed", "pack", "unpack"]

MARKER = b"newsflow.envelope/1\n"

# A cap below Kafka's message limit: large enough to amortise the per-message cost, small
# enough that one message never holds up a fetch (about 250 feed-sized enriched articles).
DEFAULT_ENVELOPE_BYTES = 1024 * 1024


class Packed(NamedTuple):
    value: bytes  # the message
    first: int  # the index (in the records given) of its first record
    size: int  # how many records it holds


def pack(records: Sequence[bytes], max_bytes: int = DEFAULT_ENVELOPE_BYTES) -> list[Packed]:
    """The records in order, in as few envelopes of at most ``max_bytes`` as the order
    allows. A record that does not fit in an envelope of its own goes bare (the caller checks
    it against Kafka's limit)."""
    messages: list[Packed] = []
    lines: list[bytes] = []
    first = 0
    size = len(MARKER)

    def close() -> None:
        messages.append(Packed(MARKER + b"\n".join(lines), first, len(lines)))

    for n, record in enumerate(records):
        if b"\n" in record:
            raise ValueError("a record in an envelope must not hold a newline")
        if len(MARKER) + len(record) > max_bytes:
            if lines:
                close()
                lines, size = [], len(MARKER)
            messages.append(Packed(record, n, 1))
            continue
        added = len(record) + (1 if lines else 0)
        if lines and size + added > max_bytes:
            close()
            lines, size, added = [], len(MARKER), len(record)
        if not lines:
            first = n
        lines.append(record)
        size += added
    if lines:
        close()
    return messages


def unpack(value: bytes | None) -> list[bytes | None]:
    """The records of one message, in order: an envelope's lines, or the message itself
    when it is a bare record (empty or None included, for the decoder to refuse)."""
    if value is None or not value.startswith(MARKER):
        return [value]
    body = value[len(MARKER):]
    lines: list[bytes | None] = list(body.split(b"\n")) if body else []
    return lines
