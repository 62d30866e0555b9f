"""The topic tagger: text + entities + taxonomy -> tags with evidence. Pure: no I/O, no clock.

Scoring, sentence by sentence. In each sentence every rule of a tag fires at most once, when
one of its cues, one cue of each ``also`` group and its entity conditions are all found in
that sentence (and each ``context`` group somewhere in the article), and none of its
``unless`` cues is. The sentence scores the sum of the fired rules' weights; a fired
negative rule subtracts its weight, or zeroes the sentence with ``veto`` (negatives with
``scope: article`` act on the article's score instead). The title's sentence is multiplied
by ``scoring.title_weight``. The article's score is its best sentence plus
``support_weight`` times the others, so that a topic the article keeps returning to
outranks a passing mention. A tag is emitted when the article's score reaches the tag's
threshold; its evidence is the best sentences with the cues that fired in them.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from newsflow.article import Entity, Evidence, Tag
from processors.enrich.gazetteer import Gazetteer, StateMention
from processors.enrich.phrases import PhraseMatcher, Token, sentence_spans, split_tokens, tokenize
from processors.enrich.taxonomy import EntityCondition, Rule, Taxonomy

__all__ = ["RuleScore", "ScoredSentence", "SentenceFacts", "Tagger", "tag_text"]

_STATE_AFTER_GAP = re.compile(r"\s+(?:the\s+)?")
# A compass point naming a part of the state after a cue ("into northern Iraq"); tried only
# where no state follows directly, so that "South Korea" and "Northern Ireland" stay whole.
_COMPASS_POINT = re.compile(
    r"(?:(?:far[\s-]+)?(?:(?:north|south)(?:-?(?:east|west))?|east|west)(?:ern)?|central)\s+",
    re.IGNORECASE,
)
# What may come before a sentence's subject: nothing, an article, a quote or a dash.
_LEAD_GAP = re.compile(r"[\s\"'\u2018\u201c\u2014\-]*(?:the\s+)?", re.IGNORECASE)
# What may stand between two coordinated states: "China and Russia", "US-Philippine",
# "Russia, China and Iran", "Moscow/Beijing".
_JOINED_GAP = re.compile(r"\s*(?:,\s*and|,|and|&|/|-|\u2013|\u2014)?\s*")


@dataclass
class SentenceFacts:
    """What the tagger found in one sentence; rules are evaluated against it."""

    start: int
    end: int
    in_title: bool
    cues: dict[str, str] = field(default_factory=dict)  # cue -> first surface in the sentence
    states: list[StateMention] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    joined: list[tuple[StateMention, StateMention]] = field(default_factory=list)
    # the joined pairs that open the sentence (its subject)
    lead: list[tuple[StateMention, StateMention]] = field(default_factory=list)
    # cue -> the states right after it ("troops in Poland": "troops in" -> [Poland])
    state_after: dict[str, list[StateMention]] = field(default_factory=dict)
    # cue -> the states after it and a compass point ("into northern Iraq" -> [Iraq]); read by
    # rules with ``state_after_part``
    state_after_part: dict[str, list[StateMention]] = field(default_factory=dict)
    # cue -> (start, end) of each of its occurrences, and the sentence's word starts: what
    # ``target_abroad`` measures its reach with.
    cue_spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    word_starts: list[int] = field(default_factory=list)
    # Places the entities locate in a country ("Aleppo" -> SY, "Belgorod" -> RU), by offset.
    places: list[StateMention] = field(default_factory=list)
    text: str = ""  # the article's text the offsets point into
    # The same sentence with its leaders counted as states ("Xi meets Putin"), for rules
    # that ask for it (``EntityCondition.leaders``); None when it names no leader, or when
    # its states, leaders included, are one state's. It shares the cues, labels and places
    # lists with this one.
    with_leaders: SentenceFacts | None = None
    # It opens with a teaser phrase (``Scoring.teaser_phrases``): a newsletter's list of its
    # other stories, where no rule fires.
    teaser: bool = False

    @property
    def state_codes(self) -> set[str]:
        codes: set[str] = set()
        for s in self.states:
            codes |= s.codes
        return codes


class ScoredSentence(NamedTuple):
    """A sentence that scored for one tag: its weighted score and the surfaces that fired."""

    score: float
    facts: SentenceFacts
    cues: list[str]


@dataclass(frozen=True)
class RuleScore:
    """One tag's rule result on one article, before its threshold is applied."""

    tag: str
    score: float
    sentences: list[ScoredSentence]  # best first
    fired: frozenset[str]  # ids of the rules and negatives that fired anywhere
    # A sentence that scored is the title or the first sentence after it: the item's
    # subject. Findings only further on are often background ("..., after Finland
    # applied to join NATO"); the learned tagger lets the rules alone emit only these.
    opening: bool = False


class Tagger:
    """A taxonomy compiled for matching. Build once per taxonomy version; reuse freely
    (``tag`` keeps no state between calls, so threads may share one)."""

    def __init__(self, taxonomy: Taxonomy, gazetteer: Gazetteer) -> None:
        self.taxonomy = taxonomy
        self._gazetteer = gazetteer
        cues: set[str] = set()
        for tag in taxonomy.tags:
            for rule in (*tag.rules, *tag.negatives):
                cues.update(rule.all_cues())
        self._timing = frozenset(taxonomy.scoring.timing_phrases)
        self._teasers = frozenset(taxonomy.scoring.teaser_phrases)
        cues.update(self._timing, self._teasers)
        self._matcher: PhraseMatcher[str] = PhraseMatcher((c, c) for c in sorted(cues))
        self._rules_by_cue = {tag.id: _RuleIndex.of(tag.rules) for tag in taxonomy.tags}

    @property
    def version(self) -> str:
        return self.taxonomy.version

    def sentences(
        self,
        text: str,
        entities: Sequence[Entity] = (),
        title_end: int = 0,
        tokens: Sequence[Token] | None = None,
    ) -> list[SentenceFacts]:
        """``tokens``: ``tokenize(text)`` when the caller has it already (entities
        tokenised the same text), else the text is tokenised here, once."""
        facts: list[SentenceFacts] = []
        spans = sentence_spans(text)
        per_sentence = split_tokens(tokenize(text) if tokens is None else tokens, spans)
        for (start, end), words in zip(spans, per_sentence, strict=True):
            sentence = SentenceFacts(start, end, in_title=start < title_end, text=text)
            matches = self._matcher.find_spans(text, words)
            if self._teasers and words and _opens_with(matches, self._teasers, words[0].start):
                sentence.teaser = True
                facts.append(sentence)
                continue
            if self._timing:
                matches = _outside_timing_clauses(
                    text, words, matches, self._timing, self.taxonomy.scoring.timing_reach, end
                )
            for _, cue, cue_start, cue_end in matches:
                sentence.cues.setdefault(cue, text[cue_start:cue_end])
                sentence.cue_spans.setdefault(cue, []).append((cue_start, cue_end))
            sentence.word_starts = [w.start for w in words]
            mentions = self._gazetteer.state_mentions(text, words)
            states = [m for m in mentions if m.kind != "leader"]
            _locate_states(sentence, states, matches)
            if len(states) < len(mentions) and _two_states(mentions):
                # What rules that count leaders see. Leaders count only beside another
                # state: with one state in all ("Biden visits Lewiston", "Xi visits
                # Shanghai") a leader names no state he deals with.
                sentence.with_leaders = replace(sentence, state_after={},
                                                state_after_part={})
                _locate_states(sentence.with_leaders, mentions, matches)
            facts.append(sentence)
        _place_labels(text, entities, facts)
        return facts

    def analyse(
        self,
        text: str,
        entities: Sequence[Entity] = (),
        *,
        title_end: int = 0,
        tokens: Sequence[Token] | None = None,
    ) -> list[RuleScore]:
        """Every tag's rule score, whether or not it reaches the threshold: what fired where.

        The learned model (processors/enrich/tagmodel.py) reads these as features; ``tag`` applies
        the taxonomy's thresholds to them. ``tokens``: ``tokenize(text)``, if already made.
        """
        facts = self.sentences(text, entities, title_end, tokens)
        lead = next((s.start for s in facts if not s.in_title), -1)
        article_cues: set[str] = set()
        for sentence in facts:
            article_cues.update(sentence.cues)
        scoring = self.taxonomy.scoring
        results: list[RuleScore] = []
        for definition in self.taxonomy.tags:
            scored: list[ScoredSentence] = []
            fired: set[str] = set()
            index = self._rules_by_cue[definition.id]
            for sentence in facts:
                if sentence.teaser or index.none_fires(sentence.cues):
                    continue
                rules = index.candidates(definition.rules, sentence.cues)
                if not rules:
                    continue
                score, cues, rule_ids = _score_sentence(
                    rules, definition.negatives, sentence, article_cues
                )
                fired |= rule_ids
                if score > 0:
                    if sentence.in_title:
                        score *= scoring.title_weight
                    scored.append(ScoredSentence(score, sentence, cues))
            if not scored:
                results.append(RuleScore(definition.id, 0.0, [], frozenset(fired)))
                continue
            scored.sort(key=lambda item: (-item.score, item.facts.start))
            total = scored[0].score + scoring.support_weight * sum(s.score for s in scored[1:])
            total, vetoed = _article_negatives(definition.negatives, facts, article_cues, total)
            opening = any(s.facts.in_title or s.facts.start == lead for s in scored)
            results.append(
                RuleScore(definition.id, total, scored, frozenset(fired | vetoed), opening)
            )
        return results

    def tag(self, text: str, entities: Sequence[Entity] = (), *, title_end: int = 0) -> list[Tag]:
        """Tags for ``text`` (title first, ending at ``title_end``; 0 = no title)."""
        tags: list[Tag] = []
        for result in self.analyse(text, entities, title_end=title_end):
            definition = self.taxonomy.tag(result.tag)
            if not result.sentences or result.score < definition.threshold:
                continue
            tags.append(
                Tag(
                    tag=result.tag,
                    score=round(result.score, 3),
                    evidence=self.evidence(text, result.sentences),
                    taxonomy_version=self.taxonomy.version,
                )
            )
        return tags

    def evidence(self, text: str, scored: Sequence[ScoredSentence]) -> list[Evidence]:
        """The best sentences, each once: a lead that a feed repeats at the top of its
        content is one piece of evidence, not two."""
        evidence: list[Evidence] = []
        seen: set[str] = set()
        for item in scored:
            sentence = text[item.facts.start : item.facts.end]
            key = " ".join(sentence.split()).casefold()
            if key in seen:
                continue
            seen.add(key)
            evidence.append(
                Evidence(
                    sentence=sentence,
                    start=item.facts.start,
                    end=item.facts.end,
                    cues=item.cues,
                    score=round(item.score, 3),
                )
            )
            if len(evidence) == self.taxonomy.scoring.max_evidence:
                break
        return evidence


def tag_text(
    text: str,
    entities: Sequence[Entity],
    taxonomy: Taxonomy,
    gazetteer: Gazetteer,
    *,
    title_end: int = 0,
) -> list[Tag]:
    """One-shot form of Tagger(taxonomy, gazetteer).tag(...) (compiles the taxonomy)."""
    return Tagger(taxonomy, gazetteer).tag(text, entities, title_end=title_end)


# -- timing clauses -----------------------------------------------------------------------------

# Where a timing clause ends: the next comma, semicolon, colon, dash or bracket.
_CLAUSE_END = re.compile(r"[,;:()\[\]\u2013\u2014]|\s-\s")


def _opens_with(
    matches: list[tuple[str, str, int, int]], phrases: frozenset[str], first_word: int
) -> bool:
    """One of ``phrases`` is among the matches and starts at the sentence's first word."""
    return any(cue in phrases and start == first_word for _, cue, start, _ in matches)


def _outside_timing_clauses(
    text: str,
    words: Sequence[Token],
    matches: list[tuple[str, str, int, int]],
    timing: frozenset[str],
    reach: int,
    sentence_end: int,
) -> list[tuple[str, str, int, int]]:
    """The sentence's cue matches without those inside a timing clause: from the end of a
    timing phrase ("amid", "on the eve of") to the clause's end, at most ``reach`` words.
    "Strikes hit Kharkiv on the eve of Blinken's visit": the visit dates the strikes."""
    clauses: list[tuple[int, int]] = []
    for _, cue, _, cue_end in matches:
        if cue not in timing:
            continue
        stop = _CLAUSE_END.search(text, cue_end, sentence_end)
        limit = stop.start() if stop else sentence_end
        last = next(itertools.islice((w for w in words if w.start >= cue_end), reach - 1, None),
                    None)  # the reach-th word after the phrase
        if last is not None:
            limit = min(limit, last.end)
        clauses.append((cue_end, limit))
    if not clauses:
        return matches
    return [
        m for m in matches
        if m[1] in timing or not any(lo <= m[2] < hi for lo, hi in clauses)
    ]


# -- rule evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _RuleIndex:
    """Which of a tag's rules a sentence can fire: a rule with cues fires only where one of
    them was found, so a sentence is checked against those rules (and the rules without
    cues) instead of all of them. A tag has dozens of rules and a sentence a handful of
    cues: this is most of the rule engine's time saved, with the same answers (the rules
    keep their order, which the evidence's cue order follows)."""

    by_cue: dict[str, tuple[int, ...]]
    always: tuple[int, ...]  # rules without cues (an entity condition alone)

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> _RuleIndex:
        by_cue: dict[str, list[int]] = {}
        always: list[int] = []
        for n, rule in enumerate(rules):
            if not rule.cues:
                always.append(n)
            for cue in dict.fromkeys(rule.cues):
                by_cue.setdefault(cue, []).append(n)
        return cls({c: tuple(ns) for c, ns in by_cue.items()}, tuple(always))

    def none_fires(self, found: dict[str, str]) -> bool:
        """True when no rule can fire on a sentence with these cues: every rule needs a
        cue and none of them is there. Most of a tag's sentences; a set test in C instead
        of building an empty candidate list for each."""
        return not self.always and self.by_cue.keys().isdisjoint(found)

    def candidates(self, rules: Sequence[Rule], found: dict[str, str]) -> list[Rule]:
        """The rules a sentence with these cues can fire (the cue-less ones always);
        ``none_fires`` has already skipped the sentences with none of the tag's cues."""
        picked = set(self.always)
        for cue in found:
            hit = self.by_cue.get(cue)
            if hit:
                picked.update(hit)
        return [rules[n] for n in sorted(picked)]


def _score_sentence(
    rules: Sequence[Rule],
    negatives: Sequence[Rule],
    sentence: SentenceFacts,
    article_cues: set[str],
) -> tuple[float, list[str], set[str]]:
    """The sentence's score, the surfaces that fired and the ids of the rules (positive and
    negative) that fired in it."""
    score = 0.0
    cues: list[str] = []
    rule_ids: set[str] = set()
    for rule in rules:
        fired = _fires(rule, sentence, article_cues)
        if fired is not None:
            score += rule.weight
            rule_ids.add(rule.id)
            cues.extend(c for c in fired if c not in cues)
    if score <= 0:
        return 0.0, [], rule_ids
    for rule in negatives:
        if rule.scope == "sentence" and _fires(rule, sentence, article_cues) is not None:
            rule_ids.add(rule.id)
            if rule.veto:
                return 0.0, [], rule_ids
            score -= abs(rule.weight)
    return max(score, 0.0), cues, rule_ids


def _article_negatives(
    negatives: Sequence[Rule],
    facts: Sequence[SentenceFacts],
    article_cues: set[str],
    total: float,
) -> tuple[float, set[str]]:
    fired: set[str] = set()
    for rule in negatives:
        if rule.scope != "article":
            continue
        if any(_fires(rule, sentence, article_cues) is not None for sentence in facts):
            fired.add(rule.id)
            if rule.veto:
                return 0.0, fired
            total -= abs(rule.weight)
    return total, fired


def _first_match(group: Sequence[str], found: dict[str, str]) -> str | None:
    """The surface of the group's first cue (in the group's order) found in the sentence.

    A sentence holds a handful of cues and a rule lists up to a hundred, so the found cues
    are looked up in the group's index rather than the group scanned."""
    if not found:
        return None
    if len(group) <= len(found):  # a short group: scanning it is cheaper than indexing
        for cue in group:
            if cue in found:
                return found[cue]
        return None
    index = _group_index(group)
    best: int | None = None
    for cue in found:
        position = index.get(cue)
        if position is not None and (best is None or position < best):
            best = position
    return None if best is None else found[group[best]]


# id(group) -> (group, cue -> position). Groups are the taxonomy's tuples, alive as long as
# its Tagger; keeping the group in the value makes a reused id harmless.
_GROUP_INDEX: dict[int, tuple[Sequence[str], dict[str, int]]] = {}


def _group_index(group: Sequence[str]) -> dict[str, int]:
    entry = _GROUP_INDEX.get(id(group))
    if entry is not None and entry[0] is group:
        return entry[1]
    index: dict[str, int] = {}
    for position, cue in enumerate(group):
        index.setdefault(cue, position)
    if len(_GROUP_INDEX) > 100_000:  # many taxonomy reloads: start again
        _GROUP_INDEX.clear()
    _GROUP_INDEX[id(group)] = (group, index)
    return index


def _fires(rule: Rule, sentence: SentenceFacts, article_cues: set[str]) -> list[str] | None:
    """The surfaces that made ``rule`` fire in ``sentence``, or None if it does not."""
    surfaces: list[str] = []
    # The rule's own cues first: most rules fail there, before their long `unless` lists.
    if rule.cues:
        hit = _first_match(rule.cues, sentence.cues)
        if hit is None:
            return None
        surfaces.append(hit)
    if rule.unless and _first_match(rule.unless, sentence.cues) is not None:
        return None
    for group in rule.also:
        hit = _first_match(group, sentence.cues)
        if hit is None:
            return None
        surfaces.append(hit)
    for group in rule.context:
        if not any(cue in article_cues for cue in group):
            return None
    states = _entity_condition(rule, sentence)
    if states is None:
        return None
    surfaces.extend(states)
    return surfaces


def _entity_condition(rule: Rule, sentence: SentenceFacts) -> list[str] | None:
    """None when the condition fails; else a short description of what satisfied it."""
    cond: EntityCondition = rule.entities
    if cond.empty:
        return []
    if cond.leaders and sentence.with_leaders is not None:
        sentence = sentence.with_leaders
    if cond.state_after_cue:
        followed = [
            state
            for cue in rule.cues
            for state in (
                sentence.state_after.get(cue, [])
                + (sentence.state_after_part.get(cue, []) if cond.state_after_part else [])
            )
            if not (state.codes & cond.state_after_not)
            and not (cond.state_after_places_only and _not_a_place(state, sentence.text))
        ]
        if not followed:
            return None
    if cond.target_abroad:  # alone, or with state_after_not (the taxonomy checks)
        struck = _target_abroad(rule, cond, sentence)
        return None if struck is None else [struck]
    codes = sentence.state_codes
    if cond.min_states and len(codes) < cond.min_states:
        return None
    if cond.states_any and not (codes & cond.states_any):
        return None
    if cond.states_all and not cond.states_all <= codes:
        return None
    if cond.labels_any and not (sentence.labels & cond.labels_any):
        return None
    if cond.states_lead:
        if not sentence.lead:
            return None
        left, right = sentence.lead[0]
        return [f"{left.text} + {right.text}"]
    if cond.states_joined:
        if not sentence.joined:
            return None
        left, right = sentence.joined[0]
        return [f"{left.text} + {right.text}"]
    if cond.min_states or cond.states_any or cond.states_all:
        names: list[str] = []
        for s in sentence.states:
            if s.text not in names:
                names.append(s.text)
        return [" + ".join(names[:4])] if names else []
    return []


# How near the acting state must stand before the cue ("Israeli missiles hit": 2 words),
# and how far after it the place it acts on may come ("hit oil sites in Kurdish-held
# northeast Syria": 7).
_ACTOR_REACH = 3
_TARGET_REACH = 8
# Whether the verb reaches a place after it: as its object ("hit Moscow", "hit the port of
# Sudan") or after a preposition of place with at most _MODIFIERS words between ("targets
# near Damascus", "sites in Kurdish-held northeast Syria"); not after "against US troops",
# "fuel to Myanmar", "across from Romania" (whose forces, where something goes).
_PLACE_PREPOSITIONS = frozenset(
    {"in", "near", "on", "at", "inside", "into", "across", "over", "outside", "around",
     "within"})
_OTHER_PREPOSITIONS = frozenset(
    {"to", "from", "against", "with", "for", "of", "by", "toward", "towards", "about",
     "after", "before", "than", "between", "as"})
_MODIFIERS = 3
_GAP_WORD = re.compile(r"[^\W\d_]+")
# A state named right before these is whose forces were struck, not where: "hit US troops",
# "attacked American bases in Syria" is an attack on forces, not on Syria's territory.
_FORCES_AFTER = re.compile(
    r"\s+(?:troops|forces|soldiers|personnel|service ?members|servicemen|bases?|"
    r"convoys?|patrols?|warships?|ships?|vessels?|sailors|marines|advisers)\b",
    re.IGNORECASE,
)
# A nationality is whose, not where ("hit Russian positions" may be anywhere), except before
# these: "struck the Qatari capital", "fired on Pakistani border posts".
_TERRITORY_AFTER = re.compile(
    r"\s+(?:territory|soil|capital|mainland|frontier|airspace|waters|"
    r"border (?:posts?|towns?|villages?|areas?|regions?|guards?))\b",
    re.IGNORECASE,
)
# "Iran-backed militias": the actor is the militia, not the state.
_PROXY_AFTER = re.compile(r"-(?:backed|aligned|allied|linked|sponsored|supported)\b",
                          re.IGNORECASE)


def _verb_reaches(gap: str) -> bool:
    """Whether ``gap``, the text between a verb and a place, lets the verb act on it (not
    across a clause's end: "a strike near Pokrovsk, and asked Bogota")."""
    if _CLAUSE_END.search(gap):
        return False
    words = _GAP_WORD.findall(gap.casefold())
    if not words or words == ["the"]:
        return True  # the verb's object
    for between, word in enumerate(reversed(words)):
        if word in _PLACE_PREPOSITIONS:
            return between <= _MODIFIERS
        if word in _OTHER_PREPOSITIONS:
            return False
    return False


_NOT_PLACES = frozenset({"nationality", "leader"})


def _not_a_place(state: StateMention, text: str) -> bool:
    """A nationality ("over North Korean tests"), a leader ("meets Putin"), or a state named
    as whose forces ("hit US troops"): not where something happens."""
    return state.kind in _NOT_PLACES or bool(_FORCES_AFTER.match(text, state.end))


def _target_abroad(rule: Rule, cond: EntityCondition, sentence: SentenceFacts) -> str | None:
    """"Israeli missiles hit targets near Damascus": a state right before one of the rule's
    cues, and the first place after it that the verb reaches (its object, or after a
    preposition of place) lying in another state, not in ``state_after_not``. A nationality
    after the cue is no place ("hit Russian positions" says whose, not where) unless it names
    territory ("the Qatari capital"); only the first such place counts, so "hit Lviv near
    the border with Poland" stays in Lviv, and forces named first ("hit US troops in Syria")
    mean no place was struck. What satisfied it ("Israeli -> Damascus"), or None."""
    starts, text = sentence.word_starts, sentence.text
    for cue in rule.cues:
        for cue_start, cue_end in sentence.cue_spans.get(cue, ()):
            first_word = bisect.bisect_left(starts, cue_start)
            earliest = starts[max(first_word - _ACTOR_REACH, 0)] if starts else cue_start
            actor = None
            for state in sentence.states:
                if earliest <= state.start and state.end <= cue_start and state.codes:
                    actor = state  # the nearest before the cue wins
            if actor is None or actor.kind == "alliance" or _PROXY_AFTER.match(text, actor.end):
                continue  # an alliance is no one state; "Iran-backed militias" act themselves
            after = bisect.bisect_left(starts, cue_end)
            limit = (starts[after + _TARGET_REACH] if after + _TARGET_REACH < len(starts)
                     else sentence.end)
            reached = sorted(
                (m for m in (*sentence.states, *sentence.places)
                 if cue_end <= m.start < limit and _verb_reaches(text[cue_end:m.start])),
                key=lambda m: m.start,
            )
            target = None
            for mention in reached:
                if _FORCES_AFTER.match(text, mention.end):
                    break  # forces struck, wherever they are
                if mention.kind == "leader":
                    continue  # a person, not a place
                if mention.codes and (mention.kind != "nationality"
                                      or _TERRITORY_AFTER.match(text, mention.end)):
                    target = mention
                    break
            if target is not None and not target.codes & (actor.codes | cond.state_after_not):
                return f"{actor.text} -> {target.text}"
    return None


def _two_states(mentions: Sequence[StateMention]) -> bool:
    """Whether the mentions name at least two distinct states."""
    codes: set[str] = set()
    for mention in mentions:
        codes |= mention.codes
        if len(codes) > 1:
            return True
    return False


def _locate_states(
    sentence: SentenceFacts,
    states: list[StateMention],
    matches: Sequence[tuple[str, str, int, int]],
) -> None:
    """The sentence's states, which of them are coordinated, open it, or follow a cue."""
    text, start, end = sentence.text, sentence.start, sentence.end
    sentence.states = states
    sentence.joined = _joined_pairs(text, states)
    sentence.lead = [(left, right) for left, right in sentence.joined
                     if _LEAD_GAP.fullmatch(text, start, left.start)]
    starts = {s.start: s for s in states}
    for _, cue, _, cue_end in matches:
        follow = _STATE_AFTER_GAP.match(text, cue_end, end)
        if not follow:
            continue
        state = starts.get(follow.end())
        if state is not None:
            sentence.state_after.setdefault(cue, []).append(state)
            continue
        part = _COMPASS_POINT.match(text, follow.end(), end)
        state = starts.get(part.end()) if part else None
        if state is not None:
            sentence.state_after_part.setdefault(cue, []).append(state)


def _joined_pairs(
    text: str, states: Sequence[StateMention]
) -> list[tuple[StateMention, StateMention]]:
    return [
        (left, right)
        for left, right in itertools.pairwise(states)
        if left.codes != right.codes
        and right.start - left.end <= 7
        and _JOINED_GAP.fullmatch(text, left.end, right.start)
    ]


# Entity labels whose country_code says where the entity lies (not whose it is: NORP).
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def _place_labels(text: str, entities: Sequence[Entity], facts: list[SentenceFacts]) -> None:
    """Mark which entity labels occur in which sentence (every occurrence of each surface),
    and where the places the entities locate in a country stand (``SentenceFacts.places``)."""
    if not entities or not facts:
        return
    for entity in entities:
        located = (
            frozenset({entity.country_code})
            if entity.country_code and entity.label in _PLACE_LABELS
            else None
        )
        for surface in {entity.text, entity.canonical}:
            if not surface:
                continue
            # str.find with word-boundary checks: a regex compiled per surface per article
            # cost more than the rest of the rule engine (re's cache holds 512 patterns).
            at = text.find(surface)
            while at != -1:
                end = at + len(surface)
                if not (at > 0 and _is_word(text[at - 1])) and not (
                    end < len(text) and _is_word(text[end])
                ):
                    for sentence in facts:
                        if sentence.start <= at < sentence.end:
                            sentence.labels.add(entity.label)
                            if located is not None:
                                sentence.places.append(
                                    StateMention(surface, at, end, located, "place")
                                )
                            break
                at = text.find(surface, at + 1)


def _is_word(char: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return char.isalnum() or char == "_"
