"""The Enricher: entities and topic tags for a batch of articles.

The one object both faces use: the Faust agent (processors/service/, in an executor since
NER is CPU-bound) and ``newsflow enrich`` (batch JSON lines, ``records.py``). It loads spaCy
once with only the components NER needs (``nlp.py``), the gazetteer and the taxonomy, and
re-reads the taxonomy when the file changes (``reload_taxonomy_if_changed``), so analysts'
edits apply without a restart.

Offsets of entities and evidence index into ``Article.text_for_analysis()``.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from newsflow.article import Article, Entity, Tag
from newsflow.errors import ConfigError
from processors.enrich.entities import (
    DEFAULT_OPTIONS,
    EntityOptions,
    Locate,
    extract_entities,
    mentions_from_doc,
)
from processors.enrich.gazetteer import Gazetteer, load_gazetteer
from processors.enrich.nlp import PIPE_BATCH_SIZE, load_ner_pipeline
from processors.enrich.offsets import article_locator
from processors.enrich.phrases import Token, tokenize
from processors.enrich.tagging import Tagger
from processors.enrich.tagmodel import DEFAULT_TAG_MODEL, TagModel
from processors.enrich.taxonomy import load_taxonomy
from processors.enrich.topic_tagger import TagInput, TopicTagger

__all__ = ["Enricher", "enriched_copy"]

log = logging.getLogger(__name__)


class Enricher:
    def __init__(
        self,
        model_name: str,
        taxonomy_path: Path,
        *,
        gazetteer: Gazetteer | None = None,
        nlp: Any = None,
        entity_options: EntityOptions = DEFAULT_OPTIONS,
        tag_model: Path | None = DEFAULT_TAG_MODEL,
    ) -> None:
        self._nlp = nlp if nlp is not None else load_ner_pipeline(model_name)
        self._entity_options = entity_options
        self.model_name = model_name
        self._gazetteer = gazetteer or load_gazetteer()
        self._taxonomy_path = Path(taxonomy_path)
        self._lock = threading.Lock()
        self._mtime = self._taxonomy_mtime()
        # The learned model is loaded once; a taxonomy edit keeps it (tags it does not know
        # fall back to their rules), a new model needs a restart like a new spaCy model.
        self._tag_model = TagModel.load(tag_model) if tag_model is not None else None
        self._tagger = TopicTagger(
            Tagger(load_taxonomy(self._taxonomy_path), self._gazetteer), self._tag_model
        )
        log.info(
            "taxonomy loaded path=%s version=%s tags=%s tag_model=%s",
            self._taxonomy_path,
            self.taxonomy_version,
            len(self._tagger.taxonomy.tags),
            tag_model or "none (rules only)",
        )

    @property
    def taxonomy_version(self) -> str:
        return self._tagger.version

    @property
    def tagger(self) -> TopicTagger:
        return self._tagger

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer

    def _taxonomy_mtime(self) -> float:
        try:
            return self._taxonomy_path.stat().st_mtime
        except OSError as exc:
            raise ConfigError(f"cannot read taxonomy {self._taxonomy_path}: {exc}") from exc

    def reload_taxonomy_if_changed(self) -> bool:
        """Re-read the taxonomy if its mtime changed. A broken edit is logged and the
        running taxonomy kept (the worker goes on tagging with the last good version)."""
        with self._lock:
            try:
                mtime = self._taxonomy_mtime()
            except ConfigError as exc:
                log.error("taxonomy reload skipped: %s", exc)
                return False
            if mtime == self._mtime:
                return False
            self._mtime = mtime
            try:
                taxonomy = load_taxonomy(self._taxonomy_path)
            except ConfigError as exc:
                log.error(
                    "taxonomy edit refused, keeping version %s: %s", self.taxonomy_version, exc
                )
                return False
            old = self.taxonomy_version
            self._tagger = TopicTagger(Tagger(taxonomy, self._gazetteer), self._tag_model)
            log.info(
                "taxonomy reloaded path=%s version=%s previous=%s",
                self._taxonomy_path,
                taxonomy.version,
                old,
            )
            return True

    # -- the work -----------------------------------------------------------------------------
    def entities_for(
        self,
        texts: Sequence[str],
        locators: Sequence[Locate] | None = None,
        tokens: Sequence[Sequence[Token]] | None = None,
    ) -> list[list[Entity]]:
        """NER + normalisation for each text, batched through nlp.pipe. Each entity lists
        every mention, placed by ``locators[i]`` (default: field "text", offsets into the
        text itself). ``tokens[i]``: ``tokenize(texts[i])``, if the caller has it."""
        docs: Iterable[Any] = self._nlp.pipe(texts, batch_size=PIPE_BATCH_SIZE)
        where: Sequence[Locate | None] = locators if locators is not None else [None] * len(texts)
        words: Sequence[Sequence[Token] | None] = (
            tokens if tokens is not None else [None] * len(texts)
        )
        return [
            extract_entities(
                text,
                mentions_from_doc(doc),
                self._gazetteer,
                locate=locate,
                options=self._entity_options,
                tokens=text_tokens,
            )
            for text, doc, locate, text_tokens in zip(texts, docs, where, words, strict=True)
        ]

    def tags_for(self, text: str, entities: Sequence[Entity], title_end: int = 0) -> list[Tag]:
        return self._tagger.tag(text, entities, title_end=title_end)

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]:
        """Copies of ``articles`` with entities, tags and enriched_at set."""
        texts = [a.text_for_analysis() for a in articles]
        locators = [article_locator(a, text) for a, text in zip(articles, texts, strict=True)]
        # Entities (names NER missed) and the tagger read the same tokens: made once.
        tokens = [tokenize(text) for text in texts]
        tagger = self._tagger  # one taxonomy version for the whole batch
        enriched: list[Article] = []
        found = self.entities_for(texts, locators, tokens)
        all_tags = tagger.tag_many([
            TagInput(text, entities, len(article.title.strip()), words)
            for article, text, entities, words in zip(articles, texts, found, tokens, strict=True)
        ])
        for article, entities, tags in zip(articles, found, all_tags, strict=True):
            enriched.append(
                enriched_copy(article, {"entities": entities, "tags": tags, "enriched_at": now})
            )
        return enriched


def enriched_copy(article: Article, update: dict[str, Any]) -> Article:
    """``article.model_copy(update=update, deep=True)`` without the deep copy's cost.

    The copy must share no mutable state with the input (the caller may go on using it),
    but ``update`` holds this batch's fresh entities and tags, which replace the input's, and
    the rest of the record is mostly strings and datetimes, which are immutable: deep-copying
    all of it (0.024 ms an article, 8x the shallow copy) is needless. Only the containers
    left from the input are deep-copied, written straight into ``__dict__`` as model_copy
    does, so that the fields set stay those of the input plus ``update``.
    """
    copied = article.model_copy(update=update)
    for name, value in article.__dict__.items():
        if name not in update and isinstance(value, list | dict | set):
            # Lists of strings (authors, feed labels, watches) need only a new list.
            copied.__dict__[name] = (
                list(value)
                if type(value) is list and all(type(v) is str for v in value)
                else copy.deepcopy(value)
            )
    return copied
