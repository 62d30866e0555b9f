"""Train, evaluate and check the tag model from the labelled corpus: what
``newsflow tagger train|evaluate|agreement`` run.

Reproducible: the same labels, taxonomy and parameters give the same model file (fixed
fold seeds, a deterministic solver, no timestamps in the file). The model's version is a
digest of its coefficients, so a retrained model that differs gets a new version and retag
knows the stored tags are stale.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from processors.enrich.enrichment import Enricher
from processors.enrich.tagmodel import TagModel
from processors.training.agreement import agreement
from processors.training.corpus import (
    CHECK_PASS,
    LABELS_DIR,
    Dispute,
    load_corpus,
    load_dev,
    load_labels,
    load_passes,
    load_settled_labels,
)
from processors.training.evaluate import Scores, SeedSummary, cross_validate, score
from processors.training.featurize import training_set
from processors.training.fit import NO_ITEMS, FitParams, TrainingSet, fit_model
from processors.training.written import (
    HELD_OUT_HALF,
    TRAINED_HALF,
    WRITTEN_DIR,
    WRITTEN_HALVES,
    load_written,
)

__all__ = [
    "DEFAULT_PARAMS",
    "AgreementReport",
    "Comparison",
    "EvaluationReport",
    "check_agreement",
    "evaluate_model",
    "label_disputes",
    "train_model",
]

#: The shipped model's parameters, chosen by 5-fold cross-validation on the corpus
#: (bench/RESULTS.md "tagger"); changing them is a retrain.
DEFAULT_PARAMS = FitParams()

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _corpus(
    enricher: Enricher, pool_path: Path, labels_dir: Path, progress: Progress
) -> tuple[list[str], TrainingSet, list[Path]]:
    tags = enricher.tagger.taxonomy.tag_ids
    labels, files = load_settled_labels(labels_dir, tags)
    items = load_corpus(pool_path, labels)
    progress(f"corpus: {len(items)} labelled items from {len(files)} label files; "
             "running NER and rules on them")
    return tags, training_set(items, enricher), files


def _trained_written(
    enricher: Enricher, written_dir: Path | None, tags: list[str], progress: Progress
) -> tuple[TrainingSet, list[Path]]:
    """The written half the model learns from with the corpus (its agreed items), and its
    files; an empty set without a written folder."""
    if written_dir is None:
        return NO_ITEMS, []
    written = load_written(written_dir / TRAINED_HALF, tags)
    agreed = written.agreed()
    if not agreed:
        return NO_ITEMS, []
    progress(f"written hard-case items ({TRAINED_HALF}): {len(agreed)} both readings agree "
             "on, trained on with the corpus")
    return training_set(agreed, enricher), written.files


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def model_version(model: TagModel) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(model.coef, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(model.thresholds, dtype=np.float32).tobytes())
    h.update("\n".join(model.tags).encode())
    if model.rule_floors.any():  # part of the decision (a model without floors keeps its digest)
        h.update(np.ascontiguousarray(model.rule_floors, dtype=np.float32).tobytes())
    if model.veto is not None:  # so is the veto model the floors are read against
        for values in model.veto:
            h.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return h.hexdigest()[:10]


def train_model(
    enricher: Enricher,
    pool_path: Path,
    out_path: Path,
    *,
    labels_dir: Path = LABELS_DIR,
    written_dir: Path | None = WRITTEN_DIR,
    params: FitParams = DEFAULT_PARAMS,
    progress: Progress = _stderr,
) -> TagModel:
    """Fit on the corpus and the written develop half (``written_dir=None``: the corpus
    alone) and write the model."""
    tags, data, files = _corpus(enricher, pool_path, labels_dir, progress)
    written, written_files = _trained_written(enricher, written_dir, tags, progress)
    data = data + written
    progress(f"fitting {len(tags)} tags on {len(data)} items")
    meta: dict[str, Any] = {
        "taxonomy_version": enricher.tagger.taxonomy.version,
        "labels_digest": _digest(files + written_files),
        "written_items": len(written),
        "spacy_model": enricher.model_name,
        "sklearn": sklearn.__version__,
    }
    model = fit_model(data, tags, params, meta, enricher.tagger.taxonomy.rule_thresholds)
    model.meta["model_version"] = model_version(model)
    model.save(out_path)
    progress(f"wrote {out_path} (model {model.version}, {out_path.stat().st_size:,} bytes)")
    return model


@dataclass
class EvaluationReport:
    folds: int
    items: int
    # Cross-validation by fold seed, in the order given: one shuffle into folds moves
    # macro-F1 by about 0.005, so a change is judged on several. The first is the one
    # reported in full (``seed``, ``cross_validated``).
    by_seed: dict[int, Scores]
    dev: Scores | None
    dev_items: int
    model_version: str
    # The held-out written half (check): the items both readings agree on, scored by the
    # same model, and how many they are.
    written: dict[str, Scores] = field(default_factory=dict)
    written_items: dict[str, int] = field(default_factory=dict)
    # How many items of the written develop half the models learned from (0: none).
    written_trained: int = 0

    @property
    def seed(self) -> int:
        return next(iter(self.by_seed))

    @property
    def cross_validated(self) -> Scores:
        return self.by_seed[self.seed]

    def seed_summary(self) -> SeedSummary:
        return SeedSummary(self.by_seed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "seed": self.seed,
            "items": self.items,
            "cross_validated": self.cross_validated.as_dict(),
            "seeds": self.seed_summary().as_dict(),
            "dev": self.dev.as_dict() if self.dev else None,
            "dev_items": self.dev_items,
            "written": {half: scores.as_dict() for half, scores in self.written.items()},
            "written_items": self.written_items,
            "written_trained": self.written_trained,
            "model_version": self.model_version,
        }


def evaluate_model(
    enricher: Enricher,
    pool_path: Path,
    dev_path: Path | None,
    *,
    labels_dir: Path = LABELS_DIR,
    params: FitParams = DEFAULT_PARAMS,
    folds: int = 5,
    seeds: Sequence[int] = (7,),
    written_dir: Path | None = WRITTEN_DIR,
    progress: Progress = _stderr,
) -> EvaluationReport:
    """k-fold figures on the corpus (the written develop half joins every fold's training
    data, as it joins the shipped model's), then the dev set and the held-out written half
    (both never trained on) scored by a model fitted on the corpus and the develop half with
    the same parameters: what `train` would ship. Several fold seeds: the corpus is read
    once and cross-validated once per seed."""
    if not seeds:
        raise ValueError("at least one fold seed")
    tags, data, _ = _corpus(enricher, pool_path, labels_dir, progress)
    written_trained, _ = _trained_written(enricher, written_dir, tags, progress)
    # Scored as the product decides: the model, or the rules at the taxonomy's thresholds.
    rule_thresholds = enricher.tagger.taxonomy.rule_thresholds
    by_seed: dict[int, Scores] = {}
    for s in dict.fromkeys(seeds):  # a seed given twice is one cross-validation
        progress(f"{folds}-fold cross-validation on {len(data)} items (fold seed {s})")
        by_seed[s] = cross_validate(data, tags, params, folds=folds, seed=s,
                                    rule_thresholds=rule_thresholds, extra=written_trained)
    dev_scores: Scores | None = None
    dev_items = 0
    model = fit_model(data + written_trained, tags, params, {}, rule_thresholds)
    if dev_path is not None:
        dev = load_dev(dev_path)
        dev_items = len(dev)
        progress(f"dev set: {dev_items} items, scored by the model fitted on the training data")
        dev_scores = score(model, training_set(dev, enricher), tags, rule_thresholds)
    written: dict[str, Scores] = {}
    written_items: dict[str, int] = {}
    if written_dir is not None:
        agreed = load_written(written_dir / HELD_OUT_HALF, tags).agreed()
        if agreed:
            written_items[HELD_OUT_HALF] = len(agreed)
            progress(f"written hard-case items ({HELD_OUT_HALF}): {len(agreed)}, scored by "
                     "the same model")
            written[HELD_OUT_HALF] = score(model, training_set(agreed, enricher), tags,
                                           rule_thresholds)
    return EvaluationReport(folds, len(data), by_seed, dev_scores, dev_items,
                            model_version(model), written, written_items, len(written_trained))


def _written_halves(written_dir: Path | None) -> list[tuple[str, Path]]:
    return [(half, written_dir / half) for half in WRITTEN_HALVES] if written_dir else []


@dataclass
class Comparison:
    """Two label sets on the items both hold."""

    name: str
    overlap: int
    exact: float
    rows: list[Any]
    first: str = "first pass"  # what the other label set is compared with

    def as_dict(self) -> dict[str, Any]:
        return {
            "overlap": self.overlap,
            "identical_tag_sets": round(self.exact, 3),
            "tags": {
                r.tag: {"both": r.both, "first_only": r.only_first, "second_only": r.only_second,
                        "kappa": round(r.kappa, 3),
                        "positive_agreement": round(r.positive_agreement, 3)}
                for r in self.rows
            },
        }


@dataclass
class AgreementReport:
    comparisons: list[Comparison]

    def as_dict(self) -> dict[str, Any]:
        return {c.name: c.as_dict() for c in self.comparisons}


def check_agreement(
    tags: list[str], labels_dir: Path = LABELS_DIR, written_dir: Path | None = None
) -> AgreementReport:
    """The first pass against each independent pass there is, and against the settled
    labels (how often the adjudication and the guide revision kept the first pass's tags);
    the guide revision's two readings against each other; then the written hard-case items'
    writers against their blind readers."""
    passes = load_passes(labels_dir, tags)
    others: list[tuple[str, dict[str, frozenset[str]]]] = []
    if passes.second:
        others.append(("second pass", passes.second))
        if passes.adjudication is not None:  # until then the disputes are open
            others.append(("settled", passes.settled()))
    if (labels_dir / CHECK_PASS).is_file():
        others.append(("check pass", load_labels([labels_dir / CHECK_PASS], tags)))
    comparisons = [Comparison(name, *agreement(passes.first, other, tags))
                   for name, other in others]
    if passes.revision:
        comparisons.append(Comparison(
            "guide revision's second reading", *agreement(*passes.revision.tag_sets(), tags),
            first="guide revision's first reading"))
    for half, folder in _written_halves(written_dir):
        written = load_written(folder, tags)
        if written.items:
            comparisons.append(Comparison(
                f"{half} half's blind readers",
                *agreement(written.writer, written.readings, tags),
                first="written items' writers"))
    return AgreementReport(comparisons)


def label_disputes(
    tags: list[str], labels_dir: Path = LABELS_DIR
) -> list[tuple[Dispute, frozenset[str] | None]]:
    """The items the two passes label differently, each with its adjudicated tags (None while
    it is open): the adjudicator's worklist and its record."""
    passes = load_passes(labels_dir, tags)
    adjudication = passes.adjudication or {}
    return [(d, adjudication.get(d.id)) for d in passes.disputes()]
