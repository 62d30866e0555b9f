"""processors.streams.produce: which messages a retry sends again; TopicProducer.send_all over
fake Faust topics (no broker: each fake send returns a future the test settles).
TagStreamProducer, the same interface with kafka-python, is tested against the real Kafka in
tests/integration/test_tag_stream_producer.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from newsflow.errors import BrokerUnavailableError
from processors.streams.ports import OutMessage
from processors.streams.produce import TopicProducer, unacknowledged

MESSAGES = [OutMessage("tag-a", f"k{n}".encode(), f"v{n}".encode()) for n in range(4)]


def settled(loop: asyncio.AbstractEventLoop, outcome: str) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = loop.create_future()
    if outcome == "ok":
        fut.set_result("metadata")
    elif outcome == "error":
        fut.set_exception(RuntimeError("NotEnoughReplicasError"))
    elif outcome == "cancelled":
        fut.cancel()
    return fut  # "pending": left unresolved


@pytest.mark.parametrize(("outcomes", "remaining"), [
    (["ok", "ok", "ok", "ok"], []),
    (["ok", "error", "ok", "error"], [1, 3]),
    (["error", "error", "error", "error"], [0, 1, 2, 3]),
    (["ok", "ok"], [2, 3]),  # the last two were never handed to the producer
    ([], [0, 1, 2, 3]),
    (["ok", "cancelled", "pending", "ok"], [1, 2]),
])
def test_only_messages_without_a_successful_ack_remain(outcomes: list[str],
                                                         remaining: list[int]) -> None:
    loop = asyncio.new_event_loop()
    try:
        acks = [settled(loop, o) for o in outcomes]
        left, error = unacknowledged(MESSAGES, acks)
    finally:
        loop.close()
    assert left == [MESSAGES[i] for i in remaining]
    assert (error is not None) == ("error" in outcomes)


class FakeTopic:
    def __init__(self, name: str, producer: FakeFaustProducer) -> None:
        self.name = name
        self.producer = producer
        self.declared = 0

    def get_topic_name(self) -> str:
        return self.name

    async def maybe_declare(self) -> None:
        self.declared += 1
        self.producer.events.append(f"declare {self.name}")
        await asyncio.sleep(0)  # a round trip: the others start meanwhile
        if self.name in self.producer.undeclarable:
            raise RuntimeError("KafkaConnectionError: cannot create topic")
        self.producer.events.append(f"declared {self.name}")


class FakeFaustProducer:
    """The Topics the producer sees, and the app's producer it sends with; ``sends`` keeps
    each send's future for the test."""

    def __init__(self, undeclarable: set[str] | None = None) -> None:
        self.undeclarable = undeclarable or set()
        self.start_error: Exception | None = None
        self.sends: list[tuple[str, bytes | None, asyncio.Future[Any]]] = []
        self.topics: dict[str, FakeTopic] = {}
        self.deadletter = FakeTopic("dead", self)
        self.events: list[str] = []  # declarations, metadata fetches and sends, in order

    def tag_topic(self, tag: str) -> FakeTopic:
        return self.topics.setdefault(tag, FakeTopic(f"tag.{tag}", self))

    def named(self, name: str) -> FakeTopic:
        return self.topics.setdefault(name, FakeTopic(name, self))

    async def producer(self) -> FakeFaustProducer:
        if self.start_error is not None:
            raise self.start_error
        return self

    async def fetch_metadata(self, names: list[str]) -> None:
        self.events.append(f"metadata {' '.join(names)}")

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None,
                   timestamp: float | None, headers: object) -> asyncio.Future[Any]:
        # Faust's Producer.send: the partition left to the client's keyed partitioner.
        assert partition is None and timestamp is None and headers is None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sends.append((topic, key, fut))
        self.events.append(f"send {topic}")
        return fut


def run_send_all(fake: FakeFaustProducer, messages: list[OutMessage],
                 settle: Callable[[list[asyncio.Future[Any]]], None]) -> Any:
    """send_all, with ``settle`` called on the futures once they are all handed out."""

    async def main() -> Any:
        producer = TopicProducer(fake, ack_report_every_s=0.01)  # type: ignore[arg-type]
        task = asyncio.ensure_future(producer.send_all(messages))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not task.done() or not fake.sends, "returned before the acks settled"
        settle([fut for _name, _key, fut in fake.sends])
        return await task

    return asyncio.run(main())


def ok_except(*failed: int) -> Callable[[list[asyncio.Future[Any]]], None]:
    def settle(futures: list[asyncio.Future[Any]]) -> None:
        for i, fut in enumerate(futures):
            if i in failed:
                fut.set_exception(RuntimeError("RequestTimedOutError"))
            else:
                fut.set_result("metadata")
    return settle


def test_all_acknowledged_leaves_nothing() -> None:
    fake = FakeFaustProducer()
    outcome = run_send_all(fake, MESSAGES, ok_except())
    assert outcome.unacknowledged == () and outcome.error is None
    assert [key for _name, key, _fut in fake.sends] == [m.key for m in MESSAGES]


def test_failed_sends_come_back_with_the_error() -> None:
    fake = FakeFaustProducer()
    outcome = run_send_all(fake, MESSAGES, ok_except(0, 2))
    assert outcome.unacknowledged == (MESSAGES[0], MESSAGES[2])
    assert isinstance(outcome.error, BrokerUnavailableError)
    assert "RequestTimedOutError" in str(outcome.error)


def test_a_topic_that_cannot_be_declared_leaves_the_batch_to_send_again() -> None:
    fake = FakeFaustProducer(undeclarable={"tag.new"})
    messages = [*MESSAGES[:2], OutMessage("new", b"k9", b"v9"), MESSAGES[2], OutMessage(
        None, b"d", b"dead letter")]
    outcome = run_send_all(fake, messages, ok_except())
    # The batch's topics are declared before its first send: nothing went out.
    assert fake.sends == []
    assert outcome.unacknowledged == tuple(messages)
    assert "cannot create topic" in str(outcome.error)
    # The next try declares the topics that were not (a retry after Kafka came back).
    fake.undeclarable.clear()
    again = run_send_all(fake, messages, ok_except())
    assert again.unacknowledged == () and len(fake.sends) == len(messages)


def test_new_topics_are_declared_together_and_their_metadata_fetched_once() -> None:
    fake = FakeFaustProducer()
    messages = [OutMessage(None, b"k", b"v", topic=f"watch.{n}") for n in range(3)]
    messages += [MESSAGES[0], messages[0]]
    outcome = run_send_all(fake, messages, ok_except())
    assert outcome.unacknowledged == ()
    names = ["watch.0", "watch.1", "watch.2", "tag.tag-a"]
    # Every declaration starts before any ends (one round trip, not one per topic); one
    # metadata fetch for all of them; then the sends, in the batch's order.
    assert fake.events == [*(f"declare {n}" for n in names), *(f"declared {n}" for n in names),
                           f"metadata {' '.join(names)}",
                           *(f"send {n}" for n in [*names, "watch.0"])]


def test_send_all_waits_for_slow_acks_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeFaustProducer()

    async def main() -> Any:
        producer = TopicProducer(fake, ack_report_every_s=0.01)  # type: ignore[arg-type]
        task = asyncio.ensure_future(producer.send_all(MESSAGES[:2]))
        await asyncio.sleep(0.05)
        assert not task.done(), "must not return while a send is in flight"
        for _name, _key, fut in fake.sends:
            fut.set_result("metadata")
        return await task

    with caplog.at_level("WARNING", logger="processors.streams.produce"):
        outcome = asyncio.run(main())
    assert outcome.unacknowledged == ()
    assert "waiting for Kafka to acknowledge messages=2 of 2" in caplog.text


def test_each_topic_is_declared_once_per_producer() -> None:
    fake = FakeFaustProducer()

    async def twice() -> None:
        producer = TopicProducer(fake, ack_report_every_s=0.01)  # type: ignore[arg-type]
        for round_ in (1, 2):
            task = asyncio.ensure_future(producer.send_all(MESSAGES))
            while len(fake.sends) < round_ * len(MESSAGES):
                await asyncio.sleep(0)
            for _name, _key, fut in fake.sends[-len(MESSAGES):]:
                fut.set_result("metadata")
            assert (await task).unacknowledged == ()

    asyncio.run(twice())
    assert len(fake.sends) == 2 * len(MESSAGES)
    assert fake.topics["tag-a"].declared == 1
    assert [e for e in fake.events if e.startswith("metadata")] == ["metadata tag.tag-a"]


def test_a_producer_that_cannot_start_leaves_every_message_to_send_again() -> None:
    fake = FakeFaustProducer()
    fake.start_error = RuntimeError("KafkaConnectionError: no broker")
    outcome = run_send_all(fake, MESSAGES, ok_except())
    assert fake.sends == [] and outcome.unacknowledged == tuple(MESSAGES)
    assert "no broker" in str(outcome.error)
