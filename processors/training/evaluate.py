"""Honest figures for the tag model: k-fold cross-validation on the corpus (each fold's model,
calibration and thresholds fitted without the fold) and scores on an untouched set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from processors.enrich.tagmodel import TagModel
from processors.training.fit import NO_ITEMS, FitParams, TrainingSet, fit_model, rule_hits

__all__ = ["Scores", "SeedSummary", "cross_validate", "predict", "score"]


@dataclass
class Scores:
    """True/false positives and false negatives per tag."""

    tags: list[str]
    counts: dict[str, list[int]]

    @classmethod
    def empty(cls, tags: Sequence[str]) -> Scores:
        return cls(list(tags), {t: [0, 0, 0] for t in tags})

    def add(self, gold: frozenset[str], predicted: set[str]) -> None:
        for t in self.tags:
            if t in gold and t in predicted:
                self.counts[t][0] += 1
            elif t in predicted:
                self.counts[t][1] += 1
            elif t in gold:
                self.counts[t][2] += 1

    def prf(self, tag: str) -> tuple[float, float, float]:
        tp, fp, fn = self.counts[tag]
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    @property
    def macro_f1(self) -> float:
        return sum(self.prf(t)[2] for t in self.tags) / len(self.tags)

    def as_dict(self) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for t in self.tags:
            p, r, f = self.prf(t)
            tp, fp, fn = self.counts[t]
            rows[t] = {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 3),
                       "recall": round(r, 3), "f1": round(f, 3)}
        return {"tags": rows, "macro_f1": round(self.macro_f1, 3)}

    def table(self) -> str:
        lines = [f"{'tag':24} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'rec':>6} {'f1':>6}"]
        for t in self.tags:
            tp, fp, fn = self.counts[t]
            p, r, f = self.prf(t)
            lines.append(f"{t:24} {tp:4d} {fp:4d} {fn:4d} {p:6.3f} {r:6.3f} {f:6.3f}")
        lines.append(f"{'macro-F1':24} {'':>27} {self.macro_f1:6.3f}")
        return "\n".join(lines)


@dataclass
class SeedSummary:
    """Cross-validation under several shuffles into folds (fold seed -> scores): each tag's
    precision, recall and F1 averaged over the seeds, its F1's range, and macro-F1 by seed.
    Means of the per-seed figures, as bench/RESULTS.md reports them."""

    by_seed: dict[int, Scores]

    def __post_init__(self) -> None:
        if not self.by_seed:
            raise ValueError("a summary needs at least one fold seed")

    @property
    def tags(self) -> list[str]:
        return next(iter(self.by_seed.values())).tags

    def mean_prf(self, tag: str) -> tuple[float, float, float]:
        p, r, f = np.mean([scores.prf(tag) for scores in self.by_seed.values()], axis=0)
        return float(p), float(r), float(f)

    def f1_range(self, tag: str) -> tuple[float, float]:
        f1s = [scores.prf(tag)[2] for scores in self.by_seed.values()]
        return min(f1s), max(f1s)

    @property
    def macro_f1_by_seed(self) -> dict[int, float]:
        return {seed: scores.macro_f1 for seed, scores in self.by_seed.items()}

    @property
    def mean_macro_f1(self) -> float:
        return float(np.mean(list(self.macro_f1_by_seed.values())))

    def as_dict(self) -> dict[str, Any]:
        tags: dict[str, Any] = {}
        for t in self.tags:
            p, r, f = self.mean_prf(t)
            low, high = self.f1_range(t)
            tags[t] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
                       "f1_min": round(low, 3), "f1_max": round(high, 3)}
        return {
            "seeds": list(self.by_seed),
            "macro_f1_by_seed": {str(k): round(v, 4) for k, v in self.macro_f1_by_seed.items()},
            "mean_macro_f1": round(self.mean_macro_f1, 4),
            "tags": tags,
        }

    def table(self) -> str:
        lines = [f"{'tag':24} {'prec':>6} {'rec':>6} {'f1':>6} {'f1 min':>7} {'f1 max':>7}"]
        for t in self.tags:
            p, r, f = self.mean_prf(t)
            low, high = self.f1_range(t)
            lines.append(f"{t:24} {p:6.3f} {r:6.3f} {f:6.3f} {low:7.3f} {high:7.3f}")
        by_seed = " / ".join(f"{v:.4f}" for v in self.macro_f1_by_seed.values())
        seeds = " / ".join(str(s) for s in self.by_seed)
        lines.append(f"macro-F1 by fold seed ({seeds}): {by_seed}; "
                     f"mean {self.mean_macro_f1:.4f}")
        return "\n".join(lines)


def predict(
    model: TagModel, data: TrainingSet, rule_thresholds: Mapping[str, float] | None = None
) -> list[set[str]]:
    """The tags the product would emit for feed-sized items (one window each): the model's
    probability at its threshold, or, with ``rule_thresholds`` (tag -> the taxonomy's
    threshold), the rules at theirs when the veto model (words alone) gives the tag at least
    its rule floor (a tag the model does not know: the rules alone), as ``TopicTagger``
    decides."""
    x = model.features(data.texts, data.titles, data.rules)
    probabilities, floor_probabilities = model.decision_probabilities(x)
    index = {t: j for j, t in enumerate(model.tags)}
    predicted: list[set[str]] = [
        {t for j, t in enumerate(model.tags) if row[j] >= model.thresholds[j]}
        for row in probabilities
    ]
    for t, threshold in (rule_thresholds or {}).items():
        j = index.get(t)
        emits = rule_hits(data, t, threshold, anywhere=j is None)
        if j is not None:
            emits &= floor_probabilities[:, j] >= model.rule_floors[j]
        for i in np.flatnonzero(emits):
            predicted[i].add(t)
    return predicted


def score(
    model: TagModel,
    data: TrainingSet,
    tags: Sequence[str],
    rule_thresholds: Mapping[str, float] | None = None,
) -> Scores:
    scores = Scores.empty(tags)
    for gold, predicted in zip(data.tags, predict(model, data, rule_thresholds), strict=True):
        scores.add(gold, predicted)
    return scores


def cross_validate(
    data: TrainingSet,
    tags: Sequence[str],
    params: FitParams,
    folds: int = 5,
    seed: int = 7,
    rule_thresholds: Mapping[str, float] | None = None,
    extra: TrainingSet = NO_ITEMS,
) -> Scores:
    """k-fold: every item is predicted once by a model that never saw it (nor used it to
    pick a threshold). ``extra`` (the written items the shipped model also learns from) joins
    every fold's training data and is never scored."""
    scores = Scores.empty(tags)
    splitter = KFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(data))):
        model = fit_model(data.subset(train) + extra, tags, params, {},
                          rule_thresholds or {})
        held = data.subset(test)
        for gold, predicted in zip(
            held.tags, predict(model, held, rule_thresholds), strict=True
        ):
            scores.add(gold, predicted)
    return scores
