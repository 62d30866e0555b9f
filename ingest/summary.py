"""What a poll and a cycle came to: the poller's report. Pure data, no I/O.

A ``FeedOutcome`` per feed the poller dealt with, a ``CycleSummary`` adding them up for
the ``--once`` report and the continuous poller's periodic line. A feed a one-shot poll
did not reach (its host asked to wait, or the cycle deadline came first) is *deferred*:
not polled, not an error, reported with when it is next due.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["CycleSummary", "DeferredFeed", "FeedOutcome", "iso_time"]


@dataclass
class FeedOutcome:
    url: str
    status: str  # new | unchanged | not_modified | error | deferred
    new: int = 0
    duplicates: int = 0
    reason: str | None = None
    retry_after: float | None = None
    next_poll_at: float | None = None  # for a deferred feed: when it is next due
    disabled: bool = False  # the feed is disabled now: do not schedule it again
    newly_disabled: bool = False  # this poll disabled it (too many failures in a row)


@dataclass
class DeferredFeed:
    next_due_at: float  # epoch seconds
    reason: str


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


@dataclass
class CycleSummary:
    feeds_polled: int = 0
    new_articles: int = 0
    not_modified: int = 0
    unchanged: int = 0
    errors: int = 0
    duplicates: int = 0
    disabled: int = 0
    deferred: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error_feeds: dict[str, str] = field(default_factory=dict)
    deferred_feeds: dict[str, DeferredFeed] = field(default_factory=dict)

    def add(self, outcome: FeedOutcome) -> None:
        if outcome.status == "deferred":
            self.deferred += 1
            self.deferred_feeds[outcome.url] = DeferredFeed(
                outcome.next_poll_at or self.started_at, outcome.reason or "deferred")
            return
        self.feeds_polled += 1
        self.new_articles += outcome.new
        self.duplicates += outcome.duplicates
        if outcome.newly_disabled:
            self.disabled += 1
        if outcome.status == "not_modified":
            self.not_modified += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        elif outcome.status == "error":
            self.errors += 1
            self.error_feeds[outcome.url] = outcome.reason or "error"

    def _seconds(self) -> float:
        return (self.finished_at or time.time()) - self.started_at

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            key: value for key, value in vars(self).items() if key != "deferred_feeds"}
        data["error_feeds"] = dict(self.error_feeds)
        data["deferred_feeds"] = {
            url: {"next_due": iso_time(d.next_due_at), "reason": d.reason}
            for url, d in self.deferred_feeds.items()
        }
        data["seconds"] = round(self._seconds(), 3)
        return data

    def line(self) -> str:
        return (f"polled {self.feeds_polled} feeds in {self._seconds():.1f} s: "
                f"{self.new_articles} new articles, {self.not_modified} not modified (304), "
                f"{self.unchanged} unchanged, {self.errors} errors"
                + (f", {self.disabled} disabled" if self.disabled else "")
                + (f", {self.deferred} deferred" if self.deferred else ""))

    def detail_lines(self) -> list[str]:
        """One line per failed and per deferred feed, for the text report."""
        lines = [f"  error {url}: {reason}" for url, reason in sorted(self.error_feeds.items())]
        lines += [f"  deferred {url}: next due {iso_time(d.next_due_at)} ({d.reason})"
                  for url, d in sorted(self.deferred_feeds.items())]
        return lines
