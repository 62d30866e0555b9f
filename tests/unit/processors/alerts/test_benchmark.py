"""The detector on a small set from the shared injection benchmark's generator, scored with
its scorer (../shared/eval; skipped when it is not there). A few seconds."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from processors.alerts.replay import replay_articles

EVAL = Path(__file__).resolve().parents[5] / "shared" / "eval"
GEN, SCORE = EVAL / "alerts_gen.py", EVAL / "alerts_score.py"

pytestmark = pytest.mark.skipif(
    not (GEN.is_file() and SCORE.is_file()),
    reason=f"the shared alert benchmark is not at {EVAL} (alerts_gen.py, alerts_score.py)")


def scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alerts_score", SCORE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_small_generated_set_meets_the_targets(tmp_path: Path) -> None:
    articles, truth, alerts = (tmp_path / n for n in ("a.jsonl", "t.jsonl", "alerts.jsonl"))
    subprocess.run([sys.executable, str(GEN), "--seed", "4242", "--days", "5",
                    "--set", "burst_days=2", "--set", "bursts=24", "--set", "floods=4",
                    "--set", "syndications=3", "--set", "trends=2",
                    "--out-articles", str(articles), "--out-truth", str(truth)],
                   check=True, capture_output=True, timeout=120)
    with articles.open() as lines, alerts.open("w") as out:
        for record in replay_articles(lines):
            out.write(json.dumps(record) + "\n")
    score = scorer().score_synthetic(str(truth), str(alerts), str(articles))
    assert score["alert_worthy"] >= 4, score
    assert score["malformed"] == 0 and score["evidence_errors"] == 0, score
    assert score["forbidden"] == 0, score["forbidden_examples"]
    assert score["recall"] >= 0.75, score
    assert score["fa_per_100_key_days"] <= 1.0, score["false_alarm_examples"]
