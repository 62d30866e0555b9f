"""Prometheus metrics of the processors stage (newsflow_processors_*), and the worker's
small HTTP server: ``/metrics`` (Prometheus), ``/status`` (JSON, processors.service.status)
and ``/readyz`` (200 once ready, 503 before: a Kubernetes readiness probe).

One outcome counter bumped once per article with a status label, a latency histogram per hop,
and gauges that say what the worker is waiting for. Each ProcessorMetrics owns its registry, so
tests and several apps in one process do not collide.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["CPU_WORKS", "ProcessorMetrics"]

# The work the worker's threads count their CPU for (``cpu_seconds_total{work}``): what
# bench/e2e reads and reports per article.
CPU_WORKS = ("enrich", "stories", "elasticsearch")

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.articles = Counter(
            "newsflow_processors_articles_total",
            "Articles handled by outcome: enriched (enrich stage), indexed (ordered stage), "
            "dead_letter and duplicate (either).",
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
        self.collector_seconds = Counter(
            "newsflow_processors_collector_seconds_total",
            "CPU seconds in Python's cyclic garbage collector, by generation collected "
            "(processors/service/heap.py).",
            ["generation"],
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
            "Time spent per hop: enrich, hand-over (to the ordered stage), stories, index, "
            "forward.",
            ["hop"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        # The process's own CPU and memory (process_cpu_seconds_total, ..._resident_memory_
        # bytes, open fds: Prometheus' standard process metrics, from /proc).
        ProcessCollector(registry=r)
        # With process_cpu_seconds_total this says where a worker's CPU goes: what these
        # threads do not spend is the event loop's (Kafka, decoding and encoding records,
        # the hand-over and tag streams).
        self.cpu_seconds = Counter(
            "newsflow_processors_cpu_seconds_total",
            "CPU seconds of the worker's own threads, by their work: enrich (the model and "
            "the tagger), stories (the story engine and its snapshots), elasticsearch "
            "(requests and their JSON; the story state's catch-up read at start).",
            ["work"],
            registry=r,
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

        self.alerts = Counter(
            "newsflow_processors_alerts_total",
            "Spike alerts raised (each once, stored and sent to the alerts topic).",
            registry=r,
        )
        self.ready = Gauge(
            "newsflow_processors_ready",
            "1 once the worker owns partitions, loaded its model and prepared the index.",
            registry=r,
        )
        self.batches = Counter(
            "newsflow_processors_batches_total",
            "Batches handled to the end and acknowledged, by stage (enrich, index).",
            ["stage"],
            registry=r,
        )
        self.received = Counter(
            "newsflow_processors_received_total",
            "Records received in handled batches (every outcome, duplicates included), by "
            "stage (enrich, index).",
            ["stage"],
            registry=r,
        )

    def serve(
        self,
        port: int,
        addr: str = "127.0.0.1",
        status: Callable[[], dict[str, Any]] | None = None,
    ) -> ThreadingHTTPServer:
        """Serve /metrics, and /status and /readyz when given a status source, in a daemon
        thread; returns the server (``server_address`` has the port when 0 was asked)."""
        server = ThreadingHTTPServer((addr, port), _handler(self.registry, status))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="newsflow-metrics",
                         daemon=True).start()
        return server


def _handler(registry: CollectorRegistry,
             status: Callable[[], dict[str, Any]] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path in ("/status", "/readyz") and status is not None:
                body = status()
                code = 503 if path == "/readyz" and not body.get("ready") else 200
                self._reply(code, "application/json", json.dumps(body).encode())
            else:
                self._reply(404, "text/plain", b"not found: /metrics, /status, /readyz\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes every few seconds are not news: no access log."""

    return Handler
