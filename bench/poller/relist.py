"""Poller CPU per fetch when feeds re-list mostly items already published.

    .venv/bin/python -m bench.poller.relist [--feeds 50] [--hosts 25] [--rate 100]
        [--window 20] [--warmup 20] [--seconds 60] [--tree DIR] [--profile OUT]

The steady phase of bench/e2e in miniature, without the workers: the e2e feed farm
(bench/e2e/farm.py, 127.20.x.y) serves ``--feeds`` feeds on ``--hosts`` loopback hosts, each
listing its newest ``--window`` items, new items arriving at ``--rate`` per second in total
(so each 1 s poll of a feed sees about rate/feeds new items). The farm starts with every
feed already listing ``--window`` items, so after the first poll of each feed (``--warmup``
seconds are left out) every fetch re-lists mostly items the poller has published.

The poller is the real ``newsflow poll --standalone`` (min/max interval 1 s, host gap 0,
parser processes as configured, a unique Kafka topic deleted at the end, state in a
temporary directory). Over ``--seconds`` it measures the CPU of the poller process and
its descendants (parser pool, forkserver) from /proc and the poller's own counters
(Prometheus endpoint): fetches (200 and 304) and articles produced, and prints CPU ms per
fetch, per 200 and per new article, with the core count and the load averages. At the end
it reads the topic back and reports records, distinct ids and duplicates.

``--tree DIR`` runs the poller with DIR as its working directory, so that ``DIR/ingest``
is imported instead of the repo's (an older copy, for before/after comparisons).
``--profile OUT`` also records the poller with py-spy (``--subprocesses``, raw collapsed
stacks to OUT) during the measurement and prints the top functions by self and by
inclusive share, per process kind (the poller itself, the parser processes).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench.e2e.farm import feed_urls
from bench.e2e.procs import tree_sample

REPO = Path(__file__).resolve().parents[2]
# The dev extras install py-spy beside the interpreter (.venv/bin), which need not be on
# PATH: looked for there first, then on PATH.
PY_SPY = shutil.which("py-spy", path=os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ.get("PATH", "")])) or "py-spy"
_SAMPLE = re.compile(r"^newsflow_ingest_(fetches|articles)_total\{status=\"([^\"]+)\"\} (\S+)$")


def _tree_cpu(pid: int) -> float:
    me, kids = tree_sample(pid)
    return (me.cpu_s if me else 0.0) + sum(k.cpu_s for k in kids)


def _counters(port: int) -> dict[str, float]:
    """fetches:<status> and articles:<status> from the poller's metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            out[f"{match.group(1)}:{match.group(2)}"] = float(match.group(3))
    return out


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _wait_for(what: str, check: Any, timeout: float, procs: list[subprocess.Popen[bytes]],
              ) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            if check():
                return
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{what}: a process exited with {proc.returncode}")
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def _read_topic(topic: str) -> tuple[int, int]:
    """(records, distinct keys) on the topic."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:19092", group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        keys: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                keys.extend(r.key for r in records)
        return len(keys), len(set(keys))
    finally:
        consumer.close()


def _delete_topic(topic: str) -> None:
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:19092")
        admin.delete_topics([topic])
        admin.close()
    except Exception as exc:  # the result matters more than the cleanup
        print(f"could not delete topic {topic}: {exc}", file=sys.stderr)


def summarize_profile(path: Path, poller_pid: int, top: int = 25) -> str:
    """Top functions by self and inclusive share of a py-spy raw (collapsed) file, split
    into the poller process (its main thread and its other threads) and its parser
    processes. Shares are of each part's samples; py-spy counts a thread that waits in a
    system call as busy unless ``--gil`` was given, so read them against /proc CPU."""
    self_s: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    incl: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        if count <= 0:
            continue
        frames = stack.split(";")
        procs = [f for f in frames if f.startswith("process ")]
        match = re.match(r"process (\d+):", procs[-1]) if procs else None
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if match is None or int(match.group(1)) == poller_pid:
            root = frames[0]
            kind = ("poller main thread" if "runpy" in root else
                    "poller other threads" if "threading.py" in root else "poller (partial)")
        else:
            kind = "parser processes"
        totals[kind] += count
        self_s[kind][frames[-1]] += count
        for frame in set(frames):
            incl[kind][frame] += count
    grand = sum(totals.values())
    out: list[str] = []
    for kind in sorted(totals, key=lambda k: -totals[k]):
        total = totals[kind]
        out.append(f"== {kind}: {total} samples ({100 * total / grand:.0f}% of all)")
        out.append("-- self")
        for frame, n in self_s[kind].most_common(top):
            out.append(f"{100 * n / total:5.1f}%  {frame}")
        out.append("-- inclusive")
        for frame, n in incl[kind].most_common(top + 15):
            out.append(f"{100 * n / total:5.1f}%  {frame}")
    return "\n".join(out)


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    urls = feed_urls(args.hosts, args.feeds, args.port)
    control, ready, stats = tmp / "phase.json", tmp / "farm.ready", tmp / "farm.json"
    prefill = args.window * args.feeds / args.rate  # every feed lists a full window at start
    t0 = time.time() - prefill
    count = int(args.rate * (prefill + args.warmup + args.seconds + 60))
    control.write_text(json.dumps({"phase": "relist", "run": uuid.uuid4().hex[:8], "t0": t0,
                                   "count": count, "rate": args.rate, "window": args.window,
                                   "full_text": args.full_text}))
    lifetime = args.warmup + args.seconds + 120
    farm = subprocess.Popen(
        [sys.executable, "-m", "bench.e2e.farm", "--hosts", str(args.hosts), "--feeds",
         str(args.feeds), "--window", str(args.window), "--port", str(args.port),
         "--control", str(control), "--ready", str(ready), "--stats", str(stats),
         "--lifetime", str(lifetime)], cwd=REPO, start_new_session=True)
    topic = f"bench.relist.{uuid.uuid4().hex[:8]}"
    feeds = tmp / "feeds.yaml"
    feeds.write_text("defaults:\n  min_interval: 1\n  max_interval: 1\nfeeds:\n"
                     + "".join(f"  - {u}\n" for u in urls))
    env = {**os.environ,
           "NEWSFLOW_KAFKA__ARTICLES_TOPIC": topic,
           "NEWSFLOW_POLLER__STATE_DIR": str(tmp / "state"),
           "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
           "NEWSFLOW_ALLOW_HOSTS": "127.20.0.0/16"}
    if args.parse_workers is not None:
        env["NEWSFLOW_POLLER__PARSE_WORKERS"] = str(args.parse_workers)
    tree = Path(args.tree).resolve() if args.tree else REPO
    poller: subprocess.Popen[bytes] | None = None
    log = (tmp / "poller.log").open("wb")
    result: dict[str, Any] = {}
    try:
        _wait_for("the feed farm", ready.exists, 30, [farm])
        poller = subprocess.Popen(
            [sys.executable, "-m", "newsflow.cli.__main__", "poll", "--feeds", str(feeds),
             "--standalone", "--metrics-port", str(args.metrics_port)],
            cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for("the poller's metrics", lambda: _counters(args.metrics_port) is not None, 60,
                  [farm, poller])
        time.sleep(args.warmup)
        load0 = _loadavg()
        cpu0, c0, t_0 = _tree_cpu(poller.pid), _counters(args.metrics_port), time.monotonic()
        spy = None
        if args.profile:
            spy = subprocess.Popen([args.py_spy, "record", "-p", str(poller.pid), "-r",
                                    str(args.rate_hz), "--format", "raw", "-o", args.profile,
                                    "--subprocesses", "-d", str(int(args.seconds)),
                                    "--nonblocking", *(["--gil"] if args.gil else [])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.seconds)
        cpu1, c1, t_1 = _tree_cpu(poller.pid), _counters(args.metrics_port), time.monotonic()
        load1 = _loadavg()
        if spy is not None:
            spy.wait(timeout=60)

        def delta(key: str) -> float:
            return c1.get(key, 0.0) - c0.get(key, 0.0)

        cpu_ms = (cpu1 - cpu0) * 1000
        ok, not_mod = delta("fetches:200"), delta("fetches:304")
        fetches = sum(c1.get(k, 0.0) - c0.get(k, 0.0) for k in c1 if k.startswith("fetches:"))
        produced = delta("articles:produced")
        result = {
            "tree": str(tree), "feeds": args.feeds, "hosts": args.hosts, "rate": args.rate,
            "window": args.window, "seconds": round(t_1 - t_0, 1),
            "cores": os.cpu_count(), "load1_start": load0, "load1_end": load1,
            "fetches": int(fetches), "fetches_200": int(ok), "fetches_304": int(not_mod),
            "produced": int(produced), "duplicates": int(delta("articles:duplicate")),
            "cpu_ms": round(cpu_ms, 1),
            "cpu_ms_per_fetch": round(cpu_ms / fetches, 3) if fetches else None,
            "cpu_ms_per_200": round(cpu_ms / ok, 3) if ok else None,
            "cpu_ms_per_article": round(cpu_ms / produced, 3) if produced else None,
            "poller_cpu_share": round((cpu1 - cpu0) / (t_1 - t_0), 3),
        }
    finally:
        if poller is not None and poller.poll() is None:
            poller.send_signal(signal.SIGTERM)
            try:
                poller.wait(timeout=30)
            except subprocess.TimeoutExpired:
                poller.kill()
        log.close()
        if farm.poll() is None:
            farm.terminate()
            try:
                farm.wait(timeout=30)
            except subprocess.TimeoutExpired:
                farm.kill()
        if result:
            with contextlib.suppress(Exception):
                records, distinct = _read_topic(topic)
                result.update(topic_records=records, topic_distinct_ids=distinct,
                              topic_duplicates=records - distinct)
        _delete_topic(topic)
    if args.profile and poller is not None:
        result["profile"] = summarize_profile(Path(args.profile), poller.pid, args.top)
    errors = [line for line in (tmp / "poller.log").read_text(errors="replace").splitlines()
              if " ERROR " in line or "Traceback" in line]
    result["poller_errors"] = errors[:5]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=25)
    parser.add_argument("--rate", type=float, default=100.0,
                        help="new items per second over all feeds")
    parser.add_argument("--window", type=int, default=20, help="items each feed lists")
    parser.add_argument("--full-text", action="store_true",
                        help="items carry an ~800-word body (content:encoded)")
    parser.add_argument("--warmup", type=float, default=20.0,
                        help="seconds left out at the start (first polls: all items new)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--parse-workers", type=int, default=None,
                        help="poller.parse_workers (default: the poller's, one per core)")
    parser.add_argument("--port", type=int, default=18690, help="the farm's port")
    parser.add_argument("--metrics-port", type=int, default=19691)
    parser.add_argument("--tree", default=None,
                        help="run the poller from this directory (its ingest/ is imported)")
    parser.add_argument("--profile", default=None, metavar="OUT",
                        help="py-spy raw output file; prints the top functions")
    parser.add_argument("--py-spy", default=PY_SPY)
    parser.add_argument("--gil", action="store_true",
                        help="py-spy --gil: only samples of threads holding the GIL (closer "
                             "to CPU than wall-clock samples)")
    parser.add_argument("--rate-hz", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsflow-relist-"))
    try:
        result = run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    profile = result.pop("profile", None)
    if args.json:
        print(json.dumps(result))
        return
    print(json.dumps(result, indent=2))
    print(f"\ncores={result.get('cores')} load1 {result.get('load1_start')} -> "
          f"{result.get('load1_end')}: {result.get('cpu_ms_per_fetch')} ms CPU per fetch, "
          f"{result.get('cpu_ms_per_200')} per 200, {result.get('cpu_ms_per_article')} per "
          f"new article ({result.get('fetches')} fetches, {result.get('produced')} articles "
          f"in {result.get('seconds')} s)")
    if profile:
        print()
        print(profile)


if __name__ == "__main__":
    main()
