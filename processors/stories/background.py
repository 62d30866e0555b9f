"""Document frequencies: how common a term is in news, hence how much sharing it says.

Two sources, added up:

- a shipped table (``data/pool_df.json``) counted over 3,000 unlabelled 2023 feed items
  (``topics-pool.jsonl``): general news vocabulary, so "police" or "minister" weigh little
  from the first article on. It is never fitted on evaluation data;
- the stream itself, counted online as articles arrive, so that what is common in today's
  news (a war, an election) weighs less and today's rare names weigh more.

The stream counts decay (a half-life in event time, applied at whole-day steps of the
event-time clock), so the table follows the news and stays bounded: a term whose decayed
count falls under a floor is forgotten. Everything depends only on the input, never on the
wall clock, so a replay reproduces the same weights.

``python -m processors.stories.background POOL.jsonl`` rebuilds the shipped table.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from processors.stories.shingles import content_terms, words

__all__ = ["DEFAULT_TABLE", "BackgroundTable", "TermStatistics", "build_table"]

DEFAULT_TABLE = Path(__file__).with_name("data") / "pool_df.json"
_DAY_S = 86_400
# A decayed stream count under this is dropped: a term or name seen once is forgotten at the
# next day's decay (it would weigh as an unseen one), which keeps the table to what recurs.
_FORGET_BELOW = 1.0


class BackgroundTable:
    """The shipped, read-only document frequencies."""

    def __init__(self, documents: int, df: Mapping[str, int]) -> None:
        self.documents = documents
        self.df = dict(df)

    @classmethod
    def load(cls, path: Path = DEFAULT_TABLE) -> BackgroundTable:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(data["documents"]), {str(k): int(v) for k, v in data["df"].items()})

    @classmethod
    def empty(cls) -> BackgroundTable:
        return cls(0, {})


class TermStatistics:
    """IDF over the background table plus the decayed counts of the stream.

    ``idf(t) = ln((N + 1) / (df(t) + 1)) + 1``, the smoothed form scikit-learn uses, with
    ``N`` and ``df`` the sums of both sources. ``stream_weight`` scales the stream's counts
    (0 turns the online part off)."""

    def __init__(
        self,
        background: BackgroundTable,
        *,
        half_life_days: float = 7.0,
        stream_weight: float = 1.0,
    ) -> None:
        self._bg = background
        self._half_life_days = half_life_days
        self._stream_weight = stream_weight
        self._df: dict[str, float] = {}
        self._documents = 0.0
        self._day: int | None = None  # the event-time day the counts are decayed to

    # -- reading ---------------------------------------------------------------------------
    def idf(self, term: str) -> float:
        n = self._bg.documents + self._stream_weight * self._documents
        df = self._bg.df.get(term, 0) + self._stream_weight * self._df.get(term, 0.0)
        return math.log((n + 1.0) / (df + 1.0)) + 1.0

    def tf_idf(self, counts: Mapping[str, float]) -> list[tuple[float, str]]:
        """``((1 + ln count) * idf(term), term)`` for each term: the article's TF-IDF
        weights in one pass (``idf``'s arithmetic per term, then the product)."""
        n = self._bg.documents + self._stream_weight * self._documents + 1.0
        bg = self._bg.df.get
        stream = self._df.get
        w = self._stream_weight
        log = math.log
        return [((1.0 + log(c)) * (log(n / (bg(t, 0) + w * stream(t, 0.0) + 1.0)) + 1.0), t)
                for t, c in counts.items()]

    @property
    def vocabulary_size(self) -> int:
        return len(self._df)

    # -- learning --------------------------------------------------------------------------
    def advance(self, epoch_s: float) -> None:
        """Decay the stream counts to the event-time day of ``epoch_s`` (only forwards)."""
        day = int(epoch_s // _DAY_S)
        if self._day is None:
            self._day = day
            return
        if day <= self._day:
            return
        factor = 0.5 ** ((day - self._day) / self._half_life_days)
        self._day = day
        self._documents *= factor
        kept: dict[str, float] = {}
        for term, count in self._df.items():
            count *= factor
            if count >= _FORGET_BELOW:
                kept[term] = count
        self._df = kept

    def observe(self, terms: Iterable[str]) -> None:
        """Count one document's distinct terms."""
        self._documents += 1.0
        df = self._df
        for term in dict.fromkeys(terms):
            df[term] = df.get(term, 0.0) + 1.0

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        # Sorted keys: the snapshot's bytes do not depend on set iteration order.
        return {
            "documents": self._documents,
            "day": self._day,
            "df": {t: self._df[t] for t in sorted(self._df)},
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._documents = float(state["documents"])
        self._day = None if state["day"] is None else int(state["day"])
        # Re-inserted in sorted order, the order to_state writes; observe() adds new terms at
        # the end either way, and nothing reads the dict in order except to_state (sorted).
        self._df = {str(t): float(c) for t, c in state["df"].items()}


def build_table(lines: Iterable[str], min_df: int = 2) -> dict[str, Any]:
    """Document frequencies of content terms (title + text) over JSON lines."""
    df: dict[str, int] = {}
    documents = 0
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        text = f"{record.get('title') or ''}\n{record.get('text') or ''}"
        documents += 1
        for term in set(content_terms(words(text))):
            df[term] = df.get(term, 0) + 1
    kept = {t: df[t] for t in sorted(df) if df[t] >= min_df}
    return {
        "about": "document frequencies of content terms (processors.stories.shingles) over "
        "unlabelled 2023 feed items (title + text); terms seen in fewer than "
        f"{min_df} documents are left out",
        "documents": documents,
        "df": kept,
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m processors.stories.background POOL.jsonl [OUT.json]",
              file=sys.stderr)
        return 2
    out = Path(argv[2]) if len(argv) == 3 else DEFAULT_TABLE
    with open(argv[1], encoding="utf-8") as f:
        table = build_table(f)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    print(f"{out}: {table['documents']} documents, {len(table['df'])} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
