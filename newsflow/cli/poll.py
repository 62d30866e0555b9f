"""`newsflow poll`: fetch feeds and produce their new articles to Kafka."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="poll")
@click.option("--feeds", "feeds_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Feed list, YAML or OPML (default: settings poller.feeds_file).")
@click.option("--once", is_flag=True,
              help="Poll every enabled feed once, print the summary and exit.")
@click.option("--dry-run", is_flag=True,
              help="Print the article records as JSON lines instead of producing them "
                   "(no broker; feed state is not kept). Implies --once.")
@click.option("--json", "as_json", is_flag=True, help="Summaries as JSON lines.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Feed state directory (default: settings poller.state_dir).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST|ADDR|CIDR",
              help="Let feeds reach this private/loopback host (repeatable; adds to "
                   "NEWSFLOW_ALLOW_HOSTS and poller.allow_hosts).")
@click.option("--min-host-gap", type=float, metavar="SECONDS",
              help="Minimum gap between two requests to one host (default 5).")
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port.")
@click.option("--standalone", is_flag=True,
              help="Poll all feeds without joining the poller group (continuous mode).")
@pass_cli
def command(
    cli_ctx: CliContext,
    feeds_file: Path | None,
    once: bool,
    dry_run: bool,
    as_json: bool,
    state_dir: Path | None,
    allow_hosts: tuple[str, ...],
    min_host_gap: float | None,
    metrics_port: int | None,
    standalone: bool,
) -> None:
    """Poll the feeds and produce new articles to the articles topic (acks=all).

    With --once, ends within poller.cycle_deadline_s whatever a host says: feeds it did
    not reach (a host's Retry-After, the deadline) are reported as deferred, with when
    they are next due. Without --once, polls on each feed's adaptive schedule until
    SIGTERM/SIGINT, in the poller group (several `newsflow poll` processes split the
    feeds), printing a summary every poller.summary_interval_s. Exit code 1 when Kafka is
    unreachable.
    """
    from ingest.run import PollOptions, poll
    from ingest.summary import CycleSummary

    poller: dict[str, Any] = {}
    if state_dir is not None:
        poller["state_dir"] = state_dir
    if min_host_gap is not None:
        poller["min_host_gap_s"] = min_host_gap
    if metrics_port is not None:
        poller["metrics_port"] = metrics_port
    settings = cli_ctx.settings({"poller": poller} if poller else None)
    if allow_hosts:
        settings.poller.allow_hosts = [*settings.poller.allow_hosts, *allow_hosts]
    options = PollOptions(
        feeds_file=feeds_file or settings.poller.feeds_file,
        once=once or dry_run,
        dry_run=dry_run,
        standalone=standalone,
    )
    # In a dry run stdout carries the records, so the summary goes to stderr.
    err = dry_run

    def report(summary: CycleSummary) -> None:
        if as_json:
            click.echo(_json(summary.as_dict()), err=err)
        else:
            click.echo(summary.line(), err=err)
            for line in summary.detail_lines():
                click.echo(line, err=err)

    asyncio.run(poll(settings, options, report))
    sys.stdout.flush()


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str, ensure_ascii=False)
