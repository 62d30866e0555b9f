"""`newsflow cluster [--in FILE.jsonl] [--out FILE.jsonl]`: stories and syndicated copies,
offline, with the worker's story engine.

Reads JSON lines ``{"id", "title", "text", "source", "published_at"}`` (stdin by default) in
arrival order and writes one line per record (stdout by default) as soon as it is assigned:
``{"id", "story_id", "dup_of", "new_story", "article_count", "independent_sources",
"story": {...}}``. ``dup_of`` is null unless the article is a near-copy; then it is the first
article of its copy group. Entities come from the worker's Enricher (spaCy NER), unless
``--no-entities``. ``--state FILE`` continues from a snapshot and saves the state back.
A bad line stops the run with its line number and exit status 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="cluster")
@click.option("--in", "in_file", type=click.File("r", encoding="utf-8"), default="-",
              show_default="stdin",
              help="JSON lines with id, title, text, source, published_at, in arrival order.")
@click.option("--out", "out_file", type=click.File("w", encoding="utf-8"), default="-",
              show_default="stdout", help="Where the assignments go, one JSON line per record.")
@click.option("--no-entities", is_flag=True,
              help="Skip NER: cluster on text alone (faster, less able to tell two events "
                   "of one kind apart).")
@click.option("--model", default=None, help="spaCy model (default: processors.spacy_model).")
@click.option("--state", "state_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None,
              help="Engine snapshot: continue from it when it exists, save the state to it "
                   "at the end.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Records per NER batch.")
@pass_cli
def command(
    cli_ctx: CliContext,
    in_file: TextIO,
    out_file: TextIO,
    no_entities: bool,
    model: str | None,
    state_file: Path | None,
    batch_size: int,
) -> None:
    """Assign each article a story and mark syndicated near-copies (dup_of)."""
    from newsflow.errors import ConfigError
    from processors.stories.engine import StoryEngine
    from processors.stories.records import cluster_lines

    enricher = None
    if not no_entities:
        from processors.enrich.enrichment import Enricher

        overrides: dict[str, dict[str, object]] = {"processors": {}}
        if model:
            overrides["processors"]["spacy_model"] = model
        settings = cli_ctx.settings(overrides if overrides["processors"] else None).processors
        enricher = Enricher(
            settings.spacy_model, settings.taxonomy_file, tag_model=settings.tag_model
        )
    if state_file is not None and state_file.exists():
        try:
            engine = StoryEngine.restore(state_file.read_bytes())
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{state_file}: not a story engine snapshot: {exc}") from exc
    else:
        engine = StoryEngine()
    for record in cluster_lines(in_file, engine, enricher, batch_size=batch_size):
        out_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    out_file.flush()
    if state_file is not None:
        tmp = state_file.with_name(state_file.name + ".tmp")
        tmp.write_bytes(engine.snapshot())
        tmp.replace(state_file)
