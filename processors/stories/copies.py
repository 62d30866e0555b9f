"""Syndication collapse: is this article a near-copy of one seen recently, and of which?

Three checks, cheapest first:

1. **exact keys**: the same URL or feed GUID as a retained article;
2. **MinHash LSH** over word 3-gram shingles of the cleaned title and body
   (``shingles.clean_title``/``clean_body``: wire labels, bylines and boilerplate lines off).
   datasketch computes the signatures (affine 32-bit scheme, fixed seed: the same text gives
   the same signature in every process). Candidates come from banding the signature; each is
   verified on the signatures: estimated Jaccard and, from it and the two shingle counts, the
   estimated containment of the shorter text in the longer one (a copy with a trimmed tail is
   mostly *contained* in its original even when their Jaccard drops);
3. **fuzzy title** (rapidfuzz) for what shingles see badly: a copy of a title-only item,
   checked against the LSH candidates and the members of the story the caller names.
   A title that is only a date line never matches by title.

Checks 2 and 3 also need the two articles' names to agree. A template filled in for another
event (a quake report, a match result, a drills announcement with other countries) shares
most of its words with the first one and none of its names; a copy shares its names: on dev
no copy shares less than 0.57 of the shorter list of its first 12 entities with its
original. So when both name at least ``min_entities`` and share less than
``min_entity_overlap`` of them, it is no copy (the clustering then decides the story).

On dev (stories-dev.jsonl, cleaned text) copies have a 3-gram Jaccard of 0.50 to 1.0 and
articles of different events at most 0.07: the thresholds sit in that gap.

Why not ``datasketch.MinHashLSH``: its dict-of-sets buckets cost about 6 KB per article at 21
bands (measured: 128 MB for 20,000 articles, 350 µs per insert), far over the state budget
for 7 days of 10,000 articles a day. The band index here keeps the same banding in numpy: one
sorted array of all band keys (each tagged with its band; binary search) plus a small
unsorted tail of recent articles, merged into it in batches; about 256 bytes per article for
the signature and 252 for its band keys and their slots.

``dup_of`` is the first article of the copy group: a copy of a copy points at the root.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import MinHash
from numpy.typing import NDArray
from rapidfuzz import fuzz

from processors.stories.shingles import Prepared, gram_hashes

__all__ = ["CopyIndex", "CopyMatch", "CopyParams", "Fingerprint", "Fingerprinter"]

_MIX = np.uint64(0x9E3779B97F4A7C15)
_NO_SLOTS: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
_MERGE_EVERY = 1024  # unsorted tail length that triggers a merge into the sorted bands
_FEW = 64  # up to this many candidate slots, Python sets beat numpy's per-call overhead
# With at least one band hit (repeats included) per _DENSE slots, the distinct candidates
# come from a mask over all slots (linear) rather than from sorting the hits.
_DENSE = 8
_FEW_CHECKED = 16  # up to this many candidates, verified one at a time (CopyIndex._verify)


@dataclass(frozen=True)
class CopyParams:
    num_perm: int = 64
    bands: int = 21  # 21 x 3 rows: P(candidate) 0.94 at Jaccard 0.5, 0.99 at 0.6
    rows: int = 3
    shingle_size: int = 3
    # Only the first words: a copy's differences are at its ends (a trimmed tail), and a
    # long article's head identifies it as well as the whole, at a bounded cost.
    max_words: int = 200
    seed: int = 20250314
    min_jaccard: float = 0.30
    min_containment: float = 0.50
    title_ratio: float = 90.0  # rapidfuzz ratio (0-100) of the cleaned, lower-cased titles
    min_title_words: int = 4
    # Names: the first ``entity_ids`` distinct entities of each article are kept; two that
    # each name ``min_entities`` and share less than ``min_entity_overlap`` of the shorter
    # list are no copies, however alike their words.
    entity_ids: int = 12
    min_entities: int = 3
    min_entity_overlap: float = 0.34
    # Candidates verified in full (containment, names, fuzzy title): the ``max_verified``
    # with the most signature values in common (plus the members of the story the caller
    # names). A template a feed fills in all day (market closes, quake reports) makes every
    # earlier filling a candidate; their estimated Jaccard is computed for all at once, the
    # full checks only for the best.
    max_verified: int = 32

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError("bands x rows must not exceed num_perm")


@dataclass(frozen=True)
class Fingerprint:
    """What copy detection keeps of one article."""

    signature: NDArray[np.uint32]
    bands: NDArray[np.uint64]  # the signature's band keys (LSH)
    size: int  # distinct shingles
    title: str  # cleaned title, lower-case words joined by one space
    title_words: int
    dateline_title: bool
    has_body: bool
    # Ids (vectors.key_id) of its first distinct entities, in order of appearance.
    entities: tuple[int, ...] = ()


@dataclass(frozen=True)
class CopyMatch:
    original: str  # the id the new article copies
    root: str  # the first article of that copy group (dup_of)
    how: str  # "exact", "shingles" or "title"
    score: float


class Fingerprinter:
    """Signatures with one fixed permutation set: datasketch ``MinHash`` (affine32 scheme,
    fixed seed) draws the permutations; the signature is computed here with its arithmetic
    (``tests``: equal to ``MinHash.update_batch`` value for value), without its per-value
    Python calls and copies."""

    def __init__(self, params: CopyParams) -> None:
        self.params = params
        # Shingles arrive already hashed to 32 bits (shingles.gram_hashes): identity hashfunc.
        self._minhash = MinHash(num_perm=params.num_perm, seed=params.seed, scheme="affine32",
                                hashfunc=_identity)
        a, b = self._minhash.permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)
        self._empty = np.asarray(self._minhash.hashvalues, dtype=np.uint32).copy()

    def fingerprint(self, text: Prepared, entities: Sequence[int] = ()) -> Fingerprint:
        """``entities``: ids of the article's distinct entities in order of appearance."""
        p = self.params
        head = (text.copy_title_words + text.copy_body_words)[: p.max_words]
        grams = gram_hashes(head, p.shingle_size)
        if len(grams):
            signature = self.signature(grams)
            size = len(set(grams.tolist()))  # distinct shingles
        else:
            signature, size = self._empty.copy(), 0
        return Fingerprint(
            signature=signature,
            bands=_band_keys(signature, p.bands, p.rows),
            size=size,
            title=" ".join(text.copy_title_words),
            title_words=len(text.copy_title_words),
            dateline_title=text.dateline_title,
            has_body=bool(text.copy_body_words),
            entities=tuple(entities[: p.entity_ids]),
        )

    def signature(self, grams: NDArray[np.uint32]) -> NDArray[np.uint32]:
        """MinHash of non-empty 32-bit shingle hashes (repeats change no minimum): each
        pre-mixed by the MurmurHash3 finalizer, then ``a * h + b`` in wrapping uint32 per
        permutation, as datasketch's affine32 scheme does."""
        hv = grams ^ (grams >> _FMIX32[0])
        hv *= _FMIX32[1]
        hv ^= hv >> _FMIX32[2]
        hv *= _FMIX32[3]
        hv ^= hv >> _FMIX32[4]
        products = hv[:, None] * self._a
        products += self._b  # in place: one (grams x permutations) array, not two
        signature: NDArray[np.uint32] = products.min(axis=0)
        return signature


def _identity(value: int) -> int:
    return value


# MurmurHash3's 32-bit finalizer (shift, multiplier, shift, multiplier, shift): datasketch's.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35),
           np.uint32(16))
_BAND_TAGS: dict[int, NDArray[np.uint64]] = {}


def _band_keys(signature: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.uint64]:
    """One 64-bit key per band: the band's rows folded together (wrapping arithmetic), then
    tagged with the band's number, so that all bands share one sorted index."""
    part = signature[: bands * rows].reshape(bands, rows).astype(np.uint64)
    key = part[:, 0].copy()
    for j in range(1, rows):  # in place: the same wrapping uint64 arithmetic
        key *= _MIX
        key += part[:, j]
    tags = _BAND_TAGS.get(bands)
    if tags is None:
        tags = _BAND_TAGS[bands] = np.arange(1, bands + 1, dtype=np.uint64)
    key *= _MIX
    key += tags
    return key


class CopyIndex:
    """Recent articles' fingerprints, banded for LSH, with exact keys, copy-group roots and
    the story each article joined.

    Slots are in arrival order; candidates are always visited in slot order, so a query's
    answer depends only on which articles are retained, not on how the index is laid out
    (sorted part, unsorted tail, after a restore)."""

    def __init__(self, params: CopyParams) -> None:
        self.params = params
        p = params
        self._sig = np.zeros((0, p.num_perm), dtype=np.uint32)
        self._size = np.zeros(0, dtype=np.int32)
        self._time = np.zeros(0, dtype=np.float64)
        self._flags = np.zeros(0, dtype=np.uint8)
        self._title_words = np.zeros(0, dtype=np.int16)
        # Each slot's first entity ids, 0-padded (an id of 0 is as good as impossible).
        self._entities = np.zeros((0, p.entity_ids), dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)  # the slot still holds its article
        self._ids: list[str] = []
        self._titles: list[str] = []
        self._story: list[str] = []  # the story each slot's article joined
        self._slot: dict[str, int] = {}
        self._roots: dict[str, str] = {}  # copy id -> root id, only for copies
        self._keys: dict[str, str] = {}  # exact url/guid key -> article id
        self._n = 0
        # All bands' keys of slots [0, _indexed), sorted, and the slot of each; the band keys
        # of the newer slots [_indexed, _n) wait unsorted in _tail.
        self._sorted_keys: NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self._sorted_slots: NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._indexed = 0
        self._tail = np.zeros((_MERGE_EVERY, p.bands), dtype=np.uint64)
        # The same tail keys looked up by band: band -> key -> its slot, or a tuple of its
        # slots when several share it. A query then costs one dict look-up per band instead
        # of a scan of the whole tail; ints and tuples of ints, not lists, so the garbage
        # collector has no containers to walk.
        self._tail_index: list[dict[int, int | tuple[int, ...]]] = [{} for _ in range(p.bands)]
        self._expiry: list[tuple[float, int]] = []  # (published, slot): who goes first

    def _grow(self, capacity: int) -> None:
        """Room for ``capacity`` slots (grown by a quarter at a time: little slack)."""
        grow = capacity - len(self._size)
        if grow <= 0:
            return
        self._sig = np.concatenate([self._sig, np.zeros((grow, self.params.num_perm),
                                                         dtype=np.uint32)])
        self._size = np.concatenate([self._size, np.zeros(grow, dtype=np.int32)])
        self._time = np.concatenate([self._time, np.zeros(grow, dtype=np.float64)])
        self._flags = np.concatenate([self._flags, np.zeros(grow, dtype=np.uint8)])
        self._title_words = np.concatenate([self._title_words, np.zeros(grow, dtype=np.int16)])
        self._entities = np.concatenate([self._entities, np.zeros(
            (grow, self.params.entity_ids), dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=bool)])

    # -- queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._slot

    def ids(self) -> list[str]:
        """Retained article ids in arrival order."""
        return [self._ids[s] for s in sorted(self._slot.values())]

    def root(self, article_id: str) -> str:
        return self._roots.get(article_id, article_id)

    def story_of(self, article_id: str) -> str | None:
        """The story a retained article joined."""
        slot = self._slot.get(article_id)
        return None if slot is None else self._story[slot]

    def find(
        self,
        fp: Fingerprint,
        exact_keys: Iterable[str],
        since: float,
        also: Sequence[str] = (),
    ) -> CopyMatch | None:
        """The retained article (published at or after ``since``) this one copies, if any.

        ``also``: ids to check besides the LSH candidates (the members of the story the
        article is about to join), for the fuzzy title check and the signature check."""
        for key in exact_keys:
            found = self._keys.get(key)
            if found is not None and found in self._slot:
                return CopyMatch(found, self.root(found), "exact", 1.0)
        named = np.array([self._slot[a] for a in also if a in self._slot], dtype=np.int64)
        # Candidate slots ascending, numpy all the way: a template filled in all day makes
        # thousands of them.
        slots = self._candidates(fp, named)
        slots = slots[self._time[slots] >= since]
        if not len(slots):
            return None
        # Estimated Jaccard of every candidate at once: the share of equal signature values.
        # (take gathers whole rows faster than fancy indexing does; the equal values are
        # counted as bytes into a uint16, twice as fast as numpy's bool-to-int64 sum.)
        same = self._sig.take(slots, axis=0) == fp.signature
        agree = same.view(np.uint8).sum(axis=1, dtype=np.uint16) / self.params.num_perm
        limit = self.params.max_verified
        if len(slots) > limit:
            keep = np.zeros(len(slots), dtype=bool)
            keep[np.lexsort((slots, -agree))[:limit]] = True  # most agreement, then oldest
            if len(named):
                keep |= _in_sorted(slots, np.sort(named))
            slots, agree = slots[keep], agree[keep]
        best = self._verify(fp, slots, agree)
        if best is None:
            return None
        slot, score, how = best
        original = self._ids[slot]
        return CopyMatch(original, self.root(original), how, round(score, 6))

    def _candidates(
        self, fp: Fingerprint, named: NDArray[np.int64] = _NO_SLOTS
    ) -> NDArray[np.int64]:
        """The retained slots that share a band with ``fp`` (none when it has no shingles)
        or are ``named``, ascending."""
        parts: list[NDArray[Any]] = [named] if len(named) else []
        tail: list[int] = []
        if fp.size:
            self._band_hits(fp.bands, parts, tail)
        if not parts and not tail:
            return _NO_SLOTS
        count = sum(len(part) for part in parts) + len(tail)
        alive = self._alive
        if count <= _FEW:
            # Few: a set is cheaper than numpy's sort-based unique for a handful of values.
            distinct = set(tail)
            for part in parts:
                distinct.update(part.tolist())
            return np.array([s for s in sorted(distinct) if alive[s]], dtype=np.int64)
        if tail:
            parts.append(np.array(tail, dtype=np.int64))
        hits = np.concatenate(parts).astype(np.int64, copy=False)
        if count * _DENSE >= self._n:
            # Many hits for the slots there are (a template filled in all day): marking them
            # in a mask over all slots is linear, cheaper than sorting them.
            mask = np.zeros(self._n, dtype=bool)
            mask[hits] = True
            mask &= alive[: self._n]
            found: NDArray[np.int64] = np.flatnonzero(mask)
            return found
        # Sort and drop repeats: numpy's unique is hash-based and slower for these.
        hits.sort()
        first = np.ones(len(hits), dtype=bool)
        np.not_equal(hits[1:], hits[:-1], out=first[1:])
        hits = hits[first]
        distinct_alive: NDArray[np.int64] = hits[alive[hits]]
        return distinct_alive

    def _band_hits(
        self, q: NDArray[np.uint64], parts: list[NDArray[Any]], tail: list[int]
    ) -> None:
        """Append to ``parts`` the slot arrays of the sorted index that share a band key with
        ``q``, and to ``tail`` the tail's slots that do (repeats included)."""
        if len(self._sorted_keys):
            lo = self._sorted_keys.searchsorted(q, side="left")
            hi = self._sorted_keys.searchsorted(q, side="right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if b > a:
                    parts.append(self._sorted_slots[a:b])
        # The tail matches band by band, as its rows are laid out (a key of another band
        # that happened to be equal would not count there).
        if self._n > self._indexed:
            for band, key in zip(self._tail_index, q.tolist(), strict=True):
                slots = band.get(key)
                if slots is None:
                    continue
                if isinstance(slots, int):
                    tail.append(slots)
                else:
                    tail.extend(slots)

    def _verify(
        self, fp: Fingerprint, slots: NDArray[np.int64], agree: NDArray[np.float64]
    ) -> tuple[int, float, str] | None:
        """The best copy among the candidate ``slots`` (``agree``: their estimated Jaccard):
        its slot, score and how it was found; on equal scores the first in ``slots`` order.
        Names are checked on what the words would call a copy.

        A few candidates (a story's members, a handful of LSH hits: real news) are checked
        one at a time in Python; many (every filling of a template) all at once in numpy,
        whose per-call overhead would cost more than the loop for a few."""
        if len(slots) <= _FEW_CHECKED:
            return self._verify_each(fp, slots, agree)
        return self._verify_all(fp, slots, agree)

    def _verify_each(
        self, fp: Fingerprint, slots: NDArray[np.int64], agree: NDArray[np.float64]
    ) -> tuple[int, float, str] | None:
        """``_verify`` one candidate at a time."""
        mine = frozenset(fp.entities)
        best: tuple[int, float, str] | None = None
        for slot, jaccard in zip(slots.tolist(), agree.tolist(), strict=True):
            verdict = self._verify_words(fp, slot, jaccard)
            if verdict is None or self._names_differ_at(mine, slot):
                continue
            score, how = verdict
            if best is None or score > best[1]:
                best = (slot, score, how)
        return best

    def _verify_words(
        self, fp: Fingerprint, slot: int, jaccard: float
    ) -> tuple[float, str] | None:
        p = self.params
        other_size = int(self._size[slot])
        if fp.size and other_size:
            shared = jaccard * (fp.size + other_size) / (1.0 + jaccard)
            containment = shared / min(fp.size, other_size)
            if jaccard >= p.min_jaccard and containment >= p.min_containment:
                return jaccard, "shingles"
        else:
            jaccard = 0.0
        flags = int(self._flags[slot])
        other_dateline, other_body = bool(flags & 1), bool(flags & 2)
        if (
            fp.dateline_title
            or other_dateline
            or min(fp.title_words, int(self._title_words[slot])) < p.min_title_words
        ):
            return None
        # Same headline: enough when one side has no body (a title-only item and its copy);
        # two bodies must agree too, at half the shingle threshold.
        if fp.has_body and other_body and jaccard < p.min_jaccard / 2:
            return None
        ratio = fuzz.ratio(fp.title, self._titles[slot])
        if ratio >= p.title_ratio:
            return ratio / 100.0 * 0.99, "title"  # a shingle match of equal score wins
        return None

    def _names_differ_at(self, mine: frozenset[int], slot: int) -> bool:
        p = self.params
        if len(mine) < p.min_entities:
            return False
        row = self._entities[slot]
        theirs = set(row[row != 0].tolist())
        if len(theirs) < p.min_entities:
            return False
        shared = len(theirs.intersection(mine))
        return shared < p.min_entity_overlap * min(len(theirs), len(mine))

    def _verify_all(
        self, fp: Fingerprint, slots: NDArray[np.int64], agree: NDArray[np.float64]
    ) -> tuple[int, float, str] | None:
        """``_verify`` for all candidates at once in numpy, the same decisions as
        ``_verify_each``; only those left for the fuzzy title check go through Python."""
        p = self.params
        sizes = self._size[slots]
        flags = self._flags[slots]
        measured = sizes > 0 if fp.size else np.zeros(len(slots), dtype=bool)
        # The same float operations, in the same order, as the one-at-a-time formula
        # shared = J * (a + b) / (1 + J): bit-identical scores and threshold decisions.
        shared = agree * (fp.size + sizes).astype(np.float64) / (1.0 + agree)
        containment = shared / np.where(measured, np.minimum(sizes, fp.size), 1)
        by_shingles = measured & (agree >= p.min_jaccard) & (containment >= p.min_containment)
        scores = np.where(by_shingles, agree, -np.inf)
        differ = self._names_differ(fp.entities, slots)
        titled = ~by_shingles & ~differ & self._title_comparable(fp, slots, flags,
                                                                  np.where(measured, agree, 0.0))
        for i in np.flatnonzero(titled).tolist():
            ratio = fuzz.ratio(fp.title, self._titles[slots[i]])
            if ratio >= p.title_ratio:
                scores[i] = ratio / 100.0 * 0.99  # a shingle match of equal score wins
        scores[differ] = -np.inf
        best = int(np.argmax(scores))  # the first of the highest
        if scores[best] == -np.inf:
            return None
        return int(slots[best]), float(scores[best]), "shingles" if by_shingles[best] else "title"

    def _title_comparable(
        self,
        fp: Fingerprint,
        slots: NDArray[np.int64],
        flags: NDArray[np.uint8],
        jaccard: NDArray[np.float64],
    ) -> NDArray[np.bool_]:
        """Which candidates the fuzzy title check may call copies: no date-line titles,
        enough title words, and two bodies that agree at half the shingle threshold
        (``jaccard``: 0 where a side has no shingles)."""
        p = self.params
        if fp.dateline_title or fp.title_words < p.min_title_words:
            return np.zeros(len(slots), dtype=bool)
        ok: NDArray[np.bool_] = ((flags & 1) == 0) & (
            self._title_words[slots] >= p.min_title_words)
        # Same headline: enough when one side has no body (a title-only item and its copy);
        # two bodies must agree too.
        if fp.has_body:
            ok &= ((flags & 2) == 0) | (jaccard >= p.min_jaccard / 2)
        return ok

    def _names_differ(
        self, entities: Sequence[int], slots: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Per candidate: both name at least ``min_entities`` distinct entities and share
        less than ``min_entity_overlap`` of the shorter list (0 pads a row: no name)."""
        p = self.params
        mine = np.array(sorted(set(entities)), dtype=np.int64)
        if len(mine) < p.min_entities or not len(mine):  # no names of mine: none differ
            return np.zeros(len(slots), dtype=bool)
        rows = np.sort(self._entities[slots], axis=1)
        # A row's distinct names: the non-zero values that differ from their sorted neighbour.
        distinct = rows != 0
        distinct[:, 1:] &= rows[:, 1:] != rows[:, :-1]
        theirs = distinct.sum(axis=1)
        shared = (distinct & _in_sorted(rows, mine)).sum(axis=1)
        differ: NDArray[np.bool_] = (theirs >= p.min_entities) & (
            shared < p.min_entity_overlap * np.minimum(theirs, len(mine)))
        return differ

    # -- updates ---------------------------------------------------------------------------
    def add(
        self,
        article_id: str,
        fp: Fingerprint,
        published_s: float,
        exact_keys: Iterable[str] = (),
        root: str | None = None,
        story_id: str = "",
    ) -> None:
        """Retain an article; ``root`` is its copy group's first article when it is a copy,
        ``story_id`` the story it joined."""
        if article_id in self._slot:
            return
        if self._n == len(self._size):
            self._grow(self._n + max(256, self._n // 4))
        slot = self._n
        self._sig[slot] = fp.signature
        self._size[slot] = fp.size
        self._time[slot] = published_s
        self._flags[slot] = (1 if fp.dateline_title else 0) | (2 if fp.has_body else 0)
        self._title_words[slot] = min(fp.title_words, 32_000)
        self._entities[slot] = 0
        self._entities[slot, : len(fp.entities)] = fp.entities
        self._alive[slot] = True
        self._ids.append(article_id)
        self._titles.append(fp.title)
        self._story.append(story_id)
        self._slot[article_id] = slot
        self._tail[slot - self._indexed] = fp.bands
        for band, key in zip(self._tail_index, fp.bands.tolist(), strict=True):
            known = band.get(key)
            if known is None:
                band[key] = slot
            elif isinstance(known, int):
                band[key] = (known, slot)
            else:
                band[key] = (*known, slot)
        self._n += 1
        if root is not None and root != article_id:
            self._roots[article_id] = root
        for key in exact_keys:
            self._keys.setdefault(key, article_id)
        heapq.heappush(self._expiry, (published_s, slot))
        if self._n - self._indexed >= _MERGE_EVERY:
            self._merge()

    def evict(self, before_s: float) -> int:
        """Forget articles published before ``before_s``; returns how many."""
        gone = 0
        while self._expiry and self._expiry[0][0] < before_s:
            _, slot = heapq.heappop(self._expiry)
            article_id = self._ids[slot]
            if self._slot.get(article_id) != slot:
                continue
            del self._slot[article_id]
            self._alive[slot] = False
            self._roots.pop(article_id, None)
            gone += 1
        if gone:
            # Roots of retained copies may name a forgotten original: still the right dup_of.
            self._keys = {k: a for k, a in self._keys.items() if a in self._slot}
            if len(self._slot) < self._n // 2:
                self._compact()
        return gone

    def _compact(self) -> None:
        """Drop forgotten slots (keeping arrival order) and rebuild the index."""
        keep = np.array(sorted(self._slot.values()), dtype=np.int64)
        self._sig = self._sig[keep].copy()
        self._size = self._size[keep].copy()
        self._time = self._time[keep].copy()
        self._flags = self._flags[keep].copy()
        self._title_words = self._title_words[keep].copy()
        self._entities = self._entities[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        self._ids = [self._ids[int(s)] for s in keep]
        self._titles = [self._titles[int(s)] for s in keep]
        self._story = [self._story[int(s)] for s in keep]
        self._slot = {a: i for i, a in enumerate(self._ids)}
        self._n = len(self._ids)
        self._rebuild()

    def _keys_of(self, start: int, end: int) -> NDArray[np.uint64]:
        p = self.params
        return np.stack([_band_keys(self._sig[s], p.bands, p.rows) for s in range(start, end)])

    def _rebuild(self) -> None:
        """Sort every retained slot's band keys afresh (after a compaction or a restore)."""
        n, bands = self._n, self.params.bands
        keys = self._keys_of(0, n).reshape(-1) if n else np.zeros(0, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        self._sorted_keys = keys[order]
        self._sorted_slots = (order // bands).astype(np.int32)
        self._indexed = n
        self._clear_tail()
        self._expiry = [(float(self._time[s]), s) for s in range(n)]
        heapq.heapify(self._expiry)

    def _merge(self) -> None:
        """Merge the unsorted tail into the sorted keys: linear, no full re-sort."""
        start, n, bands = self._indexed, self._n, self.params.bands
        keys = self._tail[: n - start].reshape(-1)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        slots = (order // bands + start).astype(np.int32)
        at = np.searchsorted(self._sorted_keys, keys, side="right")
        self._sorted_keys = np.insert(self._sorted_keys, at, keys)
        self._sorted_slots = np.insert(self._sorted_slots, at, slots)
        self._indexed = n
        self._clear_tail()

    def _clear_tail(self) -> None:
        for band in self._tail_index:
            band.clear()

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Retained articles in arrival order; the band index is rebuilt on load."""
        keep = np.array(sorted(self._slot.values()), dtype=np.int64)
        return {
            "ids": [self._ids[int(s)] for s in keep],
            "titles": [self._titles[int(s)] for s in keep],
            "stories": [self._story[int(s)] for s in keep],
            "signatures": _b64(self._sig[keep]),
            "sizes": [int(x) for x in self._size[keep]],
            "times": [float(x) for x in self._time[keep]],
            "flags": [int(x) for x in self._flags[keep]],
            "title_words": [int(x) for x in self._title_words[keep]],
            "entities": base64.b64encode(np.ascontiguousarray(
                self._entities[keep], dtype="<i8").tobytes()).decode("ascii"),
            "roots": {a: self._roots[a] for a in sorted(self._roots)},
            "keys": {k: self._keys[k] for k in sorted(self._keys)},
        }

    @classmethod
    def from_state(cls, params: CopyParams, state: Mapping[str, Any]) -> CopyIndex:
        index = cls(params)
        ids = [str(a) for a in state["ids"]]
        n = len(ids)
        raw = np.frombuffer(base64.b64decode(state["signatures"]), dtype="<u4")
        index._sig = raw.reshape(n, params.num_perm).astype(np.uint32)
        index._size = np.array(state["sizes"], dtype=np.int32)
        index._time = np.array(state["times"], dtype=np.float64)
        index._flags = np.array(state["flags"], dtype=np.uint8)
        index._title_words = np.array(state["title_words"], dtype=np.int16)
        # A snapshot from before the names were kept: no names, no name check for those.
        index._entities = (
            np.frombuffer(base64.b64decode(state["entities"]), dtype="<i8")
            .reshape(n, params.entity_ids).astype(np.int64)
            if "entities" in state else np.zeros((n, params.entity_ids), dtype=np.int64))
        index._alive = np.ones(n, dtype=bool)
        index._ids = ids
        index._titles = [str(t) for t in state["titles"]]
        index._story = [str(t) for t in state["stories"]]
        index._slot = {a: i for i, a in enumerate(ids)}
        index._n = n
        index._roots = {str(k): str(v) for k, v in state["roots"].items()}
        index._keys = {str(k): str(v) for k, v in state["keys"].items()}
        index._rebuild()
        return index


def _in_sorted(
    values: NDArray[np.int64], sorted_values: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Which ``values`` are in the ascending, non-empty ``sorted_values`` (np.isin without
    its set-up cost, for the small arrays here): the value at the insertion point is equal."""
    at = np.minimum(sorted_values.searchsorted(values), len(sorted_values) - 1)
    found: NDArray[np.bool_] = sorted_values[at] == values
    return found


def _b64(array: NDArray[np.uint32]) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<u4").tobytes()).decode("ascii")
