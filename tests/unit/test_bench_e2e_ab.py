"""bench/e2e/ab.py's pure parts (the running order alternates, each role's CPU per article
is read from bench/e2e's --json phase as run.py reports it, and the summary pairs the runs
by round), and what lets bench/e2e/run.py run in an older tree (--a-tree)."""

from __future__ import annotations

import json
import math

import pytest

from bench.calibrate import Calibration
from bench.e2e.ab import Run, role_ms, run_of_phase, run_order, summarize
from bench.e2e.run import PhaseResult, phase_json


def test_the_order_alternates_which_side_runs_first() -> None:
    assert run_order(3) == [(1, "A"), (1, "B"), (2, "B"), (2, "A"), (3, "A"), (3, "B")]


def test_role_ms_sums_each_roles_processes_per_searchable_article() -> None:
    phase = {"searchable": 2000, "cpu": {
        "poller-0": 1.5, "worker-0": 3.0, "worker-1": 2.5, "worker-ordered": 1.0,
        "kafka": 0.4, "elasticsearch": 0.6, "farm": 9.0}}
    assert role_ms(phase) == pytest.approx(
        {"poller": 0.75, "worker": 3.25, "kafka": 0.2, "elasticsearch": 0.3})
    assert role_ms({"searchable": 0, "cpu": {}}) == dict.fromkeys(role_ms(phase), 0.0)


def test_a_run_reads_its_load_and_the_machines_speed_from_the_phases_json() -> None:
    phase = PhaseResult("burst", False, 0.0, 3000)
    phase.searchable = 3000
    phase.cpu = {"poller-0": 1.2, "worker-0": 9.0, "kafka": 0.6, "elasticsearch": 1.5}
    phase.load_start, phase.load_end = 0.4, 1.1
    phase.calibration = Calibration(python_loop_s=0.45, matmul_gflops=101.0)
    written = json.loads(json.dumps(phase_json(phase), default=str))  # as --json writes it
    assert written["calibration"] == {"python_loop_s": 0.45, "matmul_gflops": 101.0}
    run = run_of_phase("B", 2, written)
    assert (run.side, run.round, run.load_start, run.load_end) == ("B", 2, 0.4, 1.1)
    assert run.total_ms == pytest.approx(4.1) and run.python_loop_s == 0.45
    # An older tree's phase: no calibration, no load.
    older = run_of_phase("A", 1, {"searchable": 3000, "cpu": phase.cpu})
    assert math.isnan(older.python_loop_s) and math.isnan(older.load_start)
    # A phase whose calibration or load was written as null reads as not measured too.
    nulls = run_of_phase("A", 1, {"searchable": 3000, "cpu": phase.cpu, "calibration": None,
                                  "load_start": None, "load_end": 0.9})
    assert math.isnan(nulls.python_loop_s) and math.isnan(nulls.load_start)
    assert nulls.load_end == 0.9


def test_summary_pairs_runs_by_round_whatever_their_order() -> None:
    runs = [Run("A", 1, 4.0), Run("B", 1, 5.0), Run("B", 2, 5.4), Run("A", 2, 4.2),
            Run("A", 3, 4.1)]  # round 3 has no B: left out
    summary = summarize(runs)
    assert summary.diffs == [1.0, 1.2]
    assert summary.mean_a == pytest.approx(4.1) and summary.mean_b == pytest.approx(5.2)
    assert summary.mean_diff == pytest.approx(1.1)
    assert summary.sd_diff == pytest.approx(math.sqrt(0.02))
    assert math.isnan(summarize(runs[:2]).sd_diff)
    with pytest.raises(ValueError):
        summarize([Run("A", 1, 4.0)])


def test_an_older_tree_gets_only_the_settings_it_declares() -> None:
    """--a-tree runs bench/e2e in a tree from before some settings existed: its Settings
    refuses unknown ones, so those are left out (and named), the rest kept as they are."""
    from pydantic import BaseModel

    from bench.e2e.run import known_settings
    from newsflow.settings import Settings

    class Kafka(BaseModel):
        articles_topic: str = ""

    class Older(BaseModel):  # a Settings from before the hand-over topic and the stories
        kafka: Kafka = Kafka()

    names = {"NEWSFLOW_KAFKA__ARTICLES_TOPIC": "a", "NEWSFLOW_KAFKA__ENRICHED_TOPIC": "e",
             "NEWSFLOW_STORIES__WINDOW": "1", "NEWSFLOW_ALLOW_HOSTS": "127.20.0.0/16"}
    assert known_settings(names, Older) == (
        {"NEWSFLOW_KAFKA__ARTICLES_TOPIC": "a", "NEWSFLOW_ALLOW_HOSTS": "127.20.0.0/16"},
        ["NEWSFLOW_KAFKA__ENRICHED_TOPIC", "NEWSFLOW_STORIES__WINDOW"])
    # This tree's own Settings declares every name the bench sets.
    ours = {"NEWSFLOW_KAFKA__ENRICHED_TOPIC": "e", "NEWSFLOW_PROCESSORS__APP_ID": "p",
            "NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX": "w", "NEWSFLOW_POLLER__GROUP_ID": "g"}
    assert known_settings(ours, Settings) == (ours, [])


def test_the_default_role_is_left_off_the_worker_command() -> None:
    from bench.e2e.run import _role_option

    assert _role_option("all") == []
    assert _role_option("ordered") == ["--role", "ordered"]
