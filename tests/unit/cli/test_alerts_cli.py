"""`newsflow alerts replay`: the detector over JSON lines through the CLI (no servers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from newsflow.cli import cli

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def record(n: int, at: datetime, source: str) -> str:
    return json.dumps({"id": f"a{n:04d}", "source": source,
                       "published_at": at.isoformat().replace("+00:00", "Z"),
                       "tags": ["sanctions"], "entities": ["Iran"], "dup_of": None})


def stream() -> list[str]:
    lines = [record(n, T0 + timedelta(hours=2 * n), f"bg{n % 9}.example") for n in range(30)]
    burst = T0 + timedelta(hours=60, minutes=7)
    lines += [record(100 + n, burst + timedelta(minutes=2 * n), f"o{n % 6}.example")
              for n in range(10)]
    return lines


def test_replay_raises_the_burst_with_its_evidence_and_nothing_before_it() -> None:
    result = CliRunner().invoke(cli, ["alerts", "replay"], input="\n".join(stream()) + "\n")
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.output.splitlines()]
    assert alerts and {a["key"] for a in alerts} <= {"sanctions", "sanctions|Iran"}
    first = alerts[0]
    assert first["at"] >= "2026-03-04T12:07:00Z"  # not before the burst's evidence
    assert first["sources"] >= 3 and first["count"] >= 5
    assert all(i.startswith("a01") for i in first["article_ids"][-5:])


def test_replay_is_deterministic_and_stops_at_a_bad_line_with_its_number() -> None:
    runner = CliRunner()
    text = "\n".join(stream()) + "\n"
    assert runner.invoke(cli, ["alerts", "replay"], input=text).output == \
        runner.invoke(cli, ["alerts", "replay"], input=text).output
    bad = runner.invoke(cli, ["alerts", "replay"], input=stream()[0] + "\n{not json\n")
    # main() prints a SchemaError as one line and exits 1; here it surfaces as the exception.
    assert bad.exit_code == 1
    assert "line 2" in str(bad.exception)


def test_replay_counts_mode_reads_buckets() -> None:
    lines = [json.dumps({"key": "AAPL", "at": (T0 + timedelta(minutes=5 * n)).isoformat(),
                         "count": 10 if n < 900 or n > 905 else 400}) for n in range(1000)]
    result = CliRunner().invoke(cli, ["alerts", "replay", "--counts"],
                                input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.output.splitlines()]
    assert alerts and alerts[0]["sources"] is None and alerts[0]["key"] == "AAPL"
