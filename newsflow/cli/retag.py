"""`newsflow retag`: re-apply the current taxonomy to stored articles."""

from __future__ import annotations

import asyncio

import click

from newsflow.article import utc_now
from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="retag")
@click.option("--since", help="Only articles published at or after: 2025-06-01, ISO time, "
                              "or 7d/24h/90m ago.")
@click.option("--all", "everything", is_flag=True,
              help="Re-evaluate every article, not only those tagged by another taxonomy "
                   "version.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@pass_cli
def command(cli_ctx: CliContext, since: str | None, everything: bool, dry_run: bool,
            as_json: bool) -> None:
    """Recompute the tags of stored articles with the current taxonomy file
    (processors.taxonomy_file) and learned tag model (processors.tag_model), from their
    stored text and entities (no NLP model needed).
    Changed documents are re-indexed in place; articles that gained a tag are published to
    news.tag.<tag>, so subscribers get them.
    """
    from newsflow.cli.search import parse_when_option
    from processors.enrich.gazetteer import load_gazetteer
    from processors.enrich.tagging import Tagger
    from processors.enrich.tagmodel import TagModel
    from processors.enrich.taxonomy import load_taxonomy
    from processors.enrich.topic_tagger import TopicTagger
    from processors.service.retry import Backoff
    from processors.store.index import ArticleIndex
    from processors.store.retag import run_retag
    from processors.streams.produce import TagStreamProducer

    since_at = parse_when_option(since, "--since")
    settings = cli_ctx.settings()
    p = settings.processors
    model = TagModel.load(p.tag_model) if p.tag_model is not None else None
    tagger = TopicTagger(Tagger(load_taxonomy(p.taxonomy_file), load_gazetteer()), model)
    with ArticleIndex(settings.elasticsearch) as index, \
            TagStreamProducer(settings.kafka) as producer:
        report = asyncio.run(run_retag(
            index=index, producer=producer, tagger=tagger,
            tag_prefix=settings.kafka.tag_topic_prefix, now=utc_now(),
            backoff=Backoff(first_s=1.0), since=since_at, everything=everything,
            dry_run=dry_run,
        ))
    if as_json:
        cli_ctx.emit_json(report.to_json())
        return
    verb = "would change" if dry_run else "changed"
    click.echo(f"taxonomy {report.taxonomy_version}: scanned {report.scanned}, {verb} "
               f"{report.changed}, re-indexed {report.reindexed}, published {report.published}")
    for label, counts in (("gained", report.gained), ("lost", report.lost)):
        if counts:
            listed = ", ".join(f"{tag} {n}" for tag, n in sorted(counts.items()))
            click.echo(f"  {label}: {listed}")
    if report.rejected:
        click.echo(f"  rejected by Elasticsearch: {len(report.rejected)}", err=True)
