"""`newsflow worker`: consume news.articles, enrich, index into Elasticsearch, stream tags."""

from __future__ import annotations

from typing import Any

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="worker")
@click.option("--role", type=click.Choice(["all", "enrich", "ordered"]), default=None,
              help="Stages this process runs: all (default: processors.role), enrich (the "
                   "model: news.articles -> news.enriched) or ordered (stories, watches, "
                   "alerts, index, tag streams: news.enriched, no model). Run one ordered "
                   "process beside enrich ones to keep the ordered stage off the model's "
                   "CPU; every role joins the same consumer group.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Articles per batch at most (default: processors.batch_size, 200).")
@click.option("--within", "within_s", type=click.FloatRange(min=0.01), default=None,
              help="Seconds to wait for a batch to fill (default: processors.batch_within_s).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve /metrics (Prometheus), /status (JSON) and /readyz on this port "
                   "(on processors.web_host).")
@click.option("--web-port", type=click.IntRange(1, 65535), default=None,
              help="Port of Faust's own web server (default: processors.web_port).")
@pass_cli
def command(
    cli_ctx: CliContext,
    role: str | None,
    batch_size: int | None,
    within_s: float | None,
    metrics_port: int | None,
    web_port: int | None,
) -> None:
    """Run the processors: consume news.articles, add entities and topic tags, bulk-index
    into the Elasticsearch alias (document _id = article id) and forward each tagged article
    to news.tag.<tag>; undecodable or rejected records go to news.deadletter with the reason.

    Offsets are committed only after Elasticsearch (and Kafka, for the tag streams)
    acknowledged; while Elasticsearch is unreachable the worker holds its batch, says what
    it waits for, and retries with backoff. Once it consumes, /readyz on the metrics port
    answers 200 (and "worker ready" is logged). Stops cleanly on SIGTERM or Ctrl-C.
    """
    overrides: dict[str, Any] = {}
    for key, value in (("role", role), ("batch_size", batch_size), ("batch_within_s", within_s),
                       ("metrics_port", metrics_port), ("web_port", web_port)):
        if value is not None:
            overrides[key] = value
    settings = cli_ctx.settings({"processors": overrides} if overrides else None)

    from processors.service.worker import run_worker

    run_worker(settings)
