"""Prometheus metrics of the processors stage (newsflow_processors_*).

One outcome counter bumped once per article with a status label, a latency histogram per hop,
and gauges that say what the worker is waiting for. Each ProcessorMetrics owns its registry, so
tests and several apps in one process do not collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["ProcessorMetrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.articles = Counter(
            "newsflow_processors_articles_total",
            "Articles handled, once each, by outcome (indexed, dead_letter, duplicate).",
            ["status"],
            registry=r,
        )
        self.dead_letters = Counter(
            "newsflow_processors_dead_letters_total",
            "Dead letters written, by the stage that failed (decode, enrich, index).",
            ["stage"],
            registry=r,
        )
        self.tag_messages = Counter(
            "newsflow_processors_tag_messages_total",
            "Articles forwarded to tag topics, by tag.",
            ["tag"],
            registry=r,
        )
        self.retries = Counter(
            "newsflow_processors_retries_total",
            "Retries after a transient failure, by what was retried.",
            ["target"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "newsflow_processors_batch_seconds",
            "Time to handle one batch, decode to acknowledged.",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.hop_seconds = Histogram(
            "newsflow_processors_hop_seconds",
            "Time spent per hop: enrich, index, forward.",
            ["hop"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.seen_to_indexed_seconds = Histogram(
            "newsflow_processors_seen_to_indexed_seconds",
            "From the first poll that saw an article to its indexing.",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.waiting = Gauge(
            "newsflow_processors_waiting",
            "1 while the worker holds a batch waiting for this system.",
            ["target"],
            registry=r,
        )
        # Alert on this rather than on the log: 0 while no broker answers the worker.
        self.kafka_reachable = Gauge(
            "newsflow_processors_kafka_reachable",
            "1 while the worker's Kafka client reaches a broker, 0 while none answers.",
            registry=r,
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
