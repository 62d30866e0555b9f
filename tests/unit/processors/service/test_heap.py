from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.article import Article
from processors.service.enriching import EnrichStep
from processors.service.heap import (
    YOUNG_THRESHOLD,
    collect_less_often,
    freeze_loaded,
    refreeze,
    report_collections,
)
from processors.service.metrics import ProcessorMetrics


class Node:
    """Instances take part in reference cycles and can be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def frozen_garbage_cycle() -> weakref.ref[Node]:
    """A two-node cycle frozen while alive, then dropped: garbage the collector cannot see
    until it is given back (gc.unfreeze)."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.freeze()
    watched = weakref.ref(a)
    del a, b
    gc.collect()
    assert watched() is not None, "frozen: a collection must not reclaim it"
    return watched


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Each test changes the process's collector: put it back for the tests after it."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_restored")
def test_young_generation_collected_less_often_older_ratios_kept() -> None:
    gc.set_threshold(700, 7, 9)
    collect_less_often()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 7, 9)
    assert YOUNG_THRESHOLD > 700


@pytest.mark.usefixtures("collector_restored")
def test_freeze_moves_live_objects_out_and_garbage_is_collected_first() -> None:
    kept = Node()
    cycle_a, cycle_b = Node(), Node()
    cycle_a.other, cycle_b.other = cycle_b, cycle_a
    del cycle_a, cycle_b  # garbage only the collector can reclaim
    freeze_loaded("a test")
    assert gc.get_freeze_count() > 0
    assert [o for o in gc.get_objects() if type(o) is Node] == [], "frozen: out of its walks"
    gc.unfreeze()
    nodes = [o for o in gc.get_objects() if type(o) is Node]
    assert nodes == [kept], "the cycle was collected before the freeze, not frozen with it"


@pytest.mark.usefixtures("collector_restored")
def test_refreeze_reclaims_frozen_objects_a_reload_dropped() -> None:
    watched = frozen_garbage_cycle()
    refreeze("a test")
    assert watched() is None
    assert gc.get_freeze_count() > 0, "what is alive is frozen again"


@pytest.mark.usefixtures("collector_restored")
def test_refreeze_freezes_nothing_in_a_process_that_froze_nothing() -> None:
    refreeze("a test")
    assert gc.get_freeze_count() == 0


def test_each_collection_reported_with_its_generation_and_cpu_time_until_stopped() -> None:
    seen: list[tuple[int, float]] = []
    stop = report_collections(lambda generation, seconds: seen.append((generation, seconds)))
    try:
        gc.collect(1)
        gc.collect()  # walks the whole test process's heap: measurable time
    finally:
        stop()
    assert [g for g, _ in seen[-2:]] == [1, 2]
    assert seen[-1][1] > 0
    reported = len(seen)
    gc.collect()
    assert len(seen) == reported, "stopped: no more reports"


class ReloadingEnricher:
    taxonomy_version = "test-2"

    def __init__(self, changed: bool) -> None:
        self.changed = changed

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]:
        return list(articles)

    def reload_taxonomy_if_changed(self) -> bool:
        return self.changed


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.mark.usefixtures("collector_restored")
@pytest.mark.parametrize("changed", [True, False])
def test_a_taxonomy_reload_gives_the_old_frozen_rules_back(changed: bool) -> None:
    watched = frozen_garbage_cycle()  # stands for the old taxonomy's rules
    step = EnrichStep(run_cpu=direct, metrics=ProcessorMetrics(), taxonomy_check_interval_s=0)
    asyncio.run(step(ReloadingEnricher(changed), [], datetime(2026, 12, 6, tzinfo=UTC), []))
    assert (watched() is None) is changed
