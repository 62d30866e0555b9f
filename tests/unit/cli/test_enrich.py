"""`newsflow enrich` through click's CliRunner (the real model, no servers)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.errors import SchemaError

RECORDS = [
    {"id": "a", "title": "  Vietnam and India hold joint naval exercise",
     "text": "Warships from both navies sailed together off Da Nang, officials in Hanoi said.",
     "extra": {"kept": True}},
    {"id": 7, "title": "", "text": "Fans celebrated in Madrid after the final."},
]


def run(args: list[str], stdin: str = "") -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["-q", "enrich", *args], input=stdin)
    return result.exit_code, result.stdout, result.exception


def test_enriches_stdin_to_stdout_with_offsets_into_title_or_text() -> None:
    stdin = "\n".join(json.dumps(r) for r in RECORDS) + "\n\n"  # blank lines are skipped
    code, out, exc = run([], stdin)
    assert code == 0, exc
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in lines] == ["a", 7]
    first = lines[0]
    assert first["extra"] == {"kept": True}
    assert [t["tag"] for t in first["tags"]][:1] == ["military-cooperation"]
    fields = {e["field"] for e in first["entities"]}
    assert fields == {"title", "text"}
    for e in first["entities"]:
        assert first[e["field"]][e["start"] : e["end"]] == e["text"]
    for tag in first["tags"]:
        assert tag["taxonomy_version"]
        for ev in tag["evidence"]:
            assert first[ev["field"]][ev["start"] : ev["end"]] == ev["sentence"]
    second = lines[1]
    assert second["tags"] == []
    madrid = next(e for e in second["entities"] if e["canonical"] == "Madrid")
    assert (madrid["field"], second["text"][madrid["start"] : madrid["end"]]) == ("text", "Madrid")


def test_in_and_out_files(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(RECORDS[0]) + "\n", encoding="utf-8")
    code, out, exc = run(["--in", str(src), "--out", str(dst)])
    assert code == 0, exc
    assert out == ""
    [record] = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == "a" and record["tags"]


def test_bad_line_stops_with_its_number() -> None:
    stdin = json.dumps(RECORDS[0]) + "\n{not json\n"
    code, _, exc = run([], stdin)
    assert code == 1
    assert isinstance(exc, SchemaError) and str(exc).startswith("line 2: not JSON")


def test_record_shape_errors_are_reported() -> None:
    for line, message in [
        ('["a"]', "line 1: expected a JSON object"),
        ('{"title": "x"}', "line 1: 'id' must be"),
        ('{"id": "a", "title": 3}', "line 1: 'title' must be a string"),
        ('{"id": "a", "title": " ", "text": ""}', "line 1: needs a non-empty"),
    ]:
        code, _, exc = run([], line + "\n")
        assert code == 1 and str(exc).startswith(message), (line, exc)


def test_main_prints_one_line_and_exits_1(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    from newsflow.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("oops\n"))
    try:
        main(["-q", "enrich"])
    except SystemExit as exit_:
        assert exit_.code == 1
    else:
        raise AssertionError("expected exit 1")
    err = capsys.readouterr().err.strip()
    assert err.endswith("newsflow: line 1: not JSON: Expecting value (column 1)")


def test_unknown_model_is_a_configuration_error() -> None:
    code, _, exc = run(["--model", "no_such_model_xyz"], json.dumps(RECORDS[0]) + "\n")
    assert code == 1
    assert "no_such_model_xyz" in str(exc) and "not installed" in str(exc)
