"""`newsflow cluster` through click's CliRunner: JSON lines in, one assignment per record out
(text only with --no-entities; the real small spaCy model otherwise; no servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.errors import SchemaError

CHILE = ("Magnitude 6.8 earthquake strikes near Valparaiso, Chile",
         "A strong earthquake of magnitude 6.8 struck off the coast of central Chile on "
         "Tuesday, shaking buildings in Valparaiso and Santiago.\nChile's emergency office "
         "said at least four people were killed in Valparaiso when an old adobe house "
         "collapsed.\nRescue teams searched the hillside neighbourhoods of Valparaiso for "
         "people trapped under rubble.")
CHILE_2 = ("Chile quake kills four in Valparaiso, rescuers search rubble",
           "Rescuers in Valparaiso dug through collapsed adobe homes after a magnitude 6.8 "
           "quake hit central Chile, killing four people.\nThe interior minister visited the "
           "port city and promised help for families who lost their homes.")
BANK = ("Central bank holds interest rates steady",
        "The central bank kept its benchmark rate unchanged at 4.5 percent on Thursday.")


def record(id_: str, title: str, text: str, when: str, source: str) -> dict[str, Any]:
    return {"id": id_, "title": title, "text": text, "source": source, "published_at": when}


RECORDS = [
    record("a1", *CHILE, "2025-03-04T08:00:00Z", "one.example"),
    record("a2", *BANK, "2025-03-04T08:30:00Z", "two.example"),
    record("a3", "BREAKING: " + CHILE[0], CHILE[1] + "\nCopyright 2025 Wire Co. All rights "
           "reserved.", "2025-03-04T09:00:00Z", "three.example"),
    record("a4", *CHILE_2, "2025-03-04T10:00:00Z", "four.example"),
]


def run(args: list[str], stdin: str = "") -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["-q", "cluster", *args], input=stdin)
    return result.exit_code, result.stdout, result.exception


def lines(records: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n\n"  # a blank line is skipped


def test_stories_and_copies_text_only() -> None:
    code, out, exc = run(["--no-entities"], lines(RECORDS))
    assert code == 0, exc
    got = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in got] == ["a1", "a2", "a3", "a4"]
    assert [r["story_id"] for r in got] == ["a1", "a2", "a1", "a1"]
    assert [r["dup_of"] for r in got] == [None, None, "a1", None]
    last = got[-1]
    assert last["article_count"] == 3 and last["independent_sources"] == 2
    assert last["story"]["source_domains"] == ["four.example", "one.example", "three.example"]
    assert last["story"]["first_at"] == "2025-03-04T08:00:00Z"


def test_with_the_real_ner_model_the_story_knows_its_entities() -> None:
    code, out, exc = run([], lines(RECORDS))
    assert code == 0, exc
    got = [json.loads(line) for line in out.splitlines()]
    assert [r["story_id"] for r in got] == ["a1", "a2", "a1", "a1"]
    # The text's "Valparaiso", under the place's own name (ISO 3166-2 spells it so).
    assert "Valparaíso" in got[-1]["story"]["top_entities"]


def test_state_file_continues_where_the_last_run_stopped(tmp_path: Path) -> None:
    state = tmp_path / "stories.json"
    src = tmp_path / "in.jsonl"
    src.write_text(lines(RECORDS[:2]), encoding="utf-8")
    assert run(["--no-entities", "--in", str(src), "--state", str(state)])[0] == 0
    assert state.exists()
    code, out, exc = run(["--no-entities", "--state", str(state)], lines(RECORDS[2:]))
    assert code == 0, exc
    got = [json.loads(line) for line in out.splitlines()]
    _, straight, _ = run(["--no-entities"], lines(RECORDS))
    assert got == [json.loads(line) for line in straight.splitlines()][2:]


def test_bad_lines_stop_with_their_number() -> None:
    good = json.dumps(RECORDS[0])
    for bad, message in [
        ("{not json", "line 2: not JSON"),
        ('["a"]', "line 2: expected a JSON object"),
        ('{"id": "b", "title": "x"}', "line 2: 'published_at' must be"),
        ('{"id": "b", "title": "x", "published_at": "yesterday"}', "line 2: 'published_at' is not"),
        ('{"id": "", "title": "x", "published_at": "2025-03-04T08:00:00Z"}', "line 2: 'id' must"),
        ('{"id": "b", "title": 3, "published_at": "2025-03-04T08:00:00Z"}', "line 2: 'title' must"),
    ]:
        code, _, exc = run(["--no-entities"], f"{good}\n{bad}\n")
        assert code == 1, bad
        assert isinstance(exc, SchemaError) and str(exc).startswith(message), (bad, exc)


def test_help_names_the_input_and_output() -> None:
    code, out, _ = run(["--help"])
    assert code == 0
    assert "dup_of" in out and "--no-entities" in out and "published_at" in out
