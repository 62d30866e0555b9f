"""The feed registry: the feed list file edited by `newsflow feeds`, and feed health.

The file stays the source of truth (a running poller re-reads it when it changes); health
comes from the feed states in the state directory.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.feeds import (
    FeedSpec,
    export_opml,
    load_feed_list,
    merge_specs,
    parse_opml,
    save_feed_list,
)
from ingest.schedule import enable
from ingest.state import StateStore
from newsflow.errors import ConfigError

__all__ = [
    "FeedHealth",
    "add_feed",
    "enable_feed",
    "export_feeds",
    "feed_health",
    "import_opml",
    "list_feeds",
    "remove_feed",
]


def _load_or_empty(path: Path) -> list[FeedSpec]:
    return load_feed_list(path) if path.exists() else []


def list_feeds(path: Path) -> list[FeedSpec]:
    return load_feed_list(path)


def add_feed(path: Path, spec: FeedSpec) -> bool:
    """Add a feed (False when its URL is already listed). Creates the file if needed."""
    specs, added = merge_specs(_load_or_empty(path), [spec])
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_feed_list(path, specs)
    return bool(added)


def remove_feed(path: Path, url: str) -> bool:
    specs = load_feed_list(path)
    kept = [s for s in specs if s.url != url]
    if len(kept) == len(specs):
        return False
    save_feed_list(path, kept)
    return True


def import_opml(path: Path, opml_file: Path) -> tuple[int, int]:
    """Add the OPML file's feeds to the list; returns (added, already listed)."""
    try:
        new = parse_opml(opml_file.read_bytes(), str(opml_file))
    except FileNotFoundError as exc:
        raise ConfigError(f"OPML file not found: {opml_file}") from exc
    specs, added = merge_specs(_load_or_empty(path), new)
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_feed_list(path, specs)
    return added, len(new) - added


def export_feeds(path: Path) -> str:
    return export_opml(load_feed_list(path))


def enable_feed(path: Path, state_dir: Path, url: str) -> bool:
    """Clear an automatic disable; False when the feed is not listed."""
    spec = next((s for s in load_feed_list(path) if s.url == url), None)
    if spec is None:
        return False
    store = StateStore(state_dir)
    store.save(spec.id, enable(store.load(spec.id, spec.url), time.time()))
    return True


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(
        timespec="seconds").replace("+00:00", "Z")


@dataclass
class FeedHealth:
    url: str
    status: str  # ok | failing | disabled | new | off (enabled: false in the list)
    last_success: str | None
    last_error: str | None  # when
    reason: str | None  # the last error, or why the feed is disabled
    consecutive_failures: int
    items_seen: int
    new_24h: int
    next_poll: str | None
    interval_s: float | None
    last_status: int | None
    problem: str | None  # a recoverable parse problem of the last fetch
    permanent_redirect: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def feed_health(path: Path, state_dir: Path, now: float | None = None) -> list[FeedHealth]:
    now = time.time() if now is None else now
    store = StateStore(state_dir)
    out: list[FeedHealth] = []
    for spec in load_feed_list(path):
        state = store.load(spec.id, spec.url)
        status = state.status if spec.enabled else "off"
        out.append(FeedHealth(
            url=spec.url,
            status=status,
            last_success=_iso(state.last_success_at),
            last_error=_iso(state.last_error_at),
            reason=state.disabled_reason or state.last_error,
            consecutive_failures=state.consecutive_failures,
            items_seen=state.items_seen,
            new_24h=state.new_in_last(now),
            next_poll=None if status in ("disabled", "off") else _iso(
                state.next_poll_at or now),
            interval_s=state.interval_s,
            last_status=state.last_status,
            problem=state.last_problem,
            permanent_redirect=state.permanent_redirect,
        ))
    return out
