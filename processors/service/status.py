"""What a worker says about itself to machines: ready or not (and what it still waits for),
which partitions it owns, and how far its batches got.

Served as JSON on the worker's metrics port (``/status``, ``/readyz``; see
processors.service.metrics) so that probes, the benchmarks and the tests read a value
instead of matching log lines. The event loop writes, the HTTP thread reads: one lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from processors.service.ports import BatchReport

__all__ = ["STAGES", "WorkerStatus"]

logger = logging.getLogger(__name__)

_BATCH_FIELDS = ("received", "enriched", "indexed", "stories", "alerts", "duplicates",
                 "dead_letters", "tag_messages", "watch_messages", "retries")
# The enrich stage (news.articles, every worker) and the ordered stage (news.enriched, the
# worker that owns its one partition).
STAGES = ("enrich", "index")


class WorkerStatus:
    """Readiness by part plus cumulative batch counts; ``as_dict`` is the /status body."""

    # Ready once the group gave partitions, the NLP model loaded and the index is prepared.
    PARTS = ("partitions", "enricher", "index")
    # A worker running one stage only waits for what that stage needs (settings: role).
    PARTS_BY_ROLE: dict[str, tuple[str, ...]] = {
        "all": PARTS,
        "enrich": ("partitions", "enricher"),
        "ordered": ("partitions", "index"),
    }

    def __init__(self, on_ready: Callable[[], None] | None = None, *,
                 role: str = "all") -> None:
        self.parts = self.PARTS_BY_ROLE[role]
        self.role = role
        self._lock = threading.Lock()
        self._done: set[str] = set()
        self._on_ready = on_ready
        self._details: dict[str, str] = {}
        self._partitions: list[str] = []
        self._totals = {stage: dict.fromkeys(_BATCH_FIELDS, 0) for stage in STAGES}
        self._batches = dict.fromkeys(STAGES, 0)
        self._last_batch_at: dict[str, datetime | None] = dict.fromkeys(STAGES)
        self.ready = False

    def mark(self, part: str, detail: str = "") -> None:
        """One part reported in; the last one makes the worker ready (logged once)."""
        with self._lock:
            self._done.add(part)
            if detail:
                self._details[part] = detail
            became_ready = not self.ready and self._done >= set(self.parts)
            if became_ready:
                self.ready = True
        if became_ready:
            # Still logged for people reading the log; machines read /readyz.
            logger.info("worker ready %s",
                        " ".join(f"{k}={v}" for k, v in sorted(self._details.items())))
            if self._on_ready is not None:
                self._on_ready()

    def assigned(self, partitions: Iterable[str]) -> None:
        with self._lock:
            self._partitions = sorted(partitions)

    def record(self, stage: str, report: BatchReport, at: datetime) -> None:
        with self._lock:
            self._batches[stage] += 1
            for name in _BATCH_FIELDS:
                self._totals[stage][name] += getattr(report, name)
            self._last_batch_at[stage] = at

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "ready": self.ready,
                "role": self.role,
                "waiting_for": [p for p in self.parts if p not in self._done],
                "details": dict(self._details),
                "partitions": list(self._partitions),
                "batches": {
                    stage: {"count": self._batches[stage], **self._totals[stage],
                            "last_at": _iso(self._last_batch_at[stage])}
                    for stage in STAGES
                },
            }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
