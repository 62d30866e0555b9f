"""The worker's executor runner: work off the event loop, its CPU counted by kind of work."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from processors.service.worker import _runner


def spin(seconds: float) -> str:
    """Busy for ``seconds`` of this thread's CPU; the thread's name."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass
    return threading.current_thread().name


def test_each_call_runs_on_the_pool_and_its_cpu_is_counted() -> None:
    counted: list[float] = []
    with ThreadPoolExecutor(1, thread_name_prefix="work") as pool:
        run = _runner(pool, counted.append)
        assert asyncio.run(run(spin, 0.05)).startswith("work")
        # CPU spent on the event loop's thread meanwhile is not the pool's.
        spin(0.05)
    assert len(counted) == 1 and 0.05 <= counted[0] < 0.09


def test_a_call_that_raises_is_counted_too() -> None:
    counted: list[float] = []

    def fail() -> None:
        spin(0.02)
        raise ValueError("boom")

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="boom"):
        asyncio.run(_runner(pool, counted.append)(fail))
    assert len(counted) == 1 and counted[0] >= 0.02


def test_without_a_counter_the_call_is_made_as_given() -> None:
    with ThreadPoolExecutor(1) as pool:
        assert asyncio.run(_runner(pool)(max, 3, 7)) == 7
