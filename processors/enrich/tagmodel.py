"""The learned half of the topic tagger: a linear model per tag over word n-grams and the rule
engine's findings, with calibrated probabilities and per-tag thresholds.

The model file is plain arrays (``numpy.savez``) plus a JSON header, never a pickle: loading it
runs no code, and it does not break when scikit-learn's private classes change. It is built by
``processors/training`` (``newsflow tagger train``) from the labelled corpus and shipped in
``processors/enrich/data/``. At run time scikit-learn only tokenises (``TfidfVectorizer`` with the
stored vocabulary and idf); the scoring is one sparse product per batch.

Features of an article (title, blank line, description or text):
- ``w:`` word 1-2-grams of the whole text, TF-IDF, sublinear tf, l2-normalised;
- ``t:`` word 1-2-grams of the title alone (headlines carry the topic in short items);
- ``r:`` rule features from ``Tagger.analyse``: each tag's rule score (squashed to 0..1)
  and one indicator per rule or negative that fired. The rules bring what a bag of words
  cannot see: entity conditions ("two states joined"), cue phrases, vetoes.

Per tag the file also holds the decision: the threshold on the calibrated probability and
the rule floor, the probability a tag must at least get for the taxonomy's rules to emit it
on their own (``TopicTagger``). That probability comes from the **veto model**, a second
linear model per tag over the word features alone: the main model reads the rule score as a
feature and so rarely disagrees with a rule hit, while the words-only model gives an opinion
of its own (bench/RESULTS.md "tagger", session 13). A format 1 file (before the veto model)
reads its floors against the main model's probability; one without floors (older still) as
floors of 0: the rules at their threshold always emit.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from newsflow.errors import ConfigError
from processors.enrich.tagging import RuleScore

__all__ = [
    "DEFAULT_TAG_MODEL",
    "FORMAT",
    "READS",
    "VECTORIZER_PARAMS",
    "TagModel",
    "make_vectorizer",
    "rule_features",
    "rule_openings",
    "squash_rule_score",
]

#: Bumped when the file layout or the meaning of a feature changes; a model of a format this
#: build does not read is refused at load (retrain with ``newsflow tagger train``). 2: the
#: veto model, against which the rule floors are read (a build that knows only 1 would read
#: them against the main model and must refuse the file instead).
FORMAT = 2
#: Format 1 files (no veto model; floors against the main model) still load.
READS = (1, 2)

#: The shipped model, trained from processors/training/labels for processors/enrich/taxonomy.yaml.
DEFAULT_TAG_MODEL = Path(__file__).resolve().parent / "tagmodel.npz"

#: Tokenisation shared by training and run time (stored in the file too, and checked).
VECTORIZER_PARAMS: dict[str, Any] = {
    "lowercase": True,
    "ngram_range": (1, 2),
    "token_pattern": r"(?u)\b\w[\w'\u2019-]*\w\b|\b\w\b",
    "sublinear_tf": True,
    "strip_accents": "unicode",
}


def make_vectorizer(**overrides: Any) -> TfidfVectorizer:
    params = {**VECTORIZER_PARAMS, **overrides}
    return TfidfVectorizer(**params)


def squash_rule_score(score: float) -> float:
    """A rule score as a 0..1 feature: 1 - e^(-s/2), so 2 (the usual threshold) is 0.63."""
    return 1.0 - math.exp(-score / 2.0)


def rule_features(results: Sequence[RuleScore]) -> dict[str, float]:
    """The rule engine's findings on one article as named features."""
    features: dict[str, float] = {}
    for result in results:
        if result.score > 0:
            features[f"r:score:{result.tag}"] = squash_rule_score(result.score)
        for rule_id in result.fired:
            features[f"r:{result.tag}:{rule_id}"] = 1.0
    return features


def rule_openings(results: Sequence[RuleScore]) -> frozenset[str]:
    """The tags whose rules scored in the article's title or first sentence
    (``RuleScore.opening``): the only ones the rules may emit without the model's support."""
    return frozenset(result.tag for result in results if result.opening)


@dataclass(frozen=True)
class Explanation:
    """Why the model scored a tag: the word features that pushed it up, strongest first."""

    terms: list[tuple[str, float]]


class TagModel:
    """Per-tag linear scores -> calibrated probabilities -> thresholded decisions."""

    def __init__(
        self,
        *,
        tags: Sequence[str],
        text_vocabulary: Sequence[str],
        text_idf: np.ndarray,
        title_vocabulary: Sequence[str],
        title_idf: np.ndarray,
        rule_names: Sequence[str],
        coef: np.ndarray,  # (features, tags): text, then title, then rule features
        intercept: np.ndarray,  # (tags,)
        calibration: np.ndarray,  # (tags, 2): probability = sigmoid(a * margin + b)
        thresholds: np.ndarray,  # (tags,) on the calibrated probability
        meta: dict[str, Any],
        rule_floors: np.ndarray | None = None,  # (tags,); None: 0 (rules alone may emit)
        # The veto model: word features only (text, then title), calibrated like the main one.
        veto_coef: np.ndarray | None = None,  # (word features, tags)
        veto_intercept: np.ndarray | None = None,  # (tags,)
        veto_calibration: np.ndarray | None = None,  # (tags, 2)
    ) -> None:
        self.tags = list(tags)
        self.meta = meta
        self._text_vocabulary = list(text_vocabulary)
        self._title_vocabulary = list(title_vocabulary)
        self._rule_names = list(rule_names)
        self._rule_index = {name: i for i, name in enumerate(self._rule_names)}
        self._text_vec = _fixed_vectorizer(self._text_vocabulary, text_idf)
        self._title_vec = _fixed_vectorizer(self._title_vocabulary, title_idf)
        self._text_idf = np.asarray(text_idf, dtype=np.float64)
        self._title_idf = np.asarray(title_idf, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.calibration = np.asarray(calibration, dtype=np.float64)
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.rule_floors = (
            np.zeros(len(self.tags))
            if rule_floors is None
            else np.asarray(rule_floors, dtype=np.float64)
        )
        expected = len(self._text_vocabulary) + len(self._title_vocabulary) + len(rule_names)
        if self.coef.shape != (expected, len(self.tags)):
            raise ConfigError(
                f"tag model is inconsistent: coef {self.coef.shape}, expected "
                f"({expected}, {len(self.tags)})"
            )
        if self.rule_floors.shape != (len(self.tags),):
            raise ConfigError(
                f"tag model is inconsistent: {self.rule_floors.shape[0]} rule floors for "
                f"{len(self.tags)} tags"
            )
        self.veto: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # Main and veto scores in one sparse product: the veto's rule-feature rows are 0.
        self._joint_coef = self.coef
        if veto_coef is not None and veto_intercept is not None and veto_calibration is not None:
            n_words = len(self._text_vocabulary) + len(self._title_vocabulary)
            v_coef = np.asarray(veto_coef, dtype=np.float64)
            v_intercept = np.asarray(veto_intercept, dtype=np.float64)
            v_calibration = np.asarray(veto_calibration, dtype=np.float64)
            if (v_coef.shape != (n_words, len(self.tags))
                    or v_intercept.shape != (len(self.tags),)
                    or v_calibration.shape != (len(self.tags), 2)):
                raise ConfigError(
                    f"tag model is inconsistent: veto coef {v_coef.shape}, expected "
                    f"({n_words}, {len(self.tags)})"
                )
            n_tags = len(self.tags)
            self._joint_coef = np.zeros((self.coef.shape[0], 2 * n_tags))
            self._joint_coef[:, :n_tags] = self.coef
            self._joint_coef[:n_words, n_tags:] = v_coef
            # Both models' coefficients are views of the joint matrix: one copy in memory,
            # and a change to either is what the decision reads.
            self.coef = self._joint_coef[:, :n_tags]
            self.veto = (self._joint_coef[:n_words, n_tags:], v_intercept, v_calibration)

    # -- scoring ---------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.meta.get("model_version", "unversioned"))

    def features(
        self, texts: Sequence[str], titles: Sequence[str], rules: Sequence[dict[str, float]]
    ) -> sparse.csr_matrix:
        text_x = self._text_vec.transform(texts)
        title_x = self._title_vec.transform(titles)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for row, feats in enumerate(rules):
            for name, value in feats.items():
                col = self._rule_index.get(name)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
                    vals.append(value)
        rule_x = sparse.csr_matrix(
            (vals, (rows, cols)), shape=(len(rules), len(self._rule_names))
        )
        return sparse.hstack([text_x, title_x, rule_x], format="csr")

    def margins(self, x: sparse.csr_matrix) -> np.ndarray:
        margins: np.ndarray = np.asarray(x @ self.coef) + self.intercept
        return margins

    def probabilities(self, x: sparse.csr_matrix) -> np.ndarray:
        return _calibrated(self.margins(x), self.calibration)

    def decision_probabilities(self, x: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(the tags' probabilities, the probabilities their rule floors are read against):
        the veto model's, or without one the main model's again."""
        if self.veto is None:
            probabilities = self.probabilities(x)
            return probabilities, probabilities
        n_tags = len(self.tags)
        _, v_intercept, v_calibration = self.veto
        margins = np.asarray(x @ self._joint_coef)
        main = _calibrated(margins[:, :n_tags] + self.intercept, self.calibration)
        veto = _calibrated(margins[:, n_tags:] + v_intercept, v_calibration)
        return main, veto

    def explain_row(
        self, x: sparse.csr_matrix, row: int, tag_index: int, top: int = 6
    ) -> Explanation:
        """The features of article ``row`` of the batch's matrix ``x`` that raised the tag's
        score most. The row's stored values are read in place: slicing ``x[row]`` out would
        build a new sparse matrix, more work than the explanation itself."""
        lo, hi = x.indptr[row], x.indptr[row + 1]
        data, indices = x.data[lo:hi], x.indices[lo:hi]
        contributions = data * self.coef[indices, tag_index]
        order = np.argsort(-contributions)
        terms: list[tuple[str, float]] = []
        for i in order[:top]:
            if contributions[i] <= 0:
                break
            terms.append((self.feature_name(int(indices[i])), float(contributions[i])))
        return Explanation(terms)

    def feature_name(self, column: int) -> str:
        n_text = len(self._text_vocabulary)
        n_title = len(self._title_vocabulary)
        if column < n_text:
            return self._text_vocabulary[column]
        if column < n_text + n_title:
            return self._title_vocabulary[column - n_text]
        return self._rule_names[column - n_text - n_title]

    # -- the file ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        file_format = FORMAT if self.veto is not None else 1
        header = {**self.meta, "format": file_format, "tags": self.tags}
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), np.uint8),
            "text_vocabulary": np.array(self._text_vocabulary, dtype=np.str_),
            "text_idf": self._text_idf.astype(np.float32),
            "title_vocabulary": np.array(self._title_vocabulary, dtype=np.str_),
            "title_idf": self._title_idf.astype(np.float32),
            "rule_names": np.array(self._rule_names, dtype=np.str_),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "calibration": self.calibration.astype(np.float32),
            "thresholds": self.thresholds.astype(np.float32),
            "rule_floors": self.rule_floors.astype(np.float32),
        }
        if self.veto is not None:
            for name, values in zip(_VETO_ARRAYS, self.veto, strict=True):
                arrays[name] = values.astype(np.float32)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> TagModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode("utf-8"))
                file_format = header.get("format")
                if file_format not in READS:
                    raise ConfigError(
                        f"tag model {path} has format {file_format}, this build reads "
                        f"{', '.join(map(str, READS))}: rebuild it with `newsflow tagger train`"
                    )
                has_veto = set(_VETO_ARRAYS) <= set(data.files)
                if (file_format >= 2) != has_veto:
                    raise ConfigError(
                        f"tag model {path} is inconsistent: format {file_format} "
                        f"{'without' if not has_veto else 'with'} a veto model"
                    )
                return cls(
                    tags=header["tags"],
                    text_vocabulary=data["text_vocabulary"].tolist(),
                    text_idf=data["text_idf"],
                    title_vocabulary=data["title_vocabulary"].tolist(),
                    title_idf=data["title_idf"],
                    rule_names=data["rule_names"].tolist(),
                    coef=data["coef"],
                    intercept=data["intercept"],
                    calibration=data["calibration"],
                    thresholds=data["thresholds"],
                    meta={k: v for k, v in header.items() if k not in ("format", "tags")},
                    rule_floors=data["rule_floors"] if "rule_floors" in data.files else None,
                    **({name: data[name] for name in _VETO_ARRAYS} if has_veto else {}),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot read tag model {path}: {exc}") from exc


_VETO_ARRAYS = ("veto_coef", "veto_intercept", "veto_calibration")


def _calibrated(margins: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """Platt scaling per tag: sigmoid(a * margin + b)."""
    probabilities: np.ndarray = 1.0 / (
        1.0 + np.exp(-(calibration[:, 0] * margins + calibration[:, 1]))
    )
    return probabilities


def _fixed_vectorizer(vocabulary: Sequence[str], idf: np.ndarray) -> TfidfVectorizer:
    vec = make_vectorizer(vocabulary={term: i for i, term in enumerate(vocabulary)})
    vec.idf_ = np.asarray(idf, dtype=np.float64)
    return vec
