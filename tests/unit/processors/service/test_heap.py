from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from processors.service.heap import YOUNG_THRESHOLD, collect_less_often, freeze_loaded


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Each test changes the process's collector: put it back for the tests after it."""
    threshold = gc.get_threshold()
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
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    kept = Node()
    cycle_a, cycle_b = Node(), Node()
    cycle_a.other, cycle_b.other = cycle_b, cycle_a
    del cycle_a, cycle_b  # garbage only the collector can reclaim
    gc.unfreeze()
    before = gc.get_freeze_count()
    freeze_loaded("a test")
    assert gc.get_freeze_count() > before
    frozen_nodes = [o for o in gc.get_objects(generation=None) if type(o) is Node]
    assert frozen_nodes == [], "frozen objects are out of gc.get_objects' generations"
    gc.unfreeze()
    nodes = [o for o in gc.get_objects() if type(o) is Node]
    assert nodes == [kept], "the cycle was collected before the freeze, not frozen with it"
