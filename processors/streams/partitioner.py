"""Which partition a keyed message goes to: the Kafka client's default rule, without hashing
the key for a topic of one partition.

aiokafka's ``DefaultPartitioner`` hashes every key with a pure-Python murmur2 (about 7.5 µs
for an article id) and then takes it modulo the partition count. The tag and watch streams
and the hand-over topic have one partition, so the hash cannot change the answer; the
ordered stage sends about three such messages per article (bench/RESULTS.md, session 14).
Topics of several partitions get exactly the default rule, so a key keeps its partition.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner

__all__ = ["partition_for"]

_DEFAULT = DefaultPartitioner()


def partition_for(key: bytes | None, all_partitions: Sequence[int],
                  available: Sequence[int]) -> int:
    """Faust's ``producer_partitioner``: (key, all partitions sorted, available ones)."""
    if len(all_partitions) == 1:
        return all_partitions[0]
    return int(_DEFAULT(key, all_partitions, available))
