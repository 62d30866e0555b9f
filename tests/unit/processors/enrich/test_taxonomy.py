"""Loading and validating the taxonomy file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.errors import ConfigError
from newsflow.settings import ProcessorSettings
from processors.enrich.taxonomy import load_taxonomy, parse_taxonomy

TAXONOMY = ProcessorSettings().taxonomy_file
TEN_TAGS = {
    "military-cooperation", "military-aid", "drone-warfare", "military-exercise",
    "territorial-incursion", "sanctions", "diplomatic-visit", "taiwan-strait",
    "russia-ukraine-war", "nuclear-weapons",
}

MINIMAL: dict[str, Any] = {
    "version": "9.0.0",
    "tags": [{
        "id": "joint-drills",
        "label": "Joint drills",
        "description": "Two states exercising together.",
        "threshold": 2.0,
        "rules": [{"id": "r1", "weight": 2.0, "cues": ["joint drill"]}],
    }],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    node: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


def test_the_shipped_taxonomy_has_the_ten_tags_with_mappings() -> None:
    taxonomy = load_taxonomy(TAXONOMY)
    assert set(taxonomy.tag_ids) >= TEN_TAGS
    assert taxonomy.version
    for tag in taxonomy.tags:
        assert tag.description and tag.label and tag.threshold > 0
        assert tag.mappings, f"{tag.id} has no CAMEO/IPTC mapping"
    coop = taxonomy.tag("military-cooperation")
    assert coop.negatives, "cooperation needs negative cues"
    assert any(r.entities.states_joined or r.entities.min_states for r in coop.rules)


def test_minimal_taxonomy_parses() -> None:
    taxonomy = parse_taxonomy(MINIMAL)
    assert taxonomy.tag_ids == ["joint-drills"]
    assert taxonomy.scoring.title_weight > 1
    assert taxonomy.rule_thresholds == {"joint-drills": MINIMAL["tags"][0]["threshold"]}


@pytest.mark.parametrize("data,message", [
    (with_change("version", 1.1), "quoted string"),
    (with_change("tags.0.id", "Joint Drills"), "kebab-case"),
    (with_change("tags.0.threshold", 0), "greater than 0"),
    (with_change("tags.0.rules", []), "at least 1"),
    (with_change("tags.0.rules.0.weigth", 2), "weigth"),
    (with_change("tags.0.rules.0.cues", ["ab*"]), "shorter than 3"),
    (with_change("tags.0.rules.0.cues", []), "needs cues or an entity condition"),
    (with_change("tags.0.rules.0.entities", {"states_any": ["China"]}), "alpha-2"),
    (with_change("tags.0.rules.0.entities", {"labels_any": ["PEOPLE"]}), "unknown entity labels"),
    (with_change("tags.0.rules.0.entities", {"target_abroad": True, "min_states": 2}),
     "target_abroad takes no other entity condition"),
    (with_change("tags.0.rules.0.entities", {"state_after_part": True}),
     "state_after_part qualifies state_after_cue"),
    (with_change("tags.0.rules.0.also", [[]]), "must not be empty"),
    (with_change("tags.0.rules.0.scope", "article"), "scope and veto are for negatives"),
    ({**MINIMAL, "tags": MINIMAL["tags"] * 2}, "duplicate tag ids"),
    ({**MINIMAL, "scoring": {"timing_phrases": ["ab*"]}}, "shorter than 3"),
    ({**MINIMAL, "scoring": {"timing_reach": 0}}, "greater than or equal to 1"),
    ({**MINIMAL, "scoring": {"teaser_phrases": ["ab*"]}}, "shorter than 3"),
    ([1, 2], "top level must be a mapping"),
])
def test_invalid_taxonomies_say_what_and_where(data: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_taxonomy(data, "t.yaml")
    assert message in str(info.value)
    assert "t.yaml" in str(info.value)


def test_target_abroad_may_leave_out_states() -> None:
    data = with_change("tags.0.rules.0.entities",
                       {"target_abroad": True, "state_after_not": ["UA"]})
    rule = parse_taxonomy(data, "t.yaml").tags[0].rules[0]
    assert rule.entities.target_abroad and rule.entities.state_after_not == {"UA"}


def test_error_names_the_tag_and_rule() -> None:
    with pytest.raises(ConfigError) as info:
        parse_taxonomy(with_change("tags.0.rules.0.weight", "heavy"))
    assert "tags[0] (joint-drills).rules[0] (r1).weight" in str(info.value)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read taxonomy"):
        load_taxonomy(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: '1'\ntags: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_taxonomy(broken)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    assert load_taxonomy(good).version == "9.0.0"
