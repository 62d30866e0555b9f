"""The cyclic garbage collector's settings for a worker process (processors/README.md).

A worker keeps a large heap for as long as it runs (spaCy's model and vocabulary, the
gazetteer's tables, the tagger's vocabularies, every imported module) and makes many small
short-lived objects per article (tokens, spans, pydantic records). With CPython's defaults a
young collection runs every 700 net allocations and each full collection walks the whole
long-lived heap: in an enrich worker that was 0.33 ms of the enrichment's 2.5 ms per article,
and fewer collections left the rest of the work faster too (bench/RESULTS.md, session 23).

- ``collect_less_often`` at process start: the youngest generation is collected every
  ``YOUNG_THRESHOLD`` net allocations instead of 700. Reference counting still frees every
  object that is not part of a cycle at once; only cyclic garbage waits a little longer.
- ``freeze_loaded`` once what lives as long as the process is loaded: those objects move to
  the permanent generation, which collections no longer walk. The collector never reclaims
  a frozen object caught in a reference cycle, so it is called after the one-off loads,
  never per batch;
- ``refreeze`` after a reload replaced some of them (a taxonomy edit): everything frozen is
  given back to the collector, collected once, and what is alive frozen again;
- ``report_collections``: each collection's CPU time, for the worker's metrics
  (``newsflow_processors_collector_seconds_total``), so that a change that makes the
  collector work again shows in bench/e2e's report.

The poller keeps CPython's settings: its heap is small, and these changed nothing measurable
there.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

__all__ = [
    "YOUNG_THRESHOLD", "collect_less_often", "freeze_loaded", "refreeze", "report_collections",
]

log = logging.getLogger(__name__)

# Net allocations between young collections. With the freeze, the collector's share of the
# enrichment was 0.06 ms per article at CPython's 700 and 0.04 at 10,000 (0.33 with neither);
# 50,000 saved little more and holds cyclic garbage five times longer (bench/RESULTS.md,
# session 23). The older generations keep CPython's ratios (10 and 10).
YOUNG_THRESHOLD = 10_000


def collect_less_often() -> None:
    """Collect the youngest generation every ``YOUNG_THRESHOLD`` net allocations."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_loaded(what: str) -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``), after a
    full collection so that no garbage is frozen with them. ``what``: for the log line."""
    gc.collect()
    gc.freeze()
    log.info("heap frozen after loading %s objects=%d", what, gc.get_freeze_count())


def refreeze(what: str) -> None:
    """After a reload replaced part of what ``freeze_loaded`` froze: the replaced objects are
    reclaimed even in cycles (one full collection), and what is alive is frozen again.
    Nothing happens in a process that froze nothing."""
    if not gc.get_freeze_count():
        return
    gc.unfreeze()
    freeze_loaded(what)


def report_collections(observe: Callable[[int, float], None]) -> Callable[[], None]:
    """Call ``observe(generation, cpu_seconds)`` after every collection; returns what stops
    it. The CPU time is the collecting thread's own (a collection runs in the thread whose
    allocation set it off, holding the GIL), not the other threads' meanwhile."""
    started = [0.0]

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            observe(info["generation"], time.thread_time() - started[0])

    gc.callbacks.append(on_collection)
    return lambda: gc.callbacks.remove(on_collection)
