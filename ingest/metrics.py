"""Prometheus metrics of the poller: newsflow_ingest_<what>_<unit>.

Each Poller gets its own registry (tests run several in one process); ``serve`` exposes
one on an HTTP port for Prometheus to scrape.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["IngestMetrics"]

log = logging.getLogger(__name__)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.fetches = Counter(
            "newsflow_ingest_fetches_total",
            "Feed fetches by outcome: HTTP status code, or refused/timeout/error.",
            ["status"], registry=r)
        self.not_modified = Counter(
            "newsflow_ingest_not_modified_total", "Fetches answered 304 Not Modified.",
            registry=r)
        self.bytes = Counter(
            "newsflow_ingest_fetched_bytes_total", "Body bytes received (on the wire).",
            registry=r)
        self.parse_errors = Counter(
            "newsflow_ingest_parse_errors_total",
            "Bodies that yielded no articles (kind=fatal) or kept them despite a problem "
            "(kind=recovered).", ["kind"], registry=r)
        self.articles = Counter(
            "newsflow_ingest_articles_total",
            "Articles by outcome: produced (acknowledged by Kafka), duplicate (seen before), "
            "failed (not acknowledged), skipped (nothing identified the entry).",
            ["status"], registry=r)
        self.lateness = Histogram(
            "newsflow_ingest_poll_lateness_seconds",
            "How late each feed's poll started compared with its schedule.",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=r)
        self.fetch_seconds = Histogram(
            "newsflow_ingest_fetch_duration_seconds", "Fetch duration, all redirect hops.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=r)
        self.parse_seconds = Histogram(
            "newsflow_ingest_parse_duration_seconds", "Parse + normalise duration per body.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30), registry=r)
        self.publish_seconds = Histogram(
            "newsflow_ingest_publish_duration_seconds", "Produce until acknowledged, per feed.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30), registry=r)
        self.schedule_saves = Counter(
            "newsflow_ingest_schedule_saves_total",
            "States saved after a 304, by how: written (to the feed's state file) or deferred "
            "(only the schedule changed: kept in memory, written within "
            "poller.schedule_save_interval_s).", ["how"], registry=r)
        self.deferred_schedules = Gauge(
            "newsflow_ingest_deferred_schedules",
            "Feeds whose latest schedule is held in memory, not written yet (if the poller "
            "dies, each of them is polled once early).", registry=r)
        self.feeds = Gauge(
            "newsflow_ingest_feeds", "Feeds this poller owns, by status.", ["status"],
            registry=r)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
        log.info("metrics endpoint port=%s path=/metrics", port)
