"""`newsflow alerts recent|tail|replay`: spike alerts as the worker raised them, and the same
detector offline on JSON lines (processors/alerts)."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import click

from newsflow.cli.context import CliContext, pass_cli
from newsflow.cli.stopping import stop_on_signals

__all__ = ["command"]


def _line(alert: dict[str, Any]) -> str:
    sources = alert.get("source_domains") or []
    story = f"  story {alert['story_id']}" if alert.get("story_id") else ""
    return (f"{str(alert['at'])[:19].replace('T', ' ')}  {alert['key']}: {alert['count']} "
            f"stories vs {alert['baseline']} expected, p={alert['p']}, "
            f"{alert.get('sources')} source(s) {', '.join(sources[:5])}{story}")


@click.group(name="alerts")
def command() -> None:
    """Spike alerts: a tag, a tag and entity, or a watch reported by several independent
    sources well above its usual rate (syndicated copies count once)."""


@command.command(name="recent")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--tag", "tags", multiple=True, help="Only alerts on this tag (repeat: any).")
@click.option("--key", "keys", multiple=True,
              help="Only this key: TAG, TAG|ENTITY or watch:NAME (repeat: any).")
@click.option("--since", help="Fired at or after (2025-06-01, ISO time, or 7d/24h/90m ago).")
@click.option("--json", "as_json", is_flag=True, help="One alert document (JSON) per line.")
@pass_cli
def recent(cli_ctx: CliContext, limit: int, tags: tuple[str, ...], keys: tuple[str, ...],
           since: str | None, as_json: bool) -> None:
    """The latest alerts from the alerts index, newest first, with their evidence."""
    from newsflow.cli.search import parse_when_option
    from processors.store.alert_documents import build_recent_alerts
    from processors.store.alert_index import AlertIndex

    settings = cli_ctx.settings()
    index = AlertIndex(settings.elasticsearch)
    try:
        reply = index.search(build_recent_alerts(
            size=limit, since=parse_when_option(since, "--since"), keys=keys, tags=tags))
    finally:
        index.close()
    alerts = [hit["_source"] for hit in reply["hits"]["hits"]]
    for alert in alerts:
        click.echo(json.dumps(alert, ensure_ascii=False) if as_json else _line(alert))
    if not as_json:
        click.echo(f"{len(alerts)} alert(s)", err=True)


@command.command(name="tail")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest alert kept.")
@click.option("--max", "max_alerts", type=click.IntRange(min=1),
              help="Stop after this many alerts.")
@click.option("--timeout", "idle_timeout_s", type=click.FloatRange(min=0),
              help="Stop after this many seconds without a new alert.")
@click.option("--json", "as_json", is_flag=True, help="One alert (JSON) per line.")
@pass_cli
def tail(cli_ctx: CliContext, from_beginning: bool, max_alerts: int | None,
         idle_timeout_s: float | None, as_json: bool) -> None:
    """Follow the alerts topic (news.alerts) and print each alert as it is raised. Runs
    until Ctrl-C/SIGTERM, --max or --timeout; exits 0."""
    import time

    from processors.service.api_stories import AlertReader

    settings = cli_ctx.settings()
    reader = AlertReader(settings, None, "beginning" if from_beginning else "latest")
    shown, last = 0, time.monotonic()
    with stop_on_signals() as stopping:
        try:
            reader.open()
            while not stopping():
                events = reader.poll(0.5)
                for _position, alert in events:
                    click.echo(json.dumps(alert, ensure_ascii=False) if as_json
                               else _line(alert))
                    sys.stdout.flush()
                    shown += 1
                    if max_alerts is not None and shown >= max_alerts:
                        return
                if events:
                    last = time.monotonic()
                elif idle_timeout_s is not None and time.monotonic() - last >= idle_timeout_s:
                    return
        finally:
            reader.close()


@command.command(name="replay")
@click.option("--counts", is_flag=True,
              help='Read pre-bucketed {"key", "at", "count"} lines (no sources: the source '
                   "rule does not apply) instead of article records.")
@click.option("--in", "in_file", type=click.File("r", encoding="utf-8"), default="-",
              show_default="stdin", help="JSON lines in arrival order.")
@click.option("--out", "out_file", type=click.File("w", encoding="utf-8"), default="-",
              show_default="stdout", help="One JSON line per alert.")
@click.option("--config-json", default=None, metavar="JSON",
              help="Detector parameters over the preset, as a JSON object, e.g. "
                   '\'{"p_max": 1e-5, "cooldown_min": 120}\' (processors/alerts/config.py).')
def replay(counts: bool, in_file: TextIO, out_file: TextIO, config_json: str | None) -> None:
    """Run the worker's spike detector over JSON lines, deterministically, on their own
    event-time clock: article records {"id", "source", "published_at", "tags",
    "entities", "dup_of"?} (or, with --counts, {"key", "at", "count"}) in, one line per
    alert {"key", "at", "count", "baseline", "sources", "article_ids", ...} out. An alert
    uses only records published up to its "at". A bad line stops the run with its line
    number (exit 1); the alerts before it have been written."""
    from processors.alerts.config import ARTICLE_DEFAULTS, COUNT_DEFAULTS, config_overrides
    from processors.alerts.replay import replay_articles, replay_counts

    preset = COUNT_DEFAULTS if counts else ARTICLE_DEFAULTS
    config = preset.replace(config_overrides(config_json)) if config_json else preset
    run = replay_counts if counts else replay_articles
    for record in run(in_file, config):
        out_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    out_file.flush()
