"""Logging set-up for the CLI, and two helpers against log floods during outages.

Library modules only call logging.getLogger(__name__). ``setup_logging`` puts one stderr
handler on the root logger with a RepeatFilter for the Kafka clients: while a broker is down
aiokafka logs the same few errors about a hundred times a second ("Unable connect to node",
"Failed fetch messages", ...); the filter lets the first of each through, then one per
interval that says how many were held back. ``Outage`` decides when a component says, in its
own words, that it is waiting for a server and when it is back.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Outage", "OutageReport", "RepeatFilter", "flush_repeats", "setup_logging"]

logger = logging.getLogger(__name__)

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Client libraries whose repeated warnings are collapsed (see RepeatFilter).
_COLLAPSED = ("aiokafka", "kafka")
_REPEAT_INTERVAL_S = 30.0


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """INFO by default, DEBUG with -v, only warnings with --quiet. Logs go to stderr so
    that --json output on stdout stays machine-readable."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RepeatFilter(_COLLAPSED, interval_s=_REPEAT_INTERVAL_S))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Client libraries are chatty at INFO; keep their warnings.
    for noisy in ("kafka", "aiokafka", "elastic_transport", "elasticsearch", "httpx", "faust",
                  "mode"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


@dataclass
class _Seen:
    passed_at: float  # when this template last went through
    held: int = 0  # repeats held back since then


class RepeatFilter(logging.Filter):
    """Collapses repeats of a log message template from the given loggers (and below).

    The first record of a (logger, level, template) goes through; later ones only once per
    ``interval_s``, with "(repeated N more times in the last Ns, not shown)" appended. The
    template is the unformatted message (``record.msg``), so "Unable connect to node with
    id %s: %s" is one template whatever the node and error. Records below ``min_level`` are
    never held back: whoever turns on a client's debug logging wants all of it.

    A handler filter, not a logger filter: a logger's filters do not see records that
    propagate from its children. Thread-safe (Faust's consumer runs in its own thread)."""

    _MAX_TEMPLATES = 1000  # messages pre-formatted with f-strings are each their own

    def __init__(
        self,
        loggers: Sequence[str],
        *,
        interval_s: float = _REPEAT_INTERVAL_S,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = tuple(loggers)
        self._interval_s = interval_s
        self._min_level = min_level
        self._clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        self._lock = threading.Lock()

    def _applies(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._min_level:
            return False
        name = record.name
        return any(name == p or name.startswith(p + ".") for p in self._prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._applies(record):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                self._forget_quiet(now)
                self._seen[key] = _Seen(now)
                return True
            since = now - seen.passed_at
            if since < self._interval_s:
                seen.held += 1
                return False
            held, seen.passed_at, seen.held = seen.held, now, 0
        if held:
            try:  # formatted here, so the note cannot clash with the template's %-fields
                message = record.getMessage()
            except Exception:  # a broken record: the handler reports it as it would anyway
                return True
            record.msg = (f"{message} (repeated {held} more times in the last {since:.0f}s, "
                          "not shown)")
            record.args = None
        return True

    def _forget_quiet(self, now: float) -> None:
        """Keeps the table bounded: drops templates quiet for an interval, nothing held."""
        if len(self._seen) < self._MAX_TEMPLATES:
            return
        for key, seen in list(self._seen.items()):
            if not seen.held and now - seen.passed_at >= self._interval_s:
                del self._seen[key]

    def drain(self) -> list[tuple[str, int, str, int]]:
        """(logger, level, template, repeats) still held back, and forget them."""
        out: list[tuple[str, int, str, int]] = []
        with self._lock:
            for (name, level, template), seen in self._seen.items():
                if seen.held:
                    out.append((name, level, template, seen.held))
                    seen.held = 0
        return out


def flush_repeats() -> int:
    """Say how many repeats the root handlers' RepeatFilters still hold back (one line per
    template; call it when the outage that caused them is over). Returns their number."""
    total = 0
    for handler in logging.getLogger().handlers:
        for flt in handler.filters:
            if not isinstance(flt, RepeatFilter):
                continue
            for name, level, template, held in flt.drain():
                total += held
                logger.warning("%s %s repeated %d more times, not shown: %s",
                               name, logging.getLevelName(level), held, template)
    return total


@dataclass(frozen=True)
class OutageReport:
    """What to say about a server: still ``down`` (for ``seconds``), or back after them."""

    down: bool
    seconds: float


class Outage:
    """When to report on a server checked now and then: at the first failed check, then at
    most once per ``every_s`` while it lasts, and at the first good check after it. Pure:
    the caller passes each check's result and a monotonic ``now``, and logs the report."""

    def __init__(self, every_s: float = 15.0) -> None:
        self.every_s = every_s
        self.since: float | None = None  # when the outage began (first failed check)
        self._reported_at = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def check(self, ok: bool, now: float) -> OutageReport | None:
        if ok:
            if self.since is None:
                return None
            began, self.since = self.since, None
            return OutageReport(down=False, seconds=now - began)
        if self.since is None:
            self.since = self._reported_at = now
            return OutageReport(down=True, seconds=0.0)
        if now - self._reported_at >= self.every_s:
            self._reported_at = now
            return OutageReport(down=True, seconds=now - self.since)
        return None
