"""Measure the story engine on stories-dev: in-sample and by topic-wise cross-validation.

    .venv/bin/python -m processors.stories.evaluate            # the shipped defaults
    .venv/bin/python -m processors.stories.evaluate --cv       # + grid search, CV by topic

The engine sees only ``id, title, text, source, published_at`` of each record (plus the NER
entities and tags the project's Enricher finds in title + text, as in ``newsflow cluster``);
``gold``, ``ecb_file`` and ``copy_of`` are only read by the scorer, the shared
``stories_score.py`` (imported from its own path, not copied).

Cross-validation never tunes on what it scores: the 33 topics (gold ``<topic>_ecb`` and
``<topic>_ecbplus``, the two events of one kind that are hard to tell apart) are dealt into
folds; for each fold the grid's best parameters are chosen on the *other* topics' records
only (one engine run per grid point on that sub-stream, in arrival order), then the held-out
topics' records are run, in their arrival order, with those parameters. Reported: each fold,
the mean over folds, and all held-out predictions scored together. A grid point qualifies
only with copy recall >= 0.95 and no wrong ``dup_of`` link on the training topics; among
those, the best B3 F1 wins (ties: the grid's order).

The NER of the 965 records (about 30 s with the small model) is cached in a private temp
file keyed by the dev file's digest, so grid searches do not rerun spaCy.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from processors.stories.clusters import ClusterParams
from processors.stories.engine import StoryEngine, StoryParams
from processors.stories.model import StoryEntity, StoryInput

__all__ = ["GRID", "cross_validate", "load_items", "run_engine"]

DEFAULT_DEV = Path(os.environ.get("NEWSFLOW_STORIES_DEV", "../shared/eval/stories-dev.jsonl"))

# The grid: a handful of values for the two knobs that matter, the join threshold and how
# much the entities count. Everything else keeps its default, set by reasoning rather than
# search (README.md): the 72 h activity window, the copy thresholds (in the gap between copies
# and different articles measured on dev, never tuned on scores), the vector sizes.
GRID: dict[str, tuple[float, ...]] = {
    "threshold": (0.10, 0.15, 0.20, 0.25, 0.30),
    "entity_weight": (0.0, 0.5, 1.0),
}


def _scorer(dev: Path) -> ModuleType:
    path = dev.with_name("stories_score.py")
    spec = importlib.util.spec_from_file_location("stories_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _records(dev: Path) -> list[dict[str, Any]]:
    with dev.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _ner_cache(dev: Path, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Entities and tags per record id, from the project's Enricher, cached in a temp file."""
    digest = hashlib.sha256(dev.read_bytes()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"newsflow-stories-ner-{digest}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    from newsflow.article import utc_now
    from newsflow.settings import load_settings
    from processors.enrich.enrichment import Enricher
    from processors.enrich.records import record_to_article

    settings = load_settings(None).processors
    enricher = Enricher(settings.spacy_model, settings.taxonomy_file, tag_model=settings.tag_model)
    now = utc_now()
    articles = [
        record_to_article({k: r[k] for k in ("id", "title", "text")}, i + 1, now)
        for i, r in enumerate(records)
    ]
    out: dict[str, Any] = {}
    for start in range(0, len(articles), 64):
        for article in enricher.enrich(articles[start : start + 64], now):
            out[article.id] = {
                "entities": [[e.canonical, e.label, e.count, e.country_code]
                             for e in article.entities],
                "tags": article.tag_names,
            }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f)
    os.replace(tmp, path)
    return out


def load_items(
    dev: Path, *, entities: bool = True
) -> tuple[list[dict[str, Any]], list[StoryInput]]:
    """The gold records and the engine's inputs (only the fields the engine may see)."""
    records = _records(dev)
    ner = _ner_cache(dev, records) if entities else {}
    items = []
    for r in records:
        found = ner.get(r["id"], {"entities": [], "tags": []})
        items.append(StoryInput(
            id=r["id"],
            title=r["title"],
            text=r["text"],
            source=r["source"],
            published_at=datetime.fromisoformat(r["published_at"].replace("Z", "+00:00")),
            entities=tuple(StoryEntity(str(n), str(lab), int(c), cc)
                           for n, lab, c, cc in found["entities"]),
            tags=tuple(found["tags"]),
        ))
    return records, items


def run_engine(params: StoryParams, items: Iterable[StoryInput]) -> list[dict[str, Any]]:
    engine = StoryEngine(params)
    return [a.to_json() for a in engine.assign_all(items)]


def _topic(record: dict[str, Any]) -> str:
    return str(record["gold"]).rsplit("_", 1)[0]


def _with(params: StoryParams, point: dict[str, float]) -> StoryParams:
    cluster: ClusterParams = dataclasses.replace(params.cluster, **point)  # type: ignore[arg-type]
    return dataclasses.replace(params, cluster=cluster)


def _points(grid: dict[str, tuple[float, ...]]) -> list[dict[str, float]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def _summary(score: dict[str, Any]) -> dict[str, Any]:
    syn = score["syndication"]
    return {
        "b3_p": score["b3"]["p"], "b3_r": score["b3"]["r"], "b3_f1": score["b3"]["f1"],
        "stories": score["pred_stories"], "gold_stories": score["gold_stories"],
        "copy_recall": syn["copy_recall"], "wrong_merges": syn["wrong_merges"],
        "dup_links": syn["dup_links"],
    }


def _qualifies(s: dict[str, Any]) -> bool:
    recall = s["copy_recall"]
    return bool((recall is None or recall >= 0.95) and s["wrong_merges"] == 0)


def cross_validate(
    records: list[dict[str, Any]],
    items: list[StoryInput],
    scorer: ModuleType,
    base: StoryParams,
    grid: dict[str, tuple[float, ...]],
    folds: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    topics = sorted({_topic(r) for r in records}, key=lambda t: (len(t), t))
    # Dealt round-robin in a fixed, seeded order: reproducible, and no fold gets only the
    # low- or high-numbered topics.
    order = sorted(topics, key=lambda t: hashlib.sha256(f"fold:{t}".encode()).hexdigest())
    fold_of = {t: i % folds for i, t in enumerate(order)}
    points = _points(grid)
    results: list[dict[str, Any]] = []
    held_out_pred: list[dict[str, Any]] = []
    chosen_count: dict[str, int] = {}
    for k in range(folds):
        train_idx = [i for i, r in enumerate(records) if fold_of[_topic(r)] != k]
        test_idx = [i for i, r in enumerate(records) if fold_of[_topic(r)] == k]
        train_gold = [records[i] for i in train_idx]
        best: tuple[float, dict[str, float], dict[str, Any]] | None = None
        for point in points:
            pred = run_engine(_with(base, point), [items[i] for i in train_idx])
            s = _summary(scorer.score(train_gold, pred))
            if _qualifies(s) and (best is None or s["b3_f1"] > best[0]):
                best = (s["b3_f1"], point, s)
        if best is None:
            raise SystemExit(f"fold {k}: no grid point qualifies on the training topics")
        _, point, train_score = best
        pred = run_engine(_with(base, point), [items[i] for i in test_idx])
        held_out_pred.extend(pred)
        test_score = _summary(scorer.score([records[i] for i in test_idx], pred))
        key = json.dumps(point, sort_keys=True)
        chosen_count[key] = chosen_count.get(key, 0) + 1
        fold_topics = sorted((t for t in topics if fold_of[t] == k), key=lambda t: (len(t), t))
        results.append({"fold": k, "topics": fold_topics, "chosen": point,
                        "train": train_score, "held_out": test_score})
        log(f"fold {k:2d} topics {','.join(fold_topics):<14} chosen {point} "
            f"train F1 {train_score['b3_f1']:.3f} held-out F1 {test_score['b3_f1']:.3f} "
            f"copy recall {test_score['copy_recall']} wrong merges {test_score['wrong_merges']}")
    pooled = _summary(scorer.score(records, held_out_pred))
    mean: dict[str, float] = {
        key: round(statistics.fmean(float(r["held_out"][key] or 0.0) for r in results), 4)
        for key in ("b3_p", "b3_r", "b3_f1", "copy_recall")
    }
    mean["wrong_merges"] = float(sum(int(r["held_out"]["wrong_merges"]) for r in results))
    return {"folds": results, "held_out_mean": mean, "held_out_pooled": pooled,
            "chosen": chosen_count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processors.stories.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV,
                        help="stories-dev.jsonl (stories_score.py beside it)")
    parser.add_argument("--cv", action="store_true",
                        help="grid search + topic-wise cross-validation")
    parser.add_argument("--folds", type=int, default=11, help="folds of topics (default 11)")
    parser.add_argument("--no-entities", action="store_true", help="run without NER entities")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    scorer = _scorer(args.dev)
    records, items = load_items(args.dev, entities=not args.no_entities)
    base = StoryParams()
    started = time.process_time()
    in_sample = _summary(scorer.score(records, run_engine(base, items)))
    per_article_ms = (time.process_time() - started) / len(items) * 1000
    log(f"defaults {dataclasses.asdict(base.cluster)}")
    log(f"in-sample (shipped defaults): {in_sample}  ({per_article_ms:.2f} ms CPU per article)")
    report: dict[str, Any] = {"in_sample_defaults": in_sample}
    if args.cv:
        grid_scores = []
        for point in _points(GRID):
            s = _summary(scorer.score(records, run_engine(_with(base, point), items)))
            grid_scores.append({"point": point, **s})
        best_in_sample = max((g for g in grid_scores if _qualifies(g)),
                             key=lambda g: g["b3_f1"])
        log(f"in-sample best of the grid (tuned on all of dev, optimistic): {best_in_sample}")
        cv = cross_validate(records, items, scorer, base, GRID, args.folds, log)
        log(f"held-out, mean over {args.folds} folds: {cv['held_out_mean']}")
        log(f"held-out, all folds' predictions scored together: {cv['held_out_pooled']}")
        log(f"grid points chosen (how many folds): {cv['chosen']}")
        report.update({"grid_in_sample": grid_scores, "in_sample_best": best_in_sample,
                       "cv": cv})
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
