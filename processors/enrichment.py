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
from processors.entities import extract_entities, mentions_from_doc
from processors.gazetteer import Gazetteer, load_gazetteer
from processors.tagging import Tagger
from processors.taxonomy import load_taxonomy

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


class _FieldMap:
    """Maps offsets in ``text_for_analysis()`` (stripped title, blank line, stripped text)
    back to the record's own ``title`` and ``text`` strings."""

    def __init__(self, title: str, text: str) -> None:
        stripped_title = title.strip()
        self._title_len = len(stripped_title)
        self._title_lead = len(title) - len(title.lstrip())
        self._text_lead = len(text) - len(text.lstrip())
        # text_for_analysis joins the non-empty parts with "\n\n".
        self._text_base = self._title_len + 2 if stripped_title else 0

    def __call__(self, start: int, end: int) -> tuple[str, int, int]:
        if self._title_len and start < self._title_len:
            return "title", start + self._title_lead, end + self._title_lead
        shift = self._text_lead - self._text_base
        return "text", start + shift, end + shift


def article_to_record(record: dict[str, Any], article: Article) -> dict[str, Any]:
    """The input record plus ``entities`` and ``tags``, offsets into ``title`` or ``text``
    as each item's ``field`` says."""
    where = _FieldMap(article.title, article.summary)
    entities = []
    for e in article.entities:
        field, start, end = where(e.start, e.end)
        entities.append({
            "text": e.text, "label": e.label, "canonical": e.canonical, "count": e.count,
            "field": field, "start": start, "end": end, "country_code": e.country_code,
        })
    tags = []
    for t in article.tags:
        evidence = []
        for ev in t.evidence:
            field, start, end = where(ev.start, ev.end)
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
