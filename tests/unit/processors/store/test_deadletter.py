"""processors.store.deadletter: the dead-letter record (reason, position, original bytes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.store.deadletter import DeadLetter, decode_dead_letter, encode_dead_letter

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("original", [b'{"not": "an article"}', b"\xff\xfe binary", None])
def test_dead_letter_keeps_reason_position_and_exact_original_bytes(
    original: bytes | None,
) -> None:
    letter = DeadLetter(reason="not JSON", stage="decode", error="SchemaError",
                        topic="news.articles", partition=2, offset=41, key=b"k",
                        original=original, failed_at=NOW)
    record = decode_dead_letter(encode_dead_letter(letter))
    assert record["reason"] == "not JSON"
    assert record["stage"] == "decode"
    assert record["source"] == {"topic": "news.articles", "partition": 2, "offset": 41}
    assert record["original_bytes"] == original
    assert letter.position == "news.articles[2]@41"
    if original == b'{"not": "an article"}':
        assert record["original"] == '{"not": "an article"}'
    else:
        assert record["original"] is None


def test_long_reasons_are_cut() -> None:
    letter = DeadLetter(reason="x" * 10_000, stage="index", error="E", topic="t",
                        partition=0, offset=0, key=None, original=b"{}", failed_at=NOW)
    assert len(decode_dead_letter(encode_dead_letter(letter))["reason"]) == 2000


@pytest.mark.parametrize(
    "original",
    [("Ministers discuss joint naval exercises. " * 150_000).encode(),  # ~6 MB of text
     b"\xff\xfe" + bytes(range(256)) * 20_000,  # ~5 MB that is not UTF-8
     ('"quoted" \\ and\nnewlines é ' * 200_000).encode()],  # JSON escaping grows it
    ids=["text", "binary", "escapes"],
)
def test_a_dead_letter_always_fits_the_message_limit(original: bytes) -> None:
    letter = DeadLetter(reason="too long for the NER model", stage="enrich", error="E",
                        topic="news.articles", partition=0, offset=7, key=b"k",
                        original=original, failed_at=NOW)
    limit = 1_000_000
    encoded = encode_dead_letter(letter, limit)
    assert len(encoded) <= limit
    record = decode_dead_letter(encoded)
    assert record["original_truncated"] is True
    assert record["original_size"] == len(original)
    kept = record["original_bytes"]
    assert 0 < len(kept) < len(original)
    # What is kept is a true prefix (a split multi-byte character is dropped, not mangled).
    assert original.startswith(kept)
    assert len(kept) > limit // 4, "the cut should keep most of what fits"


def test_a_dead_letter_that_fits_keeps_the_whole_original_once() -> None:
    original = ("Ministers discuss joint naval exercises. " * 100_000).encode()  # ~4 MB
    letter = DeadLetter(reason="r", stage="enrich", error="E", topic="t", partition=0,
                        offset=0, key=None, original=original, failed_at=NOW)
    encoded = encode_dead_letter(letter, 8 * 1024 * 1024)
    record = decode_dead_letter(encoded)
    assert record["original_truncated"] is False
    assert record["original_bytes"] == original
    assert record["original_b64"] is None  # UTF-8 text is not stored twice
    assert len(encoded) < len(original) + 2_000
