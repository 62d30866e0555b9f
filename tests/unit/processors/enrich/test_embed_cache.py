"""The NER's token embeddings computed once per distinct token: the table's bookkeeping (with a
stand-in stage), and the real pipeline's vectors and entities with and without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import spacy

from newsflow.settings import ProcessorSettings
from processors.enrich.embed_cache import TokenEmbeddingCache, cache_token_embeddings
from processors.enrich.nlp import load_ner_pipeline

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared"
SEED = SHARED / "examples" / "seed-article.txt"
DEV = SHARED / "eval" / "topics-dev.jsonl"
CONLL = SHARED / "eval" / "ner" / "eng.testa"
WIDTH = 3


# -- the table, with a stand-in stage: a "doc" is a list of token ids -------------------------

class Stage:
    """A row-wise stage: token id t -> [t, 2t, 3t]; counts the rows it computed."""

    def __init__(self) -> None:
        self.rows = 0

    def extract(self, docs: list[list[int]]) -> list[np.ndarray]:
        return [np.array([[t, t % 7] for t in doc], dtype=np.uint64).reshape(-1, 2)
                for doc in docs]

    def compute(self, features: list[np.ndarray]) -> list[np.ndarray]:
        self.rows += sum(len(f) for f in features)
        return [np.stack([f[:, 0] * k for k in (1, 2, 3)], axis=1).astype(np.float32)
                for f in features]


def direct(docs: list[list[int]]) -> list[np.ndarray]:
    stage = Stage()
    return stage.compute(stage.extract(docs))


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y)
                                    for x, y in zip(a, b, strict=True))


def test_each_distinct_token_is_computed_once_and_read_back_after() -> None:
    stage = Stage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=100)
    docs = [[1, 2, 3, 2], [3, 3, 4], []]
    assert same(cache(docs), direct(docs))
    assert stage.rows == 4 and cache.computed == 4 and len(cache) == 4
    again = [[4, 1], [5]]
    assert same(cache(again), direct(again))
    assert stage.rows == 5  # only 5 was new
    assert cache.reused == 2 and cache.computed == 5


def test_the_answer_does_not_alias_the_table() -> None:
    stage = Stage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=100)
    [first] = cache([[1, 2]])
    first[:] = -1
    assert same(cache([[1, 2]]), direct([[1, 2]]))


def test_a_full_table_is_emptied_and_refilled_with_the_batch() -> None:
    stage = Stage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=4)
    assert same(cache([[1, 2, 3]]), direct([[1, 2, 3]]))
    assert same(cache([[3, 4, 5]]), direct([[3, 4, 5]]))  # 4 and 5 do not fit beside 1, 2, 3
    assert cache.resets == 1 and len(cache) == 3  # 3, 4, 5: the batch's rows, all recomputed
    assert cache.reused == 0  # 3 was in the table, but the table was emptied before use
    assert same(cache([[5, 4, 3]]), direct([[5, 4, 3]]))
    assert cache.resets == 1 and stage.rows == 6 and cache.reused == 3


def test_a_batch_larger_than_the_table_is_computed_and_not_kept() -> None:
    stage = Stage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=2)
    docs = [[1, 2], [3, 1]]
    assert same(cache(docs), direct(docs))
    assert len(cache) == 0 and cache.computed == 3


def test_two_threads_do_not_share_rows() -> None:
    """Each call reads the table after computing into it: two threads at once must not take
    the same free rows (the stand-in stage is slow, so that both are inside together)."""
    import threading
    import time

    class SlowStage(Stage):
        def compute(self, features: list[np.ndarray]) -> list[np.ndarray]:
            time.sleep(0.05)
            return super().compute(features)

    stage = SlowStage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=100)
    inputs = [[[1, 2, 3]], [[10, 20, 30]]]
    outputs: list[list[np.ndarray]] = [[], []]

    def run(n: int) -> None:
        outputs[n] = cache(inputs[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for docs, out in zip(inputs, outputs, strict=True):
        assert same(out, direct(docs))
    assert same(cache([[1, 2, 3, 10, 20, 30]]), direct([[1, 2, 3, 10, 20, 30]]))


def test_empty_input_and_empty_docs() -> None:
    stage = Stage()
    cache = TokenEmbeddingCache(stage.extract, stage.compute, WIDTH)
    assert cache([]) == []
    out = cache([[], []])
    assert [x.shape for x in out] == [(0, WIDTH), (0, WIDTH)]
    with pytest.raises(ValueError):
        TokenEmbeddingCache(stage.extract, stage.compute, WIDTH, capacity=0)


# -- the real pipeline ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipelines() -> tuple[Any, Any]:
    model = ProcessorSettings().spacy_model
    return (load_ner_pipeline(model, cache_embeddings=False), load_ner_pipeline(model))


def corpus() -> list[str]:
    texts = [SEED.read_text(encoding="utf-8")]
    with DEV.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    texts += [f"{r['title']}\n\n{r['text']}" for r in rows[:400]]
    sentence: list[str] = []
    for line in CONLL.read_text(encoding="utf-8").splitlines()[:8000]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence:
                texts.append(" ".join(sentence))
            sentence = []
        else:
            sentence.append(line.split()[0])
    return texts


def entities(nlp: Any, texts: list[str]) -> list[list[tuple[int, int, str]]]:
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents]
            for doc in nlp.pipe(texts, batch_size=64)]


def test_the_model_of_the_settings_is_cached(pipelines: tuple[Any, Any]) -> None:
    plain, cached = pipelines
    names = [node.name for node in cached.get_pipe("ner").model.walk()]
    assert "cached_embed" in names
    assert "cached_embed" not in [node.name for node in plain.get_pipe("ner").model.walk()]


def test_same_entities_with_and_without_the_cache(pipelines: tuple[Any, Any]) -> None:
    plain, cached = pipelines
    texts = corpus()
    assert len(texts) > 700
    expected = entities(plain, texts)
    assert sum(map(len, expected)) > 1000
    assert entities(cached, texts) == expected  # cold
    assert entities(cached, texts[::-1]) == expected[::-1]  # warm, other batches


def test_same_vectors_with_and_without_the_cache(pipelines: tuple[Any, Any]) -> None:
    plain, cached = pipelines
    texts = corpus()[:200]
    docs = [plain.make_doc(t) for t in texts]
    # The NER's tok2vec chain starts with the embed >> encode part: one array per doc.
    tok2vec_plain = plain.get_pipe("ner").model.get_ref("tok2vec").layers[0]
    tok2vec_cached = cached.get_pipe("ner").model.get_ref("tok2vec").layers[0]
    cached_out = tok2vec_cached.predict(docs[100:] + docs[:100])
    for a, b in zip(tok2vec_plain.predict(docs), cached_out[100:] + cached_out[:100],
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_a_small_table_gives_the_same_entities() -> None:
    nlp = load_ner_pipeline(ProcessorSettings().spacy_model, cache_embeddings=False)
    texts = corpus()[:300]
    expected = entities(nlp, texts)
    cache = cache_token_embeddings(nlp, capacity=600)
    assert cache is not None
    assert entities(nlp, texts) == expected
    assert cache.resets > 0 and len(cache) <= 600
    assert cache_token_embeddings(nlp) is None  # already cached: not wrapped twice
    assert entities(nlp, texts) == expected


def test_a_fresh_cnn_ner_is_cached_and_still_trains() -> None:
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    ner.add_label("ORG")
    nlp.initialize()
    docs = [nlp.make_doc(t) for t in ("Acme Corp hired Bob.", "Bob left Acme Corp.", "")]
    tok2vec = ner.model.get_ref("tok2vec").layers[0]
    before = tok2vec.predict(docs)
    cache = cache_token_embeddings(nlp)
    assert cache is not None
    for a, b in zip(before, tok2vec.predict(docs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert cache.computed == len({t.text for d in docs for t in d})
    from spacy.training import Example
    example = Example.from_dict(nlp.make_doc("Acme Corp hired Bob."),
                                {"entities": [(0, 9, "ORG")]})
    losses = nlp.update([example])  # training goes through the model's own stage
    assert np.isfinite(losses["ner"])


def test_a_ner_listening_to_a_shared_tok2vec_is_left_as_it_is() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    ner = nlp.add_pipe("ner", config={"model": {"tok2vec": {
        "@architectures": "spacy.Tok2VecListener.v1", "width": 96}}})
    ner.add_label("ORG")
    nlp.initialize()
    names = [node.name for node in ner.model.walk()]
    assert cache_token_embeddings(nlp) is None
    assert [node.name for node in ner.model.walk()] == names
    assert cache_token_embeddings(spacy.blank("en")) is None  # no NER at all


def test_a_ner_with_static_vectors_is_left_as_it_is() -> None:
    """Static vectors are looked up by the word itself, which is not among the four ids the
    table is keyed on: such a stage must not be cached."""
    nlp = spacy.blank("en")
    nlp.vocab.reset_vectors(width=8)
    nlp.vocab.set_vector("Acme", np.ones(8, dtype=np.float32))
    embed = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 96,
             "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [500, 100, 250, 250],
             "include_static_vectors": True}
    encode = {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 96, "depth": 1,
              "window_size": 1, "maxout_pieces": 3}
    ner = nlp.add_pipe("ner", config={"model": {"tok2vec": {
        "@architectures": "spacy.Tok2Vec.v2", "embed": embed, "encode": encode}}})
    ner.add_label("ORG")
    nlp.initialize()
    names = [node.name for node in ner.model.walk()]
    assert any("static_vectors" in name for name in names)
    assert cache_token_embeddings(nlp) is None
    assert [node.name for node in ner.model.walk()] == names
