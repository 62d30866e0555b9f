"""newsflow.logs: the repeat filter (fake clock), the outage reporter, setup_logging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from newsflow.logs import Outage, OutageReport, RepeatFilter, flush_repeats, setup_logging


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


CONNECT = "Unable connect to node with id %s: %s"


def test_first_of_a_template_passes_then_one_per_interval_with_the_count() -> None:
    clock = Clock()
    flt = RepeatFilter(["aiokafka"], interval_s=30, clock=clock)
    first = record("aiokafka", CONNECT, 1, "Connect call failed")
    assert flt.filter(first) is True
    assert first.getMessage() == "Unable connect to node with id 1: Connect call failed"
    passed = []
    for n in range(115 * 61):  # a minute and a bit at aiokafka's ~115 lines/s
        clock.now += 1 / 115
        rec = record("aiokafka", CONNECT, n % 3, "Connect call failed")
        if flt.filter(rec):
            passed.append(rec.getMessage())
    assert len(passed) == 2
    assert passed[0].startswith("Unable connect to node with id ")
    assert passed[0].endswith("(repeated 3449 more times in the last 30s, not shown)")


def test_templates_levels_and_loggers_are_told_apart() -> None:
    clock = Clock()
    flt = RepeatFilter(["aiokafka", "kafka"], interval_s=30, clock=clock)
    assert flt.filter(record("aiokafka", CONNECT, 1, "x"))
    assert flt.filter(record("aiokafka", "Unable to update metadata from %s", [1]))
    assert flt.filter(record("aiokafka.consumer.fetcher", CONNECT, 1, "x"))
    assert flt.filter(record("aiokafka", CONNECT, 1, "x", level=logging.WARNING))
    assert flt.filter(record("kafka.conn", CONNECT, 1, "x"))
    assert not flt.filter(record("aiokafka", CONNECT, 2, "y"))
    assert not flt.filter(record("kafka.conn", CONNECT, 2, "y"))


def test_other_loggers_and_debug_records_are_never_held_back() -> None:
    flt = RepeatFilter(["kafka"], interval_s=30, clock=Clock())
    for _ in range(3):
        assert flt.filter(record("processors.streams.produce", "waiting for Kafka"))
        assert flt.filter(record("kafkaesque", CONNECT, 1, "x"))  # not a child of "kafka"
        assert flt.filter(record("kafka.conn", "sending %s", 1, level=logging.DEBUG))


def test_drain_returns_what_is_held_and_forgets_it() -> None:
    clock = Clock()
    flt = RepeatFilter(["aiokafka"], interval_s=30, clock=clock)
    for _ in range(5):
        flt.filter(record("aiokafka", CONNECT, 1, "x"))
    assert flt.drain() == [("aiokafka", logging.ERROR, CONNECT, 4)]
    assert flt.drain() == []
    clock.now += 31  # the next one passes, with nothing to report
    rec = record("aiokafka", CONNECT, 1, "x")
    assert flt.filter(rec) and rec.getMessage() == "Unable connect to node with id 1: x"


def test_the_template_table_stays_bounded() -> None:
    clock = Clock()
    flt = RepeatFilter(["faust"], interval_s=30, clock=clock)
    for n in range(5000):  # pre-formatted messages: each its own template
        clock.now += 0.1
        assert flt.filter(record("faust", f"_on_published error for message {n}"))
    assert len(flt._seen) <= RepeatFilter._MAX_TEMPLATES


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_setup_logging_collapses_kafka_client_floods(root_logging: None) -> None:
    setup_logging()
    stream = io.StringIO()
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    client = logging.getLogger("aiokafka")
    for n in range(200):
        client.error(CONNECT, n, "Connect call failed")
    logging.getLogger("processors.service.kafka_watch").warning("waiting for Kafka")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "Unable connect to node with id 0" in lines[0] and "waiting for Kafka" in lines[1]
    assert flush_repeats() == 199
    lines = stream.getvalue().splitlines()
    assert lines[2].endswith(f"aiokafka ERROR repeated 199 more times, not shown: {CONNECT}")
    assert flush_repeats() == 0


def test_outage_reports_at_start_every_interval_and_when_back() -> None:
    outage = Outage(every_s=15)
    checks = [(0, True), (2, False), (4, False), (16, False), (17, False), (18, False),
              (33, False), (35, True), (37, True), (39, False)]
    reports = [(t, outage.check(ok, float(t))) for t, ok in checks]
    assert [(t, r) for t, r in reports if r is not None] == [
        (2, OutageReport(down=True, seconds=0.0)),
        (17, OutageReport(down=True, seconds=15.0)),
        (33, OutageReport(down=True, seconds=31.0)),
        (35, OutageReport(down=False, seconds=33.0)),
        (39, OutageReport(down=True, seconds=0.0)),
    ]
    assert outage.down
