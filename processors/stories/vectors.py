"""Sparse weighted vectors over hashed keys, and the capped centroid a story keeps.

Terms and entity names are hashed to 64-bit ids (BLAKE2b, so the same term has the same id
in every process; Python's own ``hash`` of a string is salted per process). A vector is two
numpy arrays, sorted ids and weights: about 12 bytes a term, against roughly 100 for a dict
entry with a float. Most stories of a news stream stay single articles, so what a story
keeps is what the state budget is made of.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Centroid", "SparseVector", "key_id", "sparse"]


@lru_cache(maxsize=16_384)
def key_id(key: str) -> int:
    """A stable signed 64-bit id for a term or an entity key (the cache only saves time)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(),
                          "little", signed=True)


@dataclass(frozen=True)
class SparseVector:
    """Unit-length (or empty) vector: ids ascending, weights aligned."""

    ids: NDArray[np.int64]
    weights: NDArray[np.floating[Any]]

    def __len__(self) -> int:
        return len(self.ids)

    def dot(self, other: SparseVector) -> float:
        """Dot product of two sparse vectors (binary search of the shorter in the longer)."""
        a, b = (self, other) if len(self) <= len(other) else (other, self)
        if not len(a) or not len(b):
            return 0.0
        pos = b.ids.searchsorted(a.ids)
        pos[pos == len(b.ids)] = 0
        hit = b.ids[pos] == a.ids
        return float(np.dot(a.weights[hit], b.weights[pos[hit]]))

    def top(self, n: int) -> NDArray[np.int64]:
        """The ids of the ``n`` largest weights (ties: smaller id first), in that order."""
        if len(self) <= n:
            order = np.lexsort((self.ids, -self.weights))
        else:
            order = np.lexsort((self.ids, -self.weights))[:n]
        return self.ids[order]


EMPTY = SparseVector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def sparse(weights: Mapping[int, float], max_terms: int = 0) -> SparseVector:
    """Unit vector from id -> weight, keeping the ``max_terms`` largest (0: all).

    Straight from the mapping's views into numpy (a vector is tens of terms: no list of
    pairs, no Python sort). The ids are distinct, so the cut (heaviest first, ties: smaller
    id) and the stable argsort by id give one order whatever the mapping's, and the norm is
    np.dot over that sorted array (tests/unit/processors/stories/test_fast_paths.py)."""
    n = len(weights)
    if not n:
        return EMPTY
    ids = np.fromiter(weights.keys(), dtype=np.int64, count=n)
    ws = np.fromiter(weights.values(), dtype=np.float64, count=n)
    positive = ws > 0.0
    if not positive.all():  # a weight of 0 (or less) is no term
        ids, ws = ids[positive], ws[positive]
        if not len(ids):
            return EMPTY
    if max_terms and len(ids) > max_terms:
        keep = np.lexsort((ids, -ws))[:max_terms]
        ids, ws = ids[keep], ws[keep]
    order = ids.argsort(kind="stable")
    ids, ws = ids[order], ws[order]
    return SparseVector(ids, ws / math.sqrt(float(np.dot(ws, ws))))


class Centroid:
    """The sum of a story's article vectors, cut to its ``cap`` heaviest terms.

    Cosine against it is ``dot(article, sum) / |sum|``. The cut keeps a long story's memory
    and comparison cost flat; what it drops are the terms only one or two members used.
    Weights are kept as float32 (half the memory; the sums stay exact enough for a cosine,
    and identical in every process)."""

    __slots__ = ("cap", "ids", "norm", "weights")

    def __init__(
        self,
        cap: int,
        ids: NDArray[np.int64] | None = None,
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        self.cap = cap
        self.ids = ids if ids is not None else np.zeros(0, dtype=np.int64)
        self.weights = (weights.astype(np.float32) if weights is not None
                        else np.zeros(0, dtype=np.float32))
        self.norm = _norm(self.weights)

    def add(self, vector: SparseVector, scale: float = 1.0) -> None:
        if not len(vector):
            return
        ids, weights = self.ids, self.weights
        # x * 1.0 is x exactly: skip the product in the usual case.
        added = (vector.weights if scale == 1.0 else vector.weights * scale).astype(np.float32)
        if not len(ids):
            ids, weights = vector.ids.copy(), added
        else:
            pos = ids.searchsorted(vector.ids)
            # A position past the end holds no equal id: compare with the last one instead.
            hit = ids[np.minimum(pos, len(ids) - 1)] == vector.ids
            weights = weights.copy()
            weights[pos[hit]] += added[hit]  # float32 + float32, as before
            if not hit.all():
                ids, weights = _merge_new(ids, weights, pos, hit, vector.ids, added)
        if len(ids) > self.cap:
            keep = np.sort(np.lexsort((ids, -weights))[: self.cap])
            ids, weights = ids[keep], weights[keep]
        self.ids, self.weights = ids, weights
        self.norm = _norm(weights)

    def cosine(self, vector: SparseVector) -> float:
        if self.norm == 0.0 or not len(vector):
            return 0.0
        return SparseVector(self.ids, self.weights).dot(vector) / self.norm

    def as_vector(self) -> SparseVector:
        if self.norm == 0.0:
            return EMPTY
        return SparseVector(self.ids, self.weights / self.norm)

    def top(self, n: int) -> NDArray[np.int64]:
        """``SparseVector.top`` of the summed weights, without building the vector."""
        ids: NDArray[np.int64] = self.ids[np.lexsort((self.ids, -self.weights))[:n]]
        return ids


def _merge_new(
    ids: NDArray[np.int64],
    weights: NDArray[np.float32],
    pos: NDArray[np.intp],
    hit: NDArray[np.bool_],
    new_ids: NDArray[np.int64],
    new_weights: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """``ids``/``weights`` with the entries of ``new_ids`` not ``hit`` inserted in order:
    what ``np.insert`` at ``pos`` gives (the new ids are ascending, so the k-th lands at its
    position plus k), in a few array operations instead of its general machinery."""
    new = ~hit
    at = pos[new] + np.arange(np.count_nonzero(new))
    size = len(ids) + len(at)
    old = np.ones(size, dtype=bool)
    old[at] = False
    out_ids = np.empty(size, dtype=np.int64)
    out_weights = np.empty(size, dtype=np.float32)
    out_ids[at] = new_ids[new]
    out_weights[at] = new_weights[new]
    out_ids[old] = ids
    out_weights[old] = weights
    return out_ids, out_weights


def _norm(weights: NDArray[np.float32]) -> float:
    w = weights.astype(np.float64)
    return math.sqrt(float(np.dot(w, w)))
