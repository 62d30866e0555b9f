"""newsflow_adapters.topics.ensure_topics against the real Kafka: the one place both the poller
(news.articles, its assignment topic with a short retention) and the worker (tag topics)
create topics."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from tests.integration.ingest_feedserver import BOOTSTRAP, delete_topics, unique_topic

pytestmark = pytest.mark.integration


def describe(topic: str) -> tuple[int, dict[str, str]]:
    """Partition count and the topic's own (non-default) configs."""
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        (meta,) = admin.describe_topics([topic])
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        own = described["topic"][topic]
        return len(meta["partitions"]), {name: entry["value"] for name, entry in own.items()}
    finally:
        admin.close()


def test_creates_missing_topics_with_partitions_and_configs_and_is_idempotent() -> None:
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    plain, retained = unique_topic(), unique_topic()
    try:
        ensure_topics(kafka, [plain], 3, client_id="newsflow-test-admin")
        ensure_topics(kafka, [retained], 2, configs={"retention.ms": "3600000"})
        # A second call finds both and changes nothing (not even the partition count).
        ensure_topics(kafka, [plain, retained], 5, configs={"retention.ms": "60000"})

        partitions, configs = describe(plain)
        assert partitions == 3
        assert "retention.ms" not in configs  # the broker's default applies
        partitions, configs = describe(retained)
        assert partitions == 2
        assert configs["retention.ms"] == "3600000"  # not the second call's 60000
    finally:
        delete_topics(plain, retained)


def keep_deleting(admin: KafkaAdminClient, count: int = 20) -> list[str]:
    """Create ``count`` ready topics and delete them: while the broker applies the deletions,
    it is slow to show newly created topics in its metadata (as mid-suite, where the first
    test here raced: CI of 2bbff8f). Returns their names, for clean-up."""
    deleted = [unique_topic() for _ in range(count)]
    admin.create_topics({name: {"num_partitions": 3, "replication_factor": 1}
                         for name in deleted}, wait_for_metadata=True)
    admin.delete_topics(deleted)
    return deleted


def not_ready(admin: KafkaAdminClient, topics: list[str], partitions: int) -> list[str]:
    """Those of ``topics`` the metadata does not show with ``partitions`` led partitions."""
    described = {meta["name"]: meta for meta in admin.describe_topics(topics)}
    return sorted(
        name for name in topics
        if described[name]["error_code"] != 0
        or len(described[name]["partitions"]) != partitions
        or any(p["error_code"] != 0 or p["leader_id"] < 0
               for p in described[name]["partitions"]))


def test_returns_only_when_the_metadata_shows_every_created_topic_with_its_leaders() -> None:
    # CreateTopics answers when the controller has committed; the broker's metadata cache
    # follows a moment later, later still while it is deleting topics. Before ensure_topics
    # waited, every one of 20 topics created right after a deletion was still unknown to the
    # metadata (session 27).
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    topics = [unique_topic() for _ in range(20)]
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    deleted: list[str] = []
    try:
        deleted = keep_deleting(admin)
        ensure_topics(kafka, topics, 3)
        assert not_ready(admin, topics, 3) == []
    finally:
        admin.close()
        delete_topics(*topics, *deleted)


def test_a_topic_another_client_created_meanwhile_is_waited_for_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The race ensure_topics tolerates: it lists the topics, another client (a second worker
    # starting) creates one of them, ensure_topics' CreateTopics answers TopicAlreadyExists.
    # It must still return only once that topic is ready to use, as for its own.
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    topic = unique_topic()
    other = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    listed = KafkaAdminClient.list_topics

    def list_then_lose_the_race(self: KafkaAdminClient) -> list[str]:
        names: list[str] = listed(self)
        other.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}})
        return names  # listed before the other client's topic existed

    deleted: list[str] = []
    try:
        deleted = keep_deleting(other)
        monkeypatch.setattr(KafkaAdminClient, "list_topics", list_then_lose_the_race)
        ensure_topics(kafka, [topic], 3)
        monkeypatch.undo()
        assert not_ready(other, [topic], 3) == []
    finally:
        other.close()
        delete_topics(topic, *deleted)


def test_the_local_stack_preallocates_small_index_files() -> None:
    # deploy/local/kafka/server.properties.in: zeroing 10 MiB index files for every new
    # partition was half of the local broker's CPU in bench/e2e (bench/RESULTS.md, session 19).
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    topic = unique_topic()
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        ensure_topics(kafka, [topic], 1)
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
        entry = described["topic"][topic]["segment.index.bytes"]
        assert entry["value"] == str(1024 * 1024)
        assert entry["config_source"] == "STATIC_BROKER_CONFIG"
    finally:
        admin.close()
        delete_topics(topic)
