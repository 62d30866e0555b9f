"""processors.alerts.replay and `newsflow alerts replay` (--counts, --config-json, files,
errors with line numbers) through click's CliRunner; no servers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.errors import ConfigError, SchemaError
from processors.alerts.model import AlertInput
from processors.alerts.replay import replay_articles, replay_counts

from .samples import KEY, T0, background, burst, merged

BURST_AT = T0 + timedelta(days=2, hours=14, minutes=3)


def line(a: AlertInput) -> str:
    return json.dumps({"id": a.id, "source": a.source,
                       "published_at": a.published_at.isoformat().replace("+00:00", "Z"),
                       "tags": list(a.tags), "entities": list(a.entities), "dup_of": a.dup_of})


def stream_text() -> str:
    return "\n".join(line(a) for a in merged(background(3), burst(BURST_AT, 10, 5))) + "\n"


def run(args: list[str], stdin: str = "") -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["-q", "alerts", "replay", *args], input=stdin)
    return result.exit_code, result.stdout, result.exception


def test_articles_in_alert_lines_out_with_the_required_fields() -> None:
    code, out, exc = run([], stream_text())
    assert code == 0, exc
    alerts = [json.loads(x) for x in out.splitlines()]
    assert KEY in {a["key"] for a in alerts}
    for alert in alerts:
        assert {"key", "at", "count", "baseline", "sources", "article_ids", "p",
                "alert_id"} <= set(alert)
        assert alert["at"].endswith("Z") and alert["article_ids"]
    assert list(replay_articles(stream_text().splitlines())) == alerts


def test_config_json_changes_the_detector_and_files_in_and_out(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(stream_text(), encoding="utf-8")
    code, out, exc = run(["--in", str(src), "--out", str(dst)])
    assert code == 0 and out == "", exc
    assert dst.read_text(encoding="utf-8").strip()
    # A demand no burst of ten stories can meet: nothing.
    code, out, exc = run(["--in", str(src), "--config-json", '{"min_count": 50}'])
    assert code == 0 and out == "", exc
    code, _, exc = run(["--config-json", '{"no_such": 1}'], stream_text())
    assert code == 1 and isinstance(exc, ConfigError) and "no_such" in str(exc)
    code, _, exc = run(["--config-json", "[1"], stream_text())
    assert code == 1 and isinstance(exc, ConfigError)


def test_counts_mode() -> None:
    lines = [json.dumps({"key": "series", "at": (T0 + timedelta(minutes=5 * n)).isoformat(),
                         "count": 300 if 1500 <= n < 1506 else 10 + n % 3})
             for n in range(1800)]
    code, out, exc = run(["--counts"], "\n".join(lines) + "\n")
    assert code == 0, exc
    alerts = [json.loads(x) for x in out.splitlines()]
    assert [a["key"] for a in alerts] == ["series"]
    assert alerts[0]["sources"] is None and alerts[0]["article_ids"] == []
    assert alerts[0]["at"] >= (T0 + timedelta(minutes=5 * 1500)).isoformat()[:19]
    assert list(replay_counts(lines)) == alerts


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "line 2: not JSON"),
    ('["a"]', "line 2: expected a JSON object"),
    ('{"source": "s", "published_at": "2026-03-02T00:00:00Z"}', "line 2: 'id'"),
    ('{"id": "a", "published_at": "2026-03-02T00:00:00Z"}', "line 2: 'source'"),
    ('{"id": "a", "source": "s", "published_at": "yesterday"}', "line 2: 'published_at'"),
    ('{"id": "a", "source": "s", "published_at": "2026-03-02T00:00:00Z", "tags": "x"}',
     "line 2: 'tags'"),
])
def test_a_bad_article_line_stops_with_its_number(bad: str, message: str) -> None:
    good = line(background(1)[0])
    code, _, exc = run([], f"{good}\n\n{bad}\n".replace("\n\n", "\n"))
    assert code == 1 and isinstance(exc, SchemaError), exc
    assert str(exc).startswith(message), exc


def test_a_bad_count_line_stops_with_its_number() -> None:
    good = json.dumps({"key": "k", "at": "2026-03-02T00:00:00Z", "count": 3})
    for bad, message in [('{"key": "k", "at": "2026-03-02T00:05:00Z", "count": -1}', "'count'"),
                         ('{"key": "", "at": "2026-03-02T00:05:00Z", "count": 1}', "'key'"),
                         ('{"key": "k", "count": 1}', "'at'")]:
        code, _, exc = run(["--counts"], f"{good}\n{bad}\n")
        assert code == 1 and str(exc).startswith(f"line 2: {message}"), exc


def test_main_prints_the_line_number_and_exits_1(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from newsflow.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "a"}\n'))
    with pytest.raises(SystemExit) as exit_info:
        main(["alerts", "replay"])
    assert exit_info.value.code == 1
    assert "line 1: 'source'" in capsys.readouterr().err
