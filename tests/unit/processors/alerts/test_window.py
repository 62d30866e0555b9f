"""processors.alerts.window: the no-single-source count and the ordered window."""

from __future__ import annotations

from processors.alerts.window import CountWindow, StoryWindow, corroborated


def test_no_single_source_carries_the_count() -> None:
    assert corroborated({}) == 0
    assert corroborated({"a": 9}) == 1  # a lone source counts once
    assert corroborated({"a": 3, "b": 2, "c": 1}) == 5  # 'a' counted as 'b'
    assert corroborated({"a": 4, "b": 2, "c": 1}) == 3  # 'a' outnumbers the others: theirs
    assert corroborated({"a": 2, "b": 2, "c": 1}) == 5
    assert corroborated({"a": 6, "b": 1, "c": 1, "d": 1, "e": 1}) == 4  # a flood: others only
    assert corroborated({"a": 6, "b": 1}, cap_top=False) == 7


def test_story_window_keeps_time_order_counts_sources_and_pops() -> None:
    w = StoryWindow()
    for ts, i, s in [(10.0, "a", "x"), (30.0, "c", "y"), (20.0, "b", "x"), (5.0, "z", "y")]:
        w.add(ts, i, s)
    assert [i for _, i, _ in w.items] == ["z", "a", "b", "c"]
    assert w.per_source == {"x": 2, "y": 2}
    assert w.pop_until(10.0) == [5.0, 10.0]
    assert w.per_source == {"x": 1, "y": 1}
    assert w.ids(1) == ("c",) and w.ids(10) == ("b", "c")
    again = StoryWindow.from_list(w.to_list())
    assert list(again.items) == list(w.items) and again.per_source == w.per_source


def test_count_window_total() -> None:
    w = CountWindow()
    for ts, n in [(0.0, 3), (600.0, 4), (300.0, 5)]:
        w.add(ts, n)
    assert w.total == 12 and [t for t, _ in w.items] == [0.0, 300.0, 600.0]
    assert w.pop_until(300.0) == [(0.0, 3), (300.0, 5)] and w.total == 4
