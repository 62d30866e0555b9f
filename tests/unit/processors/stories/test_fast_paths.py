"""The engine's hand-rolled fast paths give exactly what the general tools they replace give:
datasketch's MinHash, numpy's unique and insert, the scan of the unsorted band tail, and
what the code they replaced computed (vectors, entity keys, summaries, word hashes)."""

from __future__ import annotations

import math
import random
import re
import zlib
from datetime import UTC, datetime

import numpy as np
import pytest
from datasketch import MinHash
from rapidfuzz import fuzz

from newsflow.article import Article
from processors.stories import copies
from processors.stories.clusters import ClusterParams, Story
from processors.stories.copies import (
    CopyIndex,
    CopyParams,
    Fingerprint,
    Fingerprinter,
    _band_keys,
)
from processors.stories.features import entity_key
from processors.stories.model import StoryEntity, StoryInput
from processors.stories.shingles import gram_hashes, shingles
from processors.stories.vectors import Centroid, SparseVector, sparse


def test_signature_is_datasketch_affine32_minhash_value_for_value() -> None:
    params = CopyParams()
    fingerprinter = Fingerprinter(params)
    rng = random.Random(5)
    for size in (1, 2, 7, 60, 199):
        grams = [rng.getrandbits(32) for _ in range(size)]
        reference = MinHash(num_perm=params.num_perm, seed=params.seed, scheme="affine32",
                            hashfunc=lambda v: v)
        reference.update_batch(grams)
        mine = fingerprinter.signature(np.array(grams, dtype=np.uint32))
        assert mine.dtype == np.uint32
        assert mine.tolist() == np.asarray(reference.hashvalues).tolist()


def test_gram_hashes_are_the_shingles_with_repeats() -> None:
    rng = random.Random(7)
    vocabulary = ["quake", "chile", "rescue", "a", "b", "5.6", "u.s"]
    for n in (0, 1, 2, 3, 4, 30):
        tokens = [rng.choice(vocabulary) for _ in range(n)]
        for size in (1, 2, 3, 4):
            assert sorted(set(gram_hashes(tokens, size).tolist())) == shingles(tokens, size)


def _insert_reference(centroid: Centroid, vector: SparseVector) -> tuple[list[int], list[float]]:
    """Centroid.add as it was written first: np.insert for the new ids."""
    ids, weights = centroid.ids, centroid.weights.copy()
    pos = np.searchsorted(ids, vector.ids)
    inside = pos < len(ids)
    hit = np.zeros(len(vector.ids), dtype=bool)
    hit[inside] = ids[pos[inside]] == vector.ids[inside]
    weights[pos[hit]] += vector.weights[hit].astype(np.float32)
    new = ~hit
    ids = np.insert(ids, pos[new], vector.ids[new])
    weights = np.insert(weights, pos[new], vector.weights[new].astype(np.float32))
    if len(ids) > centroid.cap:
        keep = np.sort(np.lexsort((ids, -weights))[: centroid.cap])
        ids, weights = ids[keep], weights[keep]
    return ids.tolist(), weights.tolist()


def test_centroid_add_merges_as_np_insert_did() -> None:
    rng = random.Random(11)
    universe = [rng.randrange(-(2**63), 2**63) for _ in range(80)]
    centroid = Centroid(40)
    for _ in range(30):
        vector = sparse({k: rng.random() for k in rng.sample(universe, rng.randint(1, 25))})
        expected = _insert_reference(centroid, vector)
        centroid.add(vector)
        assert (centroid.ids.tolist(), centroid.weights.tolist()) == expected
        assert centroid.ids.dtype == np.int64 and centroid.weights.dtype == np.float32


def _fingerprint(bands: list[int], params: CopyParams) -> Fingerprint:
    signature = np.zeros(params.num_perm, dtype=np.uint32)
    return Fingerprint(signature=signature, bands=np.array(bands, dtype=np.uint64), size=5,
                       title="t", title_words=1, dateline_title=False, has_body=True)


def test_tail_candidates_match_band_by_band_like_the_sorted_index() -> None:
    params = CopyParams()
    rng = random.Random(3)
    pool = [rng.getrandbits(64) for _ in range(40)]
    index = CopyIndex(params)
    rows = [[rng.choice(pool) for _ in range(params.bands)] for _ in range(300)]
    for i, row in enumerate(rows):
        index.add(f"a{i}", _fingerprint(row, params), float(i))
    queries = [[rng.choice(pool) for _ in range(params.bands)] for _ in range(50)]
    # The scan the tail index replaces: the same key in the same band.
    for q in queries:
        expected = [i for i, row in enumerate(rows)
                    if any(a == b for a, b in zip(row, q, strict=True))]
        assert index._candidates(_fingerprint(q, params)).tolist() == expected
    index._merge()  # now all in the sorted part: same answers
    for q in queries[:10]:
        tail = [i for i, row in enumerate(rows) if any(a == b for a, b in zip(row, q, strict=True))]
        assert set(tail) <= set(index._candidates(_fingerprint(q, params)).tolist())


def _find_reference(
    index: CopyIndex, fp: Fingerprint, since: float, also: list[str],
    bands_of: dict[str, list[int]],
) -> tuple[str, str, float] | None:
    """CopyIndex.find (without exact keys) as it was first written: np.unique for the
    candidates, then one Python check per candidate slot, in slot order. ``bands_of``: each
    article's band keys."""
    p = index.params
    hits: list[int] = []
    if fp.size:
        query = fp.bands.tolist()
        hits = [s for s in range(index._n) if index._alive[s] and any(
            a == b for a, b in zip(bands_of[index._ids[s]], query, strict=True))]
    named = [index._slot[a] for a in also if a in index._slot]
    slots = np.unique(np.array(hits + named, dtype=np.int64))
    slots = slots[index._time[slots] >= since]
    if not len(slots):
        return None
    agree = (index._sig[slots] == fp.signature[None, :]).sum(axis=1) / p.num_perm
    if len(slots) > p.max_verified:
        keep = np.zeros(len(slots), dtype=bool)
        keep[np.lexsort((slots, -agree))[: p.max_verified]] = True
        keep |= np.isin(slots, np.array(named, dtype=np.int64))
        slots, agree = slots[keep], agree[keep]
    mine = frozenset(fp.entities)
    best: tuple[float, int, str] | None = None
    for slot, jaccard in zip(slots.tolist(), agree.tolist(), strict=True):
        verdict = _verify_words_reference(index, fp, slot, jaccard)
        if verdict is None:
            continue
        row = index._entities[slot]
        theirs = set(row[row != 0].tolist())
        if len(mine) >= p.min_entities and len(theirs) >= p.min_entities and len(
            theirs & mine
        ) < p.min_entity_overlap * min(len(theirs), len(mine)):
            continue
        if best is None or verdict[0] > best[0]:
            best = (verdict[0], slot, verdict[1])
    if best is None:
        return None
    return index._ids[best[1]], best[2], round(best[0], 6)


def _verify_words_reference(
    index: CopyIndex, fp: Fingerprint, slot: int, jaccard: float
) -> tuple[float, str] | None:
    p = index.params
    other_size = int(index._size[slot])
    if fp.size and other_size:
        shared = jaccard * (fp.size + other_size) / (1.0 + jaccard)
        containment = shared / min(fp.size, other_size)
        if jaccard >= p.min_jaccard and containment >= p.min_containment:
            return jaccard, "shingles"
    else:
        jaccard = 0.0
    flags = int(index._flags[slot])
    if (fp.dateline_title or flags & 1
            or min(fp.title_words, int(index._title_words[slot])) < p.min_title_words):
        return None
    if fp.has_body and flags & 2 and jaccard < p.min_jaccard / 2:
        return None
    ratio = fuzz.ratio(fp.title, index._titles[slot])
    if ratio >= p.title_ratio:
        return ratio / 100.0 * 0.99, "title"
    return None


def _random_fingerprint(rng: random.Random, bases: list[list[int]],
                        params: CopyParams) -> Fingerprint:
    """A perturbed template: many candidates, tied agreements, shared and foreign names,
    empty texts, date-line and title-only items, near-equal titles."""
    values = list(rng.choice(bases))
    for i in rng.sample(range(params.num_perm), rng.choice((0, 2, 8, 20, 40, 64))):
        values[i] = rng.getrandbits(32)
    signature = np.array(values, dtype=np.uint32)
    titles = ["quake hits the north coast of chile", "quake hits the north coast of chila",
              "markets close higher on tech rally", "drills held with two navies"]
    title = rng.choice(titles)
    names = rng.sample(range(-6, 9), rng.randint(0, 8))  # 0 pads rows; no name with id 0
    if names and rng.random() < 0.2:
        names.append(names[0])  # a repeated id counts once
    return Fingerprint(
        signature=signature, bands=_band_keys(signature, params.bands, params.rows),
        size=rng.choice((0, 5, 30, 120)), title=title, title_words=rng.choice((2, 4, 7)),
        dateline_title=rng.random() < 0.1, has_body=rng.random() < 0.8,
        entities=tuple(n for n in names if n)[: params.entity_ids])


@pytest.mark.parametrize("few", [0, 10**9], ids=["all-at-once", "one-at-a-time"])
def test_find_checks_candidates_as_first_written(few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways CopyIndex._verify checks candidates (numpy for many, Python for a few)
    give what the one-by-one original gave: the same copy, score and tie-breaking."""
    monkeypatch.setattr(copies, "_FEW_CHECKED", few)
    for params in (CopyParams(), CopyParams(max_verified=4, min_entities=2)):
        rng = random.Random(13)
        bases = [[rng.getrandbits(32) for _ in range(params.num_perm)] for _ in range(3)]
        index = CopyIndex(params)
        ids: list[str] = []
        bands_of: dict[str, list[int]] = {}
        outcomes: set[str | None] = set()
        for n in range(600):
            fp = _random_fingerprint(rng, bases, params)
            also = rng.sample(ids, min(len(ids), rng.choice((0, 3, 12))))
            since = rng.choice((0.0, n - 50.0))
            match = index.find(fp, (), since, also)
            expected = _find_reference(index, fp, since, also, bands_of)
            assert (None if match is None else (match.original, match.how, match.score)) \
                == expected
            outcomes.add(None if expected is None else expected[1])
            index.add(f"a{n}", fp, float(n))
            bands_of[f"a{n}"] = fp.bands.tolist()
            ids.append(f"a{n}")
            if n % 97 == 96:
                index.evict(n - 150.0)
        assert outcomes == {None, "shingles", "title"}


def _sparse_reference(weights: dict[int, float], max_terms: int = 0) -> SparseVector:
    """vectors.sparse as first written, in Python: the positive (id, weight) pairs, the
    ``max_terms`` heaviest kept (ties: smaller id), sorted by id, the norm by np.dot."""
    items = [(k, w) for k, w in weights.items() if w > 0.0]
    if max_terms and len(items) > max_terms:
        items = sorted(items, key=lambda kw: (-kw[1], kw[0]))[:max_terms]
    items.sort()
    if not items:
        return SparseVector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    ids = np.array([k for k, _ in items], dtype=np.int64)
    ws = np.array([w for _, w in items], dtype=np.float64)
    return SparseVector(ids, ws / math.sqrt(float(np.dot(ws, ws))))


def test_sparse_builds_the_vector_the_python_sort_built() -> None:
    rng = random.Random(17)
    for _ in range(400):
        n = rng.choice((0, 1, 2, 5, 30, 120, 300))
        weights = {rng.randrange(-(2**63), 2**63): rng.choice(
            (rng.random(), rng.random() * 40, 1e-100, 0.0, -rng.random(), 1.0)) for _ in range(n)}
        positive = sum(1 for w in weights.values() if w > 0.0)
        # No cut, a cut above the size, one the positive weights just fit (zeros make the
        # mapping longer), and cuts that drop terms (tied weights among them: 1.0, 1e-100).
        for cut in (0, 10**6, max(1, positive), 1, max(1, positive // 2)):
            got, expected = sparse(weights, cut), _sparse_reference(weights, cut)
            assert got.ids.dtype == np.int64 and got.weights.dtype == np.float64
            assert got.ids.tobytes() == expected.ids.tobytes()
            assert got.weights.tobytes() == expected.weights.tobytes()


def test_entity_key_collapses_white_space_as_the_regex_did() -> None:
    space = re.compile(r"\s+")
    blanks = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    # str.split/strip and re's \s know the same white space.
    assert blanks == [chr(c) for c in range(0x110000) if space.fullmatch(chr(c))]
    rng = random.Random(19)
    alphabet = [*"abcXYZ.'-\u2019\u0130\u00df\u00e9", *blanks]
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        expected = space.sub(" ", name.strip().lower().replace("\u2019", "'"))
        assert entity_key(StoryEntity(name, "PERSON")) == expected


def test_story_summary_helpers_order_as_first_written() -> None:
    rng = random.Random(23)
    params = ClusterParams()
    for _ in range(300):
        story = Story(0, "s", 0.0, params)
        n = rng.randint(0, 30)
        ids = np.array(sorted(rng.sample(range(-(2**40), 2**40), n)), dtype=np.int64)
        story.entities = Centroid(params.profile_entities, ids, np.array(
            [rng.choice((0.5, 1.0, rng.random())) for _ in range(n)], dtype=np.float64))
        names = [rng.choice(("", "Chile", "Onemi", f"N{i}")) for i in range(n)]
        story.names = "\x1f".join(names[: rng.randint(0, n)])  # shorter: ids without a name
        story.tags = {f"t{rng.randint(0, 15)}": rng.randint(1, 4)
                      for _ in range(rng.randint(0, 12))}
        # The originals: a dict of the names, a key function for the tags.
        known = dict(zip(story.entities.ids.tolist(), story.names.split("\x1f"), strict=False))
        heaviest = sorted(zip([-w for w in story.entities.weights.tolist()],
                              story.entities.ids.tolist(), strict=True))[:8]
        assert story.top_entities() == tuple(known[i] for _, i in heaviest if known.get(i))
        assert story.top_tags() == tuple(
            t for t, _ in sorted(story.tags.items(), key=lambda kv: (-kv[1], kv[0]))[:10])


def test_gram_hashes_fold_each_words_crc32() -> None:
    rng = random.Random(29)
    vocabulary = ["quake", "chile", "5.6", "u.s", "caf\u00e9", "x"]
    mask = 2**64 - 1
    for n in (1, 2, 3, 4, 40):
        tokens = [rng.choice(vocabulary) for _ in range(n)]
        for size in (1, 3):
            words = [zlib.crc32(t.encode("utf-8")) for t in tokens]
            grams = []
            for start in range(max(1, n - size + 1)):
                g = 0
                for h in words[start : start + size]:
                    g = (g * 0x100000001B3 + h) & mask
                grams.append((g ^ (g >> 32)) & 0xFFFFFFFF)
            assert gram_hashes(tokens, size).tolist() == grams


@pytest.mark.parametrize(("summary", "content"), [
    ("", ""), ("A summary.", ""), ("", "The content."), (" Same. ", "Same."),
    ("A summary.", "The content.\nMore."), ("  ", " x "),
])
def test_from_article_joins_summary_and_content_as_first_written(
    summary: str, content: str
) -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    article = Article(id="a1", url="https://x.example/1", canonical_url="https://x.example/1",
                      feed_url="https://x.example/feed", source="x.example", title="t",
                      summary=summary, content=content, published_at=at, seen_at=at)
    expected = "\n".join(p for p in (article.summary.strip(), article.content.strip()) if p)
    if article.content.strip() == article.summary.strip():
        expected = article.summary.strip()
    assert StoryInput.from_article(article).text == expected
