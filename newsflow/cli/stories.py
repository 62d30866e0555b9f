"""`newsflow stories`: the active stories, newest or biggest first."""

from __future__ import annotations

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="stories")
@click.option("--sort", type=click.Choice(["newest", "biggest"]), default="newest",
              show_default=True,
              help="newest: by the last article's time; biggest: by independent sources.")
@click.option("--tag", "tags", multiple=True, help="Only stories with this tag (repeat: all).")
@click.option("--since", default="24h", show_default=True,
              help="Only stories with an article at or after this time (2025-06-01, ISO "
                   "time, or 7d/24h/90m ago; 'all' for every story).")
@click.option("--min-sources", type=click.IntRange(0), default=0, show_default=True,
              help="Only stories reported by at least this many independent outlets.")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One story document (JSON) per line.")
@pass_cli
def command(
    cli_ctx: CliContext,
    sort: str,
    tags: tuple[str, ...],
    since: str,
    min_sources: int,
    limit: int,
    as_json: bool,
) -> None:
    """List stories: groups of articles about one event, with their independent sources
    (distinct outlets; a syndicated copy adds none), tags and top entities.

    Text output: one block per story (last article's time, independent sources / articles,
    title, tags, top entities, id); the count on stderr.
    """
    from newsflow.cli.search import parse_when_option
    from processors.store.stories import StoryStore
    from processors.store.story_documents import build_story_list

    active_since = None if since == "all" else parse_when_option(since, "--since")
    settings = cli_ctx.settings()
    store = StoryStore(settings.elasticsearch)
    try:
        reply = store.search(build_story_list(sort=sort, size=limit, tags=tags,
                                              active_since=active_since,
                                              min_sources=min_sources))
    finally:
        store.close()
    hits = [hit["_source"] for hit in reply["hits"]["hits"]]
    if as_json:
        for story in hits:
            cli_ctx.emit_json(story)
        return
    for story in hits:
        click.echo(f"{story['last_at'][:16].replace('T', ' ')}  "
                   f"{story['independent_sources']} source(s) / {story['article_count']} "
                   f"article(s)  {story.get('title', '')}")
        if story.get("tags"):
            click.echo(f"    tags: {', '.join(story['tags'])}")
        if story.get("top_entities"):
            click.echo(f"    entities: {', '.join(story['top_entities'][:6])}")
        click.echo(f"    story {story['story_id']}")
    total = reply["hits"]["total"]["value"]
    click.echo(f"{total} stor{'y' if total == 1 else 'ies'}, {len(hits)} shown", err=True)
