"""Enrichment speed: words/s and articles/s of entities alone, tags alone, and both.

Run from the repo root:
    .venv/bin/python -m bench.nlp.run [--processes 2] [--articles 4000] [--data FILE]

Each worker process loads its own Enricher (the same code the Faust agent and `newsflow
enrich` run), as Faust workers would; loading is excluded from the timings. The corpus is
the title + text of a JSON-lines file (default ../shared/eval/topics-dev.jsonl, else the
demo feeds), repeated to the requested number of articles. Modes:
  entities  NER (spaCy nlp.pipe, NER components only) + normalisation
  tags      the rule tagger alone (no NER: it finds states with the gazetteer itself)
  both      Enricher.enrich: entities + tags, what the worker does per article
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "eval" / "topics-dev.jsonl"
DEMO_FEEDS = REPO / "deploy" / "demo" / "feeds"
CHUNK = 100  # articles per task, like a Faust take() batch

_enricher: Any = None


def _init(model: str, taxonomy: str) -> None:
    global _enricher
    from processors.enrich.enrichment import Enricher

    _enricher = Enricher(model, Path(taxonomy))


def _warm(_: int) -> int:
    time.sleep(0.3)  # let every worker pick one warm-up task
    _enricher.entities_for(["Warm-up text about Paris and Berlin."])
    return os.getpid()


def _articles(items: list[tuple[str, str]]) -> list[Any]:
    from newsflow.article import Article

    now = datetime.now(UTC)
    return [
        Article(id=str(i), url="", canonical_url="", feed_url="", source="", title=t, summary=b,
                published_at=now, seen_at=now)
        for i, (t, b) in enumerate(items)
    ]


def _run_chunk(args: tuple[str, list[tuple[str, str]]]) -> int:
    mode, items = args
    articles = _articles(items)
    if mode == "entities":
        _enricher.entities_for([a.text_for_analysis() for a in articles])
    elif mode == "tags":
        texts = [a.text_for_analysis() for a in articles]
        entities: list[list[Any]] = [[] for _ in texts]  # tagging without NER
        for a, text, ents in zip(articles, texts, entities, strict=True):
            _enricher.tags_for(text, ents, title_end=len(a.title.strip()))
    else:
        _enricher.enrich(articles, datetime.now(UTC))
    return len(items)


def load_corpus(path: Path) -> list[tuple[str, str]]:
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return [(str(r.get("title") or ""), str(r.get("text") or "")) for r in rows]
    import feedparser

    corpus = []
    for feed in sorted(DEMO_FEEDS.glob("*")):
        for entry in feedparser.parse(str(feed)).entries:
            corpus.append((entry.title, entry.get("summary", "")))
    return corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default=None)
    parser.add_argument("--modes", default="entities,tags,both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from newsflow.settings import load_settings

    settings = load_settings().processors
    model = args.model or settings.spacy_model
    base = load_corpus(args.data)
    items = (base * (args.articles // len(base) + 1))[: args.articles]
    words = sum(len(f"{t} {b}".split()) for t, b in items)
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]

    results: dict[str, dict[str, float]] = {}
    ctx = mp.get_context("spawn")  # a clean interpreter per worker, like separate workers
    with ctx.Pool(args.processes, initializer=_init,
                  initargs=(model, str(settings.taxonomy_file))) as pool:
        pool.map(_warm, range(args.processes), chunksize=1)
        for mode in args.modes.split(","):
            started = time.perf_counter()
            done = sum(pool.imap_unordered(_run_chunk, [(mode, c) for c in chunks]))
            seconds = time.perf_counter() - started
            results[mode] = {
                "articles": done, "words": words, "seconds": round(seconds, 2),
                "articles_per_s": round(done / seconds, 1),
                "words_per_s": round(words / seconds),
            }
    summary = {"cores": os.cpu_count(), "processes": args.processes, "model": model,
               "corpus": args.data.name if args.data.is_file() else "demo feeds",
               "words_per_article": round(words / len(items), 1), "modes": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"cores={summary['cores']} processes={args.processes} model={model} "
          f"corpus={summary['corpus']} articles={len(items)} "
          f"words/article={summary['words_per_article']}")
    print(f"{'mode':10} {'seconds':>8} {'articles/s':>11} {'words/s':>9}")
    for mode, r in results.items():
        print(f"{mode:10} {r['seconds']:8.2f} {r['articles_per_s']:11.1f} {r['words_per_s']:9d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
