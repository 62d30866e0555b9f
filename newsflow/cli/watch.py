"""`newsflow watch add|list|remove`: saved searches, matched against every indexed article
and streamed to news.watch.<name>."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click

from newsflow.article import utc_now
from newsflow.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from newsflow.settings import Settings
    from processors.store.watches import Watch

__all__ = ["command"]


@click.group(name="watch")
def command() -> None:
    """Watches: saved searches (a query with `newsflow search` syntax, tags, entities).

    The worker matches every article it indexes against them (a percolator query in
    Elasticsearch), records the names on the article (`watches`) and sends it to the Kafka
    topic news.watch.NAME: follow it with `newsflow subscribe --watch NAME` or the API's
    /streams/watch/NAME. A running worker sees a new or removed watch within seconds.
    """


@command.command()
@click.argument("name")
@click.option("-q", "--query", default="",
              help="Query string, as for `newsflow search` (all words; \"phrases\", -not, "
                   "a | b, prefix*).")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeat: all).")
@click.option("--entity", "entities", multiple=True,
              help="Only articles naming this entity (repeat: all).")
@click.option("--replace", is_flag=True, help="Replace the watch of that name if there is one.")
@click.option("--backfill", is_flag=True,
              help="Also send the already-indexed matching articles (newest first, within "
                   "--since) to news.watch.NAME, and record the watch on them.")
@click.option("--since", default="7d", show_default=True,
              help="With --backfill: articles published at or after (2025-06-01, ISO time, "
                   "or 7d/24h/90m ago).")
@click.option("--json", "as_json", is_flag=True, help="The watch (and back-fill) as JSON.")
@pass_cli
def add(cli_ctx: CliContext, name: str, query: str, tags: tuple[str, ...],
        entities: tuple[str, ...], replace: bool, backfill: bool, since: str,
        as_json: bool) -> None:
    """Save the watch NAME (a-z, 0-9 and hyphens, like a tag): at least one of --query,
    --tag, --entity."""
    from newsflow.cli.search import parse_when_option
    from processors.store.watch_index import WatchIndex, run_backfill
    from processors.store.watches import Watch, watch_topic_name
    from processors.streams.produce import TagStreamProducer

    try:
        watch = Watch(name=name, query=query, tags=tags, entities=entities,
                      created_at=utc_now())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    since_at = parse_when_option(since, "--since") if backfill else None
    settings = cli_ctx.settings()
    topic = watch_topic_name(settings.kafka.watch_topic_prefix, watch.name)
    index = WatchIndex(settings.elasticsearch)
    try:
        index.ensure_ready()
        replaced = index.add(watch, replace=replace)
        result: dict[str, Any] = {**watch.to_json(), "topic": topic, "replaced": replaced,
                                  "topic_created": _create_topic(settings, topic)}
        if backfill:
            with TagStreamProducer(settings.kafka) as producer:
                report = asyncio.run(run_backfill(index=index, producer=producer, watch=watch,
                                                  topic=topic, since=since_at))
            result["backfill"] = report.to_json()
    finally:
        index.close()
    if as_json:
        cli_ctx.emit_json(result)
        return
    click.echo(f"watch {watch.name} {'replaced' if replaced else 'added'}: {_describe(watch)}"
               f"  -> {topic}")
    if backfill:
        filled = result["backfill"]
        click.echo(f"back-filled {filled['produced']} articles published since {since} to "
                   f"{topic}; recorded the watch on {filled['recorded']}"
                   + (f" ({filled['skipped']} changed meanwhile)" if filled["skipped"] else ""))


def _create_topic(settings: Settings, topic: str) -> bool:
    """Create the watch's topic now, so that a subscriber can attach at once and the
    worker's first match does not wait for it (the ordered stage creates a missing topic
    before it sends, which holds the batch). The watch is saved either way: with Kafka
    unreachable the worker creates the topic at the first match, so this only warns."""
    from newsflow.errors import BrokerUnavailableError
    from newsflow_adapters.topics import ensure_topics

    try:
        ensure_topics(settings.kafka, [topic], settings.kafka.tag_partitions)
    except BrokerUnavailableError as exc:
        click.echo(f"warning: topic {topic} not created now ({exc}); the worker creates it "
                   "at the watch's first match", err=True)
        return False
    return True


@command.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One watch (JSON) per line.")
@pass_cli
def list_watches(cli_ctx: CliContext, as_json: bool) -> None:
    """The saved watches, by name, with their topics."""
    from processors.store.watch_index import WatchIndex
    from processors.store.watches import watch_topic_name

    settings = cli_ctx.settings()
    index = WatchIndex(settings.elasticsearch)
    try:
        watches = index.list()
    finally:
        index.close()
    prefix = settings.kafka.watch_topic_prefix
    for watch in watches:
        topic = watch_topic_name(prefix, watch.name)
        if as_json:
            cli_ctx.emit_json({**watch.to_json(), "topic": topic})
        else:
            click.echo(f"{watch.name}  {_describe(watch)}  -> {topic}")
    if not as_json:
        click.echo(f"{len(watches)} watches", err=True)


@command.command()
@click.argument("name")
@pass_cli
def remove(cli_ctx: CliContext, name: str) -> None:
    """Delete the watch NAME (its topic and the names recorded on articles stay)."""
    from newsflow.errors import NewsflowError
    from processors.store.watch_index import WatchIndex

    index = WatchIndex(cli_ctx.settings().elasticsearch)
    try:
        removed = index.remove(name)
    finally:
        index.close()
    if not removed:
        raise NewsflowError(f"no watch named {name!r}")
    click.echo(f"watch {name} removed")


def _describe(watch: Watch) -> str:
    parts = [f'"{watch.query}"'] if watch.query else []
    parts += [f"--tag {tag}" for tag in watch.tags]
    parts += [f"--entity {entity}" for entity in watch.entities]
    return " ".join(parts)
