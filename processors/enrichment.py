"""The Enricher: entities and topic tags for a batch of articles.

The one object both faces use: the Faust agent (processors/agents.py, in an executor since
NER is CPU-bound) and ``newsflow enrich`` (batch JSON lines). It loads spaCy once with only
the components NER needs, the gazetteer and the taxonomy, and re-reads the taxonomy when
the file changes (``reload_taxonomy_if_changed``), so analysts' edits apply without a restart.

Offsets of entities and evidence index into ``Article.text_for_analysis()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from newsflow.article import Article, Entity, Tag
from newsflow.errors import ConfigError
from processors.entities import extract_entities, mentions_from_doc
from processors.gazetteer import Gazetteer, load_gazetteer
from processors.tagging import Tagger
from processors.taxonomy import load_taxonomy

__all__ = ["Enricher", "load_ner_pipeline"]

log = logging.getLogger(__name__)

# spaCy batch size for nlp.pipe: feed items are short, so large batches amortise overhead.
PIPE_BATCH_SIZE = 64


def load_ner_pipeline(model_name: str) -> Any:
    """Load a spaCy pipeline keeping only NER and the components NER listens to.

    In the en_core_web_* packages NER has its own tok2vec, so tagger, parser, lemmatizer and
    the shared tok2vec go; in pipelines where NER listens to a shared tok2vec/transformer,
    that one stays.
    """
    import spacy

    try:
        nlp = spacy.load(model_name)
    except OSError as exc:
        raise ConfigError(
            f"spaCy model {model_name!r} is not installed: pip install it, or set "
            f"processors.spacy_model (NEWSFLOW_PROCESSORS__SPACY_MODEL) to one that is"
        ) from exc
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"spaCy model {model_name!r} has no 'ner' component")
    keep = {"ner"}
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listening_components", None) or []
        if "ner" in listeners:
            keep.add(name)
    for name in [n for n in nlp.pipe_names if n not in keep]:
        nlp.remove_pipe(name)
    log.info("spaCy model loaded model=%s pipes=%s", model_name, ",".join(nlp.pipe_names))
    return nlp


class Enricher:
    def __init__(
        self,
        model_name: str,
        taxonomy_path: Path,
        *,
        gazetteer: Gazetteer | None = None,
        nlp: Any = None,
    ) -> None:
        self._nlp = nlp if nlp is not None else load_ner_pipeline(model_name)
        self.model_name = model_name
        self._gazetteer = gazetteer or load_gazetteer()
        self._taxonomy_path = Path(taxonomy_path)
        self._lock = threading.Lock()
        self._mtime = self._taxonomy_mtime()
        self._tagger = Tagger(load_taxonomy(self._taxonomy_path), self._gazetteer)
        log.info(
            "taxonomy loaded path=%s version=%s tags=%s",
            self._taxonomy_path,
            self.taxonomy_version,
            len(self._tagger.taxonomy.tags),
        )

    @property
    def taxonomy_version(self) -> str:
        return self._tagger.version

    @property
    def tagger(self) -> Tagger:
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
            self._tagger = Tagger(taxonomy, self._gazetteer)
            log.info(
                "taxonomy reloaded path=%s version=%s previous=%s",
                self._taxonomy_path,
                taxonomy.version,
                old,
            )
            return True

    # -- the work -----------------------------------------------------------------------------
    def entities_for(self, texts: Sequence[str]) -> list[list[Entity]]:
        """NER + normalisation for each text, batched through nlp.pipe."""
        docs: Iterable[Any] = self._nlp.pipe(texts, batch_size=PIPE_BATCH_SIZE)
        return [
            extract_entities(text, mentions_from_doc(doc), self._gazetteer)
            for text, doc in zip(texts, docs, strict=True)
        ]

    def tags_for(self, text: str, entities: Sequence[Entity], title_end: int = 0) -> list[Tag]:
        return self._tagger.tag(text, entities, title_end=title_end)

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]:
        """Copies of ``articles`` with entities, tags and enriched_at set."""
        texts = [a.text_for_analysis() for a in articles]
        tagger = self._tagger  # one taxonomy version for the whole batch
        enriched: list[Article] = []
        for article, text, entities in zip(articles, texts, self.entities_for(texts), strict=True):
            tags = tagger.tag(text, entities, title_end=len(article.title.strip()))
            enriched.append(
                article.model_copy(
                    update={"entities": entities, "tags": tags, "enriched_at": now}, deep=True
                )
            )
        return enriched
