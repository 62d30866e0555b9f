"""The trailing window of one key: the stories (or count buckets) under test. Pure.

Stories are kept oldest first; the live stream is only roughly ordered, so a story a little
older than the newest is slotted into its place (scanning from the newest end, where it
almost always belongs). The window also counts stories per source, for the source rule: at
least `min_sources` distinct sources, and the most prolific source counted no more than
the second most prolific one, so one outlet's live blog cannot carry a spike alone.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from processors.alerts.state import as_float, as_int, as_str, snapshot_error

__all__ = ["CountWindow", "StoryWindow", "corroborated"]


def corroborated(per_source: dict[str, int], cap_top: bool = True) -> int:
    """Stories counted so that no single source carries them: the top source counts no more
    than the second, and not at all when it has more stories than all the others together
    (a live blog beside a few ordinary stories is the others' count). Without `cap_top`: all
    of them."""
    total = sum(per_source.values())
    if not cap_top or not per_source:
        return total
    if len(per_source) == 1:
        return 1
    first = second = 0
    for n in per_source.values():
        if n > first:
            first, second = n, first
        elif n > second:
            second = n
    others = total - first
    if first > others:
        return others
    return others + second


class StoryWindow:
    """Counted stories (originals, never copies) of one key: (time, article id, source)."""

    __slots__ = ("items", "per_source")

    def __init__(self) -> None:
        self.items: deque[tuple[float, str, str]] = deque()
        self.per_source: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, ts: float, article_id: str, source: str) -> None:
        items = self.items
        if not items or items[-1][0] <= ts:
            items.append((ts, article_id, source))
        else:  # a late story: after the last one not newer than it
            i = len(items) - 1
            while i > 0 and items[i - 1][0] > ts:
                i -= 1
            items.insert(i, (ts, article_id, source))
        self.per_source[source] = self.per_source.get(source, 0) + 1

    def pop_until(self, cutoff: float) -> list[float]:
        """Remove the stories at or before `cutoff`; returns their times."""
        items = self.items
        out: list[float] = []
        while items and items[0][0] <= cutoff:
            ts, _, source = items.popleft()
            out.append(ts)
            left = self.per_source[source] - 1
            if left:
                self.per_source[source] = left
            else:
                del self.per_source[source]
        return out

    def ids(self, limit: int) -> tuple[str, ...]:
        """The article ids, oldest first; the most recent `limit` when there are more."""
        items = list(self.items)[-limit:]
        return tuple(article_id for _, article_id, _ in items)

    def to_list(self) -> list[list[Any]]:
        return [[ts, article_id, source] for ts, article_id, source in self.items]

    @classmethod
    def from_list(cls, data: Any) -> StoryWindow:
        window = cls()
        if not isinstance(data, list):
            raise snapshot_error("a story window must be a list")
        for item in data:
            if not isinstance(item, list) or len(item) != 3:
                raise snapshot_error("a window story is [time, id, source]")
            window.add(as_float(item[0], "story time"), as_str(item[1], "story id"),
                       as_str(item[2], "story source"))
        return window


class CountWindow:
    """Count buckets of one key (count series): (bucket start, count), oldest first."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: deque[tuple[float, int]] = deque()
        self.total = 0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, ts: float, count: int) -> None:
        items = self.items
        if not items or items[-1][0] <= ts:
            items.append((ts, count))
        else:
            i = len(items) - 1
            while i > 0 and items[i - 1][0] > ts:
                i -= 1
            items.insert(i, (ts, count))
        self.total += count

    def pop_until(self, cutoff: float) -> list[tuple[float, int]]:
        items = self.items
        out: list[tuple[float, int]] = []
        while items and items[0][0] <= cutoff:
            ts, count = items.popleft()
            self.total -= count
            out.append((ts, count))
        return out

    def to_list(self) -> list[list[Any]]:
        return [[ts, count] for ts, count in self.items]

    @classmethod
    def from_list(cls, data: Any) -> CountWindow:
        window = cls()
        if not isinstance(data, list):
            raise snapshot_error("a count window must be a list")
        for item in data:
            if not isinstance(item, list) or len(item) != 2:
                raise snapshot_error("a window bucket is [time, count]")
            window.add(as_float(item[0], "bucket time"), as_int(item[1], "bucket count"))
        return window
