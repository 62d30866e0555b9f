"""The hand-over envelope: records in order, cut under the size cap, bare records read as
before, and what the ordered stage makes of a message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.service.decoding import decode_batch, expand_envelopes
from processors.service.ports import Received
from processors.streams.envelope import MARKER, pack, unpack


def records(n: int, size: int = 20) -> list[bytes]:
    return [(b'{"n": %d, "pad": "' % i) + b"x" * size + b'"}' for i in range(n)]


def test_records_come_back_in_order_from_one_envelope() -> None:
    given = records(5)
    packed = pack(given)
    assert len(packed) == 1 and packed[0].value.startswith(MARKER)
    assert (packed[0].first, packed[0].size) == (0, 5)
    assert unpack(packed[0].value) == given


def test_envelopes_are_cut_under_the_cap_and_keep_the_order() -> None:
    given = records(50, size=100)
    cap = 1000
    packed = pack(given, cap)
    assert len(packed) > 1
    assert all(len(p.value) <= cap for p in packed)
    assert [r for p in packed for r in unpack(p.value)] == given
    assert [p.first for p in packed] == [sum(q.size for q in packed[:i])
                                         for i in range(len(packed))]


def test_a_record_too_large_for_an_envelope_goes_bare_between_the_others() -> None:
    small, big = records(2), b'{"big": "' + b"y" * 2000 + b'"}'
    packed = pack([small[0], big, small[1]], 500)
    assert [p.value for p in packed][1] == big
    assert [(p.first, p.size) for p in packed] == [(0, 1), (1, 1), (2, 1)]
    assert [r for p in packed for r in unpack(p.value)] == [small[0], big, small[1]]


def test_a_record_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="newline"):
        pack([b'{"a":\n1}'])


def test_a_bare_message_is_one_record() -> None:
    assert unpack(b'{"id": "x"}') == [b'{"id": "x"}']
    assert unpack(None) == [None] and unpack(b"") == [b""]
    assert unpack(MARKER) == []


def test_the_ordered_stage_opens_envelopes_and_refuses_a_bad_line_alone() -> None:
    good = records(1)[0]
    value = pack([b"not json", good])[0].value
    batch = [Received("news.enriched", 0, 7, b"k", value),
             Received("news.enriched", 0, 8, b"k2", b'{"bare": true}')]
    opened = expand_envelopes(batch)
    assert [(r.offset, r.index, r.value) for r in opened] == [
        (7, 0, b"not json"), (7, 1, good), (8, None, b'{"bare": true}')]
    assert opened[1].position == "news.enriched[0]@7#1"
    assert opened[2].position == "news.enriched[0]@8"
    _decoded, letters = decode_batch(opened[:1], now=datetime.now(UTC))
    assert letters[0].offset == 7 and letters[0].original == b"not json"
