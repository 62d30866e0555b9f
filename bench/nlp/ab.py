"""A/B of the enrichment's CPU per feed-sized article between checkouts of the repo.

    .venv/bin/python -m bench.nlp.ab /tmp/wt-base /tmp/wt-head [--rounds 3] [--articles 3000]

Each round runs every checkout once, in its own process (``Enricher.enrich`` as the worker
calls it, the checkout's own code, taxonomy and model), over the same synthetic feed-sized
items of bench/e2e/wire.py in batches of 200 after one warm-up batch, and prints CPU ms per
article (``time.process_time``) and the part of it the garbage collector took, the median per
checkout, the core count and the load average. Alternating the checkouts round by round
spreads the machine's noise over both. A checkout whose worker tunes the collector
(processors/service/heap.py) gets the same settings here as in the worker: collections less
often from the start, the loaded Enricher frozen out of their walks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import gc, logging, sys, time
from datetime import UTC, datetime
sys.path.insert(0, ".")
try:
    from processors.service.heap import collect_less_often, freeze_loaded
except ImportError:  # a checkout from before the worker tuned its collector
    collect_less_often = freeze_loaded = None
if collect_less_often:
    collect_less_often()
from bench.e2e.wire import make_item
from newsflow.article import Article
from newsflow.settings import load_settings
from processors.enrich.enrichment import Enricher
logging.disable(logging.INFO)
n = int(sys.argv[1])
now = datetime.now(UTC)
items = [make_item(i, run="ab") for i in range(n + 200)]
arts = [Article(id=str(i), url="", canonical_url="", feed_url="", source="s", title=it.title,
                summary=it.summary, published_at=now, seen_at=now) for i, it in enumerate(items)]
s = load_settings().processors
e = Enricher(s.spacy_model, s.taxonomy_file)
if freeze_loaded:
    freeze_loaded("the enricher")
e.enrich(arts[:200], now)
collecting = [0.0, 0.0]
def on_collect(phase, _info):
    if phase == "start":
        collecting[1] = time.process_time()
    else:
        collecting[0] += time.process_time() - collecting[1]
gc.callbacks.append(on_collect)
t0 = time.process_time()
for i in range(200, n + 200, 200):
    e.enrich(arts[i:i + 200], now)
print((time.process_time() - t0) / n * 1000, collecting[0] / n * 1000)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--articles", type=int, default=3000)
    args = parser.parse_args(argv)
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    results: dict[Path, list[float]] = {c: [] for c in args.checkouts}
    for round_no in range(1, args.rounds + 1):
        for checkout in args.checkouts:
            out = subprocess.run([sys.executable, "-c", _CHILD, str(args.articles)],
                                 cwd=checkout, capture_output=True, text=True, check=True)
            ms, gc_ms = map(float, out.stdout.strip().splitlines()[-1].split())
            results[checkout].append(ms)
            print(f"round {round_no} {checkout}: {ms:.3f} ms CPU/article "
                  f"(garbage collector {gc_ms:.3f})", flush=True)
    for checkout, values in results.items():
        print(f"{checkout}: median {statistics.median(values):.3f} ms CPU/article")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
