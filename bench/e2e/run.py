"""End-to-end benchmark: feed farm -> `newsflow poll` -> Kafka -> `newsflow worker` ->
Elasticsearch and tag streams, all on this machine, against the shared local stack.

    .venv/bin/python -m bench.e2e.run [--articles 6000] [--full-text] [--workers 2]

Phases (one set of poller and worker processes for all of them, unique topics and index):
1. burst: ``--articles`` articles appear at once on the feeds (each feed lists all of its
   share), as after an outage or a backfill: the poller fetches them in a few polls and the
   workers drain the backlog at their best. Sustained e2e throughput = the rate at which
   documents became searchable between 10 % and 90 % of the phase's articles.
2. steady: the feeds release ``--rate`` articles/s (the 200/s goal by default) for
   ``--steady-seconds``; feeds list their newest ``--window`` items (polled every second),
   so the poller re-parses items it has seen, as on real feeds ("items parsed per
   article" in the table). If the pipeline cannot keep up the backlog and freshness grow.
3. latency: the same at ``--latency-rate`` (half the goal by default).
Before each phase the bench waits until the whole machine keeps at most ``--settle-cores``
busy over 5 s (its own start-up and the previous phase inflate CPU time; Bench.settle), and
marks the phase UNDER LOAD when that did not happen within ``--settle-max-seconds``; then
it measures the core's speed (bench/calibrate.py: a pure-Python loop and the NER's matrix
product), printed beside the phase's CPU figure: this machine's speed drifts by 10-20 %.
For each phase: freshness p50/p95/p99 from seen_at (the poll that fetched the item) to
searchable (observed with an ids query every 0.2 s; see observe.py) and to delivered on
each tag stream (a consumer in this process), split into poll -> Kafka -> batch start ->
searchable; worker time per hop (the workers' Prometheus metrics); CPU seconds per process;
the workers' garbage collector's share; the pollers' requests (bodies, 304s: most of their
CPU in a burst goes to re-asking unchanged feeds every second); the messages written per
article to each kind of topic (articles, hand-over envelopes, tag and watch streams);
Kafka's and Elasticsearch's CPU by kind of JVM thread (work, JIT compiler, GC; from /proc),
a phase whose servers' JIT compiler was still busy marked SERVERS WARMING UP; with
--server-threads, Kafka's CPU by thread name (jcmd).
Then each stage alone on the same kind of articles (bench/e2e/stages.py) and the ratio
burst e2e / slowest stage. Peak memory (VmHWM) per process comes from /proc.

Items are feed-sized (title + ~60-word summary) or, with --full-text, ~800-word stories.
Settings of the pipeline can be changed through the environment as usual (e.g.
NEWSFLOW_PROCESSORS__BATCH_SIZE=100, NEWSFLOW_ELASTICSEARCH__REFRESH_INTERVAL=500ms); they
are passed to every process. Bounded: every wait has a timeout, ``--max-seconds`` caps the
run, the farm stops itself; topics, index and temporary files are removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.calibrate import Calibration, calibrate
from bench.e2e import observe, procs, stages
from bench.e2e.farm import feed_urls
from bench.e2e.wire import expected_id, make_item
from processors.service.metrics import CPU_WORKS

REPO = Path(__file__).resolve().parents[2]
NEWSFLOW = [sys.executable, "-m", "newsflow.cli.__main__"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Proc:
    role: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class PhaseResult:
    name: str
    full_text: bool
    offered_rate: float
    articles: int
    searchable: int = 0
    throughput: float = math.nan
    fresh_search: list[float] = field(default_factory=list)
    fresh_tag: list[float] = field(default_factory=list)
    tag_duplicates: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    mean_batch: float = math.nan
    # Where the time goes, per sampled article (seconds): poll -> Kafka (seen_at to the
    # producer's timestamp), Kafka -> batch start (indexed_at), batch start -> searchable.
    segments: dict[str, list[float]] = field(default_factory=dict)
    # Worker time in the phase, summed over workers (seconds): batches, and per hop.
    worker_time: dict[str, float] = field(default_factory=dict)
    # CPU seconds the workers' garbage collectors took in the phase (their metrics).
    collector_s: float = math.nan
    # CPU seconds of the workers' own threads in the phase by their work (enrich, stories,
    # elasticsearch; their metrics): the rest of the workers' CPU is their event loops'.
    thread_cpu: dict[str, float] = field(default_factory=dict)
    farm: dict[str, int] = field(default_factory=dict)  # feed bodies, items served, 304s
    # The 1-minute load average when the phase started and ended: contention inflates CPU
    # time, so a phase that started on a busy machine is marked in the report.
    load_start: float = math.nan
    load_end: float = math.nan
    # Cores the whole machine kept busy over the settle window just before the phase, and
    # how long the phase waited for that to drop to --settle-cores (see Bench.settle).
    busy_before: float = math.nan
    settled_after_s: float = math.nan
    # The core's speed just before the phase (bench/calibrate.py): this machine's speed drifts
    # by 10-20 % over minutes, and every CPU figure above moves with it.
    calibration: Calibration | None = None
    # Messages written in the phase to the run's topics, by kind (Bench.topic_messages):
    # what Kafka's CPU per article is spent on.
    messages: dict[str, int] = field(default_factory=dict)
    # With --server-threads: Kafka's CPU seconds in the phase by thread kind (jcmd).
    kafka_threads: dict[str, float] = field(default_factory=dict)
    # Each server's CPU seconds in the phase by kind of JVM thread (procs.jvm_spent: work,
    # jit, gc, ended), from /proc: how much of its figure is its JIT compiler warming up.
    jvm: dict[str, dict[str, float]] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="newsflow-bench-e2e-"))
        self.procs: list[Proc] = []
        self.deadline = time.monotonic() + args.max_seconds
        names = {
            "NEWSFLOW_KAFKA__ARTICLES_TOPIC": f"bench-{self.run}.articles",
            "NEWSFLOW_KAFKA__DEADLETTER_TOPIC": f"bench-{self.run}.deadletter",
            "NEWSFLOW_KAFKA__ENRICHED_TOPIC": f"bench-{self.run}.enriched",
            "NEWSFLOW_ELASTICSEARCH__STORIES_INDEX": f"bench-{self.run}-articles-stories",
            "NEWSFLOW_ELASTICSEARCH__STORIES_STATE_INDEX":
                f"bench-{self.run}-articles-stories-state",
            "NEWSFLOW_ELASTICSEARCH__ALERTS_INDEX": f"bench-{self.run}-articles-alerts",
            "NEWSFLOW_KAFKA__ALERTS_TOPIC": f"bench-{self.run}.alerts",
            "NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX": f"bench-{self.run}-articles-watches",
            "NEWSFLOW_KAFKA__WATCH_TOPIC_PREFIX": f"bench-{self.run}.watch.",
            "NEWSFLOW_KAFKA__TAG_TOPIC_PREFIX": f"bench-{self.run}.tag.",
            "NEWSFLOW_ELASTICSEARCH__ALIAS": f"bench-{self.run}-articles",
            "NEWSFLOW_ELASTICSEARCH__TEMPLATE_NAME": f"bench-{self.run}-articles",
            "NEWSFLOW_PROCESSORS__APP_ID": f"bench-{self.run}-processors",
            "NEWSFLOW_PROCESSORS__WEB_PORT": "0",
            "NEWSFLOW_PROCESSORS__DATA_DIR": str(self.tmp / "processors"),
            "NEWSFLOW_POLLER__GROUP_ID": f"bench-{self.run}-poller",
            "NEWSFLOW_POLLER__ASSIGNMENT_TOPIC": f"bench-{self.run}.assignment",
            "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
            "NEWSFLOW_ALLOW_HOSTS": "127.20.0.0/16",
        }
        from newsflow.settings import Settings, load_settings

        names, unknown = known_settings(names, Settings)
        if unknown:
            print(f"  this tree's settings have no {', '.join(unknown)}: left out",
                  file=sys.stderr)
        self.env = {**os.environ, **names}

        # The benchmark's own Settings (observers, stages) must name the same topics and
        # index as the subprocesses, which read them from the environment: load them the
        # same way, then put the environment back.
        saved = dict(os.environ)
        os.environ.update(names)
        try:
            self.settings = load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.urls = feed_urls(args.hosts, args.feeds, args.port)
        self.control = self.tmp / "phase.json"

    # -- processes ----------------------------------------------------------------------

    def spawn(self, role: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.tmp / f"{role}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(args, env=env or self.env, cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(role, popen, log)
        self.procs.append(proc)
        return proc

    def wait(self, what: str, predicate: Any, timeout: float) -> None:
        end = min(time.monotonic() + timeout, self.deadline)
        while time.monotonic() < end:
            if predicate():
                return
            for proc in self.procs:
                if proc.popen.poll() is not None and proc.role != "stage":
                    raise RuntimeError(f"{proc.role} exited:\n{proc.text()[-2000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"timed out waiting for {what}")

    def start(self) -> None:
        a = self.args
        ready = self.tmp / "farm.ready"
        self.farm = self.spawn("farm", [
            sys.executable, "-m", "bench.e2e.farm", "--hosts", str(a.hosts), "--feeds",
            str(a.feeds), "--window", str(a.window), "--port", str(a.port), "--control",
            str(self.control), "--ready", str(ready), "--stats", str(self.tmp / "farm.json"),
            "--lifetime", str(a.max_seconds + 60)])
        self.wait("the feed farm", ready.exists, 30)
        self.pollers = []
        for n in range(a.pollers):
            feeds = self.tmp / f"feeds-{n}.yaml"
            mine = self.urls[n::a.pollers]
            feeds.write_text("defaults:\n  min_interval: 1\n  max_interval: 1\nfeeds:\n"
                             + "".join(f"  - {u}\n" for u in mine))
            env = {**self.env, "NEWSFLOW_POLLER__STATE_DIR": str(self.tmp / f"state-{n}")}
            self.pollers.append(self.spawn(f"poller-{n}", [
                *NEWSFLOW, "poll", "--feeds", str(feeds), "--standalone"], env))
        if a.watches:
            self.add_watches(a.watches)
        # --ordered-process: the workers run the enrich stage only and one more process the
        # ordered stage (`newsflow worker --role ...`); its metrics port follows theirs.
        roles = (["enrich"] * a.workers + ["ordered"] if a.ordered_process
                 else ["all"] * a.workers)
        self.workers = [
            self.spawn(f"worker-{n}" if role != "ordered" else "worker-ordered",
                       [*NEWSFLOW, "worker", *_role_option(role)], {
                           **self.env,
                           "NEWSFLOW_PROCESSORS__METRICS_PORT": str(a.metrics_port + n)})
            for n, role in enumerate(roles)]
        self.wait("the workers", lambda: all(
            observe.worker_ready(a.metrics_port + n) for n in range(len(roles))), 180)
        # Every worker must own partitions (a late joiner triggers a rebalance first).
        time.sleep(3)
        self.search = observe.SearchWatcher(self.settings.elasticsearch.url,
                                            self.settings.elasticsearch.alias)
        self.tags = observe.TagWatcher(self.settings.kafka.bootstrap_servers,
                                       self.settings.kafka.tag_topic_prefix,
                                       f"bench-{self.run}-observer")
        self.articles = observe.TagWatcher(self.settings.kafka.bootstrap_servers,
                                           self.settings.kafka.articles_topic,
                                           f"bench-{self.run}-observer-articles")
        self.search.start()
        self.tags.start()
        self.articles.start()

    def add_watches(self, n: int) -> None:
        """``n`` saved watches in the run's watches index before the workers start, so
        every article is matched against all of them (bench/e2e/watches.py)."""
        from bench.e2e.watches import watch_set
        from newsflow_adapters.topics import ensure_topics
        from processors.store.watch_index import WatchIndex
        from processors.store.watches import watch_topic_name

        index = WatchIndex(self.settings.elasticsearch)
        try:
            watches = watch_set(n)
            for watch in watches:
                index.add(watch, replace=True)
            # Their topics too, as a deployment's watches have had theirs for days: created
            # in the burst (at each watch's first match) they cost Kafka about 2 CPU seconds
            # per 100 topics, 0.7 ms per article of a 3,000 burst, once per watch and not
            # per article (bench/RESULTS.md, 2026-12-04).
            prefix = self.settings.kafka.watch_topic_prefix
            ensure_topics(self.settings.kafka,
                          [watch_topic_name(prefix, watch.name) for watch in watches],
                          self.settings.kafka.tag_partitions)
            print(f"  {n} watches saved (matching: "
                  f"{'percolate' if index.percolator else 'scratch-index search'})",
                  file=sys.stderr)
        finally:
            index.close()

    def stop_pipeline(self) -> None:
        for proc in [*self.pollers, *self.workers]:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in [*self.pollers, *self.workers]:
            try:
                proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.popen.kill()

    def cleanup(self) -> None:
        for watcher in ("search", "tags", "articles"):
            with contextlib.suppress(Exception):
                getattr(self, watcher).stop()
        for proc in self.procs:
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        from elasticsearch import Elasticsearch
        from kafka import KafkaAdminClient

        es = Elasticsearch(self.settings.elasticsearch.url, request_timeout=30)
        with contextlib.suppress(Exception):
            es.options(ignore_status=404).indices.delete(index=f"bench-{self.run}-*")
            es.options(ignore_status=404).indices.delete_index_template(
                name=f"bench-{self.run}-*")
        es.close()
        with contextlib.suppress(Exception):
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_servers)
            mine = [t for t in admin.list_topics() if t.startswith(f"bench-{self.run}")]
            if mine:
                admin.delete_topics(mine)
            with contextlib.suppress(Exception):
                admin.delete_groups([f"bench-{self.run}-processors",
                                     f"bench-{self.run}-observer",
                                     f"bench-{self.run}-observer-articles"])
            admin.close()
        if self.args.keep_logs:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- phases -------------------------------------------------------------------------

    def cpu_now(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for proc in [self.farm, *self.pollers, *self.workers]:
            me, kids = procs.tree_sample(proc.pid)
            out[proc.role] = (me.cpu_s if me else 0.0) + sum(k.cpu_s for k in kids)
        for name, pid in self.server_pids().items():
            stat = procs.sample(pid)
            out[name] = stat.cpu_s if stat else 0.0
        out["bench (observers)"] = procs.sample(os.getpid()).cpu_s  # type: ignore[union-attr]
        return out

    def server_pids(self) -> dict[str, int]:
        home = self.settings.stack.home
        pids: dict[str, int] = {}
        for name, path in (("kafka", home / "kafka" / "kafka.pid"),
                           ("elasticsearch", home / "elasticsearch" / "es.pid")):
            with contextlib.suppress(OSError, ValueError):
                pids[name] = int(path.read_text().strip())
        return pids

    def jvm_now(self) -> dict[str, procs.JvmThreads]:
        """Kafka's and Elasticsearch's CPU so far, per thread (procs.jvm_threads)."""
        readings = {name: procs.jvm_threads(pid) for name, pid in self.server_pids().items()}
        return {name: r for name, r in readings.items() if r is not None}

    def kafka_threads(self) -> dict[str, float]:
        """Kafka's CPU seconds so far by thread kind, with --server-threads (a jcmd
        attach costs the broker a little CPU itself, so it is off by default)."""
        pid = self.server_pids().get("kafka")
        if not self.args.server_threads or pid is None:
            return {}
        return procs.java_thread_cpu(pid)

    def topic_messages(self) -> dict[str, int]:
        """Messages on the run's topics so far (the sum of their end offsets), by kind:
        articles, enriched (hand-over envelopes), tag, watch, other; empty when Kafka
        cannot be asked."""
        from kafka import KafkaConsumer, TopicPartition

        kafka = self.settings.kafka
        # getattr: a tree from before the hand-over or watches has no such topics.
        kinds = tuple((name, kind) for field, kind in (
            ("articles_topic", "articles"), ("enriched_topic", "enriched"),
            ("tag_topic_prefix", "tag"), ("watch_topic_prefix", "watch"))
            if (name := getattr(kafka, field, None)))
        counts: dict[str, int] = {}
        try:
            consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers,
                                     request_timeout_ms=20000)
        except Exception:  # a figure of the report, not the run's outcome
            return counts
        try:
            partitions = [TopicPartition(topic, p) for topic in consumer.topics()
                          if topic.startswith(f"bench-{self.run}.")
                          for p in consumer.partitions_for_topic(topic) or ()]
            for tp, end in consumer.end_offsets(partitions).items():
                kind = next((k for name, k in kinds if tp.topic.startswith(name)), "other")
                counts[kind] = counts.get(kind, 0) + end
        except Exception:
            return {}
        finally:
            consumer.close()
        return counts

    def farm_stats(self) -> dict[str, int]:
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads((self.tmp / "farm.json").read_text()))
        return {}

    def settle(self) -> tuple[float, float]:
        """Wait until the machine is as quiet as the idle pipeline leaves it.

        The load average lags by a minute, and what raises it just before a phase is the
        bench's own start-up (workers loading their models, the servers cleaning up the
        previous run's topics and indices): bursts that started in that wake measured up to
        twice the CPU per article of the same commit started on a settled machine
        (bench/RESULTS.md, session 7). So this samples the machine's busy cores over
        ``SETTLE_WINDOW_S`` windows until one is at most ``--settle-cores``, or gives up
        after ``--settle-max-seconds``. The pipeline at rest keeps about 0.35-0.45 cores
        busy itself (the poller re-asking 50 feeds every second, 304s; the feed farm; the
        bench's observers; the servers' housekeeping), so the default threshold, 0.7, is
        that plus a margin. Returns (the last window's busy cores, seconds waited)."""
        started = time.monotonic()
        limit = self.args.settle_max_seconds
        while True:
            busy = procs.busy_cores(SETTLE_WINDOW_S)
            waited = time.monotonic() - started
            if busy <= self.args.settle_cores or waited >= limit:
                return busy, waited

    def phase(self, name: str, count: int, rate: float, full_text: bool,
              window: int) -> PhaseResult:
        """Offer ``count`` articles at ``rate``/s (0: all at once) and measure them."""
        result = PhaseResult(name, full_text, rate, count)
        if self.args.settle_max_seconds > 0:
            result.busy_before, result.settled_after_s = self.settle()
            print(f"  {name}: machine busy {result.busy_before:.2f} cores before the phase "
                  f"(waited {result.settled_after_s:.0f} s)", file=sys.stderr)
        result.calibration = calibrate()
        phase_run = f"{self.run}{name[0]}"
        ids = [expected_id(make_item(i, run=phase_run)) for i in range(count)]
        idset = set(ids)
        step = max(1, round((rate or count / 10) / self.args.sample_per_s))
        baseline = self.search.counts[-1][1] if self.search.counts else 0
        duplicates0 = self.tags.duplicates
        t0 = time.time() + 2.0
        self.control.write_text(json.dumps({"phase": name, "run": phase_run, "t0": t0,
                                            "count": count, "rate": rate, "window": window,
                                            "full_text": full_text}))
        result.load_start = os.getloadavg()[0]
        cpu0, wall0, metrics0 = self.cpu_now(), time.time(), self.worker_metrics()
        farm0, messages0 = self.farm_stats(), self.topic_messages()
        threads0, jvm0 = self.kafka_threads(), self.jvm_now()
        expected_done = t0 + (count / rate if rate > 0 else 0.0)
        added = 0
        last_progress, last_count = time.monotonic(), baseline
        while time.monotonic() < self.deadline:
            if time.time() < t0:
                released = 0
            else:
                released = count if rate <= 0 else min(count, int((time.time() - t0) * rate) + 1)
            if released > added:
                self.search.expect([ids[n] for n in range(added, released) if n % step == 0])
                added = released
            current = self.search.counts[-1][1] if self.search.counts else 0
            if current > last_count:
                last_progress, last_count = time.monotonic(), current
            if current - baseline >= count and self.search.pending() == 0:
                break
            stall = self.args.stall_seconds
            if time.time() > expected_done and time.monotonic() - last_progress > stall:
                print(f"  {name}: nothing became searchable for {stall:.0f} s, stopping the "
                      f"phase", file=sys.stderr)
                break
            time.sleep(0.1)
        time.sleep(2)  # the last tag deliveries
        wall1, cpu1, metrics1 = time.time(), self.cpu_now(), self.worker_metrics()
        result.load_end = os.getloadavg()[0]
        result.worker_time = {k: v - metrics0.get(k, 0.0) for k, v in metrics1.items()}
        farm1, messages1 = self.farm_stats(), self.topic_messages()
        result.farm = {k: farm1.get(k, 0) - farm0.get(k, 0) for k in farm1}
        result.messages = {k: v - messages0.get(k, 0) for k, v in messages1.items()}
        result.kafka_threads = procs.java_thread_cpu_spent(threads0, self.kafka_threads())
        jvm1 = self.jvm_now()
        result.jvm = {name: procs.jvm_spent(jvm0[name], jvm1[name])
                      for name in jvm1 if name in jvm0}
        result.seconds = wall1 - wall0
        result.cpu = {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}
        result.searchable = max(0, self.search.counts[-1][1] - baseline)
        result.throughput = self._throughput(baseline, count)
        produced = {doc_id: ts for (_t, doc_id), (_a, _s, ts)
                    in list(self.articles.delivered.items())}
        segments: dict[str, list[float]] = {"poll → Kafka": [], "Kafka → batch start": [],
                                            "batch start → searchable": []}
        for doc_id, (visible, seen, indexed) in list(self.search.visible.items()):
            if doc_id in idset:
                result.fresh_search.append(visible - seen)
                if doc_id in produced:
                    segments["poll → Kafka"].append(produced[doc_id] - seen)
                    segments["Kafka → batch start"].append(indexed - produced[doc_id])
                segments["batch start → searchable"].append(visible - indexed)
        result.segments = segments
        for (_topic, doc_id), (delivered, seen, _ts) in list(self.tags.delivered.items()):
            if doc_id in idset:
                result.fresh_tag.append(delivered - seen)
        result.tag_duplicates = self.tags.duplicates - duplicates0
        print(f"  {name}: tag messages seen so far {self.tags.messages}, "
              f"articles messages {self.articles.messages}", file=sys.stderr)
        # Batches and their sizes from the workers' counters, not from their logs.
        result.batches = round(result.worker_time.pop("batches handled", 0.0))
        received = result.worker_time.pop("records received", 0.0)
        # CPU time, inside the hops' wall time above: reported apart (absent before a tree
        # whose workers count it).
        result.collector_s = result.worker_time.pop("collector", math.nan)
        result.thread_cpu = {work: result.worker_time.pop(f"cpu {work}") for work in CPU_WORKS
                             if f"cpu {work}" in result.worker_time}
        result.mean_batch = received / result.batches if result.batches else math.nan
        return result

    def worker_metrics(self) -> dict[str, float]:
        """Seconds the workers spent in batches and in each hop so far (summed)."""
        total: dict[str, float] = {}
        wanted = {
            "newsflow_processors_batch_seconds_sum": "batches",
            "newsflow_processors_batch_seconds_count": "batch count",
            'newsflow_processors_hop_seconds_sum{hop="enrich"}': "enrich",
            'newsflow_processors_hop_seconds_sum{hop="hand-over"}': "hand-over",
            'newsflow_processors_hop_seconds_sum{hop="watch"}': "watch",
            'newsflow_processors_hop_seconds_sum{hop="stories"}': "stories",
            'newsflow_processors_hop_seconds_sum{hop="index"}': "index",
            'newsflow_processors_hop_seconds_sum{hop="forward"}': "forward",
            'newsflow_processors_batches_total{stage="index"}': "batches handled",
            'newsflow_processors_received_total{stage="index"}': "records received",
            **{f'newsflow_processors_collector_seconds_total{{generation="{g}"}}': "collector"
               for g in range(3)},
            **{f'newsflow_processors_cpu_seconds_total{{work="{w}"}}': f"cpu {w}"
               for w in CPU_WORKS},
        }
        for n in range(len(self.workers)):
            for name, value in observe.scrape_metrics(self.args.metrics_port + n).items():
                if name in wanted:
                    total[wanted[name]] = total.get(wanted[name], 0.0) + value
        return total

    def _throughput(self, baseline: int, count: int) -> float:
        """Documents/s between 10 % and 90 % of the phase's articles being searchable."""
        series = [(t, c - baseline) for t, c in self.search.counts]

        def crossing(level: float) -> float | None:
            prev = None
            for t, c in series:
                if c >= level:
                    if prev is None or c == prev[1]:
                        return t
                    return prev[0] + (t - prev[0]) * (level - prev[1]) / (c - prev[1])
                prev = (t, c)
            return None

        lo, hi = crossing(0.1 * count), crossing(0.9 * count)
        if lo is None or hi is None or hi <= lo:
            return math.nan
        return 0.8 * count / (hi - lo)

    def memory(self) -> list[tuple[str, int, int]]:
        """(process, peak RSS kB, current RSS kB) for every pipeline process of the run."""
        rows: list[tuple[str, int, int]] = []
        for proc in [self.farm, *self.pollers, *self.workers]:
            me, kids = procs.tree_sample(proc.pid)
            if me:
                rows.append((proc.role, me.peak_rss_kb, me.rss_kb))
            for n, kid in enumerate(kids):
                rows.append((f"{proc.role} child {n}", kid.peak_rss_kb, kid.rss_kb))
        for name, pid in self.server_pids().items():
            stat = procs.sample(pid)
            if stat:
                rows.append((f"{name} (shared stack)", stat.peak_rss_kb, stat.rss_kb))
        return rows

    # -- standalone stages --------------------------------------------------------------

    def stages(self, full_text: bool) -> list[stages.StageResult]:
        a = self.args
        count = a.feeds * a.window
        self.control.write_text(json.dumps({"phase": "stages", "run": f"{self.run}s",
                                            "t0": time.time() - 60, "count": count,
                                            "rate": 1e9, "full_text": full_text}))
        time.sleep(0.5)
        feeds = self.tmp / "feeds-all.yaml"
        feeds.write_text("feeds:\n" + "".join(f"  - {u}\n" for u in self.urls))
        settings = self.settings.model_copy(deep=True)
        settings.poller.allow_hosts = ["127.20.0.0/16"]
        settings.poller.min_host_gap_s = 0
        results = []
        poll_result, articles = stages.poll_stage(settings, feeds)
        results.append(poll_result)
        articles = articles[: a.stage_articles]
        results.append(stages.produce_stage(settings, f"bench-{self.run}.stage-produce",
                                            articles, chunk=max(1, round(a.rate / a.feeds))))
        batch = settings.processors.batch_size
        enrich_result, enriched, version = stages.enrich_stage(settings, articles, a.workers,
                                                               batch)
        results.append(enrich_result)
        settings.elasticsearch.alias = f"bench-{self.run}-stage"
        settings.elasticsearch.template_name = f"bench-{self.run}-stage"
        results.append(stages.index_stage(settings, enriched, version, a.workers, batch))
        return results


# -- report -----------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> str:
    v = percentile(values, q)
    return "-" if math.isnan(v) else f"{v:.2f}"


def report(args: argparse.Namespace, phases: list[PhaseResult],
           stage_results: list[stages.StageResult], memory: list[tuple[str, int, int]],
           settings: Any) -> str:
    kind = "full-text (~800 words)" if args.full_text else "feed-sized (title + ~60 words)"
    lines = [
        f"newsflow e2e benchmark — {kind}; cores: {os.cpu_count()}; "
        f"pollers: {args.pollers}; workers: {args.workers}"
        f"{' enrich-only + 1 ordered-stage process' if args.ordered_process else ''}; "
        f"feeds: {args.feeds} on "
        f"{args.hosts} hosts; batch_size={settings.processors.batch_size} "
        f"within={settings.processors.batch_within_s}s "
        f"refresh_interval={settings.elasticsearch.refresh_interval}; "
        f"watches: {args.watches}; load average at the "
        f"end {os.getloadavg()[0]:.1f} (other work on the machine shares the 2 cores)",
        "",
        "| phase | offered/s | articles | searchable | e2e articles/s | poll→searchable "
        "p50/p95/p99 s | poll→tag stream p50/p95/p99 s | batches (mean size) | items parsed "
        "per article |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {p.offered_rate or 'burst'} | {p.articles} | {p.searchable} | "
            f"{p.throughput:.1f} | {_ms(p.fresh_search, 50)} / {_ms(p.fresh_search, 95)} / "
            f"{_ms(p.fresh_search, 99)} (n={len(p.fresh_search)}) | {_ms(p.fresh_tag, 50)} / "
            f"{_ms(p.fresh_tag, 95)} / {_ms(p.fresh_tag, 99)} (n={len(p.fresh_tag)}) | "
            f"{p.batches} ({p.mean_batch:.0f}) | "
            f"{p.farm.get('items_served', 0) / max(1, p.searchable):.1f} |")
    if stage_results:
        slowest = min(stage_results, key=lambda s: s.rate)
        capacity = next((p for p in phases if p.name == "burst"), None)
        lines += ["", "| stage alone | articles | seconds | articles/s | detail |",
                  "|---|---|---|---|---|"]
        lines += [f"| {s.name} | {s.articles} | {s.seconds:.2f} | {s.rate:.1f} | {s.detail} |"
                  for s in stage_results]
        if capacity and not math.isnan(capacity.throughput):
            lines.append(f"\ne2e / slowest stage ({slowest.name}): {capacity.throughput:.1f} / "
                         f"{slowest.rate:.1f} = {capacity.throughput / slowest.rate:.2f}")
            lines += _shared_core_bound(capacity, slowest)
    if phases:
        names = list(phases[0].segments)
        lines += ["", "Where an article's time goes (sampled articles; seconds p50 / p95):", "",
                  "| phase | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for p in phases:
            lines.append(f"| {p.name} | " + " | ".join(
                f"{_ms(p.segments[n], 50)} / {_ms(p.segments[n], 95)}" for n in names) + " |")
    # Wall time of each hop (the ordered stage's hops run one after the other in the worker
    # that owns news.enriched: watch, stories, index, forward; enrich and hand-over in each).
    hops = ("batches", "enrich", "hand-over", "watch", "stories", "index", "forward")
    lines += ["", "Worker time per phase, summed over workers (seconds; share of wall time x "
              "workers):", "", "| phase | wall | in batches | " + " | ".join(hops[1:]) + " |",
              "|---|---|" + "---|" * len(hops)]
    for p in phases:
        capacity_s = max(1e-9, p.seconds * args.workers)
        cells = [f"{p.worker_time.get(k, 0):.1f} ({100 * p.worker_time.get(k, 0) / capacity_s:.0f}"
                 "%)" for k in hops]
        lines.append(f"| {p.name} | {p.seconds:.1f} | " + " | ".join(cells) + " |")
    lines += ["", "CPU per article of the product's processes (pollers, workers, Kafka, "
              "Elasticsearch) and the throughput that allows on this machine's idle cores "
              f"({os.cpu_count()}); the 1-minute load average at the phase's start and end, "
              "and the cores the machine kept busy just before it (UNDER LOAD: above "
              f"{args.settle_cores:g} cores, or without the settle step a load above "
              f"{UNDER_LOAD:.1f}: other work shared the cores, the figure is inflated):", ""]
    for p in phases:
        per = _product_cpu_ms(p)
        by_role = role_cpu_ms(p.cpu, p.searchable)
        parts = ", ".join(f"{role}s {ms:.2f}" if role in ("poller", "worker")
                          else f"{role} {ms:.2f}" for role, ms in by_role.items())
        marked = " **UNDER LOAD**" if _under_load(p, args) else ""
        busy = ("" if math.isnan(p.busy_before) else
                f"; machine busy {p.busy_before:.2f} cores before it (settled in "
                f"{p.settled_after_s:.0f} s)")
        lines.append(f"- {p.name}: {per:.2f} ms = {parts} -> at most "
                     f"{(os.cpu_count() or 1) * 1000 / per:.0f} articles/s; load "
                     f"{p.load_start:.2f} -> {p.load_end:.2f}{busy}{marked}" if per else
                     f"- {p.name}: -")
    lines += calibration_lines(phases)
    lines += collector_lines(phases)
    lines += thread_cpu_lines(phases)
    lines += poll_lines(phases)
    lines += ["", "Messages written to Kafka per searchable article, by topic kind (what "
              "the broker's CPU is spent on):", ""]
    for p in phases:
        kinds = ", ".join(f"{kind} {count / max(1, p.searchable):.2f}"
                          for kind, count in sorted(p.messages.items()))
        lines.append(f"- {p.name}: {kinds or '-'}")
    lines += jvm_thread_lines(phases)
    for p in phases:
        if p.kafka_threads:
            top = sorted(p.kafka_threads.items(), key=lambda kv: -kv[1])[:8]
            lines.append(f"- {p.name}, Kafka's CPU ms per article by thread: " + ", ".join(
                f"{kind} {1000 * cpu_s / max(1, p.searchable):.2f}" for kind, cpu_s in top))
    # Two decimals: a change of a tenth of a millisecond per article in one process (the
    # ordered stage, say) must show in a 3,000-article phase.
    lines += ["", "CPU seconds per phase (per 1000 articles: ms per article):", ""]
    names = sorted({k for p in phases for k in p.cpu})
    lines.append("| process | " + " | ".join(p.name for p in phases) + " |")
    lines.append("|---|" + "---|" * len(phases))
    for name in names:
        cells = [f"{p.cpu.get(name, 0):.2f} ({1000 * p.cpu.get(name, 0) / max(1, p.articles):.2f})"
                 for p in phases]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| process | peak RSS MiB | RSS now MiB |", "|---|---|---|"]
    lines += [f"| {n} | {peak / 1024:.0f} | {now / 1024:.0f} |" for n, peak, now in memory]
    return "\n".join(lines)


# A 1-minute load average above this at a phase's start means other work was running (the
# pipeline at rest stays well below it on 2 cores).
UNDER_LOAD = 1.0
SETTLE_WINDOW_S = 5.0


def collector_lines(phases: list[PhaseResult]) -> list[str]:
    """Per phase, the workers' garbage collector's CPU ms per searchable article (from their
    metrics; none for a tree whose workers do not count it)."""
    return [f"- {p.name}: of the workers' CPU, the garbage collector "
            f"{1000 * p.collector_s / max(1, p.searchable):.2f} ms per article"
            for p in phases if not math.isnan(p.collector_s)]


def phase_json(p: PhaseResult) -> dict[str, Any]:
    """A phase as ``--json`` writes it (bench/e2e/ab.py reads it): its fields, nested ones
    (the calibration) as objects, the samples summed up as percentiles."""
    return ({k: v for k, v in asdict(p).items()
             if k not in ("fresh_search", "fresh_tag", "segments")}
            | {f"search_p{q}": percentile(p.fresh_search, q) for q in (50, 95, 99)}
            | {f"tag_p{q}": percentile(p.fresh_tag, q) for q in (50, 95, 99)})


def calibration_lines(phases: list[PhaseResult]) -> list[str]:
    """Per phase, the core's speed measured just before it (bench/calibrate.py)."""
    return [f"- {p.name}: the machine just before it: {p.calibration.describe()}"
            for p in phases if p.calibration is not None]


def thread_cpu_lines(phases: list[PhaseResult]) -> list[str]:
    """Per phase, the workers' CPU ms per searchable article by the work of their threads
    (their metrics), and the rest: their event loops (Kafka, decoding and encoding, the
    hand-over). None for a tree whose workers do not count it."""
    lines = []
    for p in phases:
        if not p.thread_cpu:
            continue
        works = worker_work_ms(p.cpu, p.thread_cpu, p.searchable)
        parts = ", ".join(f"{work} {works[work]:.2f}" for work in CPU_WORKS)
        lines.append(f"- {p.name}: the workers' CPU by work: {parts}, the rest (event loops: "
                     f"Kafka, decoding, hand-over) {works['rest']:.2f} ms per article")
    return lines


def worker_work_ms(cpu: Mapping[str, float], thread_cpu: Mapping[str, float],
                   searchable: int) -> dict[str, float]:
    """The workers' CPU ms per searchable article by work (``CPU_WORKS``, from their threads'
    counters) and ``rest``: what their processes spent besides, i.e. their event loops."""
    per = 1000 / max(1, searchable)
    works = {work: per * thread_cpu.get(work, 0.0) for work in CPU_WORKS}
    works["rest"] = role_cpu_ms(cpu, searchable)["worker"] - per * sum(thread_cpu.values())
    return works


def poll_lines(phases: list[PhaseResult]) -> list[str]:
    """Per phase, what the pollers asked the farm: bodies served and 304s, and the 304s per
    searchable article. Feeds are re-asked every second for the whole phase, new items or
    not, so in a burst most of the pollers' CPU goes to these unchanged polls, not to the
    articles (bench/RESULTS.md, session 24). From the farm's counters, which it writes
    every second: about a second's worth of requests may fall on either side of a phase."""
    return [f"- {p.name}: the pollers asked {p.farm.get('requests', 0)} times: "
            f"{p.farm.get('bodies', 0)} feed bodies, {p.farm.get('not_modified', 0)} answered "
            f"304 ({p.farm.get('not_modified', 0) / max(1, p.searchable):.2f} unchanged polls "
            f"per article)" for p in phases if p.farm.get("requests")]


def jvm_thread_lines(phases: list[PhaseResult]) -> list[str]:
    """Per phase, each server's CPU ms per article by kind of JVM thread, and the mark for
    a phase whose servers' JIT compiler was still busy."""
    lines: list[str] = []
    for p in phases:
        if p.jvm:
            per_article = {name: {kind: 1000 * cpu_s / max(1, p.searchable)
                                  for kind, cpu_s in kinds.items()}
                           for name, kinds in sorted(p.jvm.items())}
            warming = servers_warming({name: ms.get("jit", 0.0)
                                       for name, ms in per_article.items()})
            mark = (" **SERVERS WARMING UP**: the JIT compiler took " + ", ".join(
                f"{name} {ms:.2f} ms" for name, ms in warming.items()) + " per article"
                " (servers started or idle a short while ago; their figures are inflated)"
                if warming else "")
            lines.append(f"- {p.name}, the servers' CPU ms per article by JVM thread: " + "; ".join(
                f"{name} " + ", ".join(f"{kind} {ms:.2f}" for kind, ms in sorted(kinds.items()))
                for name, kinds in per_article.items()) + mark)
    return lines


def jit_ms_per_article(jvm: Mapping[str, Mapping[str, float]], searchable: int) -> dict[str, float]:
    """Each server's JIT compiler threads' CPU ms per searchable article (``jvm``: a phase's
    CPU seconds by server and kind of JVM thread), servers in name order."""
    return {name: 1000 * float(kinds.get("jit", 0.0)) / max(1, searchable)
            for name, kinds in sorted(jvm.items())}


def servers_warming(jit: Mapping[str, float]) -> dict[str, float]:
    """Of each server's JIT ms per article, those above ``JIT_WARMING_MS``: still compiling,
    their figures inflated."""
    return {name: ms for name, ms in jit.items() if ms > JIT_WARMING_MS}


# A server's JIT compiler threads above this many ms of CPU per article in a phase: it is
# still warming up. On a warm Kafka they take 0.03-0.09 ms; in the first runs after a start,
# 0.55-1.22 ms, most of Kafka's figure (bench/RESULTS.md, 2026-12-04, session 10).
# Elasticsearch's stay above it for more runs (session 17).
JIT_WARMING_MS = 0.2


def _under_load(phase: PhaseResult, args: argparse.Namespace) -> bool:
    """The phase started on a busy machine: the settle step gave up (the busy cores it last
    saw are above the threshold), or, without that step, the load average was high."""
    if not math.isnan(phase.busy_before):
        return phase.busy_before > float(args.settle_cores)
    return phase.load_start > UNDER_LOAD


def known_settings(
    names: Mapping[str, str], settings: type[Any]
) -> tuple[dict[str, str], list[str]]:
    """The ``NEWSFLOW_<SECTION>__<FIELD>`` variables that ``settings`` (the Settings class
    of the tree the bench runs in) declares, and the names of those it does not. A tree
    from before a setting existed (``--a-tree`` of bench/e2e/ab.py) refuses unknown ones
    (its sections forbid extras), and a run of it must not depend on a patched copy of
    this file. Variables without a section (``NEWSFLOW_ALLOW_HOSTS``) are kept."""
    known: dict[str, str] = {}
    unknown: list[str] = []
    for name, value in names.items():
        section, _, field = name.removeprefix("NEWSFLOW_").lower().partition("__")
        declared = getattr(settings.model_fields.get(section), "annotation", None)
        if field and field not in getattr(declared, "model_fields", {}):
            unknown.append(name)
        else:
            known[name] = value
    return known, unknown


def _role_option(role: str) -> list[str]:
    """``--role ROLE``, left out for ``all``: the default, so a tree from before the roles
    runs the same command."""
    return [] if role == "all" else ["--role", role]


# The product's processes by role: each process's name in PhaseResult.cpu starts with its
# role ("poller-0", "worker-1", "worker-ordered", "kafka", "elasticsearch"); the bench and
# the feed farm are not the product.
PRODUCT_ROLES = ("poller", "worker", "kafka", "elasticsearch")


def role_cpu_ms(cpu: Mapping[str, float], searchable: int) -> dict[str, float]:
    """CPU ms per searchable article of each product role, from a phase's CPU seconds by
    process (PhaseResult.cpu, or the ``cpu`` of a phase in ``--json``)."""
    return {role: 1000 * sum(v for k, v in cpu.items() if k.startswith(role))
            / max(1, searchable) for role in PRODUCT_ROLES}


def _product_cpu_ms(phase: PhaseResult) -> float:
    """CPU ms per searchable article of the product's processes (not the bench, not the farm)."""
    return sum(role_cpu_ms(phase.cpu, phase.searchable).values())


def _shared_core_bound(burst: PhaseResult, slowest: stages.StageResult) -> list[str]:
    """Why the ratio above cannot reach 1 when every stage shares the same cores.

    The slowest stage alone has every core to itself; end to end it shares them with the
    poller, Kafka and Elasticsearch. With perfect overlap the ratio is then at most the
    stage's share of the pipeline's CPU per article, and the end-to-end rate at most
    cores / (CPU per article). Those two numbers say whether the pipeline wastes anything
    (stalls, idle waits) apart from sharing the cores.
    """
    per = _product_cpu_ms(burst)
    if not per:
        return []
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / per
    out = [f"CPU ceiling of the burst on {cores} shared cores: {cores} x 1000 / {per:.1f} ms "
           f"per article = {ceiling:.0f} articles/s; e2e / ceiling = "
           f"{burst.throughput / ceiling:.2f}"]
    if slowest.cpu_ms_per_article:
        out.append(f"Bound on e2e / slowest stage from sharing the cores: "
                   f"{slowest.cpu_ms_per_article:.1f} ms ({slowest.name}) / {per:.1f} ms "
                   f"(everything) = {slowest.cpu_ms_per_article / per:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=None,
                        help="articles of the burst phase (default 6000; 600 full-text)")
    parser.add_argument("--rate", type=float, default=None,
                        help="offered articles/s in the steady phase (default 200, the goal; "
                             "12 full-text)")
    parser.add_argument("--latency-rate", type=float, default=None,
                        help="offered articles/s in the latency phase (default 100, half the "
                             "goal; 6 full-text)")
    parser.add_argument("--steady-seconds", type=float, default=45.0,
                        help="how long the steady and latency phases offer articles")
    parser.add_argument("--full-text", action="store_true", help="~800-word items")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ordered-process", action="store_true",
                        help="the workers enrich only; one more process runs the ordered "
                             "stage (stories, watches, alerts, index, tag streams)")
    parser.add_argument("--pollers", type=int, default=1)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=25)
    parser.add_argument("--window", type=int, default=20, help="items per feed")
    parser.add_argument("--port", type=int, default=18580)
    parser.add_argument("--metrics-port", type=int, default=18610,
                        help="Prometheus port of worker 0 (worker n: +n)")
    parser.add_argument("--sample-per-s", type=float, default=50.0,
                        help="articles per second whose freshness is tracked")
    parser.add_argument("--stage-articles", type=int, default=None,
                        help="articles for the standalone stages (default 2000; 400 "
                             "full-text)")
    parser.add_argument("--phases", default="burst,steady,latency")
    parser.add_argument("--stall-seconds", type=float, default=None,
                        help="end a phase when nothing became searchable for this long after "
                             "its last article was offered (default 30; 120 full-text)")
    parser.add_argument("--watches", type=int, default=0,
                        help="saved watches every article is matched against (issue 15's "
                        "speed goal is measured with 100)")
    parser.add_argument("--server-threads", action="store_true",
                        help="also report Kafka's CPU per article by thread kind (jcmd "
                             "Thread.print at each phase's start and end)")
    parser.add_argument("--settle-cores", type=float, default=0.7,
                        help="before each phase, wait until the whole machine keeps at most "
                             "this many cores busy over 5 s (the idle pipeline uses about 0.4)")
    parser.add_argument("--settle-max-seconds", type=float, default=120.0,
                        help="give up waiting after this long and mark the phase UNDER LOAD "
                             "(0: do not wait)")
    parser.add_argument("--no-stages", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    full = args.full_text
    args.articles = args.articles or (600 if full else 6000)
    args.rate = args.rate or (12.0 if full else 200.0)
    args.latency_rate = args.latency_rate or (6.0 if full else 100.0)
    args.stall_seconds = args.stall_seconds or (120.0 if full else 30.0)
    args.stage_articles = args.stage_articles or (400 if full else 2000)

    bench = Bench(args)
    phases: list[PhaseResult] = []
    stage_results: list[stages.StageResult] = []
    try:
        bench.start()
        for name in args.phases.split(","):
            if name == "burst":
                phases.append(bench.phase("burst", args.articles, 0.0, full,
                                          math.ceil(args.articles / args.feeds)))
            elif name == "steady":
                phases.append(bench.phase("steady", int(args.rate * args.steady_seconds),
                                          args.rate, full, args.window))
            elif name == "latency":
                phases.append(bench.phase("latency", int(args.latency_rate * args.steady_seconds),
                                          args.latency_rate, full, args.window))
            else:
                parser.error(f"unknown phase {name}")
            print(f"phase {name} done", file=sys.stderr)
        memory = bench.memory()
        bench.stop_pipeline()
        if not args.no_stages:
            stage_results = bench.stages(full)
        me = procs.sample(os.getpid())
        if me:
            memory.append(("bench (observers; stages in process)", me.peak_rss_kb, me.rss_kb))
        text = report(args, phases, stage_results, memory, bench.settings)
        print(text)
        if args.json:
            args.json.write_text(json.dumps({
                "args": vars(args) | {"json": str(args.json)},
                "phases": [phase_json(p) for p in phases],
                "stages": [s.__dict__ | {"rate": s.rate} for s in stage_results],
                "memory": memory}, default=str, indent=1))
    finally:
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
