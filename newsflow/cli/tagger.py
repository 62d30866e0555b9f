"""`newsflow tagger train|evaluate|agreement`: the learned tag model and its corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from newsflow.cli.context import CliContext, pass_cli
from newsflow.errors import ConfigError

__all__ = ["command"]

_SHARED_EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval"


def _pool_option(f: Any) -> Any:
    return click.option(
        "--pool", type=click.Path(path_type=Path, dir_okay=False),
        default=_SHARED_EVAL / "topics-pool.jsonl", show_default=True,
        help="The pool items the labels refer to (their text is not kept in the repo).",
    )(f)


def _labels_option(f: Any) -> Any:
    from processors.training.corpus import LABELS_DIR

    return click.option(
        "--labels", "labels_dir", type=click.Path(path_type=Path, file_okay=False),
        default=LABELS_DIR, show_default=True,
        help="Label folder: parts/ (first pass), pass2/ (second pass), "
        "adjudicated.jsonl, second-pass.jsonl (200-item check pass).",
    )(f)


def _written_option(f: Any) -> Any:
    from processors.training.written import WRITTEN_DIR

    f = click.option("--no-written", is_flag=True,
                     help="Leave the written items out: train and evaluate learn from the "
                     "corpus alone, and no written half is scored or compared.")(f)
    return click.option(
        "--written", "written_dir", type=click.Path(path_type=Path, file_okay=False),
        default=WRITTEN_DIR, show_default=True,
        help="Written hard-case items: develop/ (trained on with the corpus) and check/ "
        "(held out), each with items/ (the writers' tags) and readings/ (a blind second "
        "reading).",
    )(f)


def _enricher(cli_ctx: CliContext, model: str | None) -> Any:
    from processors.enrich.enrichment import Enricher

    settings = cli_ctx.settings().processors
    # Features come from the rules, never from a previous model: tag_model=None.
    return Enricher(model or settings.spacy_model, settings.taxonomy_file, tag_model=None)


def _need(path: Path, what: str) -> None:
    if not path.is_file():
        raise ConfigError(f"{what} not found at {path} (pass its path with the option)")


@click.group(name="tagger")
def command() -> None:
    """The learned half of the topic tagger: rebuild the shipped model from the labelled
    corpus (processors/training/labels), measure it, and check the labels' agreement."""


@command.command(name="train")
@_pool_option
@_labels_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Model file to write (default: processors.tag_model, the shipped one).")
@click.option("--model", default=None, help="spaCy model (default: processors.spacy_model).")
@click.option("--json", "as_json", is_flag=True, help="Print the model's header as JSON.")
@_written_option
@pass_cli
def train(cli_ctx: CliContext, pool: Path, labels_dir: Path, out: Path | None,
          model: str | None, as_json: bool, written_dir: Path, no_written: bool) -> None:
    """Fit the model on every labelled corpus item and the written develop half's agreed
    items (thresholds by cross-validation inside that data) and write it. The same labels,
    written items and taxonomy give the same file."""
    from processors.enrich.tagmodel import DEFAULT_TAG_MODEL
    from processors.training.pipeline import train_model

    _need(pool, "pool file")
    target = out or cli_ctx.settings().processors.tag_model or DEFAULT_TAG_MODEL
    result = train_model(_enricher(cli_ctx, model), pool, target, labels_dir=labels_dir,
                         written_dir=None if no_written else written_dir)
    if as_json:
        cli_ctx.emit_json({"path": str(target), "tags": result.tags, **result.meta})
    else:
        click.echo(f"model {result.version} for taxonomy {result.meta['taxonomy_version']}: "
                   f"{result.meta['items']} items, {len(result.tags)} tags -> {target}")


@command.command(name="evaluate")
@_pool_option
@_labels_option
@click.option("--dev", type=click.Path(path_type=Path, dir_okay=False),
              default=_SHARED_EVAL / "topics-dev.jsonl", show_default=True,
              help="Untouched labelled set scored by the model fitted on the whole corpus.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@click.option("--seed", "seeds", type=int, multiple=True, default=(7,), show_default=True,
              help="How the corpus is shuffled into folds; repeat it to cross-validate "
              "under each (bench/RESULTS.md reports --seed 7 --seed 11 --seed 13 --seed 17 "
              "--seed 19) and print the figures averaged over the seeds.")
@click.option("--model", default=None, help="spaCy model (default: processors.spacy_model).")
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
@_written_option
@pass_cli
def evaluate(cli_ctx: CliContext, pool: Path, labels_dir: Path, dev: Path, folds: int,
             seeds: tuple[int, ...], model: str | None, as_json: bool, written_dir: Path,
             no_written: bool) -> None:
    """Per-tag precision, recall and F1: k-fold cross-validation on the corpus (every item
    predicted by a model that never saw it; the written develop half joins every fold's
    training data), then the dev set and the held-out written half, both scored by the
    model the corpus and the develop half give (never trained on either)."""
    from processors.training.pipeline import evaluate_model

    _need(pool, "pool file")
    dev_path = dev if dev.is_file() else None
    report = evaluate_model(_enricher(cli_ctx, model), pool, dev_path, labels_dir=labels_dir,
                            folds=folds, seeds=seeds,
                            written_dir=None if no_written else written_dir)
    if as_json:
        cli_ctx.emit_json(report.as_dict())
        return
    trained = (f", each fold also trained on {report.written_trained} written items"
               if report.written_trained else "")
    click.echo(f"{folds}-fold cross-validation (fold seed {report.seed}), {report.items} "
               f"labelled items{trained}:")
    click.echo(report.cross_validated.table())
    if len(report.by_seed) > 1:
        click.echo(f"\n{folds}-fold cross-validation averaged over {len(report.by_seed)} fold "
                   "seeds:")
        click.echo(report.seed_summary().table())
    if report.dev is not None:
        click.echo(f"\ndev set ({report.dev_items} items, never trained on), "
                   f"model {report.model_version}:")
        click.echo(report.dev.table())
    for half, scores in report.written.items():
        click.echo(f"\nwritten hard-case items, {half} half ({report.written_items[half]} "
                   f"items both readings agree on, held out: never trained on), model "
                   f"{report.model_version}:")
        click.echo(scores.table())


@command.command(name="agreement")
@_labels_option
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
@_written_option
@pass_cli
def agreement_command(cli_ctx: CliContext, labels_dir: Path, as_json: bool,
                      written_dir: Path, no_written: bool) -> None:
    """Agreement of the first pass with each independent pass (the full second pass, the
    200-item check pass) and with the settled labels, on the items both hold, and of the
    written hard-case items' writers with their blind readers: identical tag sets, and per
    tag Cohen's kappa and positive agreement."""
    from processors.training.pipeline import check_agreement

    report = check_agreement(_tags(cli_ctx), labels_dir,
                             None if no_written else written_dir)
    if as_json:
        cli_ctx.emit_json(report.as_dict())
        return
    for comparison in report.comparisons:
        click.echo(f"{comparison.first} vs {comparison.name}: {comparison.overlap} items; "
                   f"identical tag sets: {comparison.exact:.3f}")
        click.echo(f"{'tag':24} {'both':>5} {'1st':>4} {'2nd':>4} {'kappa':>6} {'pos.agr':>8}")
        for r in comparison.rows:
            click.echo(f"{r.tag:24} {r.both:5d} {r.only_first:4d} {r.only_second:4d} "
                       f"{r.kappa:6.3f} {r.positive_agreement:8.3f}")
        click.echo("")


@command.command(name="disputes")
@_labels_option
@click.option("--open", "only_open", is_flag=True,
              help="Only the disputes labels/adjudicated.jsonl does not settle yet.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def disputes_command(cli_ctx: CliContext, labels_dir: Path, only_open: bool,
                     as_json: bool) -> None:
    """The items the two passes label differently: for each, the tags both passes gave, the
    tags in dispute (not which pass gave them) and, once adjudicated, the settled tags. An
    adjudicator decides each disputed tag and writes the settled tag set to
    labels/adjudicated.jsonl. Exits 0; 1 with --open when disputes are open (a check)."""
    import json

    from processors.training.pipeline import label_disputes

    still_open = 0
    for dispute, settled in label_disputes(_tags(cli_ctx), labels_dir):
        still_open += settled is None
        if only_open and settled is not None:
            continue
        agreed, disputed = sorted(dispute.agreed), sorted(dispute.disputed)
        decided = sorted(settled) if settled is not None else None
        if as_json:
            click.echo(json.dumps({"id": dispute.id, "agreed": agreed, "disputed": disputed,
                                   "settled": decided}))
        else:
            click.echo(f"{dispute.id}  agreed: {', '.join(agreed) or '-'}  "
                       f"disputed: {', '.join(disputed)}  settled: "
                       f"{'open' if decided is None else ', '.join(decided) or '-'}")
    if only_open and still_open:
        raise SystemExit(1)


def _tags(cli_ctx: CliContext) -> list[str]:
    from processors.enrich.taxonomy import load_taxonomy

    return load_taxonomy(cli_ctx.settings().processors.taxonomy_file).tag_ids
