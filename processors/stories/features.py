"""One article's features: TF-IDF vector, entity vector, copy fingerprint, exact keys.

- **Text**: content terms of the title and the body (stop words out, numbers in: "23
  pirates" against "26"), sublinear term frequency, title terms counted ``title_weight``
  times (a title that is only a date line counts as body), IDF from the background table
  plus the stream (``background.TermStatistics``), unit length, the ``max_terms`` heaviest.
  Only trailing boilerplate lines are dropped here; a short first line is often a
  sub-headline worth its words.
- **Entities**: the NER entities the worker already has, keyed by their lower-cased
  canonical name whatever the label (NER labels the same name ORG in one article and PERSON
  in the next), weighted by kind (people, organisations and places say *which* event;
  nationalities little), by ``1 + ln(mentions)``, and by an IDF learnt online from the
  stream (an outlet name or "U.S." is everywhere, a suspect's name is not).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import urlsplit

from processors.stories.background import TermStatistics
from processors.stories.copies import Fingerprint, Fingerprinter
from processors.stories.model import StoryEntity, StoryInput
from processors.stories.shingles import content_terms, prepare
from processors.stories.vectors import SparseVector, key_id, sparse

__all__ = ["DEFAULT_LABEL_WEIGHTS", "ArticleFeatures", "FeatureParams", "exact_keys", "featurize"]

DEFAULT_LABEL_WEIGHTS: Mapping[str, float] = {
    "PERSON": 1.0, "ORG": 1.0, "GPE": 1.0, "LOC": 1.0, "FAC": 1.0, "EVENT": 0.8,
    "PRODUCT": 0.6, "WORK_OF_ART": 0.6, "LAW": 0.6, "NORP": 0.3,
}


@dataclass(frozen=True)
class FeatureParams:
    title_weight: float = 2.0
    max_terms: int = 120
    label_weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_LABEL_WEIGHTS.items())
    other_label_weight: float = 0.5


@dataclass(frozen=True)
class ArticleFeatures:
    terms: tuple[str, ...]  # distinct content terms, for the stream's document frequencies
    text: SparseVector
    entity_keys: tuple[str, ...]
    entities: SparseVector
    entity_names: dict[int, str]
    fingerprint: Fingerprint
    exact_keys: tuple[str, ...]


def entity_key(entity: StoryEntity) -> str:
    r"""The lower-cased name, one space for each run of white space. str.split() and re's
    ``\s`` know the same white space (str.isspace, tests), and split is about three times
    faster than a regex substitution; the name is stripped first, so nothing is lost."""
    return " ".join(entity.name.strip().lower().replace("\u2019", "'").split())


def exact_keys(item: StoryInput) -> tuple[str, ...]:
    """URL (scheme, ``www.``, fragment and trailing slash ignored) and GUID keys."""
    keys: list[str] = []
    if item.url:
        parts = urlsplit(item.url.strip())
        host = parts.netloc.lower().removeprefix("www.")
        if host:
            query = f"?{parts.query}" if parts.query else ""
            keys.append(f"url:{host}{parts.path.rstrip('/')}{query}")
    if item.guid and item.guid.strip():
        keys.append(f"guid:{item.guid.strip()}")
    return tuple(keys)


def featurize(
    item: StoryInput,
    terms_idf: TermStatistics,
    entities_idf: TermStatistics,
    fingerprinter: Fingerprinter,
    params: FeatureParams,
) -> ArticleFeatures:
    text_words = prepare(item.title, item.text)
    title_weight = 1.0 if text_words.dateline_title else params.title_weight
    counts: dict[str, float] = dict(Counter(content_terms(text_words.body_words)))
    for term in content_terms(text_words.title_words):
        counts[term] = counts.get(term, 0.0) + title_weight
    weighted = terms_idf.tf_idf(counts)
    if params.max_terms and len(weighted) > params.max_terms:
        # The heaviest terms (ties: alphabetical, so the cut is the same in every process).
        # Sorted as (-weight, term) tuples, no key function; negating twice is exact.
        ranked = sorted([(-w, t) for w, t in weighted])[: params.max_terms]
        weighted = [(-nw, t) for nw, t in ranked]
    text = sparse({key_id(t): w for w, t in weighted})
    label_weights = _label_weights(params.label_weights)
    weights: dict[int, float] = {}
    names: dict[int, str] = {}
    key_ids: dict[str, int] = {}  # distinct keys in order of appearance -> their ids
    for entity in item.entities:
        key = entity_key(entity)
        if not key:
            continue
        kind = label_weights.get(entity.label, params.other_label_weight)
        w = kind * (1.0 + math.log(max(1, entity.count))) * entities_idf.idf(key)
        kid = key_ids.get(key)
        if kid is None:
            kid = key_ids[key] = key_id("e:" + key)
        if w > weights.get(kid, 0.0):
            weights[kid] = w
            names[kid] = entity.name
    return ArticleFeatures(
        terms=tuple(counts),
        text=text,
        entity_keys=tuple(key_ids),
        entities=sparse(weights),
        entity_names=names,
        fingerprint=fingerprinter.fingerprint(text_words, list(key_ids.values())),
        exact_keys=exact_keys(item),
    )


@lru_cache(maxsize=8)
def _label_weights(pairs: tuple[tuple[str, float], ...]) -> Mapping[str, float]:
    """The label weights as a dict, built once per parameter set (read-only)."""
    return MappingProxyType(dict(pairs))
