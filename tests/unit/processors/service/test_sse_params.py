"""Where an SSE client resumes: the header first, then the query parameter; a position the
API never wrote is a 400."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from processors.service.sse_params import resume_positions
from processors.streams.sse import encode_position


def test_the_header_wins_over_the_query_and_nothing_means_a_fresh_stream() -> None:
    header, query = encode_position({0: 5, 1: 7}), encode_position({0: 1})
    assert resume_positions(header, query) == {0: 5, 1: 7}
    assert resume_positions(None, query) == {0: 1}
    assert resume_positions(None, None) is None
    assert resume_positions("", None) is None


def test_a_position_the_api_never_wrote_is_the_clients_error() -> None:
    with pytest.raises(HTTPException) as caught:
        resume_positions("garbage", None)
    assert caught.value.status_code == 400
