"""The enrich step of a batch: entities and tags off the event loop, one by one when the batch
call fails (the article that breaks the enricher is dead-lettered, the others go on), and the
taxonomy re-read when its file changed.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from newsflow.article import Article
from processors.service.decoding import dead_letter
from processors.service.heap import refreeze
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import Enriching, Received, RunBlocking
from processors.store.deadletter import DeadLetter

__all__ = ["EnrichStep"]

logger = logging.getLogger(__name__)


class EnrichStep:
    def __init__(
        self,
        *,
        run_cpu: RunBlocking,
        metrics: ProcessorMetrics,
        taxonomy_check_interval_s: float = 10.0,
    ) -> None:
        # CPU-heavy enrichment runs off the event loop, on its own executor.
        self._run_cpu = run_cpu
        self._metrics = metrics
        self._taxonomy_check_interval_s = taxonomy_check_interval_s
        self._taxonomy_checked_at = time.monotonic()

    async def __call__(
        self,
        enricher: Enriching,
        decoded: list[tuple[Received, Article]],
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[tuple[Received, Article]]:
        await self._maybe_reload_taxonomy(enricher)
        if not decoded:
            return []
        t0 = time.monotonic()
        articles = [article for _, article in decoded]
        try:
            enriched = await self._run_cpu(enricher.enrich, articles, now)
            if len(enriched) != len(articles):
                raise RuntimeError(f"enrich returned {len(enriched)} of {len(articles)}")
            result = [(r, a) for (r, _), a in zip(decoded, enriched, strict=True)]
        except Exception as exc:
            # Find the article that breaks the enricher; the others go on.
            logger.warning("enriching the batch failed, retrying one by one reason=%r", exc)
            result = []
            for received, article in decoded:
                try:
                    (one,) = await self._run_cpu(enricher.enrich, [article], now)
                except Exception as item_exc:  # one item: becomes a counted dead letter
                    letters.append(dead_letter(received, "enrich", item_exc, now, article.id))
                    logger.warning(
                        "article dead-lettered id=%s at=%s stage=enrich reason=%r",
                        article.id,
                        received.position,
                        item_exc,
                    )
                    continue
                result.append((received, one))
        self._metrics.hop_seconds.labels("enrich").observe(time.monotonic() - t0)
        return result

    async def _maybe_reload_taxonomy(self, enricher: Enriching) -> None:
        if time.monotonic() - self._taxonomy_checked_at < self._taxonomy_check_interval_s:
            return
        self._taxonomy_checked_at = time.monotonic()
        try:
            if await self._run_cpu(enricher.reload_taxonomy_if_changed):
                logger.info("taxonomy reloaded version=%s", enricher.taxonomy_version)
                # The old taxonomy's rules were frozen with the model (processors.service.heap).
                await self._run_cpu(refreeze, "the reloaded taxonomy")
        except Exception as exc:  # a broken edit must not stop indexing: keep the old one
            logger.warning(
                "taxonomy reload failed, keeping version=%s reason=%s",
                enricher.taxonomy_version,
                exc,
            )
