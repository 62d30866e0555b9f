"""`newsflow search QUERY`: full-text search over the article alias, with filters."""

from __future__ import annotations

from datetime import datetime

import click

from newsflow.article import utc_now
from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command", "parse_when_option"]


def parse_when_option(value: str | None, flag: str) -> datetime | None:
    from processors.store.search import parse_when

    if value is None:
        return None
    try:
        return parse_when(value, utc_now())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from exc


@click.command(name="search")
@click.argument("query", required=False, default="")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeat: all).")
@click.option("--entity", "entities", multiple=True,
              help="Only articles naming this entity, e.g. 'NATO' (repeat: all).")
@click.option("--source", "sources", multiple=True,
              help="Only articles from this source domain (repeat: any).")
@click.option("--since", help="Published at or after: 2025-06-01, ISO time, or 7d/24h/90m ago.")
@click.option("--until", help="Published before (same forms as --since).")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="How many hits.")
@click.option("--collapse", is_flag=True,
              help="One hit per story (its best or newest matching article), with the "
                   "story's independent sources; copies and other reports are folded in.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per hit and line: the article record plus score and "
                   "highlights.")
@pass_cli
def command(
    cli_ctx: CliContext,
    query: str,
    tags: tuple[str, ...],
    entities: tuple[str, ...],
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    collapse: bool,
    as_json: bool,
) -> None:
    """Search indexed articles. QUERY uses simple query syntax over title, summary, content
    and authors: all words must match; "quoted phrases", -exclusions, a | b and prefix* work.
    Without QUERY, the newest articles that pass the filters.

    Text output: one block per hit (date, source, title, tags, URL, highlighted fragments
    between » and «), then the total on stderr.
    """
    from processors.store.index import ArticleIndex
    from processors.store.search import SearchQuery, build_search, parse_search

    search_query = SearchQuery(
        text=query, tags=tags, entities=entities, sources=sources,
        since=parse_when_option(since, "--since"), until=parse_when_option(until, "--until"),
        size=limit, highlight_tags=("<em>", "</em>") if as_json else ("»", "«"),
        collapse=collapse,
    )
    settings = cli_ctx.settings()
    with ArticleIndex(settings.elasticsearch) as index:
        result = parse_search(index.search(build_search(search_query)))
    if as_json:
        for hit in result.hits:
            cli_ctx.emit_json(hit.to_json())
        return
    for hit in result.hits:
        a = hit.article
        tags_text = f"  [{', '.join(a.tag_names)}]" if a.tags else ""
        click.echo(f"{a.published_at:%Y-%m-%d %H:%M}  {a.source}  {a.title}{tags_text}")
        if collapse and a.story_id:
            click.echo(f"    story {a.story_id}: {a.story_sources or 0} independent "
                       "source(s) when this article joined")
        click.echo(f"    {a.url}")
        for fragment in (hit.highlights.get("summary") or hit.highlights.get("content") or [])[:2]:
            click.echo(f"    … {' '.join(fragment.split())} …")
    stories = f" in {result.stories} stor{'y' if result.stories == 1 else 'ies'}" \
        if result.stories is not None else ""
    click.echo(f"{result.total} article(s) match{stories}, {len(result.hits)} shown", err=True)
