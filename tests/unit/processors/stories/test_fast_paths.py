"""The engine's hand-rolled fast paths give exactly what the general tools they replace give:
datasketch's MinHash, numpy's unique and insert, the scan of the unsorted band tail."""

from __future__ import annotations

import random

import numpy as np
from datasketch import MinHash

from processors.stories.copies import CopyIndex, CopyParams, Fingerprint, Fingerprinter
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
