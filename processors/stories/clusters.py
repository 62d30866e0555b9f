"""Online single-pass story clustering: each article joins the best live story or starts one.

A story keeps a capped TF-IDF centroid of its articles, a capped profile of their entities,
and its times. An article is scored against a few candidate stories:

    score = cosine(text, story text centroid) + entity_weight * cosine(entities, story profile)

and joins the best one whose last article is at most ``window_h`` hours away (in event time)
when the score reaches ``threshold``; otherwise it founds a new story. Text similarity alone
confuses two events of one kind (two earthquakes share "magnitude", "rescue", "killed");
their people, places and organisations differ, and the entity term adds that difference
twice: the names weigh in the text (rare words, high IDF) and again as entities. And when
the article and the story both name entities but share none at all, the story is out unless
their words are close (``conflict_text``): articles about one event nearly always share a
name (on stories-dev, 5 of about 1,000 article-to-own-story pairs share none), articles
about two events of one kind often share none. The activity window keeps one recurring kind
of news (this week's and last week's quake) apart when neither names nor words do.

Candidates: an inverted index from each story's heaviest centroid terms to the story; an
article looks up its own heaviest terms and scores the stories met most often. Every order
that decides anything (candidates, ties) is by story sequence number, never by set or dict
iteration, so the same input gives the same stories in every process and after a restore.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from processors.stories.vectors import Centroid, SparseVector

__all__ = ["ClusterParams", "Story", "StoryIndex"]

_SEP = "\x1f"  # unit separator: never in an entity name


@dataclass(frozen=True)
class ClusterParams:
    # Chosen by topic-wise cross-validation on stories-dev (evaluate.py --cv): the grid point
    # 8 of 11 folds chose on their training topics, and the best on all topics together.
    threshold: float = 0.25
    entity_weight: float = 1.0
    window_h: float = 72.0  # a story takes new articles while it is active
    # Entity conflict: when the article and the story each name at least this many entities
    # and share none, the article joins only with a text cosine of ``conflict_text`` or more.
    conflict_entities: int = 2
    conflict_text: float = 0.3
    centroid_terms: int = 300
    profile_entities: int = 24
    index_terms: int = 20  # a story is found through its heaviest terms
    query_terms: int = 10  # an article looks up its heaviest terms
    max_candidates: int = 20
    max_posting: int = 300  # a term indexed by more live stories is not used to find them
    members_kept: int = 12  # recent member ids, for the copy checks


class Story:
    """One story's state."""

    __slots__ = (
        "count", "entities", "first_s", "independent", "indexed", "last_s", "members", "names",
        "seq", "sources", "story_id", "tags", "text",
    )

    def __init__(self, seq: int, story_id: str, at_s: float, params: ClusterParams) -> None:
        self.seq = seq
        self.story_id = story_id
        self.first_s = at_s
        self.last_s = at_s
        self.count = 0
        self.text = Centroid(params.centroid_terms)
        self.entities = Centroid(params.profile_entities)
        # Display names of the profile's entities, aligned with ``entities.ids`` and joined
        # by _SEP: one string instead of a dict (a story's memory is mostly its overhead).
        self.names = ""
        self.tags: dict[str, int] = {}
        # Lists, not sets: a story has a handful of outlets, and a short list is the
        # smallest container (most stories of a stream stay single articles).
        self.sources: list[str] = []  # every domain, in order of first appearance
        self.independent: list[str] = []  # domains of articles that are not copies
        self.members: list[str] = []
        self.indexed: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    # -- summary helpers -------------------------------------------------------------------
    def top_tags(self, n: int = 10) -> tuple[str, ...]:
        # Most articles first, ties alphabetical: (-count, tag) pairs sort that way without a
        # key function (the tags are distinct, so the count never ties with the same tag).
        return tuple(t for _, t in sorted([(-c, t) for t, c in self.tags.items()])[:n])

    def top_entities(self, n: int = 8) -> tuple[str, ...]:
        ids = self.entities.ids.tolist()
        names = self.names.split(_SEP)  # aligned with ids (it may be shorter: no name)
        # The profile's ``top(n)`` order (heaviest first, ties: smaller id), sorted in Python:
        # a profile is a couple of dozen entries. float32 -> float keeps every comparison.
        # The ids are distinct, so the position that rides along is never compared.
        negated = [-w for w in self.entities.weights.tolist()]
        heaviest = sorted(zip(negated, ids, range(len(ids)), strict=True))[:n]
        return tuple(names[j] for _, _, j in heaviest if j < len(names) and names[j])

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.story_id,
            "first": self.first_s,
            "last": self.last_s,
            "count": self.count,
            "text": [_b64(self.text.ids), _b64(self.text.weights)],
            "entities": [_b64(self.entities.ids), _b64(self.entities.weights)],
            "names": self.names,
            "tags": [[t, c] for t, c in self.tags.items()],
            "sources": list(self.sources),
            "independent": list(self.independent),
            "members": list(self.members),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], params: ClusterParams) -> Story:
        story = cls(int(state["seq"]), str(state["id"]), float(state["first"]), params)
        story.last_s = float(state["last"])
        story.count = int(state["count"])
        story.text = Centroid(params.centroid_terms, _unb64(state["text"][0], "<i8"),
                              _unb64(state["text"][1], "<f4"))
        story.entities = Centroid(params.profile_entities, _unb64(state["entities"][0], "<i8"),
                                  _unb64(state["entities"][1], "<f4"))
        story.names = str(state["names"])
        story.tags = {str(t): int(c) for t, c in state["tags"]}
        story.sources = [str(s) for s in state["sources"]]
        story.independent = [str(s) for s in state["independent"]]
        story.members = [str(m) for m in state["members"]]
        return story


@dataclass(frozen=True)
class Scored:
    story: Story
    score: float
    text: float
    entities: float


class StoryIndex:
    """The retained stories, their inverted index and the scoring."""

    def __init__(self, params: ClusterParams) -> None:
        self.params = params
        self._stories: dict[int, Story] = {}
        self._by_id: dict[str, int] = {}
        self._postings: dict[int, dict[int, None]] = {}
        self._expiry: list[tuple[float, int]] = []  # (last_s, seq), lazily cleaned heap
        # Only active stories (last article at or after the cutoff: the event-time clock
        # minus the window) are in the inverted index; the others can take copies only.
        self._active: list[tuple[float, int]] = []  # (last_s, seq), lazily cleaned heap
        self._cutoff = float("-inf")
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._stories)

    def get(self, story_id: str) -> Story | None:
        seq = self._by_id.get(story_id)
        return None if seq is None else self._stories[seq]

    # -- scoring ---------------------------------------------------------------------------
    def best(
        self, text: SparseVector, entities: SparseVector, at_s: float, alive_s: float
    ) -> Scored | None:
        """The best-scoring story that is active for an article published at ``at_s``
        (whether or not it reaches the threshold). ``alive_s``: stories whose last article
        is older are out whatever the article's own time (the watermark's window)."""
        p = self.params
        stories = self._candidates(text, at_s, alive_s)
        if not stories:
            return None
        # Python floats from here: a score is one float64 product and sum per candidate,
        # the same operations numpy did on arrays of a dozen.
        t = _cosines([s.text for s in stories], text)
        e = _cosines([s.entities for s in stories], entities)
        weight = p.entity_weight
        scores = [ti + weight * ei for ti, ei in zip(t, e, strict=True)]
        if len(entities) >= p.conflict_entities:
            # Names on both sides and not one in common: a different event of the same kind
            # (another quake, another arrest), unless the words are nearly the same.
            for i, story in enumerate(stories):
                if (len(story.entities.ids) >= p.conflict_entities and e[i] <= 0.0
                        and t[i] < p.conflict_text):
                    scores[i] = -1.0
        # The first maximum (max keeps the first of equals): ties go to the earliest story,
        # candidates being in seq order.
        i = max(range(len(scores)), key=scores.__getitem__)
        return Scored(stories[i], scores[i], t[i], e[i])

    def accepts(self, scored: Scored) -> bool:
        """Whether the best story takes the article."""
        return scored.score >= self.params.threshold

    def _candidates(self, text: SparseVector, at_s: float, alive_s: float) -> list[Story]:
        """Active stories met through the article's heaviest terms, the ``max_candidates``
        with the most term weight in common, in story order."""
        p = self.params
        window_s = p.window_h * 3600.0
        hits: dict[int, float] = {}
        get = hits.get
        postings = self._postings
        order = np.lexsort((text.ids, -text.weights))[: p.query_terms]
        for term, weight in zip(text.ids[order].tolist(), text.weights[order].tolist(),
                                strict=True):
            posting = postings.get(term)
            # A term among the heaviest of very many live stories tells none of them apart.
            if not posting or len(posting) > p.max_posting:
                continue
            for seq in posting:
                hits[seq] = get(seq, 0.0) + weight
        if len(hits) <= p.max_candidates:
            chosen = sorted(hits)
        else:
            # The most weight in common, ties: the earlier story (a full sort of a few dozen
            # is what heapq.nsmallest would give, and cheaper).
            ranked = sorted([(-hit, seq) for seq, hit in hits.items()])
            chosen = sorted([seq for _, seq in ranked[: p.max_candidates]])
        # Postings hold active stories only (``deactivate``); the time checks below matter
        # for an article that arrives out of order, much older than the clock.
        out = []
        stories = self._stories
        for seq in chosen:
            story = stories[seq]
            if (story.last_s >= alive_s and abs(at_s - story.last_s) <= window_s
                    and at_s >= story.first_s - window_s):
                out.append(story)
        return out

    # -- updates ---------------------------------------------------------------------------
    def create(self, story_id: str, at_s: float) -> Story:
        story = Story(self._next_seq, story_id, at_s, self.params)
        self._next_seq += 1
        self._stories[story.seq] = story
        self._by_id[story_id] = story.seq
        return story

    def add(
        self,
        story: Story,
        article_id: str,
        at_s: float,
        source: str,
        tags: Sequence[str],
        text: SparseVector | None,
        entities: SparseVector | None,
        names: Mapping[int, str],
        copy: bool,
    ) -> None:
        """Count an article in ``story``. A copy adds its source domain and tags but neither
        its words nor its entities (it repeats its original) nor an independent source."""
        p = self.params
        story.count += 1
        story.first_s = min(story.first_s, at_s)
        story.last_s = max(story.last_s, at_s)
        for tag in dict.fromkeys(tags):
            story.tags[tag] = story.tags.get(tag, 0) + 1
        if source:
            if source not in story.sources:
                story.sources.append(source)
            if not copy and source not in story.independent:
                story.independent.append(source)
        story.members.append(article_id)
        if len(story.members) > p.members_kept:
            del story.members[: len(story.members) - p.members_kept]
        if not copy:
            if text is not None:
                story.text.add(text)
            if entities is not None and len(entities):
                known = dict(zip(story.entities.ids.tolist(), story.names.split(_SEP),
                                 strict=False))
                story.entities.add(entities)
                story.names = _SEP.join(known.get(k) or names.get(k, "")
                                        for k in story.entities.ids.tolist())
        if story.last_s >= self._cutoff:
            if not copy or not len(story.indexed):
                self._reindex(story)
            heapq.heappush(self._active, (story.last_s, story.seq))
        heapq.heappush(self._expiry, (story.last_s, story.seq))
        if len(self._expiry) > 4 * len(self._stories) + 1024:
            self._clean_heaps()

    def _clean_heaps(self) -> None:
        """Drop the outdated entries the two heaps gather (one per article, lazily)."""
        self._expiry = [(s.last_s, s.seq) for s in self._stories.values()]
        self._active = [(s.last_s, s.seq) for s in self._stories.values()
                        if s.last_s >= self._cutoff]
        heapq.heapify(self._expiry)
        heapq.heapify(self._active)

    def deactivate(self, cutoff_s: float) -> None:
        """Take stories idle since before ``cutoff_s`` out of the inverted index."""
        self._cutoff = max(self._cutoff, cutoff_s)
        while self._active and self._active[0][0] < self._cutoff:
            last_s, seq = heapq.heappop(self._active)
            story = self._stories.get(seq)
            if story is not None and story.last_s == last_s:
                self._unindex(story)

    def _unindex(self, story: Story) -> None:
        for term in story.indexed.tolist():
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(story.seq, None)
                if not posting:
                    del self._postings[term]
        story.indexed = np.zeros(0, dtype=np.int64)

    def _reindex(self, story: Story) -> None:
        new = story.text.top(self.params.index_terms).tolist()
        old = story.indexed.tolist()
        if new == old:
            return
        new_set, old_set = set(new), set(old)
        for term in sorted(old_set - new_set):
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(story.seq, None)
                if not posting:
                    del self._postings[term]
        for term in sorted(new_set - old_set):
            self._postings.setdefault(term, {})[story.seq] = None
        story.indexed = np.array(new, dtype=np.int64)

    def evict(self, before_s: float) -> int:
        """Forget stories whose last article is older than ``before_s``."""
        gone = 0
        while self._expiry and self._expiry[0][0] < before_s:
            last_s, seq = heapq.heappop(self._expiry)
            story = self._stories.get(seq)
            if story is None or story.last_s != last_s:
                continue  # already gone, or seen again since
            self._unindex(story)
            del self._stories[seq]
            del self._by_id[story.story_id]
            gone += 1
        return gone

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "next_seq": self._next_seq,
            "cutoff": self._cutoff if self._cutoff != float("-inf") else None,
            "stories": [self._stories[s].to_state() for s in sorted(self._stories)],
        }

    @classmethod
    def from_state(cls, params: ClusterParams, state: Mapping[str, Any]) -> StoryIndex:
        index = cls(params)
        index._next_seq = int(state["next_seq"])
        cutoff = state.get("cutoff")
        index._cutoff = float("-inf") if cutoff is None else float(cutoff)
        for item in state["stories"]:
            story = Story.from_state(item, params)
            index._stories[story.seq] = story
            index._by_id[story.story_id] = story.seq
            if story.last_s >= index._cutoff:
                index._reindex(story)
                index._active.append((story.last_s, story.seq))
            index._expiry.append((story.last_s, story.seq))
        heapq.heapify(index._expiry)
        heapq.heapify(index._active)
        return index

    @property
    def postings_size(self) -> int:
        return sum(len(p) for p in self._postings.values())


def _cosines(centroids: Sequence[Centroid], vector: SparseVector) -> list[float]:
    """Cosine of ``vector`` with each centroid, in one pass over all their terms.

    Each dot product is summed by ``np.bincount`` in the centroid's id order, one float64
    product (float32 weight times float64 weight) at a time."""
    n = len(centroids)
    if not len(vector) or not n:
        return [0.0] * n
    ids = np.concatenate([c.ids for c in centroids])
    weights = np.concatenate([c.weights for c in centroids])
    # Array methods, not the np.* functions: those only forward to them through Python.
    owner = np.arange(n).repeat([len(c.ids) for c in centroids])
    pos = vector.ids.searchsorted(ids)
    # A position past the end holds no equal id: compare with the last one instead.
    np.minimum(pos, len(vector.ids) - 1, out=pos)
    hit = vector.ids[pos] == ids
    dots = np.bincount(owner[hit], weights=weights[hit] * vector.weights[pos[hit]], minlength=n)
    return [d / c.norm if c.norm > 0.0 else 0.0
            for d, c in zip(dots.tolist(), centroids, strict=True)]


def _b64(array: NDArray[Any]) -> str:
    dtype = "<i8" if array.dtype.kind == "i" else "<f4"
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text: str, dtype: str) -> NDArray[Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(
        np.int64 if dtype.endswith("i8") else np.float32
    )
