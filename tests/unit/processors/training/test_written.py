"""The written hard-case items: every one read twice, only the agreed ones scored, and the
product's own evaluation scores them with the model the corpus gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.errors import ConfigError
from newsflow.settings import ProcessorSettings
from processors.enrich.enrichment import Enricher
from processors.enrich.taxonomy import load_taxonomy
from processors.training.corpus import LabelledItem, default_pool_path, load_jsonl
from processors.training.pipeline import evaluate_model, train_model
from processors.training.written import (
    WRITTEN_DIR,
    WRITTEN_HALVES,
    load_written,
    near_duplicates,
)

TAGS = ["sanctions", "military-aid", "diplomatic-visit"]


def _lines(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _written(tmp_path: Path, readings: dict[str, list[str]]) -> Path:
    _lines(tmp_path / "items" / "a.jsonl", [
        {"sid": "syn-a-001", "title": "EU freezes assets", "text": "Brussels acted.",
         "tags": ["sanctions"], "class": "positive: asset freeze"},
        {"sid": "syn-a-002", "title": "Club sanctioned", "text": "A fine for the club.",
         "tags": [], "class": "negative: sporting sanction"},
        {"sid": "syn-a-003", "title": "Minister in Cairo", "text": "Talks on aid.",
         "tags": ["diplomatic-visit"], "class": "positive: short visit item"},
    ])
    _lines(tmp_path / "readings" / "r.jsonl",
           [{"sid": sid, "tags": tags} for sid, tags in readings.items()])
    return tmp_path


def test_only_items_both_readings_tag_alike_are_scored(tmp_path: Path) -> None:
    written = load_written(_written(tmp_path, {
        "syn-a-001": ["sanctions"], "syn-a-002": [], "syn-a-003": []}), TAGS)
    assert [i.id for i in written.agreed()] == ["syn-a-001", "syn-a-002"]
    assert written.agreed()[0] == LabelledItem(
        "syn-a-001", "EU freezes assets", "Brussels acted.", frozenset({"sanctions"}))
    assert written.classes["syn-a-002"] == "negative: sporting sanction"
    assert len(written.files) == 2


@pytest.mark.parametrize(
    ("readings", "error"),
    [
        ({"syn-a-001": ["sanctions"], "syn-a-002": []}, "no blind reading"),
        ({"syn-a-001": [], "syn-a-002": [], "syn-a-003": [], "syn-x": []}, "name no written"),
        ({"syn-a-001": ["embargoes"], "syn-a-002": [], "syn-a-003": []}, "unknown tags"),
    ],
)
def test_an_unread_stray_or_unknown_label_is_an_error(
    tmp_path: Path, readings: dict[str, list[str]], error: str
) -> None:
    with pytest.raises(ConfigError, match=error):
        load_written(_written(tmp_path, readings), TAGS)


def test_a_sid_written_twice_is_an_error(tmp_path: Path) -> None:
    folder = _written(tmp_path, {"syn-a-001": [], "syn-a-002": [], "syn-a-003": []})
    _lines(folder / "items" / "b.jsonl", [
        {"sid": "syn-a-001", "title": "Again", "text": "", "tags": [], "class": ""}])
    with pytest.raises(ConfigError, match="labelled twice"):
        load_written(folder, TAGS)


def test_no_folder_means_no_written_items(tmp_path: Path) -> None:
    written = load_written(tmp_path / "missing", TAGS)
    assert written.items == [] and written.agreed() == []


@pytest.mark.parametrize("half", WRITTEN_HALVES)
def test_the_shipped_items_were_all_read_twice_with_known_tags(half: str) -> None:
    written = load_written(WRITTEN_DIR / half,
                           load_taxonomy(ProcessorSettings().taxonomy_file).tag_ids)
    assert len(written.items) >= 500
    assert len(written.agreed()) >= 0.9 * len(written.items)
    assert all(written.classes[i.id] for i in written.items)  # each names its hard case
    assert all(i.id.startswith("syn-") for i in written.items)  # never a pool or dev id


def test_the_halves_share_no_writer_and_no_item() -> None:
    tags = load_taxonomy(ProcessorSettings().taxonomy_file).tag_ids
    develop, check = (load_written(WRITTEN_DIR / half, tags) for half in WRITTEN_HALVES)
    assert not {p.name for p in develop.files} & {p.name for p in check.files}
    assert not set(develop.writer) & set(check.writer)
    titles = {i.title.casefold() for i in develop.items}
    assert not [i.title for i in check.items if i.title.casefold() in titles]
    # The develop half is trained on: a check item telling one of its events again would
    # be remembered, not generalised to.
    assert near_duplicates(check.items, develop.items) == []


def test_near_duplicates_are_the_same_event_in_other_words() -> None:
    trained = [LabelledItem("syn-a-001", "Security Council lifts arms embargo on Somali "
                            "government", "The vote was unanimous.", frozenset())]
    held = [
        LabelledItem("syn-k-001", "Security Council ends arms embargo on Somali government",
                     "The vote was unanimous.", frozenset()),
        LabelledItem("syn-k-002", "Kenyan police land in Haiti", "They will fight gangs.",
                     frozenset()),
    ]
    assert near_duplicates(held, trained) == ["syn-k-001"]
    assert near_duplicates(held, []) == []


POOL = default_pool_path()


def _tiny_training(tmp_path: Path) -> tuple[Path, Path, Enricher]:
    """40 pool items labelled [], and a written folder whose halves each hold an agreed
    military-aid positive, an agreed negative and an item read differently."""
    ids = [str(r["id"]) for r, _ in zip(load_jsonl(POOL), range(40), strict=False)]
    labels = tmp_path / "labels"
    _lines(labels / "parts" / "a.jsonl", [{"id": i, "tags": []} for i in ids])
    written = tmp_path / "written"
    _three_items(written / "develop", "a", ("Poland", "Warsaw", "Kyiv"))
    _three_items(written / "check", "k", ("Germany", "Berlin", "Kyiv's forces"))
    settings = ProcessorSettings()
    return labels, written, Enricher(settings.spacy_model, settings.taxonomy_file,
                                     tag_model=None)


@pytest.mark.skipif(not POOL.is_file(), reason="shared/eval/topics-pool.jsonl not available")
def test_evaluate_trains_on_the_develop_half_and_scores_the_held_out_half(tmp_path: Path) -> None:
    """What `newsflow tagger evaluate` does with the written items: the develop half's
    agreed items join the training data, and the check half is scored, on the items both
    readings agree on, with the fold seed it was given."""
    labels, written, enricher = _tiny_training(tmp_path)
    report = evaluate_model(enricher, POOL, None, labels_dir=labels, folds=2, seeds=[11, 3],
                            written_dir=written, progress=lambda _: None)
    assert report.written_trained == 2  # the develop half's agreed items, trained on
    # ... and never scored: cross-validation counts corpus items only, none of them aid.
    cv_aid = report.cross_validated.as_dict()["tags"]["military-aid"]
    assert cv_aid["tp"] + cv_aid["fn"] == 0
    assert report.written_items == {"check": 2}  # the disputed item is left out
    aid = report.written["check"].as_dict()["tags"]["military-aid"]
    assert (aid["tp"], aid["fn"]) == (1, 0)  # the agreed positive
    assert report.as_dict()["seed"] == 11 and "develop" not in report.as_dict()["written"]
    # Each fold seed is its own cross-validation; the first is the one reported in full.
    assert list(report.by_seed) == [11, 3] and report.by_seed[11] is report.cross_validated
    assert report.as_dict()["seeds"]["seeds"] == [11, 3]
    without = evaluate_model(enricher, POOL, None, labels_dir=labels, folds=2, seeds=[11],
                             written_dir=None, progress=lambda _: None)
    assert without.written_trained == 0 and without.written == {}


@pytest.mark.skipif(not POOL.is_file(), reason="shared/eval/topics-pool.jsonl not available")
def test_train_learns_from_the_develop_half_unless_told_not_to(tmp_path: Path) -> None:
    """`newsflow tagger train` fits the corpus and the develop half's agreed items (never
    the check half); `--no-written` (written_dir=None) fits the corpus alone. The label
    digest covers the written files, so a changed item is a changed model."""
    labels, written, enricher = _tiny_training(tmp_path)
    with_written = train_model(enricher, POOL, tmp_path / "a.npz", labels_dir=labels,
                               written_dir=written, progress=lambda _: None)
    alone = train_model(enricher, POOL, tmp_path / "b.npz", labels_dir=labels,
                        written_dir=None, progress=lambda _: None)
    assert (with_written.meta["written_items"], with_written.meta["items"]) == (2, 42)
    assert (alone.meta["written_items"], alone.meta["items"]) == (0, 40)
    assert with_written.meta["labels_digest"] != alone.meta["labels_digest"]


def _three_items(half: Path, writer: str, names: tuple[str, str, str]) -> None:
    """A half with an agreed military-aid positive, an agreed negative and an item the
    blind reader tags differently (never used)."""
    country, capital, recipient = names
    sid = [f"syn-{writer}-00{n}" for n in (1, 2, 3)]
    _lines(half / "items" / f"{writer}.jsonl", [
        {"sid": sid[0], "title": f"{country} sends tanks to Ukraine",
         "text": f"{capital} will deliver 14 tanks to {recipient}.", "tags": ["military-aid"],
         "class": "positive"},
        {"sid": sid[1], "title": f"Markets rally in {capital}", "text": "Shares rose.",
         "tags": [], "class": "negative"},
        {"sid": sid[2], "title": f"{country} sends shells to Ukraine",
         "text": "The shipment includes 20,000 rounds.", "tags": ["military-aid"],
         "class": "read differently"},
    ])
    _lines(half / "readings" / "r.jsonl", [
        {"sid": sid[0], "tags": ["military-aid"]}, {"sid": sid[1], "tags": []},
        {"sid": sid[2], "tags": []}])


@pytest.mark.skipif(not POOL.is_file(), reason="shared/eval/topics-pool.jsonl not available")
def test_the_cli_cross_validates_under_each_seed_given_and_averages(tmp_path: Path) -> None:
    """`newsflow tagger evaluate --seed 11 --seed 3`: the first seed's table in full, then
    every tag averaged over both seeds and macro-F1 by seed; --json carries the same."""
    from click.testing import CliRunner

    from newsflow.cli import cli

    labels, written, _ = _tiny_training(tmp_path)
    args = ["-q", "tagger", "evaluate", "--pool", str(POOL), "--labels", str(labels),
            "--written", str(written), "--dev", str(tmp_path / "no-dev.jsonl"),
            "--folds", "2", "--seed", "11", "--seed", "3"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(fold seed 11)" in result.output
    assert "averaged over 2 fold seeds" in result.output
    assert "macro-F1 by fold seed (11 / 3):" in result.output
    single = CliRunner().invoke(cli, [*args[:-4], "--seed", "11"])
    assert single.exit_code == 0 and "averaged over" not in single.output
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["seeds"]["seeds"] == [11, 3]  # progress goes to stderr
