"""A whole newsflow pipeline on the private fault stack, driven through the real CLI.

feed server (this process) -> `newsflow poll` -> Kafka -> `newsflow worker` -> Elasticsearch
and the tag topics; every topic, index, group and state folder unique to one test. The
helpers count what arrived by article id (Elasticsearch documents under the alias, keys on
each tag topic, dead letters) so that a test can assert "every article exactly once".

PrivateStack wraps `newsflow stack` on its own home and ports, so that the faults (SIGKILL
the broker, stop Elasticsearch) never touch the shared stack the other tests use.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench.e2e.wire import WireItem, expected_id, render_rss
from tests.integration.ingest_feedserver import FeedServer, Reply, Seen
from tests.integration.processors_support import free_port

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
NEWSFLOW = [sys.executable, "-m", "newsflow.cli.__main__"]

# The tag each story kind must get (bench/e2e/wire.py); the other kinds must get none of them.
PRIMARY_TAG = {"cooperation": "military-cooperation", "aid": "military-aid",
               "drones": "drone-warfare"}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             every: float = 0.5) -> float:
    """Poll ``predicate`` until true; returns the seconds it took, fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# -- the private stack --------------------------------------------------------------------


@dataclass
class PrivateStack:
    home: Path
    kafka_port: int
    es_port: int
    env: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    def stack(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*NEWSFLOW, "stack", *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)

    def up(self) -> subprocess.CompletedProcess[str]:
        result = self.stack("up")
        assert result.returncode == 0, f"stack up failed:\n{result.stderr[-3000:]}"
        return result

    def _pid(self, pidfile: Path) -> int | None:
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.home).encode() in cmdline else None

    def kafka_pid(self) -> int | None:
        return self._pid(self.home / "kafka" / "kafka.pid")

    def es_pid(self) -> int | None:
        return self._pid(self.home / "elasticsearch" / "es.pid")

    def _signal(self, pid: int | None, sig: int, what: str, timeout: float) -> None:
        assert pid is not None, f"{what} of the private stack is not running"
        os.kill(pid, sig)
        wait_for(lambda: not Path(f"/proc/{pid}").exists()
                 or _state(pid) == "Z", timeout, f"{what} (pid {pid}) to exit", every=0.1)

    def kill_kafka(self) -> None:
        self._signal(self.kafka_pid(), signal.SIGKILL, "Kafka", 20)

    def stop_es(self) -> None:
        self._signal(self.es_pid(), signal.SIGTERM, "Elasticsearch", 60)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


# -- the feeds ----------------------------------------------------------------------------


class WireFeed:
    """A route of the ingest tests' FeedServer: an RSS feed of the items added so far."""

    def __init__(self, name: str, published: datetime) -> None:
        self.name = name
        self.published = published
        self._items: list[WireItem] = []
        self._lock = threading.Lock()

    def add(self, items: Iterable[WireItem]) -> None:
        with self._lock:
            self._items.extend(items)

    def __call__(self, _request: Seen) -> Reply:
        with self._lock:
            items = list(self._items)
        return Reply(200, render_rss(f"Fault wire {self.name}", items, self.published),
                     {"Content-Type": "application/rss+xml; charset=utf-8"})


# -- what arrived -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one run delivered, for the assertions and the report."""

    articles_in: int
    indexed: int
    missing: list[str]
    es_duplicates: dict[str, int]
    redelivered: list[str]  # ids written more than once (ES _version > 1): absorbed repeats
    tag_expected: dict[str, int]
    tag_missing: dict[str, list[str]]
    tag_unexpected: dict[str, list[str]]
    tag_duplicates: dict[str, int]
    tag_duplicate_ids: set[str]
    wrong_tags: list[str]
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def total_tag_duplicates(self) -> int:
        return sum(self.tag_duplicates.values())

    def summary(self) -> dict[str, Any]:
        return {
            "articles_in": self.articles_in,
            "indexed_unique": self.indexed,
            "missing": len(self.missing),
            "es_duplicates": sum(n - 1 for n in self.es_duplicates.values()),
            "es_redelivered": len(self.redelivered),
            "tag_messages_expected": sum(self.tag_expected.values()),
            "tag_missing": sum(len(v) for v in self.tag_missing.values()),
            "tag_unexpected": sum(len(v) for v in self.tag_unexpected.values()),
            "tag_duplicates": self.total_tag_duplicates,
            "wrong_tags": len(self.wrong_tags),
            "seconds": round(self.seconds, 1),
            **self.notes,
        }

    def assert_exactly_once(self, *, max_tag_duplicates: int = 0,
                            duplicates_from_redelivery: bool = False) -> None:
        """Every article indexed once and on each of its tag streams. Duplicates on a tag
        stream are allowed up to ``max_tag_duplicates``; with ``duplicates_from_redelivery``
        also any whose article Kafka delivered to the worker again (at-least-once: the
        re-processed article is re-forwarded; Elasticsearch absorbs it by _id, a tag stream
        cannot). A duplicate of an article that was processed only once is never allowed."""
        assert not self.missing, f"{len(self.missing)} articles never indexed: {self.missing[:5]}"
        assert not self.es_duplicates, f"articles indexed twice: {self.es_duplicates}"
        assert not self.wrong_tags, f"articles without their kind's tag: {self.wrong_tags[:5]}"
        assert not any(self.tag_missing.values()), f"missing on tag streams: {self.tag_missing}"
        assert not any(self.tag_unexpected.values()), (
            f"on a tag stream without the tag: {self.tag_unexpected}")
        if duplicates_from_redelivery:
            stray = self.tag_duplicate_ids - set(self.redelivered)
            assert not stray, f"tag stream duplicates of articles processed once: {stray}"
        else:
            assert self.total_tag_duplicates <= max_tag_duplicates, (
                f"{self.total_tag_duplicates} duplicates on tag streams (allowed "
                f"{max_tag_duplicates}): {self.tag_duplicates}")


class Pipeline:
    """One test's pipeline: unique names, a feed server, poller and worker processes."""

    def __init__(self, stack: PrivateStack, tmp_path: Path, *, feeds: int = 4) -> None:
        self.stack = stack
        self.tmp = tmp_path
        self.run = uuid.uuid4().hex[:10]
        self._closing = ExitStack()
        self.server = self._closing.enter_context(FeedServer())
        published = datetime.now(UTC) - timedelta(minutes=5)
        self.feeds = [WireFeed(f"wire-{n}.xml", published) for n in range(feeds)]
        for feed in self.feeds:
            self.server.routes[f"/{feed.name}"] = feed
        self.items: list[WireItem] = []
        self._next_feed = 0
        self.procs: list[subprocess.Popen[str]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        run = self.run
        self.env.update({
            "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": stack.bootstrap,
            "NEWSFLOW_ELASTICSEARCH__URL": stack.es_url,
            "NEWSFLOW_KAFKA__ARTICLES_TOPIC": f"faults-{run}.articles",
            "NEWSFLOW_KAFKA__DEADLETTER_TOPIC": f"faults-{run}.deadletter",
            "NEWSFLOW_KAFKA__ENRICHED_TOPIC": f"faults-{run}.enriched",
            "NEWSFLOW_ELASTICSEARCH__STORIES_INDEX": f"faults-{run}-articles-stories",
            "NEWSFLOW_ELASTICSEARCH__STORIES_STATE_INDEX": f"faults-{run}-articles-stories-state",
            "NEWSFLOW_ELASTICSEARCH__ALERTS_INDEX": f"faults-{run}-articles-alerts",
            "NEWSFLOW_KAFKA__ALERTS_TOPIC": f"faults-{run}.alerts",
            "NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX": f"faults-{run}-articles-watches",
            "NEWSFLOW_KAFKA__WATCH_TOPIC_PREFIX": f"faults-{run}.watch.",
            "NEWSFLOW_KAFKA__TAG_TOPIC_PREFIX": f"faults-{run}.tag.",
            "NEWSFLOW_ELASTICSEARCH__ALIAS": f"faults-{run}-articles",
            "NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME": f"faults-{run}-articles",
            "NEWSFLOW_PROCESSORS__APP_ID": f"faults-{run}-processors",
            "NEWSFLOW_PROCESSORS__WEB_PORT": "0",
            "NEWSFLOW_PROCESSORS__DATA_DIR": str(tmp_path / "processors"),
            # A short backoff cap keeps the outage tests short; the behaviour is the same.
            "NEWSFLOW_PROCESSORS__INDEX_RETRY_MAX_S": "5",
            "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "poller-state"),
            "NEWSFLOW_POLLER__GROUP_ID": f"faults-{run}-poller",
            "NEWSFLOW_POLLER__ASSIGNMENT_TOPIC": f"faults-{run}.assignment",
            "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
            # In-process parsing: the test's feeds are small, and the machine has 2 cores.
            "NEWSFLOW_POLLER__PARSE_WORKERS": "0",
            "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
            # The Kafka group session: how long a replacement worker waits for a SIGKILLed
            # one's partitions (measured 55-58 s at the default 60 s); 10 s keeps the suite
            # short and changes nothing else.
            "NEWSFLOW_PROCESSORS__SESSION_TIMEOUT_S": "10",
        })
        self.feeds_file = tmp_path / "feeds.yaml"
        self.feeds_file.write_text(
            "defaults:\n  min_interval: 1\n  max_interval: 1\nfeeds:\n"
            + "".join(f"  - url: {self.server.url('/' + f.name)}\n    name: Wire {f.name}\n"
                      for f in self.feeds))
        self.es = Elasticsearch(stack.es_url, request_timeout=10, max_retries=0)

    # -- names --------------------------------------------------------------------------

    @property
    def alias(self) -> str:
        return self.env["NEWSFLOW_ELASTICSEARCH__ALIAS"]

    @property
    def articles_topic(self) -> str:
        return self.env["NEWSFLOW_KAFKA__ARTICLES_TOPIC"]

    @property
    def deadletter_topic(self) -> str:
        return self.env["NEWSFLOW_KAFKA__DEADLETTER_TOPIC"]

    def tag_topic(self, tag: str) -> str:
        return self.env["NEWSFLOW_KAFKA__TAG_TOPIC_PREFIX"] + tag

    # -- input --------------------------------------------------------------------------

    def add(self, items: list[WireItem]) -> None:
        """Publish items on the feeds, round robin."""
        for item in items:
            self.feeds[self._next_feed % len(self.feeds)].add([item])
            self._next_feed += 1
        self.items.extend(items)

    # -- processes ----------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[str]:
        logfile = open(self.tmp / f"{name}-{len(self.procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(args, env=self.env, cwd=REPO, text=True, stdout=logfile,
                                stderr=subprocess.STDOUT)
        proc.logfile = logfile.name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def start_poller(self) -> subprocess.Popen[str]:
        """`newsflow poll` continuously (every feed every second), outside any group."""
        return self._spawn("poll", [*NEWSFLOW, "poll", "--feeds", str(self.feeds_file),
                                    "--standalone", "--json"])

    def poll_once(self) -> dict[str, Any]:
        result = subprocess.run([*NEWSFLOW, "poll", "--feeds", str(self.feeds_file), "--once",
                                 "--json"], env=self.env, cwd=REPO, text=True,
                                capture_output=True, timeout=180, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return summary

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        """`newsflow worker` with a status port of its own (readiness and progress)."""
        port = free_port()
        proc = self._spawn("worker", [*NEWSFLOW, "worker", "--metrics-port", str(port), *args])
        proc.status_port = port  # type: ignore[attr-defined]
        return proc

    @staticmethod
    def worker_status(worker: subprocess.Popen[str]) -> dict[str, Any]:
        """The worker's /status (processors.service.status); {} while it does not answer."""
        port = worker.status_port  # type: ignore[attr-defined]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as reply:
                body: dict[str, Any] = json.loads(reply.read())
                return body
        except (OSError, ValueError):
            return {}

    @staticmethod
    def log_of(proc: subprocess.Popen[str]) -> str:
        return Path(proc.logfile).read_text(errors="replace")  # type: ignore[attr-defined]

    def wait_ready(self, worker: subprocess.Popen[str], timeout: float = 120) -> float:
        def ready() -> bool:
            assert worker.poll() is None, f"worker exited:\n{self.log_of(worker)[-3000:]}"
            return self.worker_status(worker).get("ready") is True
        return wait_for(ready, timeout, "the worker's /status to say ready")

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- what arrived ---------------------------------------------------------------------

    def es_documents(self) -> list[dict[str, Any]] | None:
        """Every hit under the alias (_id, _version, tags); None while ES does not answer."""
        try:
            if not self.es.indices.exists_alias(name=self.alias):
                return []
            self.es.indices.refresh(index=self.alias)
            found = self.es.search(index=self.alias, size=10_000, version=True,
                                   source_includes=["tags"], query={"match_all": {}})
        except Exception as exc:  # ES down or restarting: the caller waits
            log.debug("Elasticsearch not answering: %s", exc)
            return None
        return [{"id": h["_id"], "version": h.get("_version", 1),
                 "tags": h["_source"].get("tags", [])} for h in found["hits"]["hits"]]

    def indexed_count(self) -> int:
        docs = self.es_documents()
        return len({d["id"] for d in docs}) if docs else 0

    def wait_indexed(self, count: int, timeout: float) -> float:
        return wait_for(lambda: self.indexed_count() >= count, timeout,
                        f"{count} articles in Elasticsearch", every=1.0)

    def topic_messages(self, topic: str, timeout_s: float = 30) -> list[tuple[bytes | None,
                                                                            bytes | None]]:
        """Every (key, value) on ``topic`` from the beginning to its current end."""
        consumer = KafkaConsumer(bootstrap_servers=self.stack.bootstrap, group_id=None,
                                 enable_auto_commit=False, fetch_max_bytes=64 * 1024 * 1024,
                                 max_partition_fetch_bytes=16 * 1024 * 1024)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            if not tps:
                return []
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out: list[tuple[bytes | None, bytes | None]] = []
            deadline = time.monotonic() + timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps):
                assert time.monotonic() < deadline, f"could not read {topic} to its end"
                for records in consumer.poll(timeout_ms=500).values():
                    out.extend((r.key, r.value) for r in records)
            return out
        finally:
            consumer.close()

    def tag_keys(self, tag: str) -> Counter[str]:
        return Counter(k.decode() for k, _ in self.topic_messages(self.tag_topic(tag)) if k)

    def dead_letters(self) -> list[tuple[str, dict[str, Any]]]:
        """(key, record) of every dead letter (the key is the original message's key)."""
        return [((k or b"").decode(errors="replace"), json.loads(v))
                for k, v in self.topic_messages(self.deadletter_topic) if v]

    def wait_complete(self, timeout: float, items: list[WireItem] | None = None, *,
                      stuck_on: tuple[str, ...] = ()) -> float:
        """Until every item is in Elasticsearch and each tagged one is on its tag stream.

        ``stuck_on``: log fragments that mean a process can no longer make progress by
        itself; seeing one in a log fails at once instead of waiting out the timeout."""
        items = self.items if items is None else items
        want = {expected_id(i) for i in items}

        def done() -> bool:
            for proc in self.procs:
                text = self.log_of(proc) if stuck_on else ""
                for fragment in stuck_on:
                    if fragment in text:
                        line = next(ln for ln in text.splitlines() if fragment in ln)
                        raise AssertionError(f"stuck ({fragment}): {line[:600]}")
            docs = self.es_documents()
            if docs is None or not want <= {d["id"] for d in docs}:
                return False
            tagged: dict[str, set[str]] = {}
            for doc in docs:
                for tag in doc["tags"]:
                    tagged.setdefault(tag, set()).add(doc["id"])
            return all(ids <= set(self.tag_keys(tag)) for tag, ids in tagged.items())

        return wait_for(done, timeout, f"{len(want)} articles indexed and on their tag streams",
                        every=2.0)

    def outcome(self, items: list[WireItem] | None = None) -> Outcome:
        items = self.items if items is None else items
        docs = self.es_documents()
        assert docs is not None, "Elasticsearch does not answer"
        want = {expected_id(i): i for i in items}
        per_id = Counter(d["id"] for d in docs)
        tags_of = {d["id"]: set(d["tags"]) for d in docs}
        wrong = []
        for doc_id, item in want.items():
            primary = PRIMARY_TAG.get(item.kind)
            got = tags_of.get(doc_id)
            if got is None:
                continue
            if primary and primary not in got:
                wrong.append(f"{item.uid} ({item.kind}) tags={sorted(got)}")
            if not primary and got & set(PRIMARY_TAG.values()):
                wrong.append(f"{item.uid} ({item.kind}) tags={sorted(got)}")
        expected_on: dict[str, set[str]] = {}
        for doc_id, tags in tags_of.items():
            for tag in tags:
                expected_on.setdefault(tag, set()).add(doc_id)
        tag_missing, tag_unexpected, tag_dups = {}, {}, {}
        dup_ids: set[str] = set()
        for tag, ids in expected_on.items():
            keys = self.tag_keys(tag)
            tag_missing[tag] = sorted(ids - set(keys))
            tag_unexpected[tag] = sorted(set(keys) - ids)
            tag_dups[tag] = sum(n - 1 for n in keys.values())
            dup_ids |= {k for k, n in keys.items() if n > 1}
        return Outcome(
            articles_in=len(want),
            indexed=len(set(per_id) & set(want)),
            missing=sorted(set(want) - set(per_id)),
            es_duplicates={i: n for i, n in per_id.items() if n > 1},
            redelivered=sorted(d["id"] for d in docs if d["version"] > 1),
            tag_expected={t: len(ids) for t, ids in expected_on.items()},
            tag_missing=tag_missing,
            tag_unexpected=tag_unexpected,
            tag_duplicates=tag_dups,
            tag_duplicate_ids=dup_ids,
            wrong_tags=wrong,
        )

    # -- clean-up -----------------------------------------------------------------------

    def cleanup(self) -> None:
        self.stop_all()
        self._closing.close()
        try:
            self.es.options(ignore_status=404).indices.delete(index=f"{self.alias}-*")
            self.es.options(ignore_status=404).indices.delete_index_template(
                name=self.env["NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME"])
        except Exception as exc:  # the stack may be down after a failed test
            log.warning("index clean-up failed: %s", exc)
        self.es.close()
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.stack.bootstrap)
            try:
                mine = [t for t in admin.list_topics() if t.startswith(f"faults-{self.run}")]
                if mine:
                    admin.delete_topics(mine)
            finally:
                admin.close()
        except Exception as exc:
            log.warning("topic clean-up failed: %s", exc)


def report(name: str, outcome: Outcome) -> None:
    """One line per fault, for the suite's summary (pytest -rP or -s shows it)."""
    print(f"FAULT {name} {json.dumps(outcome.summary(), sort_keys=True)}")
