"""`newsflow worker`: compose the app, its adapters and the agent, and run until a signal.

Start-up is kept short: the Faust worker joins the group while the NLP model loads in a
thread and the index template is put; the worker is ready once those its role needs are done
(``processors.role``: an enrich-only worker puts no template, an ordered-only one loads no
model): its metrics port then answers 200 on /readyz, /status says so
(processors.service.status), and "worker ready" is logged for people.
SIGTERM and SIGINT stop the worker cleanly: an in-flight batch is abandoned uncommitted
(Kafka delivers it again), everything acknowledged before is committed.

While no broker can be reached the worker says so itself ("waiting for Kafka", every 15 s)
and says when Kafka is back; the Kafka client's own repeated errors are collapsed by
newsflow.logs.RepeatFilter.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from newsflow.article import utc_now
from newsflow.settings import Settings
from processors.service.agents import register_agents
from processors.service.batches import BatchHandler
from processors.service.enrich_batches import EnrichBatchHandler
from processors.service.heap import collect_less_often, freeze_loaded, report_collections
from processors.service.kafka_watch import KafkaWatch
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Enriching
from processors.service.retry import Backoff, Retrier
from processors.service.status import WorkerStatus
from processors.streams.produce import TopicProducer

if TYPE_CHECKING:
    import faust

__all__ = ["load_enricher", "run_worker"]

logger = logging.getLogger(__name__)

# How often the worker checks that a broker is reachable (a no-op while connected).
_KAFKA_CHECK_EVERY_S = 2.0
# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
# The worker's threads take turns on it: the model thread runs long pure-Python stretches
# (rules, entity resolution), while the event loop (Kafka, the ordered stage's steps) and the
# story engine's thread wake up for short ones, each waiting up to the interval for its turn.
# With 1 ms, bench/e2e's p95 poll -> searchable at 100 articles/s was 2.5 and 3.2 s in two
# runs against 3.6 and 3.6 s without, on 2 cores, at no measurable CPU cost (bench/RESULTS.md,
# session 6).
_GIL_SWITCH_INTERVAL_S = 0.001


def load_enricher(settings: Settings) -> Enriching:
    from processors.enrich.enrichment import Enricher

    p = settings.processors
    enricher = Enricher(p.spacy_model, p.taxonomy_file, tag_model=p.tag_model)
    logger.info(
        "enricher loaded model=%s taxonomy_version=%s", p.spacy_model, enricher.taxonomy_version
    )
    return enricher


def run_worker(
    settings: Settings,
    *,
    enricher_factory: Callable[[Settings], Enriching] = load_enricher,
) -> None:
    """Run the worker in this process until SIGTERM/SIGINT (raises SystemExit).

    ``settings.processors.role`` says which stages run here: both ("all"), the enrich stage
    only (no Elasticsearch client, no story engine) or the ordered stage only (no model).
    """
    from newsflow_adapters.topics import ensure_topics
    from processors.service.app import build_app
    from processors.service.topics import Topics

    p = settings.processors
    enriches = p.role in ("all", "enrich")
    orders = p.role in ("all", "ordered")
    sys.setswitchinterval(_GIL_SWITCH_INTERVAL_S)
    collect_less_often()
    p.data_dir.mkdir(parents=True, exist_ok=True)
    # Faust does not create the source topic; a group subscribed to a missing topic would
    # sit idle until its next metadata refresh.
    ensure_topics(settings.kafka, [settings.kafka.articles_topic],
                  settings.kafka.articles_partitions)
    ensure_topics(settings.kafka, [settings.kafka.enriched_topic], 1)
    metrics = ProcessorMetrics()
    report_collections(
        lambda generation, seconds: metrics.collector_seconds.labels(str(generation)).inc(seconds)
    )
    worker_status = WorkerStatus(on_ready=lambda: metrics.ready.set(1), role=p.role)
    if p.metrics_port:
        metrics.serve(p.metrics_port, p.web_host, status=worker_status.as_dict)
        logger.info("metrics served host=%s port=%d", p.web_host, p.metrics_port)

    app = build_app(settings)
    topics = Topics(app, settings.kafka)
    producer = TopicProducer(topics)
    closers: list[Callable[[], Any]] = []
    enrich_handler = (
        _enrich_stage(settings, producer, metrics, worker_status, enricher_factory, closers)
        if enriches else None
    )
    handler = _ordered_stage(settings, producer, metrics, closers) if orders else None
    logger.info("worker role=%s", p.role)

    def on_batch(stage: str, report: BatchReport) -> None:
        worker_status.record(stage, report, utc_now())
        metrics.batches.labels(stage).inc()
        metrics.received.labels(stage).inc(report.received)

    register_agents(app, topics, enrich_handler, handler, batch_size=p.batch_size,
                    within_s=p.batch_within_s, on_batch=on_batch)
    if not enriches:
        # An enrich stage freezes once its model has loaded; an ordered-only worker has
        # nothing more to load (its story state is restored from Elasticsearch and grows).
        freeze_loaded("the ordered stage")

    if handler is not None:
        ordered = handler

        @app.task  # type: ignore[untyped-decorator]  # Faust's decorator is not typed
        async def prepare_index() -> None:
            await ordered.prepare()
            worker_status.mark("index", f"alias={settings.elasticsearch.alias}")

    _run_app(app, settings, metrics, worker_status, closers)


def _enrich_stage(
    settings: Settings,
    producer: TopicProducer,
    metrics: ProcessorMetrics,
    worker_status: WorkerStatus,
    enricher_factory: Callable[[Settings], Enriching],
    closers: list[Callable[[], Any]],
) -> EnrichBatchHandler:
    """The model loads on its own thread while the worker joins the group."""
    p = settings.processors
    # One thread for the model: CPU-bound, and not thread-safe to share.
    enrich_pool = ThreadPoolExecutor(1, thread_name_prefix="newsflow-enrich")

    def load() -> Enriching:
        enricher = enricher_factory(settings)
        # The model, the gazetteer and the tagger live as long as the worker, whichever
        # factory made them: out of the collector's walks (processors.service.heap).
        freeze_loaded("the enricher")
        return enricher

    enricher_future: Future[Enriching] = enrich_pool.submit(load)
    enricher_future.add_done_callback(
        lambda f: (
            worker_status.mark("enricher", f"taxonomy_version={f.result().taxonomy_version}")
            if not f.exception()
            else None
        )
    )
    closers.append(enricher_future.cancel)
    closers.append(lambda: enrich_pool.shutdown(wait=False, cancel_futures=True))

    async def get_enricher() -> Enriching:
        return await asyncio.wrap_future(enricher_future)

    return EnrichBatchHandler(
        enricher=get_enricher,
        producer=producer,
        tag_prefix=settings.kafka.tag_topic_prefix,
        run_cpu=_runner(enrich_pool, metrics.cpu_seconds.labels("enrich").inc),
        clock=utc_now,
        backoff=Backoff(max_s=p.index_retry_max_s),
        metrics=metrics,
        taxonomy_check_interval_s=p.taxonomy_check_interval_s,
        max_message_bytes=settings.kafka.max_message_bytes,
    )


def _ordered_stage(
    settings: Settings,
    producer: TopicProducer,
    metrics: ProcessorMetrics,
    closers: list[Callable[[], Any]],
) -> BatchHandler:
    """Stories, watches, alerts, index and tag streams over news.enriched's one partition."""
    from processors.service.alerting import AlertRaiser
    from processors.service.catchup import read_range
    from processors.service.forwarding import ForwardStep
    from processors.service.storying import StoryStep
    from processors.service.watching import WatchStep
    from processors.store.alert_index import AlertIndex
    from processors.store.index import ArticleIndex
    from processors.store.stories import StoryStore
    from processors.store.watch_index import WatchIndex
    from processors.stories.engine import StoryEngine

    p = settings.processors
    # One thread for the story engine (so that stories never wait behind the event loop's
    # other work), one for Elasticsearch calls.
    stories_pool = ThreadPoolExecutor(1, thread_name_prefix="newsflow-stories")
    io_pool = ThreadPoolExecutor(1, thread_name_prefix="newsflow-es")
    closers.append(lambda: stories_pool.shutdown(wait=False, cancel_futures=True))
    closers.append(lambda: io_pool.shutdown(wait=False, cancel_futures=True))
    run_io = _runner(io_pool, metrics.cpu_seconds.labels("elasticsearch").inc)
    index = ArticleIndex(settings.elasticsearch)
    story_store = StoryStore(settings.elasticsearch)
    alert_index = AlertIndex(settings.elasticsearch)
    watch_index = WatchIndex(settings.elasticsearch)
    closers.extend([index.close, story_store.close, alert_index.close, watch_index.close])
    ordered_retrier = Retrier(Backoff(max_s=p.index_retry_max_s), metrics, asyncio.sleep)
    alert_sender = ForwardStep(producer=producer, tag_prefix=settings.kafka.tag_topic_prefix,
                               retrier=ordered_retrier, metrics=metrics,
                               max_message_bytes=settings.kafka.max_message_bytes)
    stories = StoryStep(
        store=story_store,
        read_range=lambda start, end: read_range(
            settings.kafka, settings.kafka.enriched_topic, start, end),
        engine_factory=StoryEngine,
        restore=StoryEngine.restore,
        # One engine state per app (consumer group) and enriched topic.
        state_key=f"{p.app_id}:{settings.kafka.enriched_topic}",
        run_cpu=_runner(stories_pool, metrics.cpu_seconds.labels("stories").inc),
        run_io=run_io,
        retrier=ordered_retrier,
        metrics=metrics,
        clock=utc_now,
        snapshot_every_s=p.stories_snapshot_every_s,
        alerts=AlertRaiser(),
        alert_index=alert_index,
        send=alert_sender.send,
        alerts_topic=settings.kafka.alerts_topic,
    )
    watches = WatchStep(index=watch_index, run_io=run_io, retrier=ordered_retrier,
                        metrics=metrics)
    return BatchHandler(
        index=index,
        producer=producer,
        alias=settings.elasticsearch.alias,
        tag_prefix=settings.kafka.tag_topic_prefix,
        run_io=run_io,
        clock=utc_now,
        stories=stories,
        watches=watches,
        watch_prefix=settings.kafka.watch_topic_prefix,
        backoff=Backoff(max_s=p.index_retry_max_s),
        metrics=metrics,
        max_message_bytes=settings.kafka.max_message_bytes,
    )


def _runner(
    pool: ThreadPoolExecutor, count_cpu: Callable[[float], None] | None = None,
) -> Callable[..., Awaitable[Any]]:
    """``await run(fn, *args)``: fn on the pool's thread, off the event loop. ``count_cpu``
    gets the CPU seconds each call spent on that thread (raised or not)."""

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        job = (functools.partial(fn, *args) if count_cpu is None
               else functools.partial(_counted, count_cpu, fn, args))
        return await loop.run_in_executor(pool, job)

    return run


def _counted(count_cpu: Callable[[float], None], fn: Callable[..., Any],
             args: tuple[Any, ...]) -> Any:
    started = time.thread_time()
    try:
        return fn(*args)
    finally:
        count_cpu(time.thread_time() - started)


def _run_app(
    app: faust.App,
    settings: Settings,
    metrics: ProcessorMetrics,
    worker_status: WorkerStatus,
    closers: list[Callable[[], Any]],
) -> None:
    """The tasks every role has (Kafka watch, partition log), then Faust's worker loop."""
    import faust

    from processors.streams.produce import broker_reachable

    kafka_watch = KafkaWatch(
        lambda: broker_reachable(app),
        settings.kafka.bootstrap_servers,
        on_check=lambda reachable: metrics.kafka_reachable.set(1 if reachable else 0),
    )

    @app.task  # type: ignore[untyped-decorator]  # Faust's decorator is not typed
    async def watch_kafka() -> None:
        await kafka_watch.run(_KAFKA_CHECK_EVERY_S)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # signal stubs too narrow
    async def on_assigned(app: Any, assigned: Any, **kwargs: Any) -> None:
        mine = sorted(
            f"{tp.topic}[{tp.partition}]"
            for tp in assigned
            if tp.topic in (settings.kafka.articles_topic, settings.kafka.enriched_topic)
        )
        logger.info("partitions assigned %s", ",".join(mine) or "none")
        worker_status.assigned(mine)
        worker_status.mark("partitions", f"role={settings.processors.role}")

    worker = faust.Worker(
        app,
        loglevel=None,
        quiet=True,  # no banner on stdout
        redirect_stdouts=False,
        override_logging=False,  # keep newsflow's logging set-up
    )
    worker.spinner = None  # it writes terminal escapes to stdout even when not a tty
    try:
        worker.execute_from_commandline()
    finally:
        for close in closers:
            close()
