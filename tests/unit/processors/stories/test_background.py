"""processors.stories.background: IDF from the shipped table plus the decaying stream."""

from __future__ import annotations

import json
import math

from processors.stories.background import (
    DEFAULT_TABLE,
    BackgroundTable,
    TermStatistics,
    build_table,
)

DAY = 86_400.0


def test_shipped_table_is_loaded_and_common_words_weigh_less() -> None:
    table = BackgroundTable.load(DEFAULT_TABLE)
    assert table.documents == 3000 and len(table.df) > 5000
    stats = TermStatistics(table)
    assert stats.idf("police") < stats.idf("earthquake") < stats.idf("qeshm")


def test_stream_counts_lower_idf_and_decay_in_event_time() -> None:
    stats = TermStatistics(BackgroundTable(10, {"quake": 1}), half_life_days=1.0)
    before = stats.idf("quake")
    stats.advance(0.0)
    for _ in range(10):
        stats.observe(["quake", "quake", "rescue"])
    after = stats.idf("quake")
    assert after < before
    assert math.isclose(after, math.log((10 + 10 + 1) / (1 + 10 + 1)) + 1)
    stats.advance(2 * DAY)  # two half-lives: a quarter of the counts is left
    assert math.isclose(stats.idf("quake"), math.log((10 + 2.5 + 1) / (1 + 2.5 + 1)) + 1)
    stats.advance(DAY)  # the clock never goes back
    assert math.isclose(stats.idf("quake"), math.log((10 + 2.5 + 1) / (1 + 2.5 + 1)) + 1)
    stats.advance(10 * DAY)  # what decays under the floor is forgotten
    assert stats.vocabulary_size == 0


def test_state_round_trip_and_stream_weight() -> None:
    stats = TermStatistics(BackgroundTable(5, {}))
    stats.advance(0.0)
    stats.observe(["a", "b"])
    again = TermStatistics(BackgroundTable(5, {}))
    again.load_state(json.loads(json.dumps(stats.to_state())))
    assert again.to_state() == stats.to_state() and again.idf("a") == stats.idf("a")
    off = TermStatistics(BackgroundTable(5, {}), stream_weight=0.0)
    off.observe(["a"])
    assert off.idf("a") == off.idf("never-seen")


def test_build_table_counts_documents_not_occurrences() -> None:
    lines = [json.dumps({"title": "Quake quake", "text": "Rescue teams"}),
             json.dumps({"title": "Quake", "text": ""}), ""]
    table = build_table(lines, min_df=1)
    assert table["documents"] == 2
    assert table["df"] == {"quake": 2, "rescue": 1, "teams": 1}
