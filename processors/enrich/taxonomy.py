"""The taxonomy: a versioned YAML file that analysts edit, loaded into typed, validated objects.

No tag has code of its own: every tag is scored by the same rule engine
(processors/enrich/tagging.py) from what this file says. A bad file raises ConfigError naming
the place and what to fix.

File shape (see processors/enrich/taxonomy.yaml for the real thing)::

    version: "1.1.0"
    scoring: {title_weight: 1.5, support_weight: 0.3, max_evidence: 3}
    tags:
      - id: military-cooperation           # kebab-case, becomes news.tag.<id>
        label: Military cooperation
        description: ...
        mappings: {cameo: ["062"], iptc: ["medtop:..."]}
        threshold: 2.0                     # article score needed for the tag
        rules:                             # each rule fires at most once per sentence
          - id: joint-activity
            weight: 2.0
            cues: ["joint exercise", "joint patrol*"]   # any one of these, in the sentence
            also: [[navy, naval, air force]]           # and one of each group, same sentence
            context: [[military, army]]                # and one of each group, anywhere
            unless: [sale, sold]                       # but not if one of these is there
            entities: {min_states: 2}                  # and these entity conditions
        negatives:                         # same shape; veto zeroes the sentence,
          - {id: fitness, cues: [fitness, gym], veto: true}   # else weight is subtracted
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsflow.errors import ConfigError
from processors.enrich.phrases import validate_phrase

__all__ = [
    "EntityCondition",
    "Rule",
    "Scoring",
    "TagDefinition",
    "Taxonomy",
    "load_taxonomy",
    "parse_taxonomy",
]

_TAG_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# Labels a condition may name: spaCy's OntoNotes set.
_LABELS = frozenset(
    [
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    ]
)


class _Model(BaseModel):
    # Unknown keys are typos ("weigth") that would silently disable a rule: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_cue(cue: str) -> str:
    try:
        validate_phrase(cue)
    except ValueError as exc:
        raise ValueError(f"bad cue {cue!r}: {exc}") from exc
    return cue


Cue = Annotated[str, Field(min_length=1)]


class EntityCondition(_Model):
    """Conditions on the entities of the same sentence. "States" are countries,
    nationalities, capitals, metonyms ("the Kremlin") and alliances (their members)."""

    min_states: int = Field(0, ge=0)  # at least N distinct states
    states_joined: bool = False  # two states coordinated: "China and Russia", "US-Philippine"
    # ... and the pair opens the sentence, as its subject: "US, Japan hold drills", not
    # "drills near Japan and Korea" (what the states do, not where it happens).
    states_lead: bool = False
    states_any: frozenset[str] = frozenset()  # one of these states is mentioned
    states_all: frozenset[str] = frozenset()  # all of these states are mentioned
    labels_any: frozenset[str] = frozenset()  # an entity with one of these labels
    # A state follows one of the rule's cues: "troops in Poland", "drills in Belarus"...
    state_after_cue: bool = False
    # ... and it is not one of these ("strikes inside Ukraine" belong to another tag).
    state_after_not: frozenset[str] = frozenset()
    # ... and it is a country, capital, metonym or alliance, not a nationality adjective
    # ("over Estonia" is a place; "fears over North Korean tests" is not) nor a state named
    # as whose forces ("hit US troops").
    state_after_places_only: bool = False
    # ... or it follows a compass point that names a part of it: "into northern Iraq",
    # "inside eastern Congo", "in north-east Syria". Opt-in: where a rule reads a place of
    # stay rather than a crossing ("troops in northern Norway" for a drill), the part reads
    # no better than the state alone, and the corpus said it cost precision.
    state_after_part: bool = False
    # A state right before a cue acting on a place in another state right after it:
    # "Israeli missiles hit targets near Damascus", "Turkish drones struck oil sites in
    # northeast Syria" (and the place not in ``state_after_not``).
    target_abroad: bool = False
    # Leaders count as their states in this rule's conditions ("Xi meets Putin" names China
    # and Russia): people.yaml's list of heads of state and government and their foreign and
    # defence ministers. A modifier, not a condition of its own. Leaders count only beside
    # another state: in "Biden visits Lewiston" the leader names no state he deals with.
    leaders: bool = False

    @field_validator("states_any", "states_all", "state_after_not")
    @classmethod
    def _iso(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(v for v in value if not _COUNTRY.match(v))
        if bad:
            raise ValueError(f"not ISO 3166-1 alpha-2 codes: {bad} (quote NO for Norway)")
        return value

    @field_validator("labels_any")
    @classmethod
    def _labels(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(value - _LABELS)
        if bad:
            raise ValueError(f"unknown entity labels {bad}; known: {sorted(_LABELS)}")
        return value

    @model_validator(mode="after")
    def _target_abroad_alone(self) -> EntityCondition:
        # target_abroad names its own states (who acts, what is struck); another condition
        # beside it would be a second reading of the same sentence that the engine does not
        # combine.
        others = self.model_copy(update={"target_abroad": False, "state_after_not": frozenset(),
                                         "leaders": False})
        if self.target_abroad and not others.empty:
            raise ValueError("target_abroad takes no other entity condition but state_after_not")
        return self

    @model_validator(mode="after")
    def _part_needs_a_cue(self) -> EntityCondition:
        if self.state_after_part and not self.state_after_cue:
            raise ValueError("state_after_part qualifies state_after_cue; set both")
        return self

    @property
    def empty(self) -> bool:
        return not (
            self.min_states
            or self.states_joined
            or self.states_lead
            or self.states_any
            or self.states_all
            or self.labels_any
            or self.state_after_cue
            or self.target_abroad
        )


class Rule(_Model):
    id: str = Field(min_length=1)
    weight: float = 1.0
    cues: tuple[Cue, ...] = ()
    also: tuple[tuple[Cue, ...], ...] = ()
    context: tuple[tuple[Cue, ...], ...] = ()
    unless: tuple[Cue, ...] = ()  # the rule does not fire in a sentence holding one of these
    entities: EntityCondition = Field(default_factory=EntityCondition)
    veto: bool = False
    # Negatives only: "article" checks the whole article and then subtracts from (or, with
    # veto, cancels) the article's score: "arms sale" in the title makes it commercial.
    scope: Literal["sentence", "article"] = "sentence"

    @field_validator("cues", "unless")
    @classmethod
    def _cues(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_cue(c) for c in value)

    @field_validator("also", "context")
    @classmethod
    def _groups(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for group in value:
            if not group:
                raise ValueError("a cue group must not be empty")
        return tuple(tuple(_check_cue(c) for c in group) for group in value)

    @model_validator(mode="after")
    def _something_to_match(self) -> Rule:
        if not self.cues and self.entities.empty:
            raise ValueError(f"rule {self.id!r} needs cues or an entity condition")
        return self

    def all_cues(self) -> list[str]:
        found = [*self.cues, *self.unless]
        for group in (*self.also, *self.context):
            found.extend(group)
        return found


class TagDefinition(_Model):
    id: str
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    mappings: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    threshold: float = Field(gt=0)
    rules: tuple[Rule, ...] = Field(min_length=1)
    negatives: tuple[Rule, ...] = ()

    @field_validator("id")
    @classmethod
    def _kebab(cls, value: str) -> str:
        if not _TAG_ID.match(value):
            raise ValueError(f"tag id {value!r} must be kebab-case (a-z, 0-9, -)")
        return value

    @model_validator(mode="after")
    def _unique_rules(self) -> TagDefinition:
        for rule in self.rules:
            if rule.scope != "sentence" or rule.veto:
                raise ValueError(
                    f"tag {self.id!r} rule {rule.id!r}: scope and veto are for negatives"
                )
        ids = [r.id for r in (*self.rules, *self.negatives)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"tag {self.id!r}: duplicate rule ids {dupes}")
        if not any(r.weight > 0 for r in self.rules):
            raise ValueError(f"tag {self.id!r}: no rule has a positive weight")
        return self


class Scoring(_Model):
    title_weight: float = Field(1.5, ge=0)  # the title says what the article is about
    support_weight: float = Field(0.3, ge=0)  # share of the other sentences' scores added
    max_evidence: int = Field(3, ge=1)
    # An event named only in a timing clause ("amid the war", "on the eve of the visit",
    # "days after the summit") dates another story and does not carry its tag (the
    # labelling guide). A cue that starts within `timing_reach` words after one of these
    # phrases, before the clause ends (a comma, semicolon, colon, dash or bracket), counts
    # for no tag; the phrases themselves stay cues.
    timing_phrases: tuple[Cue, ...] = ()
    timing_reach: int = Field(8, ge=1)
    # A sentence that opens with one of these ("Also in today's newsletter, ...", "Plus,
    # ...") lists a newsletter's other stories, which the guide says carry no tag: no cue
    # in it counts for any rule, nor as an article's context.
    teaser_phrases: tuple[Cue, ...] = ()

    @field_validator("timing_phrases", "teaser_phrases")
    @classmethod
    def _phrase_cues(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_cue(c) for c in value)


class Taxonomy(_Model):
    version: str = Field(min_length=1)
    description: str = ""
    scoring: Scoring = Field(default_factory=Scoring)
    tags: tuple[TagDefinition, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # "version: 1.1" would be a float and "1.10" would become 1.1: insist on a string.
        if not isinstance(value, str):
            raise ValueError('write the version as a quoted string, e.g. "1.1.0"')
        return value

    @model_validator(mode="after")
    def _unique_tags(self) -> Taxonomy:
        ids = [t.id for t in self.tags]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate tag ids {dupes}")
        return self

    @property
    def tag_ids(self) -> list[str]:
        return [t.id for t in self.tags]

    @property
    def rule_thresholds(self) -> dict[str, float]:
        """Each tag's threshold on its rule score (tag id -> threshold)."""
        return {t.id: t.threshold for t in self.tags}

    def tag(self, tag_id: str) -> TagDefinition:
        for t in self.tags:
            if t.id == tag_id:
                return t
        raise KeyError(tag_id)


def _where(loc: Sequence[Any], data: Any) -> str:
    """'tags[2] (sanctions).rules[0].weight' rather than 'tags.2.rules.0.weight'."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            try:
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label += f" ({node['id']})"
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "<top>"


def parse_taxonomy(data: Any, source: str = "<taxonomy>") -> Taxonomy:
    if not isinstance(data, dict):
        raise ConfigError(
            f"taxonomy {source}: the top level must be a mapping with version and tags"
        )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(err['loc'], data)}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()[:5]
        )
        raise ConfigError(f"taxonomy {source} is invalid: {problems}") from exc


def load_taxonomy(path: Path) -> Taxonomy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read taxonomy {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"taxonomy {path} is not valid YAML: {exc}") from exc
    return parse_taxonomy(data, str(path))
