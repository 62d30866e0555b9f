"""`newsflow enrich [--in FILE.jsonl] [--out FILE.jsonl]`: the batch face of the worker's
Enricher.

Reads JSON lines ``{"id", "title", "text"}`` (stdin by default) and writes each record back
(stdout by default) with ``entities`` and ``tags``. Offsets: every entity and every piece of
evidence has ``field`` ("title" or "text") and ``start``/``end`` character offsets into that
field of the input record, so ``record[field][start:end]`` is the mention or the sentence.
A bad line stops the run with its line number and exit status 1; records of earlier batches
have been written by then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="enrich")
@click.option("--in", "in_file", type=click.File("r", encoding="utf-8"), default="-",
              show_default="stdin", help="JSON lines with id, title, text.")
@click.option("--out", "out_file", type=click.File("w", encoding="utf-8"), default="-",
              show_default="stdout", help="Where the enriched JSON lines go.")
@click.option("--model", default=None, help="spaCy model (default: processors.spacy_model).")
@click.option("--taxonomy", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Taxonomy YAML (default: processors.taxonomy_file).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=64, show_default=True)
@pass_cli
def command(
    cli_ctx: CliContext,
    in_file: TextIO,
    out_file: TextIO,
    model: str | None,
    taxonomy: Path | None,
    batch_size: int,
) -> None:
    """Add entities and topic tags (with evidence) to JSON-lines articles."""
    from newsflow.article import utc_now
    from processors.enrich.enrichment import Enricher
    from processors.enrich.records import enrich_lines

    overrides: dict[str, dict[str, object]] = {"processors": {}}
    if model:
        overrides["processors"]["spacy_model"] = model
    if taxonomy:
        overrides["processors"]["taxonomy_file"] = str(taxonomy)
    settings = cli_ctx.settings(overrides if overrides["processors"] else None).processors
    enricher = Enricher(
        settings.spacy_model, settings.taxonomy_file, tag_model=settings.tag_model
    )
    for record in enrich_lines(in_file, enricher, utc_now(), batch_size=batch_size):
        out_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    out_file.flush()
