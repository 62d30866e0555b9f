"""The guide revision: corpus items re-read twice under readings the guide settled later.
What both readings agree on changes the settled label, and only for the tags the item's
readings decide."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from newsflow.errors import ConfigError
from newsflow.settings import ProcessorSettings
from processors.enrich.taxonomy import load_taxonomy
from processors.training.corpus import LABELS_DIR, load_passes, load_settled_labels
from processors.training.revision import (
    READINGS,
    REVISION_DIR,
    Reading,
    Revision,
    load_revision,
    revise,
)

TAGS = load_taxonomy(ProcessorSettings().taxonomy_file).tag_ids
GUIDE = Path(__file__).resolve().parents[4] / "processors" / "training" / "LABELLING.md"


def _reading(readings: str, tags: str) -> Reading:
    return Reading(frozenset(readings.split()), frozenset(tags.split()))


def _revision(first: dict[str, Reading], second: dict[str, Reading]) -> Revision:
    return Revision(first, second, [])


def test_both_readings_agreeing_change_the_tags_their_readings_decide() -> None:
    settled = {"a": frozenset({"sanctions"}), "b": frozenset({"military-exercise"})}
    revision = _revision(
        {"a": _reading("port-call", "military-cooperation"),
         "b": _reading("side-clause-drill", "")},
        {"a": _reading("port-call", "military-cooperation"),
         "b": _reading("side-clause-drill", "")},
    )
    assert revise(settled, revision) == {
        "a": frozenset({"sanctions", "military-cooperation"}),  # added: both readings give it
        "b": frozenset(),  # removed: both readings leave it off
    }


def test_a_tag_the_readings_differ_on_or_do_not_decide_keeps_its_settled_value() -> None:
    settled = {"a": frozenset({"sanctions", "diplomatic-visit"})}
    revision = _revision(
        # port-call decides military-cooperation only: the readers dropping sanctions
        # does not touch it; they differ on military-cooperation, so it stays off.
        {"a": _reading("port-call", "military-cooperation diplomatic-visit")},
        {"a": _reading("port-call who-leads", "")},
    )
    # who-leads (second reader) decides diplomatic-visit: the readers differ on it, so it
    # stays as settled too.
    assert revise(settled, revision) == settled


def test_an_item_read_once_is_not_revised() -> None:
    settled = {"a": frozenset({"military-exercise"})}
    revision = _revision({"a": _reading("side-clause-drill", "")}, {})
    assert revise(settled, revision) == settled


def test_a_revision_of_an_unknown_item_or_with_an_unknown_reading_is_an_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="not labelled corpus items"):
        revise({}, _revision({"a": _reading("", "")}, {"a": _reading("", "")}))
    folder = tmp_path / REVISION_DIR
    folder.mkdir()
    (folder / "first.jsonl").write_text('{"id": "a", "readings": ["port-call"], "tags": []}\n')
    with pytest.raises(ConfigError, match="both"):
        load_revision(tmp_path, TAGS)
    (folder / "second.jsonl").write_text('{"id": "a", "readings": ["gossip"], "tags": []}\n')
    with pytest.raises(ConfigError, match="unknown reading"):
        load_revision(tmp_path, TAGS)
    (folder / "second.jsonl").write_text(
        '{"id": "a", "readings": [], "tags": []}\n{"id": "a", "readings": [], "tags": []}\n')
    with pytest.raises(ConfigError, match="read twice"):
        load_revision(tmp_path, TAGS)
    assert load_revision(tmp_path / "elsewhere", TAGS) is None


def test_the_guide_and_the_code_name_the_same_readings() -> None:
    section = GUIDE.read_text(encoding="utf-8").split("## Readings settled by the guide revision")
    assert len(section) == 2, "LABELLING.md has one guide-revision section"
    in_guide = set(re.findall(r"\(`([a-z-]+)`\)", section[1]))
    assert in_guide == set(READINGS)
    for reading, tags in READINGS.items():
        assert tags and tags <= set(TAGS), reading


# -- the shipped revision -------------------------------------------------------------------

def test_the_shipped_revision_reads_each_item_twice_and_holds_no_text() -> None:
    revision = load_revision(LABELS_DIR, TAGS)
    assert revision is not None
    assert set(revision.first) == set(revision.second)
    assert len(revision.first) >= 100
    for path in revision.files:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert set(json.loads(line)) == {"id", "readings", "tags"}, path


def test_the_settled_labels_include_the_revision_and_change_only_what_it_decides() -> None:
    passes = load_passes(LABELS_DIR, TAGS)
    assert passes.revision is not None
    unrevised = replace(passes, revision=None).settled()
    settled, files = load_settled_labels(LABELS_DIR, TAGS)
    assert set(passes.revision.files) <= set(files)
    changed = {i for i in settled if settled[i] != unrevised[i]}
    assert changed, "the revision changes some labels"
    for item_id in changed:
        first, second = passes.revision.first[item_id], passes.revision.second[item_id]
        assert settled[item_id] ^ unrevised[item_id] <= first.decides | second.decides
