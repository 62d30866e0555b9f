"""The topic tagger the product runs: the taxonomy's rules and the learned model together.

The rules (processors/enrich/tagging.py) read the text sentence by sentence and say what
fired where; the model (processors/enrich/tagmodel.py) weighs those findings with the words
of the item and gives each tag a calibrated probability. A tag is emitted when its
probability reaches the threshold chosen for it by cross-validation, or when the taxonomy's
rules reach the tag's own threshold, scored in the title or the sentence after it (in a long
article: a window's; a finding only further on is mostly background and needs the model),
and the veto model does not rule the tag out: a second model per tag over the words alone,
whose probability must be at least the tag's rule floor (0.005, chosen by cross-validation).
The main model reads the rule score as a feature and so rarely overrules a rule hit; the
words-only one can, where an item's words are very unlike those of the tag's items in the
corpus. A rule an analyst writes takes effect at once, without a retrain (its hits raise the
rule score the model reads), and on unseen news the union is as precise as the model and
recalls more (bench/RESULTS.md, "tagger"). The tag's score is the model's probability either
way. Its evidence is, in order of preference, the sentences where its rules fired (with the
cues), else the sentences holding the words that raised the model's score most (with those
words as the cues). No sentence appears twice.

Tags the model was not trained for (an analyst added one to the taxonomy) are decided by
their rules and threshold alone, as before the model existed; with no model at all the
tagger is the rule engine. Pure: no I/O, no clock.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import sparse

from newsflow.article import Entity, Evidence, Tag
from processors.enrich.phrases import Token, sentence_spans
from processors.enrich.tagging import RuleScore, Tagger
from processors.enrich.tagmodel import TagModel, rule_features
from processors.enrich.taxonomy import Taxonomy

__all__ = ["TagInput", "TopicTagger"]

_WORD = re.compile(r"\w[\w'\u2019-]*\w|\w")


@dataclass(frozen=True)
class TagInput:
    text: str  # Article.text_for_analysis(): title, blank line, the rest
    entities: Sequence[Entity] = ()
    title_end: int = 0
    # tokenize(text), when the caller has it (Enricher: entities tokenised the same text);
    # None: the tagger tokenises.
    tokens: Sequence[Token] | None = None


class TopicTagger:
    """Rules + model. Build once per (taxonomy, model); ``tag`` keeps no state, so threads
    may share one."""

    def __init__(self, rules: Tagger, model: TagModel | None = None) -> None:
        self.rules = rules
        self.model = model
        known = set(rules.taxonomy.tag_ids)
        self._model_tags = (
            {t: j for j, t in enumerate(model.tags) if t in known} if model else {}
        )

    @property
    def taxonomy(self) -> Taxonomy:
        return self.rules.taxonomy

    @property
    def version(self) -> str:
        """What tagged an article: the taxonomy version, plus the model's when there is one
        (retag re-evaluates articles tagged by another version of either)."""
        if self.model is None:
            return self.rules.version
        return f"{self.rules.version}+model.{self.model.version}"

    def tag(self, text: str, entities: Sequence[Entity] = (), *, title_end: int = 0) -> list[Tag]:
        return self.tag_many([TagInput(text, entities, title_end)])[0]

    def tag_many(self, items: Sequence[TagInput]) -> list[list[Tag]]:
        """Tags for a batch: one model product for all of it (that is where batching pays)."""
        if not items:
            return []
        if self.model is None or not self._model_tags:
            return [
                self._rule_tags(i.text, self.rules.analyse(i.text, i.entities,
                                                           title_end=i.title_end,
                                                           tokens=i.tokens))
                for i in items
            ]
        model = self.model
        windows = [split_windows(i.text, i.title_end) for i in items]
        flat = [(row, w) for row, ws in enumerate(windows) for w in ws]
        analyses = [
            self.rules.analyse(
                w.text,
                items[row].entities,
                title_end=w.title_end,
                # A feed-sized item is one window, the item's own text: its tokens serve.
                tokens=items[row].tokens if w.text == items[row].text else None,
            )
            for row, w in flat
        ]
        x = model.features(
            [w.text for _, w in flat],
            [w.text[: w.title_end] for _, w in flat],
            [rule_features(a) for a in analyses],
        )
        probabilities, floor_probabilities = model.decision_probabilities(x)
        out: list[list[Tag]] = [[] for _ in items]
        first = 0
        for row, item in enumerate(items):
            span = range(first, first + len(windows[row]))
            first += len(windows[row])
            for definition in self.taxonomy.tags:
                j = self._model_tags.get(definition.id)
                if j is None:
                    # Not a learned tag: its rules decide, on the whole text.
                    whole = self.rules.analyse(
                        item.text, item.entities, title_end=item.title_end, tokens=item.tokens
                    )
                    out[row].extend(self._rule_tags(item.text, whole, only=definition.id))
                    continue
                threshold = model.thresholds[j]
                rule_threshold = definition.threshold
                floor = model.rule_floors[j]
                passing = sorted(
                    (
                        k
                        for k in span
                        if probabilities[k, j] >= threshold
                        or (
                            _rules_emit(_result(analyses[k], definition.id), rule_threshold)
                            and floor_probabilities[k, j] >= floor
                        )
                    ),
                    key=lambda k: -probabilities[k, j],
                )
                if not passing:
                    continue
                evidence = self._evidence(
                    item.text,
                    [(flat[k][1], _result(analyses[k], definition.id), k) for k in passing],
                    x,
                    j,
                )
                out[row].append(
                    Tag(
                        tag=definition.id,
                        score=round(float(probabilities[passing[0], j]), 3),
                        evidence=evidence,
                        taxonomy_version=self.version,
                    )
                )
        return out

    # -- pieces ------------------------------------------------------------------------------
    def _rule_tags(
        self, text: str, analysis: Sequence[RuleScore], only: str | None = None
    ) -> list[Tag]:
        tags: list[Tag] = []
        for result in analysis:
            if (only is not None and result.tag != only) or not result.sentences:
                continue
            if result.score < self.taxonomy.tag(result.tag).threshold:
                continue
            tags.append(
                Tag(
                    tag=result.tag,
                    score=round(result.score, 3),
                    evidence=self.rules.evidence(text, result.sentences),
                    taxonomy_version=self.version,
                )
            )
        return tags

    def _evidence(
        self,
        text: str,
        passing: Sequence[tuple[Window, RuleScore, int]],
        x: sparse.csr_matrix,
        j: int,
    ) -> list[Evidence]:
        """Evidence from the windows that passed (each with its row of the features ``x``),
        best first: the rules' sentences with their cues (plus the model's words found in
        them), else the sentences that hold the words that raised the model's score.
        Offsets are mapped back onto the whole text."""
        assert self.model is not None
        limit = self.taxonomy.scoring.max_evidence
        evidence: list[Evidence] = []
        seen: set[str] = set()
        for window, result, row in passing:
            words: dict[str, float] = {}
            for term, weight in self.model.explain_row(x, row, j, top=8).terms:
                if not term.startswith("r:"):  # rule features show as the rules' own cues
                    words[term] = words.get(term, 0.0) + weight
            if result.sentences:
                found = self.rules.evidence(window.text, result.sentences)
                for item in found:
                    extra = _terms_in(window.text[item.start : item.end], words)
                    item.cues.extend(t for t in extra if t not in item.cues)
            else:
                found = _word_evidence(window.text, words)
            for item in found:
                key = " ".join(item.sentence.split()).casefold()
                if key in seen:
                    continue
                seen.add(key)
                start, end = window.to_text(item.start), window.to_text(item.end)
                evidence.append(item.model_copy(update={"start": start, "end": end}))
                if len(evidence) == limit:
                    return evidence
        if not evidence:
            spans = sentence_spans(text)
            if spans:
                start, end = spans[0]
                evidence.append(Evidence(sentence=text[start:end], start=start, end=end))
        return evidence


@dataclass(frozen=True)
class Window:
    """A feed-item-sized piece of an article: its title, a blank line and a run of
    sentences. The model learned from titles with a one- or two-sentence description, so a
    long article is read as a series of such items."""

    text: str
    title_end: int
    body_start: int  # where the sentences start in ``text``
    source_start: int  # where they start in the whole article's text

    def to_text(self, offset: int) -> int:
        """An offset in this window -> the same character in the whole article."""
        if offset < self.body_start:
            return offset  # the title is the article's title
        return self.source_start + offset - self.body_start


#: Words per window: the corpus's descriptions run 30-60 words.
WINDOW_WORDS = 60


def split_windows(text: str, title_end: int, words: int = WINDOW_WORDS) -> list[Window]:
    """The whole text when it is feed-item sized, else the title plus consecutive runs of
    sentences of about ``words`` words each."""
    if len(text) - title_end <= 2 * words * 3:  # too short to hold 1.5x ``words`` words
        return [Window(text, title_end, 0, 0)]
    body = [(s, e) for s, e in sentence_spans(text) if s >= title_end]
    if not body or len(_WORD.findall(text, body[0][0])) <= words * 3 // 2:
        return [Window(text, title_end, 0, 0)]
    title = text[:title_end].strip()
    head = f"{title}\n\n" if title else ""
    runs: list[list[tuple[int, int]]] = [[]]
    count = 0
    for s, e in body:
        n = len(_WORD.findall(text, s, e))
        if runs[-1] and count + n > words:
            runs.append([])
            count = 0
        runs[-1].append((s, e))
        count += n
    return [
        Window(head + text[run[0][0] : run[-1][1]], len(title), len(head), run[0][0])
        for run in runs
    ]


def _rules_emit(result: RuleScore, threshold: float) -> bool:
    """The rules emit a learned tag on their own (still subject to the veto model) when
    they reach its threshold and scored in the title or the first sentence; a finding only
    further on needs the model (``fit.rule_hits``, which training scores the same way)."""
    return result.score >= threshold and result.opening


def _result(analysis: Sequence[RuleScore], tag: str) -> RuleScore:
    for result in analysis:
        if result.tag == tag:
            return result
    raise KeyError(tag)


def _word_evidence(text: str, words: dict[str, float]) -> list[Evidence]:
    """Sentences ranked by the model words they hold, with those words as the cues."""
    ranked: list[tuple[float, int, int, list[str]]] = []
    for start, end in sentence_spans(text):
        terms = _terms_in(text[start:end], words)
        if terms:
            ranked.append((sum(words[t] for t in terms), start, end, terms))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [
        Evidence(sentence=text[start:end], start=start, end=end, cues=terms,
                 score=round(score, 3))
        for score, start, end, terms in ranked
    ]


def _terms_in(sentence: str, words: dict[str, float]) -> list[str]:
    """The model's word features (uni- and bigrams, lower-cased) found in ``sentence``."""
    if not words:
        return []
    tokens = [t.casefold() for t in _WORD.findall(sentence)]
    present = set(tokens) | {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    found = [t for t in words if t in present]
    found.sort(key=lambda t: -words[t])
    return found
