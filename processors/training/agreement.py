"""Inter-annotator agreement between two label sets on the items both labelled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["TagAgreement", "agreement"]


@dataclass(frozen=True)
class TagAgreement:
    tag: str
    both: int  # items both passes gave the tag
    only_first: int
    only_second: int
    neither: int

    @property
    def items(self) -> int:
        return self.both + self.only_first + self.only_second + self.neither

    @property
    def observed(self) -> float:
        return (self.both + self.neither) / self.items if self.items else 1.0

    @property
    def kappa(self) -> float:
        """Cohen's kappa: agreement beyond what the two passes' tag rates give by chance."""
        n = self.items
        if not n:
            return 1.0
        p1 = (self.both + self.only_first) / n
        p2 = (self.both + self.only_second) / n
        expected = p1 * p2 + (1 - p1) * (1 - p2)
        if expected >= 1.0:
            return 1.0
        return (self.observed - expected) / (1 - expected)

    @property
    def positive_agreement(self) -> float:
        """2|A∩B| / (|A|+|B|): the F1 of one pass against the other."""
        denominator = 2 * self.both + self.only_first + self.only_second
        return 2 * self.both / denominator if denominator else 1.0


def agreement(
    first: Mapping[str, frozenset[str]],
    second: Mapping[str, frozenset[str]],
    tags: Iterable[str],
) -> tuple[int, float, list[TagAgreement]]:
    """(overlap size, share of items with identical tag sets, per-tag agreement)."""
    overlap = sorted(set(first) & set(second))
    exact = sum(first[i] == second[i] for i in overlap)
    rows: list[TagAgreement] = []
    for tag in tags:
        counts = [0, 0, 0, 0]
        for item in overlap:
            a, b = tag in first[item], tag in second[item]
            counts[0 if a and b else 1 if a else 2 if b else 3] += 1
        rows.append(TagAgreement(tag, *counts))
    return len(overlap), (exact / len(overlap) if overlap else 1.0), rows
