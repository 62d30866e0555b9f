"""`newsflow tagger agreement` and `newsflow tagger disputes` on a small label folder
through click's CliRunner: the passes compared, the worklist shown without who said what,
and an open dispute refused with a configuration error. No spaCy, no servers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.errors import ConfigError


def _write(path: Path, labels: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": k, "tags": v}) + "\n" for k, v in labels.items()))


def _folder(tmp_path: Path, *, adjudicated: bool) -> Path:
    _write(tmp_path / "parts" / "a.jsonl",
           {"pool-1": ["sanctions"], "pool-2": [], "pool-3": ["military-aid"]})
    _write(tmp_path / "pass2" / "b.jsonl",
           {"pool-1": ["sanctions"], "pool-2": ["military-aid"], "pool-3": ["military-aid"]})
    if adjudicated:
        _write(tmp_path / "adjudicated.jsonl", {"pool-2": []})
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-q", "tagger", *args])
    return result.exit_code, result.output


def test_disputes_list_the_agreed_disputed_and_settled_tags(tmp_path: Path) -> None:
    code, out = _run("disputes", "--labels", str(_folder(tmp_path, adjudicated=False)),
                     "--json")
    assert code == 0, out
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": "pool-2", "agreed": [], "disputed": ["military-aid"], "settled": None}
    ]
    assert _run("disputes", "--labels", str(tmp_path), "--open")[0] == 1  # one still open
    code, out = _run("disputes", "--labels", str(_folder(tmp_path, adjudicated=True)),
                     "--json")
    assert code == 0, out
    assert json.loads(out)["settled"] == []
    assert _run("disputes", "--labels", str(tmp_path), "--open") == (0, "")


def test_agreement_compares_the_passes_and_the_settled_labels(tmp_path: Path) -> None:
    code, out = _run("agreement", "--labels", str(_folder(tmp_path, adjudicated=True)),
                     "--no-written", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert set(report) == {"second pass", "settled"}
    assert report["second pass"]["overlap"] == 3
    assert report["second pass"]["tags"]["military-aid"] == {
        "both": 1, "first_only": 0, "second_only": 1, "kappa": 0.4,
        "positive_agreement": 0.667}
    assert report["settled"]["identical_tag_sets"] == 1.0  # the first pass's reading kept


def test_training_refuses_labels_with_an_open_dispute(tmp_path: Path) -> None:
    folder = _folder(tmp_path, adjudicated=False)
    (folder / "adjudicated.jsonl").write_text("")  # an adjudication that left pool-2 open
    result = CliRunner().invoke(cli, ["-q", "tagger", "agreement", "--labels", str(folder)])
    assert result.exit_code != 0
    # newsflow's main() turns a ConfigError into one line on stderr and exit code 1.
    assert isinstance(result.exception, ConfigError)
    assert "not adjudicated" in str(result.exception) and "pool-2" in str(result.exception)


def test_agreement_compares_the_written_items_writers_with_their_blind_readers(
    tmp_path: Path,
) -> None:
    written = tmp_path / "written"
    half = written / "check"
    (half / "items").mkdir(parents=True)
    (half / "readings").mkdir()
    (half / "items" / "a.jsonl").write_text("".join(json.dumps(
        {"sid": sid, "title": "T", "text": "X", "tags": tags, "class": "c"}) + "\n"
        for sid, tags in [("syn-1", ["sanctions"]), ("syn-2", [])]))
    (half / "readings" / "r.jsonl").write_text("".join(
        json.dumps({"sid": sid, "tags": ["sanctions"]}) + "\n" for sid in ("syn-1", "syn-2")))
    code, out = _run("agreement", "--labels", str(_folder(tmp_path, adjudicated=True)),
                     "--written", str(written))
    assert code == 0, out
    assert "written items' writers vs check half's blind readers: 2 items; " \
        "identical tag sets: 0.500" in out
    assert "develop" not in out  # a half without items is not compared


def test_agreement_compares_the_guide_revisions_two_readings(tmp_path: Path) -> None:
    folder = _folder(tmp_path, adjudicated=True)
    revision = folder / "revision"
    revision.mkdir()
    for name, readings in (
        ("first", {"pool-1": ["sanctions"], "pool-3": []}),
        ("second", {"pool-1": ["sanctions"], "pool-3": ["military-aid"]}),
    ):
        (revision / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": i, "readings": ["sanctions-relief"], "tags": tags}) + "\n"
            for i, tags in readings.items()))
    code, out = _run("agreement", "--labels", str(folder), "--no-written", "--json")
    assert code == 0, out
    report = json.loads(out)["guide revision's second reading"]
    assert report["overlap"] == 2
    assert report["identical_tag_sets"] == 0.5
    assert report["tags"]["military-aid"]["second_only"] == 1
