"""The producer's partitioner: the client's default rule, with no hash for one partition."""

from __future__ import annotations

import random

import aiokafka.partitioner
import pytest
from aiokafka.partitioner import DefaultPartitioner

from newsflow.settings import Settings
from processors.streams.partitioner import partition_for


@pytest.mark.parametrize("partitions", [2, 3, 4, 12, 64])
def test_keys_go_where_the_default_partitioner_sends_them(partitions: int) -> None:
    rng = random.Random(partitions)
    default = DefaultPartitioner()
    all_partitions = list(range(partitions))
    for _ in range(500):
        key = rng.randbytes(rng.randrange(1, 64))
        assert partition_for(key, all_partitions, all_partitions) == default(
            key, all_partitions, all_partitions)


def test_one_partition_is_chosen_without_hashing_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_hash(data: bytes) -> int:
        raise AssertionError("hashed a key for a one-partition topic")

    monkeypatch.setattr(aiokafka.partitioner, "murmur2", no_hash)
    assert partition_for(b"article-id", [0], [0]) == 0
    assert partition_for(b"article-id", [3], []) == 3
    assert partition_for(None, [0], []) == 0
    with pytest.raises(AssertionError):  # several partitions still hash
        partition_for(b"article-id", [0, 1], [0, 1])


def test_unkeyed_messages_spread_over_the_available_partitions() -> None:
    chosen = {partition_for(None, [0, 1, 2, 3], [1, 2]) for _ in range(200)}
    assert chosen == {1, 2}


def test_the_worker_app_produces_with_it() -> None:
    from processors.service.app import build_app

    app = build_app(Settings())
    assert app.conf.producer_partitioner is partition_for
