"""processors.service.worker.KafkaWatch: the worker's own "waiting for Kafka" and "Kafka is back"
lines, driven by a scripted probe and a fake clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from processors.service.kafka_watch import KafkaWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_checks(watch: KafkaWatch, clock: Clock, answers: list[bool | str | None],
               every_s: float = 2.0) -> None:
    async def main() -> None:
        for _ in answers:
            clock.now += every_s
            await watch.check()

    asyncio.run(main())


def scripted(answers: list[bool | str | None]) -> Callable[[], Awaitable[bool | None]]:
    """A probe giving these answers in turn; "hang" never answers."""
    it = iter(answers)

    async def probe() -> bool | None:
        answer = next(it)
        if isinstance(answer, str):
            await asyncio.sleep(3600)
            raise AssertionError("a hanging probe must be timed out")
        return answer

    return probe


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "processors.service.kafka_watch"]


def test_says_it_waits_every_15_s_and_when_kafka_is_back(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    answers: list[bool | str | None] = [True, *[False] * 9, True, True]  # down 18 s
    watch = KafkaWatch(scripted(answers), "broker-1:9092, broker-2:9092",
                       every_s=15, clock=clock)
    with caplog.at_level(logging.INFO):
        run_checks(watch, clock, answers)
    said = lines(caplog)
    assert len(said) == 3, said
    assert said[0].startswith("waiting for Kafka bootstrap_servers=broker-1:9092,broker-2:9092"
                              " down_s=0: no broker reachable;")
    assert "down_s=16: no broker reachable" in said[1]
    assert said[2] == ("Kafka is back bootstrap_servers=broker-1:9092,broker-2:9092 "
                       "down_s=18.0 client_log_lines_not_shown=0")
    assert [r.levelname for r in caplog.records if r.name == "processors.service.kafka_watch"] == [
        "WARNING", "WARNING", "INFO"]


def test_a_probe_that_hangs_counts_as_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    answers: list[bool | str | None] = ["hang", True]
    watch = KafkaWatch(scripted(answers), "k:9092", timeout_s=0.01,
                       clock=clock)
    with caplog.at_level(logging.INFO):
        run_checks(watch, clock, answers)
    said = lines(caplog)
    assert len(said) == 2
    assert said[0].startswith("waiting for Kafka") and said[1].startswith("Kafka is back")


def test_unknown_state_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    answers: list[bool | str | None] = [None, None, True]
    watch = KafkaWatch(scripted(answers), "k:9092", clock=clock)
    with caplog.at_level(logging.INFO):
        run_checks(watch, clock, answers)
    assert lines(caplog) == []


def test_credentials_in_bootstrap_servers_are_never_logged() -> None:
    watch = KafkaWatch(scripted([]), "user:s3cret@k1:9092,k2:9093")
    assert watch.servers == "k1:9092,k2:9093"


def test_every_definite_answer_reaches_on_check() -> None:
    """The worker's kafka_reachable gauge follows each check; unknown answers leave it."""
    clock = Clock()
    answers: list[bool | str | None] = [True, None, False, "hang", True]
    seen: list[bool] = []
    watch = KafkaWatch(scripted(answers), "k:9092", timeout_s=0.01, clock=clock,
                       on_check=seen.append)
    run_checks(watch, clock, answers)
    assert seen == [True, False, False, True]
