"""Watch the pipeline's outputs from outside: when each article became searchable in
Elasticsearch, and when each tag stream delivered it.

- SearchWatcher asks Elasticsearch every ``period`` seconds for the ids it still waits for
  (an ``ids`` query: only refreshed documents match, which is what "searchable" means), and
  records the wall-clock time it first saw each, with the document's seen_at. The error is
  at most one period plus one query late; with period 0.2 s that is small against the
  seconds being measured. It also samples the alias's document count for throughput.
- TagWatcher consumes every tag topic of the run (a regex subscription, from the earliest
  offset) and records when each (topic, article id) first arrived, with the seen_at carried
  in the message.

Both run as daemon threads in the benchmark process; all clocks are this machine's.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition

__all__ = ["SearchWatcher", "TagWatcher", "parse_ts", "scrape_metrics"]

log = logging.getLogger(__name__)

_SEEN_AT = re.compile(rb'"seen_at"\s*:\s*"([^"]+)"')


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class SearchWatcher(threading.Thread):
    def __init__(self, es_url: str, alias: str, period: float = 0.2,
                 max_ids_per_query: int = 2000) -> None:
        super().__init__(daemon=True, name="search-watcher")
        self.es = Elasticsearch(es_url, request_timeout=10)
        self.alias = alias
        self.period = period
        self.max_ids = max_ids_per_query
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._halt = threading.Event()
        # id -> (visible at, seen_at, indexed_at: the worker's clock when its batch began)
        self.visible: dict[str, tuple[float, float, float]] = {}
        self.counts: list[tuple[float, int]] = []  # (time, documents under the alias)
        self.queries = 0

    def expect(self, ids: list[str]) -> None:
        with self._lock:
            self._pending.update(i for i in ids if i not in self.visible)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self.es.close()

    def run(self) -> None:
        next_count = 0.0
        while not self._halt.is_set():
            started = time.monotonic()
            try:
                self._look()
                if started >= next_count:
                    self.counts.append((time.time(), self._count()))
                    next_count = started + 0.5
            except Exception as exc:  # alias not there yet, ES busy: look again
                log.debug("search watcher: %s", exc)
            self._halt.wait(max(0.0, self.period - (time.monotonic() - started)))

    def _count(self) -> int:
        if not self.es.indices.exists_alias(name=self.alias):
            return 0
        return int(self.es.count(index=self.alias)["count"])

    def _look(self) -> None:
        with self._lock:
            ids = list(self._pending)[: self.max_ids]
        if not ids:
            return
        found = self.es.search(index=self.alias, query={"ids": {"values": ids}}, size=len(ids),
                               source_includes=["seen_at", "indexed_at"],
                               ignore_unavailable=True)
        now = time.time()
        self.queries += 1
        hits: list[dict[str, Any]] = found["hits"]["hits"]
        with self._lock:
            for hit in hits:
                if hit["_id"] in self._pending:
                    self._pending.discard(hit["_id"])
                    src = hit["_source"]
                    self.visible[hit["_id"]] = (now, parse_ts(src["seen_at"]),
                                                parse_ts(src.get("indexed_at") or
                                                         src["seen_at"]))


class TagWatcher(threading.Thread):
    """Every message of the topics matching ``^prefix``: when it arrived here, the seen_at it
    carries, and its Kafka timestamp (CreateTime: when the producer sent it)."""

    def __init__(self, bootstrap: str, topic_prefix: str, group: str) -> None:
        super().__init__(daemon=True, name=f"watch-{topic_prefix}")
        # No consumer group: the partitions of the matching topics are assigned by hand as
        # the topics appear. A pattern subscription rejoined its group at every new tag
        # topic and, in one run in five, kept rebalancing: it saw nothing and spun a core
        # (bench/RESULTS.md, session 5). ``group`` only names the client now.
        # fetch_max_wait_ms only bounds an idle fetch (the broker answers as soon as a byte
        # is there), so it adds no delay to what is measured; at 50 ms the two watchers sent
        # ~40 empty fetches a second, CPU charged to the broker, i.e. to the product.
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, client_id=group,
            auto_offset_reset="earliest", enable_auto_commit=False, fetch_max_wait_ms=500,
            max_partition_fetch_bytes=16 * 1024 * 1024)
        self._prefix = topic_prefix
        self._assigned: set[TopicPartition] = set()
        self._next_look = 0.0
        self._halt = threading.Event()
        # (topic, article id) -> (arrived here, seen_at, Kafka timestamp)
        self.delivered: dict[tuple[str, str], tuple[float, float, float]] = {}
        self.messages = 0
        self.duplicates = 0

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self.consumer.close()

    def _look_for_topics(self) -> None:
        """Assign the partitions of topics that appeared since the last look, from their
        beginning (every message of the run counts)."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + 0.5
        found: set[TopicPartition] = set()
        for topic in self.consumer.topics():
            if topic.startswith(self._prefix):
                for partition in self.consumer.partitions_for_topic(topic) or ():
                    found.add(TopicPartition(topic, partition))
        new = found - self._assigned
        if new:
            self._assigned |= new
            self.consumer.assign(sorted(self._assigned))
            self.consumer.seek_to_beginning(*sorted(new))

    def run(self) -> None:
        while not self._halt.is_set():
            self._look_for_topics()
            if not self._assigned:
                self._halt.wait(0.2)
                continue
            batches = self.consumer.poll(timeout_ms=200)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self.messages += 1
                    key = (record.topic, (record.key or b"").decode())
                    if key in self.delivered:
                        self.duplicates += 1
                        continue
                    match = _SEEN_AT.search(record.value or b"")
                    seen = parse_ts(match.group(1).decode()) if match else now
                    self.delivered[key] = (now, seen, record.timestamp / 1000)


def scrape_metrics(port: int) -> dict[str, float]:
    """The worker's Prometheus samples (name{labels} -> value); empty if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                samples[name] = float(value)
    return samples


def worker_ready(port: int) -> bool:
    """True once the worker's /readyz answers 200 (processors.service.status)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:  # 503 (urllib's HTTPError) while starting, refused before it listens
        return False
