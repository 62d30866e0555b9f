"""`newsflow stats`: articles per tag per day (week, month) and top entities for a tag."""

from __future__ import annotations

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="stats")
@click.option("--tag", "tags", multiple=True,
              help="Only this tag, and list its top entities (repeatable). Default: all tags.")
@click.option("--since", help="Published at or after: 2025-06-01, ISO time, or 7d/24h/90m ago.")
@click.option("--until", help="Published before (same forms as --since).")
@click.option("--interval", type=click.Choice(["day", "week", "month"]), default="day",
              show_default=True, help="Histogram bucket, by published_at (UTC).")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Top entities per kind (people, organizations, places, groups).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_cli
def command(
    cli_ctx: CliContext,
    tags: tuple[str, ...],
    since: str | None,
    until: str | None,
    interval: str,
    top: int,
    as_json: bool,
) -> None:
    """Articles per tag per day in the index, and with --tag the top people, organizations,
    places and groups of the articles carrying that tag.

    JSON: {"total", "untagged", "tags": {TAG: {"total", "per_interval": [{"start",
    "articles"}], "top_entities": {KIND: [{"name", "articles"}]}}}}.
    """
    from newsflow.cli.search import parse_when_option
    from processors.store.index import ArticleIndex
    from processors.store.search import StatsQuery, build_stats, parse_stats

    query = StatsQuery(tags=tags, since=parse_when_option(since, "--since"),
                       until=parse_when_option(until, "--until"), interval=interval, top=top)
    with ArticleIndex(cli_ctx.settings().elasticsearch) as index:
        stats = parse_stats(query, index.search(build_stats(query)))
    if as_json:
        cli_ctx.emit_json(stats.to_json())
        return
    click.echo(f"{stats.total} articles, {stats.untagged} untagged")
    for tag, buckets in sorted(stats.per_tag.items(), key=lambda kv: -stats.tag_totals[kv[0]]):
        click.echo(f"{tag}: {stats.tag_totals[tag]}")
        for start, count in buckets:
            click.echo(f"  {start}  {count:>6}")
        for kind, names in stats.top_entities.get(tag, {}).items():
            if names:
                listed = ", ".join(f"{name} ({n})" for name, n in names)
                click.echo(f"  top {kind}: {listed}")
