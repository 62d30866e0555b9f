"""Scale-out on the real stack: two `newsflow worker` and two `newsflow poll` processes share
one batch (40 feeds x 5 items = 200 articles on a 4-partition topic).

- Every partition of the articles topic belongs to exactly one worker at a time: the worker
  group's description (KafkaAdminClient.describe_groups) is sampled all through the run.
- Every article is indexed exactly once: Elasticsearch count == distinct ids == produced, and
  without a stop every document is at _version 1 (no article was indexed twice).
- One worker stopped mid-batch (SIGTERM; and SIGKILL, found dead only after the group's
  session timeout): its partitions move to the other, which indexes the rest, with no loss.
- Both pollers polled and each brought new articles. That no feed is polled by both in one
  cycle, and that a poller's feeds move on when it dies, is test_poll_group.py's.

The feeds are real HTTP servers on loopback. Their items appear one at a time, STEP_S apart,
once both pollers are in their group, so that articles keep arriving after the stop.
"""

from __future__ import annotations

import logging
import signal
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from tests.integration.ingest_feedserver import FeedServer, Reply, Seen, rss
from tests.integration.processors_support import (
    ES_URL,
    KAFKA,
    NEWSFLOW,
    Names,
    Worker,
    committed_offsets,
    end_offsets,
    wait_for,
)

pytestmark = pytest.mark.integration

SERVERS, FEEDS_PER_SERVER, ITEMS = 4, 10, 5
TOTAL = SERVERS * FEEDS_PER_SERVER * ITEMS  # 200 articles
PARTITIONS = 4
POLL_INTERVAL_S = 2  # min_interval = max_interval in the feed list
STEP_S = 2.5  # one more item per feed every STEP_S: the batch arrives over ~10 s
BATCH_SIZE = 25
SESSION_TIMEOUT_S = 8  # how long the group waits for a killed worker
POLLERS = ("poller-a", "poller-b")


# -------------------------------------------------------------------------- the feeds


class Release:
    """The moment the feeds start showing items (None: not yet)."""

    def __init__(self) -> None:
        self.t0: float | None = None

    def visible(self, total: int) -> int:
        if self.t0 is None:
            return 0
        return min(total, 1 + int((time.monotonic() - self.t0) / STEP_S))


class GrowingFeed:
    """An RSS feed whose items appear one by one; 304 while unchanged. Records which poller
    (User-Agent) got a document with new items."""

    def __init__(self, items: list[tuple[str, str]], release: Release) -> None:
        self.items = items
        self.release = release
        self.served: list[tuple[str, int]] = []

    def __call__(self, req: Seen) -> Reply:
        count = self.release.visible(len(self.items))
        etag = f'"v{count}"'
        if req.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        self.served.append((req.headers.get("user-agent", ""), count))
        return Reply(200, rss(self.items[:count]),
                     {"ETag": etag, "Content-Type": "application/rss+xml"})


TOPICS = ["naval exercise", "arms deal", "border talks", "drone strike", "joint patrol"]
PAIRS = [("Poland", "Germany"), ("Japan", "the Philippines"), ("France", "India"),
         ("Turkey", "Greece")]


def feed_items(run: str, server: int, feed: int) -> list[tuple[str, str]]:
    a, b = PAIRS[(server + feed) % len(PAIRS)]
    return [(f"https://scale.test/{run}/{server}/{feed}/{i}",
             f"{a} and {b} discuss {TOPICS[i % len(TOPICS)]} ({server}.{feed}.{i})")
            for i in range(ITEMS)]


# ------------------------------------------------------------- watching the worker group


def assigned_partitions(raw: bytes | dict[str, Any]) -> dict[str, list[int]]:
    """A member's assignment: topic -> partitions.

    Faust's assignor writes the consumer protocol's layout (int16 version, [topic string,
    [int32 partition]], user data) under version 4, which kafka-python will not decode, so
    the bytes are read here; the user data (Faust's own, zlib JSON) is not needed.
    """
    if isinstance(raw, dict):  # decoded by kafka-python (a plain consumer)
        return {t["topic"]: list(t["partitions"]) for t in raw["assigned_partitions"]}
    if not raw:
        return {}
    pos = 2  # version
    (topics,) = struct.unpack_from(">i", raw, pos)
    pos += 4
    out: dict[str, list[int]] = {}
    for _ in range(topics):
        (length,) = struct.unpack_from(">h", raw, pos)
        topic = raw[pos + 2:pos + 2 + length].decode()
        pos += 2 + length
        (count,) = struct.unpack_from(">i", raw, pos)
        out[topic] = list(struct.unpack_from(f">{count}i", raw, pos + 4))
        pos += 4 + 4 * count
    return out


@dataclass
class Sample:
    at: float
    state: str
    members: dict[str, frozenset[int]]  # member id -> partitions of the articles topic


@dataclass
class GroupWatch:
    """Samples the group's description every `every_s` in a thread."""

    group: str
    topic: str
    every_s: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GroupWatch:
        # kafka-python warns on every Faust member it cannot decode (see assigned_partitions).
        self._quiet = logging.getLogger("kafka.admin._groups")
        self._level = self._quiet.level
        self._quiet.setLevel(logging.ERROR)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._quiet.setLevel(self._level)

    def _run(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=KAFKA)
        try:
            while not self._stop.wait(self.every_s):
                try:
                    described = admin.describe_groups([self.group])[self.group]
                except KafkaError as exc:
                    self.errors.append(repr(exc))
                    continue
                self.samples.append(self._sample(described))
        finally:
            admin.close()

    def _sample(self, described: dict[str, Any]) -> Sample:
        members = {
            m["member_id"]: frozenset(assigned_partitions(m["member_assignment"]).get(
                self.topic, []))
            for m in described["members"]
        }
        return Sample(time.monotonic(), described["group_state"], members)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def stable_with(self, members: int, *, all_assigned: bool = True) -> bool:
        """The latest sample: Stable, with this many members (each owning some partition)."""
        sample = self.latest()
        return bool(sample and sample.state == "Stable" and len(sample.members) == members
                    and (all(sample.members.values()) or not all_assigned))


def check_one_owner_per_partition(samples: list[Sample]) -> list[Sample]:
    """Every sample: no partition in two assignments; Stable ones: each in exactly one."""
    stable = []
    for s in samples:
        owners = Counter(p for parts in s.members.values() for p in parts)
        assert all(n == 1 for n in owners.values()), f"partition owned twice: {s}"
        if s.state == "Stable" and s.members:
            assert set(owners) == set(range(PARTITIONS)), f"partition without owner: {s}"
            stable.append(s)
    return stable


# ------------------------------------------------------------------------ the processes


def last_assignment(worker: Worker, topic: str) -> frozenset[int]:
    """The partitions of `topic` the worker owns, as its /status reports them."""
    status = worker.status()
    assert status, f"the worker's status port does not answer:\n{worker.output()[-2000:]}"
    prefix = f"{topic}["
    return frozenset(int(p[len(prefix):-1]) for p in status["partitions"]
                     if p.startswith(prefix))


def enriched_by(worker: Worker) -> int:
    """Articles this worker enriched so far, from its /status (0 once it stopped). The
    enrich stage is the one the partitions of news.articles share out; indexing is the
    ordered stage's, on whichever worker owns news.enriched."""
    return worker.handled("enrich", "enriched")


def start_poller(env: dict[str, str], feeds: Path, name: str, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen([*NEWSFLOW, "poll", "--feeds", str(feeds)],
                                env={**env, "NEWSFLOW_POLLER__USER_AGENT": name},
                                stdout=subprocess.DEVNULL, stderr=out, text=True)


def stop_process(proc: subprocess.Popen[str], timeout_s: float = 30) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return None
    return proc.returncode


def topic_keys(topic: str, expect: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        keys: list[str] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < ends[tp] for tp in tps) or len(keys) < expect:
            assert time.monotonic() < deadline, f"read {len(keys)} of {expect} keys"
            for records in consumer.poll(timeout_ms=500).values():
                keys.extend(r.key.decode() for r in records)
            if len(keys) >= expect:
                ends = consumer.end_offsets(tps)
        return keys
    finally:
        consumer.close()


def indexed_versions(es: Elasticsearch, alias: str) -> dict[str, int]:
    """Document id -> _version of every document under the alias."""
    es.indices.refresh(index=alias)
    found = es.search(index=alias, size=TOTAL * 2, version=True, source=False,
                      query={"match_all": {}})
    return {hit["_id"]: hit["_version"] for hit in found["hits"]["hits"]}


def es_count(es: Elasticsearch, alias: str) -> int:
    """Documents behind the alias; 0 before it exists (404) and while a worker's new
    backing index has not started its shard (a count reaching it gets 503): the callers
    poll until their figure is reached."""
    answer = es.options(ignore_status=(404, 503)).count(index=alias)
    return int(answer.get("count", 0))


# ----------------------------------------------------------------------------- the test


@pytest.fixture
def names() -> Iterator[Names]:
    names = Names()
    yield names
    names.cleanup()


@pytest.mark.parametrize("stop", [None, "SIGTERM", "SIGKILL"])
def test_two_workers_and_two_pollers_share_a_batch(
    stop: str | None, names: Names, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    started = time.monotonic()
    release = Release()
    routes: list[GrowingFeed] = []
    env = names.env(
        tmp_path,
        NEWSFLOW_KAFKA__ARTICLES_PARTITIONS=str(PARTITIONS),
        NEWSFLOW_PROCESSORS__BATCH_SIZE=str(BATCH_SIZE),
        NEWSFLOW_PROCESSORS__SESSION_TIMEOUT_S=str(SESSION_TIMEOUT_S if stop else 60),
        NEWSFLOW_ALLOW_HOSTS="127.0.0.1",
        NEWSFLOW_POLLER__STATE_DIR=str(tmp_path / "poller-state"),  # shared by both
        NEWSFLOW_POLLER__MIN_HOST_GAP_S="0",
        NEWSFLOW_POLLER__GROUP_ID=f"it-{names.run}-pollers",
        NEWSFLOW_POLLER__ASSIGNMENT_TOPIC=f"it-{names.run}.assignment",
        NEWSFLOW_POLLER__ASSIGNMENT_PARTITIONS="16",
        NEWSFLOW_POLLER__SESSION_TIMEOUT_S="6",
        NEWSFLOW_POLLER__PARSE_WORKERS="0",
    )
    es = Elasticsearch(ES_URL, request_timeout=30)
    request.addfinalizer(es.close)
    with ExitStack() as stack:
        urls = []
        for s in range(SERVERS):
            server = stack.enter_context(FeedServer("127.0.0.1"))
            for f in range(FEEDS_PER_SERVER):
                route = GrowingFeed(feed_items(names.run, s, f), release)
                server.routes[f"/f{f}.xml"] = route
                routes.append(route)
                urls.append(server.url(f"/f{f}.xml"))
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            f"defaults:\n  min_interval: {POLL_INTERVAL_S}\n  max_interval: {POLL_INTERVAL_S}\n"
            "feeds:\n" + "".join(f"  - {u}\n" for u in urls))

        # Two workers; wait until the group is stable with both owning partitions.
        workers = [Worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
        for worker in workers:
            stack.callback(worker.kill)
            stack.callback(worker.stop, 30)
        watch = stack.enter_context(GroupWatch(names.app_id, names.articles))
        for worker in workers:
            worker.wait_ready(timeout_s=120)
        wait_for(lambda: watch.stable_with(2), 60, "both workers in the group")
        workers_ready = time.monotonic()

        # Two pollers in one group; the feeds start growing once both are members.
        pollers = {name: start_poller(env, feeds, name, tmp_path / f"{name}.log")
                   for name in POLLERS}
        for proc in pollers.values():
            stack.callback(stop_process, proc)
        poll_watch = stack.enter_context(
            GroupWatch(f"it-{names.run}-pollers", f"it-{names.run}.assignment", every_s=0.5))
        wait_for(lambda: poll_watch.stable_with(2), 60, "both pollers in their group")
        release.t0 = time.monotonic()

        stopped: Worker | None = None
        survivor = workers[1]
        if stop:
            # Mid-batch: both workers have indexed part of it, more is still to come.
            wait_for(lambda: all(enriched_by(w) > 0 for w in workers)
                     and es_count(es, names.alias) >= TOTAL // 4, 60, "both workers indexing")
            stopped = workers[0]
            its_partitions = last_assignment(stopped, names.articles)
            assert its_partitions, "the worker to stop owns no partition"
            before = es_count(es, names.alias)
            ends_at_stop = end_offsets(names.articles)
            stopped.proc.send_signal(getattr(signal, stop))
            stopped_at = time.monotonic()
            code = stopped.proc.wait(timeout=30)
            assert before < TOTAL, "the stop came after the batch was done"
            if stop == "SIGTERM":
                assert code == 0, stopped.output()[-2000:]
                # A clean stop leaves the group at once.
                assert time.monotonic() - stopped_at < 15

            # The survivor takes every partition and indexes the rest of the batch.
            wait_for(lambda: last_assignment(survivor, names.articles) == frozenset(
                range(PARTITIONS)), SESSION_TIMEOUT_S + 30, "the survivor owning everything")
            rebalanced_s = time.monotonic() - stopped_at
            wait_for(lambda: watch.stable_with(1), 30, "the group stable with one worker")

        wait_for(lambda: es_count(es, names.alias) >= TOTAL, 90, f"{TOTAL} articles indexed")
        done = time.monotonic()
        logged = {last_assignment(w, names.articles) for w in workers if w is not stopped}
        group_now = watch.latest()
        ends = end_offsets(names.articles)
        wait_for(lambda: committed_offsets(names.app_id, names.articles) == ends, 30,
                 "the group committing every offset")
        # The ordered stage too: a worker stopped below hands the enriched partition to the
        # other, which would index again whatever was not committed yet.
        handed_over = names.enriched
        handed_ends = end_offsets(handed_over)
        wait_for(lambda: committed_offsets(names.app_id, handed_over) == handed_ends, 30,
                 "the ordered stage committing every offset")
        served = {r: list(route.served) for r, route in enumerate(routes)}
        # While their status ports still answer.
        enriched = [enriched_by(w) for w in workers]
        indexed = [w.handled("index", "indexed") for w in workers]
        for proc in pollers.values():
            assert stop_process(proc) == 0
        for worker in workers:
            if worker is not stopped:
                assert worker.stop(30) == 0, worker.output()[-2000:]

    # (a) one owner per partition at every sample; stable samples cover every partition.
    stable = check_one_owner_per_partition(watch.samples)
    assert len(stable) > 20, (len(watch.samples), watch.errors[:3])
    two = [s for s in stable if len(s.members) == 2]
    assert two, "never saw both workers sharing the partitions"
    assert all(len(parts) == PARTITIONS // 2 for parts in two[-1].members.values()), two[-1]
    # The running workers' /status agrees with the group about who owns what.
    assert group_now is not None and group_now.state == "Stable"
    assert logged == set(group_now.members.values()), (logged, group_now)
    if stop:
        one_left = [s for s in stable if len(s.members) == 1 and s.at > stopped_at]
        assert one_left, "never saw the survivor alone in a stable group"
        assert set(one_left[-1].members.values()) == {frozenset(range(PARTITIONS))}
        # The stopped worker's /status agreed with the group about what it owned.
        assert its_partitions in set(two[-1].members.values())
        # Its partitions received articles after it stopped: the survivor indexed those.
        assert any(ends[p] > ends_at_stop[p] for p in its_partitions), (ends_at_stop, ends)

    # (b) every article produced once and indexed once.
    keys = topic_keys(names.articles, TOTAL)
    assert len(keys) == len(set(keys)) == TOTAL
    versions = indexed_versions(es, names.alias)
    assert set(versions) == set(keys)
    assert es_count(es, names.alias) == TOTAL
    reindexed = sum(1 for v in versions.values() if v > 1)
    if stop is None:
        assert reindexed == 0, "an article was indexed twice without any stop"
        assert sum(enriched) == TOTAL, enriched
        assert all(n > 0 for n in enriched), enriched
        assert sum(indexed) == TOTAL, indexed
    elif stop == "SIGTERM":
        # Only what was in flight is done again: the stopped worker's held batch, and the
        # survivor's own batch when the rebalance took its partitions back for a moment.
        assert reindexed <= 2 * BATCH_SIZE, reindexed

    # (d) both pollers polled, and both brought new articles.
    fetchers = Counter(ua for feed in served.values() for ua, _ in feed)
    bringers = Counter(ua for feed in served.values() for ua, n in feed if n > 0)
    assert set(fetchers) == set(bringers) == set(POLLERS), (fetchers, bringers)
    assert all(any(n == ITEMS for _, n in feed) for feed in served.values())

    print(f"\nscale-out stop={stop}: {TOTAL} articles, workers ready in "
          f"{workers_ready - started:.1f} s, batch indexed {done - release.t0:.1f} s after the "
          f"feeds opened; per worker {enriched} enriched, {indexed} indexed; re-indexed "
          f"{reindexed}; pollers fetched {dict(fetchers)} documents with news "
          f"{dict(bringers)}; group samples {len(watch.samples)} ({len(stable)} stable)"
          + (f"; rebalanced {rebalanced_s:.1f} s after the stop" if stop else "")
          + f"; total {time.monotonic() - started:.1f} s")
