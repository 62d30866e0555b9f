"""The cycle summary (ingest/summary.py): counts, the text report and the JSON form."""

from __future__ import annotations

import json

from ingest.summary import CycleSummary, FeedOutcome

START = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def test_outcomes_add_up_and_deferred_feeds_are_not_polled() -> None:
    summary = CycleSummary(started_at=START)
    for outcome in [
        FeedOutcome("https://a.example/1", "new", new=3, duplicates=1),
        FeedOutcome("https://a.example/2", "not_modified"),
        FeedOutcome("https://b.example/1", "unchanged", duplicates=2),
        FeedOutcome("https://c.example/1", "error", reason="HTTP 429, Retry-After 3600 s",
                    retry_after=3600.0),
        FeedOutcome("https://d.example/1", "error", reason="HTTP 500", disabled=True,
                    newly_disabled=True),
        FeedOutcome("https://c.example/2", "deferred", reason="the host asked to wait",
                    next_poll_at=START + 3600),
    ]:
        summary.add(outcome)
    summary.finished_at = START + 12.5
    assert (summary.feeds_polled, summary.new_articles, summary.duplicates, summary.not_modified,
            summary.unchanged, summary.errors, summary.disabled, summary.deferred) == \
        (5, 3, 3, 1, 1, 2, 1, 1)
    assert summary.line() == ("polled 5 feeds in 12.5 s: 3 new articles, 1 not modified (304), "
                              "1 unchanged, 2 errors, 1 disabled, 1 deferred")
    assert summary.detail_lines() == [
        "  error https://c.example/1: HTTP 429, Retry-After 3600 s",
        "  error https://d.example/1: HTTP 500",
        "  deferred https://c.example/2: next due 2026-05-28T21:26:40Z "
        "(the host asked to wait)",
    ]
    data = json.loads(json.dumps(summary.as_dict()))
    assert data["deferred"] == 1 and data["seconds"] == 12.5
    assert data["deferred_feeds"] == {"https://c.example/2": {
        "next_due": "2026-05-28T21:26:40Z", "reason": "the host asked to wait"}}
    assert data["error_feeds"]["https://c.example/1"].startswith("HTTP 429")


def test_a_cycle_without_deferred_feeds_reads_as_before() -> None:
    summary = CycleSummary(started_at=START, finished_at=START + 1.0)
    summary.add(FeedOutcome("https://a.example/1", "new", new=2))
    assert summary.line() == ("polled 1 feeds in 1.0 s: 2 new articles, 0 not modified (304), "
                              "0 unchanged, 0 errors")
    assert summary.detail_lines() == []
    assert summary.as_dict()["deferred_feeds"] == {}
