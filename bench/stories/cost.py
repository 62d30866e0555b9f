"""Cost of the story engine: CPU per article, latency percentiles, state size.

Run from the repo root:  .venv/bin/python -m bench.stories.cost [--articles 70000] [--days 7]
                         [--dev ../shared/eval/stories-dev.jsonl]

Two streams, NER excluded (the worker has the entities already; ``newsflow cluster`` runs
spaCy first):

- **stories-dev** (965 full-length articles, ~310 words each), with the entities the
  project's Enricher found (cached by processors.stories.evaluate);
- **a synthetic stream** of ``--articles`` feed items over ``--days`` days of event time
  (70,000 over 7 days: the issue's 10,000 a day). Each item is a title and a ~60-word
  description built from the words of real feed items (topics-pool.jsonl) plus invented
  names, so the vocabulary keeps growing as a real stream's does; 45 % of the items belong
  to multi-article stories (geometric sizes, mean 6), one in five has a syndicated copy
  (a label, a trimmed tail), each has 3-8 entities, most of them invented names. A story's
  articles share about 70 % of their words; different stories share what any two feed items
  share.

Reported: a calibration (CPU time of a fixed pure-Python loop, to compare machines), CPU
seconds per article (process time over the whole stream), the per-call wall
latency p50/p99/max of ``assign``, the snapshot's size, restore and snapshot times, and the
resident memory the engine added (RSS after minus before, the stream's inputs excluded:
they are built before the first measurement).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.calibrate import python_loop_s  # noqa: E402
from processors.stories.engine import StoryEngine  # noqa: E402
from processors.stories.evaluate import load_items  # noqa: E402
from processors.stories.model import StoryEntity, StoryInput  # noqa: E402

POOL = REPO.parent / "shared" / "eval" / "topics-pool.jsonl"
DEV = REPO.parent / "shared" / "eval" / "stories-dev.jsonl"
_SYLLABLES = ["ka", "ro", "mi", "tan", "vel", "sor", "du", "lin", "bar", "ek", "zu", "op",
              "ra", "nit", "gal", "fe", "mor", "chi", "as", "un", "pre", "lo", "vik", "sa"]
_LABELS = ["BREAKING: ", "UPDATE: ", "Exclusive: ", "WATCH: "]


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _name(rng: random.Random) -> str:
    return " ".join(
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(rng.randint(1, 2))
    )


def synthetic_stream(n: int, days: float, seed: int = 2025) -> list[StoryInput]:
    rng = random.Random(seed)
    with POOL.open(encoding="utf-8") as f:
        pool = [json.loads(line) for line in f if line.strip()]
    words = [w for r in pool for w in f"{r['title']} {r['text']}".split()]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    span_s = days * 86_400.0
    items: list[StoryInput] = []
    serial = 0
    while len(items) < n:
        size = 1 if rng.random() < 0.55 else min(60, 1 + int(rng.expovariate(1 / 5)))
        names = [_name(rng) for _ in range(rng.randint(2, 5))]
        # A story's own words: drawn from real feed text (so their frequencies are a real
        # stream's), different for every story.
        base = [rng.choice(words) for _ in range(rng.randint(40, 70))]
        t0 = rng.random() * span_s
        for _ in range(size):
            body = [w if rng.random() > 0.3 else rng.choice(words) for w in base]
            for name in rng.sample(names, k=min(2, len(names))):
                body.insert(rng.randrange(len(body) + 1), name)
            title = " ".join(body[:10])
            text = " ".join(body[10:60])
            ents = [StoryEntity(nm, rng.choice(["PERSON", "ORG", "GPE"])) for nm in names]
            ents += [StoryEntity(_name(rng), "PERSON") for _ in range(rng.randint(1, 3))]
            at = start + timedelta(seconds=min(span_s, t0 + rng.expovariate(1 / 20_000)))
            serial += 1
            article = StoryInput(id=f"syn-{serial:07d}", title=title, text=text,
                                 source=f"src{rng.randint(1, 400)}.example", published_at=at,
                                 entities=tuple(ents))
            items.append(article)
            if rng.random() < 0.2:
                cut = text.split()
                serial += 1
                items.append(StoryInput(
                    id=f"syn-{serial:07d}", title=rng.choice(_LABELS) + title,
                    text=" ".join(cut[: max(5, int(len(cut) * rng.uniform(0.75, 1.0)))]),
                    source=f"src{rng.randint(1, 400)}.example",
                    published_at=at + timedelta(minutes=rng.uniform(5, 180)),
                    entities=tuple(ents)))
    items = items[:n]
    items.sort(key=lambda a: (a.published_at, a.id))
    return items


def measure(name: str, items: list[StoryInput]) -> dict[str, float]:
    gc.collect()
    rss0 = _rss_mb()
    engine = StoryEngine()
    latencies = []
    cpu0 = time.process_time()
    for item in items:
        t = time.perf_counter()
        engine.assign(item)
        latencies.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu0
    gc.collect()
    rss1 = _rss_mb()
    t = time.perf_counter()
    blob = engine.snapshot()
    snap_s = time.perf_counter() - t
    t = time.perf_counter()
    StoryEngine.restore(blob)
    restore_s = time.perf_counter() - t
    latencies.sort()
    report = {
        "articles": len(items),
        "cpu_ms_per_article": round(cpu / len(items) * 1000, 3),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 3),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
        "latency_ms_max": round(latencies[-1] * 1000, 2),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 3),
        "snapshot_mb": round(len(blob) / 1e6, 2),
        "snapshot_s": round(snap_s, 2),
        "restore_s": round(restore_s, 2),
        "rss_added_mb": round(rss1 - rss0, 1),
        **{k: float(v) for k, v in engine.stats().items()},
    }
    print(f"{name}: {json.dumps(report)}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stories.cost")
    parser.add_argument("--articles", type=int, default=70_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--skip-dev", action="store_true")
    args = parser.parse_args(argv)
    print(f"calibration: {python_loop_s():.2f} s CPU for 10M Python additions", flush=True)
    if not args.skip_dev:
        _, items = load_items(args.dev)
        measure("stories-dev", items)
    stream = synthetic_stream(args.articles, args.days)
    words = statistics.fmean(len(f"{a.title} {a.text}".split()) for a in stream[:2000])
    print(f"synthetic stream: {len(stream)} items over {args.days} days, "
          f"~{words:.0f} words each", flush=True)
    measure("synthetic", stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
