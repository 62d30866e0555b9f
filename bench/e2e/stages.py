"""Each stage of the pipeline alone, on the same articles, with the product's own code:

- poll:    fetch + parse + normalise every farm feed once (`newsflow poll --dry-run` in
           process; records go to memory, nothing is produced);
- produce: ingest.publish.Publisher (acks=all, idempotent) to a fresh topic, one publish
           per feed-sized chunk, all chunks in flight together as the poller's feeds are;
- enrich:  processors.enrich.enrichment.Enricher.enrich in ``processes`` processes (one model each,
           as one per worker), batches of the worker's batch size; model loading excluded;
- index:   processors.store.index.ArticleIndex.bulk_index of the enriched documents into a fresh
           alias, one thread per worker (the worker has one Elasticsearch thread).
"""

from __future__ import annotations

import asyncio
import io
import math
import multiprocessing as mp
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsflow.article import Article, decode_article, encode_article
from newsflow.settings import Settings

__all__ = ["StageResult", "enrich_stage", "index_stage", "poll_stage", "produce_stage"]


@dataclass(frozen=True)
class StageResult:
    name: str
    articles: int
    seconds: float
    detail: str = ""
    cpu_ms_per_article: float = 0.0  # measured where the stage reports it (enrich)

    @property
    def rate(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else 0.0


def poll_stage(settings: Settings, feeds_file: Path) -> tuple[StageResult, list[Article]]:
    from ingest.run import PollOptions, poll

    out = io.StringIO()
    started = time.monotonic()
    summary = asyncio.run(poll(settings, PollOptions(feeds_file, once=True, dry_run=True,
                                                     out=out), lambda _s: None))
    seconds = time.monotonic() - started
    articles = [decode_article(line) for line in out.getvalue().splitlines() if line.strip()]
    feeds = summary.feeds_polled if summary else 0
    return StageResult("poll (fetch+parse)", len(articles), seconds,
                       f"{feeds} feeds, parse_workers={settings.poller.parse_workers}"), articles


def produce_stage(settings: Settings, topic: str, articles: Sequence[Article],
                  chunk: int) -> StageResult:
    from ingest.publish import Publisher

    async def run(publisher: Publisher) -> int:
        results = await asyncio.gather(*(publisher.publish(articles[i:i + chunk])
                                         for i in range(0, len(articles), chunk)))
        return sum(len(r.acked) for r in results)

    with Publisher(settings.kafka, topic=topic, client_id="newsflow-bench") as publisher:
        started = time.monotonic()
        acked = asyncio.run(run(publisher))
        seconds = time.monotonic() - started
    return StageResult("produce (acks=all)", acked, seconds, f"chunks of {chunk}")


# -- enrich: one Enricher per process ------------------------------------------------------

_enricher: Any = None


def _init(model: str, taxonomy: str) -> None:
    global _enricher
    from processors.enrich.enrichment import Enricher

    _enricher = Enricher(model, Path(taxonomy))


def _warm(_: int) -> int:
    time.sleep(0.3)  # every process takes one warm-up task
    _enricher.entities_for(["Warm-up text about Paris and Berlin."])
    return 0


def _enrich(chunk: list[bytes]) -> tuple[list[bytes], float]:
    started = time.process_time()
    articles = [decode_article(raw) for raw in chunk]
    out = [encode_article(a) for a in _enricher.enrich(articles, datetime.now(UTC))]
    return out, time.process_time() - started


def enrich_stage(settings: Settings, articles: Sequence[Article], processes: int,
                 batch: int) -> tuple[StageResult, list[Article], str]:
    p = settings.processors
    raw = [encode_article(a) for a in articles]
    # Small enough chunks that no process idles at the end while another finishes.
    size = max(1, min(batch, math.ceil(len(raw) / (processes * 4))))
    chunks = [raw[i:i + size] for i in range(0, len(raw), size)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes, initializer=_init,
                  initargs=(p.spacy_model, str(p.taxonomy_file))) as pool:
        pool.map(_warm, range(processes), chunksize=1)
        started = time.monotonic()
        done = pool.map(_enrich, chunks, chunksize=1)
        seconds = time.monotonic() - started
    enriched = [decode_article(r) for chunk, _cpu in done for r in chunk]
    cpu_ms = 1000 * sum(cpu for _chunk, cpu in done) / max(1, len(enriched))
    from processors.enrich.taxonomy import load_taxonomy

    version = load_taxonomy(p.taxonomy_file).version
    words = sum(len(a.text_for_analysis().split()) for a in articles)
    return (StageResult("enrich (NER+tags)", len(enriched), seconds,
                        f"{processes} processes, batches of {size}, "
                        f"{words / seconds:,.0f} words/s, {cpu_ms:.1f} ms CPU/article "
                        f"(= {processes * 1000 / cpu_ms:.0f}/s on {processes} idle cores)",
                        cpu_ms_per_article=cpu_ms),
            enriched, version)


def index_stage(settings: Settings, articles: Sequence[Article], taxonomy_version: str,
                threads: int, batch: int) -> StageResult:
    from processors.store.documents import article_document, backing_index
    from processors.store.index import ArticleIndex
    from processors.store.ports import IndexRequest

    now = datetime.now(UTC)
    alias = settings.elasticsearch.alias
    requests = [IndexRequest(a.id, backing_index(alias, a.published_at),
                             article_document(a, taxonomy_version=taxonomy_version,
                                              indexed_at=now)) for a in articles]
    chunks = [requests[i:i + batch] for i in range(0, len(requests), batch)]
    with ArticleIndex(settings.elasticsearch) as index:
        index.ensure_ready(now)
        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(index.bulk_index, chunks))
        seconds = time.monotonic() - started
    indexed = sum(len(o.indexed) for o in outcomes)
    return StageResult("bulk index", indexed, seconds, f"{threads} threads, bulks of {batch}")
