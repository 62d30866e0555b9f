"""The story step of the ordered stage: every article gets its story (processors/stories)
before it is indexed, in the order of the one-partition enriched topic.

The engine's state lives in this worker's memory while it owns the partition. It survives a
restart, and moving to another worker, as a snapshot in Elasticsearch (saved every
``processors.stories_snapshot_every_s``) plus the enriched records after the snapshot's
offset, read again from Kafka. Each batch is checked against the last offset the engine saw:

- the next offset, or one it already saw (a batch delivered again): go on; the engine
  answers a repeat with the assignment it gave the first time;
- a gap (another worker went on meanwhile): read the gap from Kafka into the engine first;
- no engine yet (start): load the snapshot, read from its offset on, then go on.

So the same records in the same order give the same stories on whichever worker, however
often it moves (docs/stories.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from newsflow.article import Article, decode_article
from newsflow.errors import (
    BrokerUnavailableError,
    NewsflowError,
    SchemaError,
    SearchUnavailableError,
)
from processors.alerts import Alert
from processors.service.alerting import AlertRaiser, join_state, split_state
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Received, RunBlocking
from processors.service.retry import Retrier
from processors.store.alert_documents import alert_document, story_of
from processors.store.alert_index import AlertIndex
from processors.store.stories import StoryStore, StoryUpdate
from processors.stories.engine import StoryEngine
from processors.stories.model import Assignment, StoryInput
from processors.streams.envelope import unpack
from processors.streams.ports import OutMessage

__all__ = ["StoryStep"]

logger = logging.getLogger(__name__)

ReadRange = Callable[[int, int], Iterable[tuple[int, bytes | None]]]

# Articles whose outlet and story are kept for alerts' evidence: more than an alert window
# holds at 10x the sizing's rate.
_RECENT_ARTICLES = 20_000


class StoryStep:
    def __init__(
        self,
        *,
        store: StoryStore,
        read_range: ReadRange,
        engine_factory: Callable[[], StoryEngine],
        restore: Callable[[bytes], StoryEngine],
        state_key: str,
        run_cpu: RunBlocking,
        run_io: RunBlocking,
        retrier: Retrier,
        metrics: ProcessorMetrics,
        clock: Callable[[], datetime],
        snapshot_every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        alerts: AlertRaiser | None = None,
        alert_index: AlertIndex | None = None,
        send: Callable[[list[OutMessage], BatchReport], Awaitable[None]] | None = None,
        alerts_topic: str = "news.alerts",
    ) -> None:
        self._store = store
        self._read_range = read_range
        self._engine_factory = engine_factory
        self._restore_engine = restore
        self._key = state_key
        self._run_cpu = run_cpu
        self._run_io = run_io
        self._retrier = retrier
        self._metrics = metrics
        self._clock = clock
        self._snapshot_every_s = snapshot_every_s
        self._monotonic = monotonic
        self._engine: StoryEngine | None = None
        self._last_offset = -1  # the last enriched offset the engine has seen
        self._snapshot_offset = -1
        self._snapshot_at = monotonic()
        self._touched: dict[str, StoryUpdate] = {}
        # Spike alerts ride on the same order, offsets and snapshots (service/alerting.py).
        self._alerts = alerts
        self._alert_index = alert_index
        self._send = send
        self._alerts_topic = alerts_topic
        self._raised: list[Alert] = []
        # Outlet and story of recent articles, for an alert's evidence: the batch that
        # raised it is not searchable yet (refresh interval), older ones are looked up.
        self._recent: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    async def prepare(self) -> None:
        await self._retrier.until_done(
            "elasticsearch", f"creating the stories index {self._store.index}",
            lambda: self._run_io(self._store.ensure_ready), SearchUnavailableError)
        if self._alert_index is not None:
            alert_index = self._alert_index
            await self._retrier.until_done(
                "elasticsearch", f"creating the alerts index {alert_index.index}",
                lambda: self._run_io(alert_index.ensure_ready), SearchUnavailableError)

    # -- assign -----------------------------------------------------------------------------

    async def assign(
        self, items: list[tuple[Received, Article]]
    ) -> list[tuple[Received, Article]]:
        if not items:
            return items
        first = items[0][0].offset
        if self._engine is None:
            await self._start(first)
        elif first > self._last_offset + 1:
            await self._catch_up(self._last_offset + 1, first)
        t0 = time.monotonic()
        result: list[tuple[Received, Article]] = await self._run_cpu(self._assign_all, items)
        self._metrics.hop_seconds.labels("stories").observe(time.monotonic() - t0)
        return result

    def _assign_all(
        self, items: list[tuple[Received, Article]]
    ) -> list[tuple[Received, Article]]:
        engine = self._engine
        assert engine is not None
        out = []
        # The records of one envelope share its offset: a repeat is an offset seen before
        # this batch, not before this record.
        seen = self._last_offset
        for received, article in items:
            repeat = received.offset <= seen
            assignment = engine.assign(StoryInput.from_article(article))
            self._last_offset = max(self._last_offset, received.offset)
            storied = _with_story(article, assignment, engine)
            out.append((received, storied))
            if self._alerts is not None and not repeat:
                self._remember(storied)
                self._raised.extend(self._alerts.observe(storied))
            summary = assignment.story.to_json()
            first = self._touched.get(assignment.story_id)
            # The title and id of the story's first article stay those it was created with.
            title, first_id = (first[1], first[2]) if first else (article.title, article.id)
            self._touched[assignment.story_id] = (summary, title, first_id)
        return out

    # -- after the batch --------------------------------------------------------------------

    async def commit(self, report: BatchReport) -> None:
        touched, self._touched = list(self._touched.values()), {}
        if touched:
            await self._retrier.until_done(
                "elasticsearch", lambda: f"writing {len(touched)} story documents",
                lambda: self._run_io(self._store.put_stories, touched),
                SearchUnavailableError, report)
        if self._raised:
            await self._raise(report)
        if (self._engine is not None and self._last_offset > self._snapshot_offset
                and self._monotonic() - self._snapshot_at >= self._snapshot_every_s):
            await self._snapshot()

    async def _raise(self, report: BatchReport) -> None:
        """Store the batch's alerts (each once) and send the new ones to the alerts topic."""
        alert_index, send = self._alert_index, self._send
        raised, self._raised = self._raised, []
        if alert_index is None or send is None:
            return
        articles: dict[str, dict[str, object]] = {
            i: {"source": source, "story_id": story}
            for alert in raised for i in alert.article_ids if i in self._recent
            for source, story in [self._recent[i]]}
        missing = sorted({i for alert in raised for i in alert.article_ids} - set(articles))
        if missing:
            articles.update(await self._retrier.until_done(
                "elasticsearch", "reading the articles of the alerts",
                lambda: self._run_io(alert_index.articles, missing), SearchUnavailableError,
                report))
        now = self._clock()
        documents = []
        for alert in raised:
            found = [articles.get(i, {}) for i in alert.article_ids]
            documents.append(alert_document(
                alert.to_record(),
                source_domains=sorted({str(a["source"]) for a in found if a.get("source")}),
                story_id=story_of([str(a["story_id"]) if a.get("story_id") else None
                                   for a in found]),
                raised_at=now))
        created: list[str] = await self._retrier.until_done(
            "elasticsearch", lambda: f"storing {len(documents)} alerts",
            lambda: self._run_io(alert_index.create, documents), SearchUnavailableError, report)
        new = [d for d in documents if d["alert_id"] in set(created)]
        for doc in new:
            logger.info("alert key=%s at=%s count=%s baseline=%s sources=%s id=%s",
                        doc["key"], doc["at"], doc["count"], doc["baseline"], doc["sources"],
                        doc["alert_id"])
        report.alerts += len(new)
        self._metrics.alerts.inc(len(new))
        await send([OutMessage(None, str(d["alert_id"]).encode(),
                               json.dumps(d, sort_keys=True).encode(),
                               topic=self._alerts_topic) for d in new], report)

    async def _snapshot(self) -> None:
        engine, offset = self._engine, self._last_offset
        assert engine is not None
        t0 = time.monotonic()
        blob: bytes = await self._run_cpu(self._state_blob)
        try:
            saved = await self._run_io(self._store.save_snapshot, self._key, offset, blob)
        except SearchUnavailableError as exc:
            # Not worth holding the stream for: the next one is due at the next batch.
            logger.warning("story snapshot not saved, will try again reason=%s", exc)
            return
        self._snapshot_offset, self._snapshot_at = offset, self._monotonic()
        logger.info("story snapshot %s offset=%d bytes=%d stories=%d seconds=%.2f",
                    "saved" if saved else "skipped (a later one exists)", offset, len(blob),
                    engine.stats()["stories"], time.monotonic() - t0)

    def _remember(self, article: Article) -> None:
        self._recent[article.id] = (article.source, article.story_id)
        self._recent.move_to_end(article.id)
        while len(self._recent) > _RECENT_ARTICLES:
            self._recent.popitem(last=False)

    # -- state ------------------------------------------------------------------------------

    def _state_blob(self) -> bytes:
        assert self._engine is not None
        alerts = self._alerts.snapshot() if self._alerts is not None else None
        return join_state(self._engine.snapshot(), alerts)

    async def _start(self, first: int) -> None:
        snapshot: tuple[int, bytes] | None = await self._retrier.until_done(
            "elasticsearch", f"loading the story snapshot {self._key}",
            lambda: self._run_io(self._store.load_snapshot, self._key),
            SearchUnavailableError)
        if snapshot is not None:
            try:
                await self._run_cpu(self._load, snapshot)
            except (ValueError, KeyError, TypeError, NewsflowError) as exc:
                # A snapshot this build cannot read (an older format, a damaged one): the
                # state is rebuilt from the oldest enriched record still kept instead.
                logger.warning("story snapshot not usable, rebuilding from the topic "
                               "key=%s reason=%s", self._key, exc)
                snapshot = None
        if snapshot is None:
            self._engine = await self._run_cpu(self._engine_factory)
            if self._alerts is not None:
                self._alerts.reset()
            self._last_offset = -1
        logger.info("story engine started from %s offset=%d",
                    "a snapshot" if snapshot else "nothing", self._last_offset)
        if first > self._last_offset + 1:
            await self._catch_up(self._last_offset + 1, first)

    def _load(self, snapshot: tuple[int, bytes]) -> None:
        offset, blob = snapshot
        stories, alerts = split_state(blob)
        engine = self._restore_engine(stories)
        if alerts is not None and self._alerts is not None:
            self._alerts.load(alerts)
        self._engine = engine
        self._last_offset = self._snapshot_offset = offset

    async def _catch_up(self, start: int, end: int) -> None:
        t0 = time.monotonic()
        read: int = await self._retrier.until_done(
            "kafka", f"the enriched records {start}..{end - 1} (catching up the stories)",
            lambda: self._run_cpu(self._replay, start, end), BrokerUnavailableError)
        logger.info("story engine caught up records=%d from=%d to=%d seconds=%.1f",
                    read, start, end - 1, time.monotonic() - t0)

    def _replay(self, start: int, end: int) -> int:
        """Feed the engine what it missed; nothing is written anywhere (it was, then)."""
        engine = self._engine
        assert engine is not None
        read = 0
        for offset, message in self._read_range(start, end):
            if offset <= self._last_offset:
                continue
            self._last_offset = offset
            for value in unpack(message):
                read += 1
                try:
                    article = decode_article(value or b"")
                except SchemaError:
                    continue  # it was dead-lettered when it came first
                assignment = engine.assign(StoryInput.from_article(article))
                if self._alerts is not None:
                    # Kept: storing refuses the alerts raised before; one lost between the
                    # detector and Elasticsearch (a crash) is raised now.
                    storied = _with_story(article, assignment, engine)
                    self._remember(storied)
                    self._raised.extend(self._alerts.observe(storied))
        self._last_offset = max(self._last_offset, end - 1)
        return read


def _with_story(article: Article, assignment: Assignment, engine: StoryEngine) -> Article:
    return article.model_copy(update={
        "story_id": assignment.story_id,
        "dup_of": assignment.dup_of,
        "story_sources": assignment.story.independent_sources,
        "story_new_tags": _new_tags(article, assignment, engine),
    })


def _new_tags(article: Article, assignment: Assignment, engine: StoryEngine) -> list[str]:
    """The tags this article is its story's first article in (a copy opens none): what
    ``newsflow subscribe --collapse`` delivers."""
    if assignment.dup_of is not None:
        return []
    counts = engine.story_tag_counts(assignment.story_id)
    return [tag for tag in dict.fromkeys(article.tag_names) if counts.get(tag) == 1]
