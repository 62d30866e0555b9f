"""The NER's token embeddings, computed once per distinct token: the same vectors, less CPU.

In spaCy's CNN pipelines (``spacy.MultiHashEmbed`` without static vectors, as in the
``en_core_web_*`` small models), the first stage of the NER's tok2vec turns each token into
a vector from four of its own attributes (NORM, PREFIX, SUFFIX, SHAPE) and nothing else:
four hash-embedding lookups, a maxout layer (a 384 x 288 matrix product per token) and a
layer norm. Context comes only after, in the window encoder. A token's vector is therefore a
function of its four attribute ids, and news repeats its words: on the 3,159 feed items of
../shared/eval (177,483 tokens) there are 20,147 distinct rows. That stage was about a
fifth of the NER's CPU; see processors/README.md, "NER speed".

``cache_token_embeddings(nlp)`` puts :class:`TokenEmbeddingCache` in the stage's place in the
loaded pipeline: per ``nlp.pipe`` batch it computes the stage (the model's own layers) for
the rows it has not seen and reads the others from its table. Entities are unchanged (the
tests compare the pipeline with and without it). The table is bounded: when a batch's new
rows do not fit, it is emptied and fills again with what comes (news' frequent words come
back at once); ``DEFAULT_CAPACITY`` rows of 96 floats are 24 MiB.

A pipeline of another shape (static vectors, a shared tok2vec or a transformer that NER
listens to, a GPU) is left as it is: ``cache_token_embeddings`` says so and returns None.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["DEFAULT_CAPACITY", "TokenEmbeddingCache", "cache_token_embeddings"]

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 65_536

# The leaf layers of MultiHashEmbed (v1/v2) without static vectors: each maps one token's row
# to one row, never looking at its neighbours. An embedding stage made of other layers (static
# vectors, characters, anything contextual) is not cached.
_ROW_WISE = frozenset({"extract_features", "list2ragged", "ragged2list", "ints-getitem",
                       "hashembed", "maxout", "layernorm", "dropout"})


class TokenEmbeddingCache:
    """The embedding stage of one NER model with a table of the rows already computed.

    ``extract``: the stage's feature extractor (docs -> one uint64 array of attribute ids per
    doc); ``compute``: the rest of the stage, a list of id arrays -> a list of float arrays.
    """

    def __init__(
        self,
        extract: Callable[[Sequence[Any]], list[np.ndarray]],
        compute: Callable[[list[np.ndarray]], list[np.ndarray]],
        width: int,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._extract = extract
        self._compute = compute
        self.width = width
        self.capacity = capacity
        self._table = np.zeros((capacity, width), dtype=np.float32)
        self._rows: dict[bytes, int] = {}  # attribute ids (as bytes) -> row of _table
        self._lock = threading.Lock()  # nlp.pipe from two threads must not share a slot
        self.reused = 0  # distinct rows of a batch found in the table
        self.computed = 0  # distinct rows of a batch computed
        self.resets = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, docs: Sequence[Any]) -> list[np.ndarray]:
        features = self._extract(docs)
        if not features:
            return []
        lengths = [len(f) for f in features]
        ids = np.ascontiguousarray(np.concatenate(features), dtype=np.uint64)
        if not len(ids):
            return [np.zeros((0, self.width), dtype=np.float32) for _ in lengths]
        # A token's key: its attribute ids' bytes; np.unique finds the batch's distinct ones.
        keys = ids.view(np.dtype((np.void, ids.shape[1] * ids.itemsize))).ravel()
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        if len(distinct) > self.capacity:  # more than the table holds: computed, not kept
            vectors = self._compute([ids[first]])[0][inverse]
            self.computed += len(distinct)
        else:
            with self._lock:
                # Fancy indexing copies: the caller's arrays never alias the table.
                vectors = self._table[self._rows_for(distinct, ids[first])[inverse]]
        return np.split(vectors, np.cumsum(lengths)[:-1])

    def _rows_for(self, distinct: np.ndarray, distinct_ids: np.ndarray) -> np.ndarray:
        """The table row of each distinct key, the missing ones computed and stored."""
        keys = [key.tobytes() for key in distinct]
        rows = np.fromiter((self._rows.get(key, -1) for key in keys), dtype=np.int64,
                           count=len(keys))
        missing = np.flatnonzero(rows < 0)
        if len(self._rows) + len(missing) > self.capacity:
            # Full: start again with this batch's rows (news' frequent words come back first).
            self._rows.clear()
            self.resets += 1
            log.info("token embedding table full, emptied rows=%d", self.capacity)
            missing = np.arange(len(keys))
        self.reused += len(keys) - len(missing)
        if not len(missing):
            return rows
        start = len(self._rows)
        self._table[start:start + len(missing)] = self._compute([distinct_ids[missing]])[0]
        for offset, slot in enumerate(missing.tolist()):
            self._rows[keys[slot]] = start + offset
        rows[missing] = np.arange(start, start + len(missing))
        self.computed += len(missing)
        return rows


def cache_token_embeddings(
    nlp: Any, capacity: int = DEFAULT_CAPACITY
) -> TokenEmbeddingCache | None:
    """Put a :class:`TokenEmbeddingCache` in place of the embedding stage of ``nlp``'s NER
    (predicting only; training goes through the model's own stage). None, and ``nlp`` left as
    it is, when the NER's tok2vec is not of the known shape."""
    from thinc.api import Model, NumpyOps

    found = _embed_stage(nlp)
    if found is None:
        log.info("NER token embeddings not cached: the pipeline's tok2vec is not a "
                 "MultiHashEmbed CNN of its own")
        return None
    tok2vec, embed = found
    if not isinstance(embed.ops, NumpyOps):
        log.info("NER token embeddings not cached: the model does not run on numpy")
        return None
    extract, rest = embed.layers[0], embed.layers[1:]

    def compute(features: list[np.ndarray]) -> list[np.ndarray]:
        out: Any = features
        for layer in rest:
            out = layer.predict(out)
        return list(out)

    cache = TokenEmbeddingCache(extract.predict, compute, embed.get_dim("nO"), capacity)

    def forward(
        model: Any, docs: Sequence[Any], is_train: bool
    ) -> tuple[Any, Callable[[Any], Any]]:
        if is_train:
            result: tuple[Any, Callable[[Any], Any]] = embed(docs, is_train)
            return result
        return cache(docs), _no_backprop

    cached: Any = Model("cached_embed", forward, layers=[embed], dims={"nO": embed.get_dim("nO")})
    tok2vec.layers[tok2vec.layers.index(embed)] = cached
    tok2vec.set_ref("embed", cached)
    return cache


def _no_backprop(_: Any) -> list[Any]:
    raise NotImplementedError("the cached token embeddings only predict")


def _embed_stage(nlp: Any) -> tuple[Any, Any] | None:
    """(the tok2vec chain, its embedding stage) of the NER, if it is the known shape."""
    if "ner" not in nlp.pipe_names:
        return None
    model = nlp.get_pipe("ner").model
    if not model.has_ref("tok2vec"):
        return None
    for node in model.get_ref("tok2vec").walk():
        if node.has_ref("embed") and node.has_ref("encode"):
            embed = node.get_ref("embed")
            leaves = {layer.name for layer in embed.walk() if not layer.layers}
            if (embed in node.layers and embed.layers
                    and embed.layers[0].name == "extract_features"
                    and leaves <= _ROW_WISE and embed.has_dim("nO")):
                return node, embed
            return None
    return None
