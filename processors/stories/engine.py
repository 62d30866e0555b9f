"""The story engine: one object, one call per article, state that snapshots to bytes.

    engine = StoryEngine()                       # or StoryEngine(StoryParams(...))
    assignment = engine.assign(StoryInput(...))  # story_id, dup_of, the story's summary
    blob = engine.snapshot()                     # JSON bytes
    engine = StoryEngine.restore(blob)           # continues exactly where it stopped

For each article, in arrival order:

1. an id seen before (a replay, a re-poll) gets its earlier answer back and changes
   nothing: the engine is idempotent per article id;
2. the event-time clock (the largest ``published_at`` seen, never the wall clock) moves on:
   stories idle longer than ``retention_h`` and copy candidates older than
   ``copy_retention_h`` are forgotten, the stream's term counts decay;
3. features (``features.py``), the best active story (``clusters.py``: text cosine plus
   weighted entity cosine, no story whose names conflict with the article's), then the copy
   check (``copies.py``) against retained articles, the LSH candidates plus that story's
   recent members;
4. a copy joins its original's story (if that story is retained) and takes ``dup_of`` = the
   first article of its copy group; any other article joins the best story when the score
   reaches the threshold, or founds a story whose id is its own id.

Same input in the same order gives the same output, byte for byte, in any process: MinHash
permutations come from a fixed seed, terms are hashed with BLAKE2b, every tie is broken by
arrival order, and time is event time. ``restore(snapshot())`` followed by more input gives
exactly what never stopping would have given (floats survive JSON exactly).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processors.stories.background import DEFAULT_TABLE, BackgroundTable, TermStatistics
from processors.stories.clusters import ClusterParams, Story, StoryIndex
from processors.stories.copies import CopyIndex, CopyParams, Fingerprinter
from processors.stories.features import FeatureParams, featurize
from processors.stories.model import Assignment, StoryInput, StorySummary

__all__ = ["SNAPSHOT_FORMAT", "StoryEngine", "StoryParams"]

SNAPSHOT_FORMAT = "newsflow.stories/1"


@dataclass(frozen=True)
class StoryParams:
    """Everything that shapes the answers. Defaults: chosen by topic-wise cross-validation
    on stories-dev (processors/stories/evaluate.py; figures in processors/stories/README.md)."""

    cluster: ClusterParams = field(default_factory=ClusterParams)
    copies: CopyParams = field(default_factory=CopyParams)
    features: FeatureParams = field(default_factory=FeatureParams)
    retention_h: float = 7 * 24.0  # stories idle longer are forgotten
    copy_retention_h: float = 7 * 24.0  # copy candidates older than this are forgotten
    df_half_life_days: float = 7.0
    stream_df_weight: float = 1.0  # 0: IDF from the shipped background table only
    background_table: str = ""  # "": the shipped table (data/pool_df.json)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoryParams:
        features = dict(data["features"])
        features["label_weights"] = tuple(
            (str(k), float(v)) for k, v in features["label_weights"]
        )
        return cls(
            cluster=ClusterParams(**data["cluster"]),
            copies=CopyParams(**data["copies"]),
            features=FeatureParams(**features),
            **{k: v for k, v in data.items() if k not in ("cluster", "copies", "features")},
        )


class StoryEngine:
    """Syndication collapse and online story clustering over a stream of articles."""

    def __init__(
        self, params: StoryParams | None = None, *, background: BackgroundTable | None = None
    ) -> None:
        self.params = params or StoryParams()
        p = self.params
        self._background = background or _load_background(p.background_table)
        self._terms = TermStatistics(
            self._background, half_life_days=p.df_half_life_days,
            stream_weight=p.stream_df_weight,
        )
        self._entities = TermStatistics(
            BackgroundTable.empty(), half_life_days=p.df_half_life_days
        )
        self._fingerprinter = Fingerprinter(p.copies)
        self._copies = CopyIndex(p.copies)
        self._stories = StoryIndex(p.cluster)
        self._clock_s: float | None = None  # event-time watermark
        self.assigned = 0

    # -- the one call ----------------------------------------------------------------------
    def assign(self, item: StoryInput) -> Assignment:
        p = self.params
        seen = self._seen(item.id)
        if seen is not None:
            return seen
        at_s = item.epoch_s
        self._advance(at_s)
        clock = self._clock_s if self._clock_s is not None else at_s
        feats = featurize(item, self._terms, self._entities, self._fingerprinter, p.features)
        window_s = p.cluster.window_h * 3600.0
        best = self._stories.best(feats.text, feats.entities, at_s, clock - window_s)
        members = best.story.members if best is not None else []
        match = self._copies.find(
            feats.fingerprint, feats.exact_keys, clock - p.copy_retention_h * 3600.0, members
        )
        story: Story | None = None
        dup_of: str | None = None
        reason = "joined"
        score = best.score if best is not None else 0.0
        if match is not None:
            dup_of = match.root
            story = self._stories.get(self._copies.story_of(match.original) or "")
            reason = "exact" if match.how == "exact" else "copy"
            score = match.score
        if story is None and best is not None and self._stories.accepts(best):
            story = best.story
        new_story = story is None
        if story is None:
            story = self._stories.create(item.id, at_s)
            reason = "new" if dup_of is None else reason
        is_copy = dup_of is not None
        self._stories.add(
            story, item.id, at_s, item.source, item.tags,
            None if is_copy else feats.text,
            None if is_copy else feats.entities,
            feats.entity_names, copy=is_copy,
        )
        self._copies.add(item.id, feats.fingerprint, at_s, feats.exact_keys, root=dup_of,
                         story_id=story.story_id)
        if not is_copy:
            self._terms.observe(feats.terms)
            self._entities.observe(feats.entity_keys)
        self.assigned += 1
        return Assignment(
            article_id=item.id,
            story_id=story.story_id,
            dup_of=dup_of,
            story=self.summary(story),
            new_story=new_story,
            reason=reason,
            score=round(score, 6),
        )

    def assign_all(self, items: Iterable[StoryInput]) -> Iterator[Assignment]:
        for item in items:
            yield self.assign(item)

    def _seen(self, article_id: str) -> Assignment | None:
        story_id = self._copies.story_of(article_id)
        if story_id is None:
            return None
        story = self._stories.get(story_id)
        if story is None:
            return None
        dup = self._copies.root(article_id)
        return Assignment(
            article_id=article_id,
            story_id=story_id,
            dup_of=None if dup == article_id else dup,
            story=self.summary(story),
            reason="seen",
        )

    def _advance(self, at_s: float) -> None:
        """Move the event-time clock forwards and forget what fell out of the windows."""
        if self._clock_s is not None and at_s <= self._clock_s:
            return
        self._clock_s = at_s
        p = self.params
        self._terms.advance(at_s)
        self._entities.advance(at_s)
        self._stories.evict(at_s - p.retention_h * 3600.0)
        self._stories.deactivate(at_s - p.cluster.window_h * 3600.0)
        self._copies.evict(at_s - p.copy_retention_h * 3600.0)

    # -- reading ---------------------------------------------------------------------------
    def summary(self, story: Story) -> StorySummary:
        return StorySummary(
            story_id=story.story_id,
            first_at=datetime.fromtimestamp(story.first_s, UTC),
            last_at=datetime.fromtimestamp(story.last_s, UTC),
            article_count=story.count,
            tags=story.top_tags(),
            source_domains=tuple(sorted(story.sources)),
            independent_sources=len(story.independent),
            top_entities=story.top_entities(),
        )

    def story(self, story_id: str) -> StorySummary | None:
        """The current summary of a retained story."""
        story = self._stories.get(story_id)
        return None if story is None else self.summary(story)

    def story_tag_counts(self, story_id: str) -> dict[str, int]:
        """How many of a retained story's articles carry each tag (the worker uses it to
        tell the tags an article is its story's first in)."""
        story = self._stories.get(story_id)
        return {} if story is None else dict(story.tags)

    def stats(self) -> dict[str, int]:
        return {
            "assigned": self.assigned,
            "stories": len(self._stories),
            "copy_candidates": len(self._copies),
            "postings": self._stories.postings_size,
            "stream_terms": self._terms.vocabulary_size,
            "stream_entities": self._entities.vocabulary_size,
        }

    # -- state -----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state as JSON bytes (sorted keys, no whitespace): no pickle, the same
        state always gives the same bytes."""
        state = {
            "format": SNAPSHOT_FORMAT,
            "params": self.params.to_json(),
            "clock": self._clock_s,
            "assigned": self.assigned,
            "terms": self._terms.to_state(),
            "entities": self._entities.to_state(),
            "copies": self._copies.to_state(),
            "stories": self._stories.to_state(),
        }
        return json.dumps(state, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")

    @classmethod
    def restore(cls, blob: bytes, *, background: BackgroundTable | None = None) -> StoryEngine:
        state = json.loads(blob.decode("utf-8"))
        if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a story engine snapshot ({SNAPSHOT_FORMAT})")
        engine = cls(StoryParams.from_json(state["params"]), background=background)
        p = engine.params
        engine._clock_s = None if state["clock"] is None else float(state["clock"])
        engine.assigned = int(state["assigned"])
        engine._terms.load_state(state["terms"])
        engine._entities.load_state(state["entities"])
        engine._copies = CopyIndex.from_state(p.copies, state["copies"])
        engine._stories = StoryIndex.from_state(p.cluster, state["stories"])
        return engine


_BACKGROUND_CACHE: dict[str, BackgroundTable] = {}


def _load_background(path: str) -> BackgroundTable:
    """The shipped table is read once per process (several engines share it, read-only)."""
    table = _BACKGROUND_CACHE.get(path)
    if table is None:
        table = BackgroundTable.load(Path(path) if path else DEFAULT_TABLE)
        _BACKGROUND_CACHE[path] = table
    return table
