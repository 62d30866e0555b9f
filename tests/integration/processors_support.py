"""Shared helpers for the processors' integration tests: unique names on the real servers,
articles, Kafka produce/read, subprocess workers, and clean-up."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from newsflow.article import Article, article_id, encode_article, utc_now

KAFKA = os.environ.get("NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
ES_URL = os.environ.get("NEWSFLOW_ELASTICSEARCH__URL", "http://127.0.0.1:19200")
NEWSFLOW = [sys.executable, "-m", "newsflow.cli.__main__"]


@dataclass
class Names:
    """Unique topic, index, template and group names for one test."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def articles(self) -> str:
        return f"it-{self.run}.articles"

    @property
    def deadletter(self) -> str:
        return f"it-{self.run}.deadletter"

    @property
    def enriched(self) -> str:
        return f"it-{self.run}.enriched"

    @property
    def tag_prefix(self) -> str:
        return f"it-{self.run}.tag."

    def tag_topic(self, tag: str) -> str:
        return f"{self.tag_prefix}{tag}"

    @property
    def alias(self) -> str:
        return f"it-{self.run}-articles"

    @property
    def app_id(self) -> str:
        return f"it-{self.run}-processors"

    def env(self, tmp: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        env.update({
            "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": KAFKA,
            "NEWSFLOW_ELASTICSEARCH__URL": ES_URL,
            "NEWSFLOW_KAFKA__ARTICLES_TOPIC": self.articles,
            "NEWSFLOW_KAFKA__DEADLETTER_TOPIC": self.deadletter,
            "NEWSFLOW_KAFKA__ENRICHED_TOPIC": self.enriched,
            # Under the alias's prefix, so that cleanup's "<alias>-*" removes them too.
            "NEWSFLOW_ELASTICSEARCH__STORIES_INDEX": f"{self.alias}-stories",
            "NEWSFLOW_ELASTICSEARCH__STORIES_STATE_INDEX": f"{self.alias}-stories-state",
            "NEWSFLOW_ELASTICSEARCH__ALERTS_INDEX": f"{self.alias}-alerts",
            "NEWSFLOW_KAFKA__ALERTS_TOPIC": f"it-{self.run}.alerts",
            "NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX": f"{self.alias}-watches",
            "NEWSFLOW_KAFKA__WATCH_TOPIC_PREFIX": f"it-{self.run}.watch.",
            "NEWSFLOW_KAFKA__TAG_TOPIC_PREFIX": self.tag_prefix,
            "NEWSFLOW_KAFKA__ARTICLES_PARTITIONS": "2",
            "NEWSFLOW_ELASTICSEARCH__ALIAS": self.alias,
            "NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME": self.alias,
            "NEWSFLOW_PROCESSORS__APP_ID": self.app_id,
            "NEWSFLOW_PROCESSORS__WEB_PORT": "0",
            "NEWSFLOW_PROCESSORS__DATA_DIR": str(tmp / "processors"),
            "NEWSFLOW_PROCESSORS__BATCH_WITHIN_S": "0.5",
            "NEWSFLOW_PROCESSORS__INDEX_RETRY_MAX_S": "2",
        })
        env.update(extra)
        return env

    def cleanup(self) -> None:
        es = Elasticsearch(ES_URL)
        try:
            es.options(ignore_status=404).indices.delete(index=f"{self.alias}-*")
            es.options(ignore_status=404).indices.delete_index_template(name=self.alias)
        finally:
            es.close()
        admin = KafkaAdminClient(bootstrap_servers=KAFKA)
        try:
            mine = [t for t in admin.list_topics() if self.run in t]
            if mine:
                admin.delete_topics(mine)
            groups = [g["group_id"] for g in admin.list_groups()]
            mine_groups = [g for g in groups if self.run in g]
            if mine_groups:
                with contextlib.suppress(KafkaError):
                    admin.delete_groups(mine_groups)
        finally:
            admin.close()


def make_article(
    n: int, title: str, *, summary: str = "", source: str = "example.com",
    published_at: datetime | None = None, url: str | None = None,
) -> Article:
    url = url or f"https://{source}/story/{n}"
    now = utc_now()
    return Article(
        id=article_id(url), url=url, canonical_url=url, feed_url=f"https://{source}/feed",
        source=source, title=title, summary=summary or title,
        published_at=published_at or now, seen_at=now,
    )


# Written for these tests, in wire style: one clearly about military cooperation, one
# near-miss-free unrelated story.
COOPERATION = (
    "China and Russia begin joint naval exercise in the Sea of Japan",
    "Chinese and Russian warships began a joint naval exercise on Monday, the Russian "
    "defence ministry said, the latest sign of deepening military cooperation between "
    "Beijing and Moscow. The drills involve destroyers, submarines and anti-submarine "
    "aircraft from both navies.",
)
UNRELATED = (
    "City council approves new bicycle lanes downtown",
    "The city council voted 7-2 on Tuesday to add protected bicycle lanes on three "
    "downtown streets, a project expected to cost 4 million dollars.",
)


def produce(topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=KAFKA, acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def produce_articles(topic: str, articles: list[Article]) -> None:
    produce(topic, [(a.id.encode(), encode_article(a)) for a in articles])


def read_topic(topic: str, *, expect: int | None = None, timeout_s: float = 15) -> list[bytes]:
    """Every value on ``topic`` from the beginning (waits until ``expect`` are there)."""
    consumer = KafkaConsumer(bootstrap_servers=KAFKA, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=1000)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.3)
        if partitions is None:
            return []
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in batch)
            ends = consumer.end_offsets(tps)
            if all(consumer.position(tp) >= ends[tp] for tp in tps) and (
                expect is None or len(values) >= expect
            ):
                break
        return values
    finally:
        consumer.close()


def committed_offsets(group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: o.offset for tp, o in offsets.items()
            if tp.topic == topic and o.offset >= 0}


def end_offsets(topic: str) -> dict[int, int]:
    """The next offset of each partition of ``topic``, which must exist (an empty answer
    would make a comparison with committed offsets pass for nothing)."""
    from kafka import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=KAFKA, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} does not exist"
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        consumer.close()
    return {tp.partition: offset for tp, offset in ends.items()}


def wait_until_all_committed(group: str, topic: str, timeout_s: float = 60) -> None:
    """Until ``group`` committed every message on ``topic``. For the ordered stage this is
    the end of a batch: it commits news.enriched only after indexing and after Kafka acked
    its tag and watch messages. (Documents become searchable before that, so a test that
    stops the worker as soon as they are may stop it between index and forward: correct
    at-least-once behaviour, but the forward then happens only on the next start.)"""

    def done() -> bool:
        ends = {p: o for p, o in end_offsets(topic).items() if o > 0}
        return bool(ends) and all(committed_offsets(group, topic).get(p, -1) >= o
                                  for p, o in ends.items())

    wait_for(done, timeout_s, f"{group} to commit everything on {topic}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape_metrics(port: int) -> dict[str, float]:
    """A worker's Prometheus samples, by name with labels (``name{label="v"}``); {} while
    nothing answers on the port yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str,
             interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class Worker:
    """`newsflow worker` as a subprocess; stderr collected in a file for assertions."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._file = log.open("a")
        # Readiness and progress come from the worker's status port, never from its log.
        if "NEWSFLOW_PROCESSORS__METRICS_PORT" in env:
            self.port = int(env["NEWSFLOW_PROCESSORS__METRICS_PORT"])
        else:
            self.port = free_port()
            args = ("--metrics-port", str(self.port), *args)
        self.proc = subprocess.Popen([*NEWSFLOW, "worker", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self._file, text=True)

    def output(self) -> str:
        return self.log.read_text()

    def status(self) -> dict[str, Any]:
        """The worker's /status (processors.service.status); {} while it does not answer."""
        try:
            reply = httpx.get(f"http://127.0.0.1:{self.port}/status", timeout=2)
        except httpx.HTTPError:
            return {}
        body: dict[str, Any] = reply.json()
        return body

    def handled(self, stage: str, what: str) -> int:
        """A batch total of one stage ("enrich": enriched, "index": indexed, ...)."""
        return int(self.status().get("batches", {}).get(stage, {}).get(what, 0))

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_for(lambda: self.status().get("ready") is True or self.proc.poll() is not None,
                 timeout_s, "the worker's /status to say ready")
        assert self.proc.poll() is None, f"worker exited:\n{self.output()[-3000:]}"

    def stop(self, timeout_s: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self._file.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._file.close()


def search_alias(alias: str, size: int = 200) -> list[dict[str, object]]:
    es = Elasticsearch(ES_URL)
    try:
        es.options(ignore_status=404).indices.refresh(index=alias)
        response = es.options(ignore_status=404).search(index=alias, size=size)
        if "hits" not in response:
            return []
        return [hit["_source"] for hit in response["hits"]["hits"]]
    finally:
        es.close()


def iter_lines(text: str) -> Iterator[str]:
    return (line for line in text.splitlines() if line.strip())
