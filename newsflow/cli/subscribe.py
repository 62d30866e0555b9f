"""`newsflow subscribe TAG... [--watch NAME]`: print articles as they arrive on tag streams
and watch streams."""

from __future__ import annotations

import logging
import sys

import click

from newsflow.cli.context import CliContext, pass_cli
from newsflow.cli.stopping import stop_on_signals

__all__ = ["command"]


@click.command(name="subscribe")
@click.argument("tags", nargs=-1)
@click.option("--watch", "watches", multiple=True, metavar="NAME",
              help="Also follow the watch stream news.watch.NAME (a saved search, `newsflow "
                   "watch add`); repeat for several. TAG is optional with --watch.")
@click.option("--group", help="Consumer group name: commit what was printed, and resume "
                              "after it when started again with the same name.")
@click.option("--from-beginning", is_flag=True,
              help="Start at the oldest article kept (a group: only on its first start).")
@click.option("--since", help="Start at articles forwarded at or after this time "
                              "(2025-06-01, ISO time, or 7d/24h/90m ago).")
@click.option("--max", "max_messages", type=click.IntRange(min=1),
              help="Stop after this many articles.")
@click.option("--timeout", "idle_timeout_s", type=click.FloatRange(min=0),
              help="Stop after this many seconds without a new article.")
@click.option("--collapse", is_flag=True,
              help="One article per story and tag: the first one of its story on that tag; "
                   "syndicated copies and later reports of the story are skipped (and, "
                   "with --group, committed as handled).")
@click.option("--json", "as_json", is_flag=True, help="One article record (JSON) per line.")
@pass_cli
def command(
    cli_ctx: CliContext,
    tags: tuple[str, ...],
    watches: tuple[str, ...],
    group: str | None,
    from_beginning: bool,
    since: str | None,
    max_messages: int | None,
    idle_timeout_s: float | None,
    collapse: bool,
    as_json: bool,
) -> None:
    """Follow the tag streams news.tag.TAG (e.g. military-cooperation) and print each article
    as it arrives. Without --group, starts at new articles (or --from-beginning / --since) and
    commits nothing. With --group NAME, each printed article is committed, so a restarted
    subscriber with the same NAME resumes exactly after the last one it printed. --watch NAME
    follows the articles matching a watch the same way (--collapse applies to tags only).

    Runs until Ctrl-C/SIGTERM, --max or --timeout; exits 0.
    """
    from newsflow.cli.search import parse_when_option
    from processors.store.watches import watch_topic_name
    from processors.streams.routing import opens_story
    from processors.streams.subscribe import TagSubscriber

    # kafka-python warns about its own slow I/O ticks at WARNING: noise for a terminal user.
    logging.getLogger("kafka.net").setLevel(logging.ERROR)
    if from_beginning and since:
        raise click.UsageError("use either --from-beginning or --since")
    if not tags and not watches:
        raise click.UsageError("name at least one TAG or --watch NAME")
    since_at = parse_when_option(since, "--since")
    settings = cli_ctx.settings()
    try:
        watch_of = {watch_topic_name(settings.kafka.watch_topic_prefix, name): name
                    for name in watches}
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--watch") from exc
    with stop_on_signals() as stopping, TagSubscriber(
        settings.kafka, tags, group=group, from_beginning=from_beginning, since=since_at,
        topics=list(watch_of),
    ) as subscriber:
        printed = 0
        for delivery in subscriber.deliveries(
            max_messages=None if collapse else max_messages,
            idle_timeout_s=idle_timeout_s, should_stop=stopping,
        ):
            watch = watch_of.get(delivery.topic)
            tag = delivery.topic.removeprefix(settings.kafka.tag_topic_prefix)
            label = f"watch:{watch}" if watch is not None else tag
            if (collapse and watch is None and delivery.article is not None
                    and not opens_story(delivery.article, tag)):
                subscriber.commit(delivery)
                continue
            printed += 1
            if delivery.article is None:
                click.echo(f"newsflow: skipping undecodable message at "
                           f"{delivery.position}: {delivery.error}", err=True)
            elif as_json:
                cli_ctx.emit_json(delivery.article.model_dump(mode="json"))
            else:
                a = delivery.article
                click.echo(f"{a.published_at:%Y-%m-%d %H:%M}  [{label}]  {a.source}  "
                           f"{a.title}\n    {a.url}")
            # Out of our buffer before the offset is committed: a committed article
            # must have reached the reader.
            sys.stdout.flush()
            subscriber.commit(delivery)
            if max_messages is not None and printed >= max_messages:
                break
