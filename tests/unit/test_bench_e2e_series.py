"""bench/e2e/series.py's pure parts: waiting for a quiet machine, one run read from bench/e2e's
--json phase (roles, the workers' work, the machine's speed, freshness), the summary and the
table; and that a run which fails says which one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.calibrate import Calibration
from bench.e2e.ab import run_phase, write_runs
from bench.e2e.run import (
    JIT_WARMING_MS,
    PhaseResult,
    jvm_thread_lines,
    phase_json,
    thread_cpu_lines,
)
from bench.e2e.series import Quiet, SeriesRun, report, series_run, summarize, wait_for_quiet
from bench.e2e.series import main as series_main


class Clock:
    """A fake clock whose sleep moves it on, and a load average that follows a script."""

    def __init__(self, loads: list[float]) -> None:
        self.now = 0.0
        self.loads = loads
        self.slept: list[float] = []

    def loadavg(self) -> tuple[float, float, float]:
        load = self.loads[0] if len(self.loads) == 1 else self.loads.pop(0)
        return (load, load, load)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _wait(clock: Clock, threshold: float = 0.5, max_wait_s: float = 60.0) -> Quiet:
    return wait_for_quiet(threshold, max_wait_s, poll_s=10.0, loadavg=clock.loadavg,
                          sleep=clock.sleep, monotonic=clock.monotonic)


def test_a_quiet_machine_is_not_waited_for() -> None:
    clock = Clock([0.3])
    quiet = _wait(clock)
    assert (quiet.quiet, quiet.waited_s, quiet.load, clock.slept) == (True, 0.0, 0.3, [])


def test_it_waits_while_the_load_is_at_or_above_the_threshold() -> None:
    clock = Clock([1.2, 0.8, 0.5, 0.49])
    quiet = _wait(clock)
    assert quiet.quiet and quiet.load == 0.49 and quiet.waited_s == 30.0
    assert clock.slept == [10.0, 10.0, 10.0]


def test_it_gives_up_after_the_longest_wait_and_says_so() -> None:
    clock = Clock([2.0])
    quiet = _wait(clock, max_wait_s=25.0)
    assert not quiet.quiet and quiet.load == 2.0
    assert quiet.waited_s == 25.0 and clock.slept == [10.0, 10.0, 5.0]  # never past the limit


def _phase() -> dict[str, object]:
    phase = PhaseResult("burst", False, 0.0, 3000)
    phase.searchable = 3000
    phase.cpu = {"poller-0": 1.2, "worker-0": 4.5, "worker-1": 4.5, "worker-ordered": 3.0,
                 "kafka": 0.6, "elasticsearch": 1.5, "farm": 0.3, "bench": 0.6}
    phase.thread_cpu = {"enrich": 5.7, "stories": 1.5, "elasticsearch": 0.3}
    phase.fresh_search = [1.0, 2.0, 3.0, 4.0]
    phase.throughput = 512.5
    phase.load_start, phase.load_end = 0.4, 1.1
    phase.calibration = Calibration(python_loop_s=0.45, matmul_gflops=101.0)
    phase.jvm = {"kafka": {"work": 0.45, "jit": 0.06, "gc": 0.01},
                 "elasticsearch": {"work": 1.2, "jit": 0.24}}
    written: dict[str, object] = json.loads(json.dumps(phase_json(phase), default=str))
    return written


def test_a_run_is_read_from_the_phases_json_as_the_bench_reports_it() -> None:
    run = series_run(2, _phase())
    assert run.number == 2 and run.quiet
    assert run.by_role == pytest.approx(
        {"poller": 0.4, "worker": 4.0, "kafka": 0.2, "elasticsearch": 0.5})
    assert run.total_ms == pytest.approx(5.1)  # the farm and the bench are not the product
    assert run.works == pytest.approx(
        {"enrich": 1.9, "stories": 0.5, "elasticsearch": 0.1, "rest": 1.5})
    assert (run.python_loop_s, run.matmul_gflops) == (0.45, 101.0)
    assert (run.search_p50_s, run.search_p95_s, run.throughput) == (2.0, 4.0, 512.5)
    assert (run.load_start, run.load_end) == (0.4, 1.1)
    assert run.jit_ms == pytest.approx({"elasticsearch": 0.08, "kafka": 0.02})
    assert not run.warming


def test_the_workers_work_is_the_same_split_the_bench_prints() -> None:
    phase = PhaseResult("burst", False, 0.0, 3000)
    phase.searchable = 3000
    phase.cpu = {"worker-0": 4.5, "worker-1": 4.5, "worker-ordered": 3.0}
    phase.thread_cpu = {"enrich": 5.7, "stories": 1.5, "elasticsearch": 0.3}
    assert thread_cpu_lines([phase]) == [
        "- burst: the workers' CPU by work: enrich 1.90, stories 0.50, elasticsearch 0.10, "
        "the rest (event loops: Kafka, decoding, hand-over) 1.50 ms per article"]


def test_an_older_trees_phase_leaves_out_what_it_did_not_measure() -> None:
    run = series_run(1, {"searchable": 3000, "cpu": {"worker-0": 3.0}}, quiet=False)
    assert run.works == {} and not run.quiet and run.total_ms == pytest.approx(1.0)
    assert math.isnan(run.python_loop_s) and math.isnan(run.search_p95_s)
    assert math.isnan(run.load_start)
    assert run.jit_ms == {} and not run.warming


def test_the_summary_gives_the_median_the_lowest_and_the_highest() -> None:
    runs = [SeriesRun(1, 4.4, {"poller": 0.5, "worker": 3.0}),
            SeriesRun(2, 3.9, {"poller": 0.4, "worker": 2.9}),
            SeriesRun(3, 4.1, {"poller": 0.45, "worker": 3.1})]
    summary = summarize(runs)
    assert (summary.median_ms, summary.lowest_ms, summary.highest_ms) == (4.1, 3.9, 4.4)
    assert summary.median_by_role == pytest.approx(
        {"poller": 0.45, "worker": 3.0, "kafka": 0.0, "elasticsearch": 0.0})
    assert summarize(runs[:2]).median_ms == pytest.approx(4.15)
    with pytest.raises(ValueError):
        summarize([])


def test_the_report_has_a_row_per_run_and_marks_one_that_was_not_quiet() -> None:
    runs = [series_run(1, _phase()), series_run(2, _phase(), quiet=False),
            series_run(3, {"searchable": 10, "cpu": {}})]
    text = report(runs, summarize(runs), phase="burst", articles=3000,
                  extra_args="--ordered-process --watches 100", cores=2)
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3
    assert rows[0].startswith("| 1 | 5.10 | 0.40 / 4.00 / 0.20 / 0.50 | "
                              "1.90 / 0.50 / 0.10 / 1.50 | 0.45, 101 | 2.00 / 4.00 | 512.5 |")
    assert "NOT QUIET" in rows[1] and "NOT QUIET" not in rows[0]
    assert "| 3 | 0.00 | " in rows[2] and "| - | -, - | - / - | - |" in rows[2]
    assert "2 cores" in text and "median 5.10 ms/article (lowest 0.00, highest 5.10" in text
    assert rows[0].endswith("| elasticsearch 0.08, kafka 0.02 |") and rows[2].endswith("| - |")
    assert "WARMING UP" not in text


def test_a_run_whose_server_was_still_compiling_is_marked() -> None:
    phase = _phase()
    phase["jvm"] = {"kafka": {"work": 0.45, "jit": 0.03},
                    "elasticsearch": {"work": 1.2, "jit": 0.9}}  # 0.30 ms per article
    runs = [series_run(1, phase), series_run(2, _phase())]
    assert runs[0].warming and not runs[1].warming
    text = report(runs, summarize(runs), phase="burst", articles=3000, extra_args="", cores=2)
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert "5.10 WARMING UP |" in rows[0] and "WARMING UP" not in rows[1]
    assert rows[0].endswith("| elasticsearch 0.30, kafka 0.01 |")
    assert "WARMING UP: a server's JIT compiler took more than 0.2 ms" in text


@pytest.mark.parametrize("share", [0.99, 1.01])
def test_the_series_marks_warming_up_where_the_bench_does(share: float) -> None:
    phase = PhaseResult("burst", False, 0.0, 3000)
    phase.searchable = 3000
    phase.cpu = {"worker-0": 3.0, "elasticsearch": 1.5}
    # Elasticsearch's compiler at just under / just over the mark, per article.
    phase.jvm = {"elasticsearch": {"work": 1.2, "jit": 3.0 * JIT_WARMING_MS * share}}
    bench_marks = "WARMING UP" in "\n".join(jvm_thread_lines([phase]))
    run = series_run(1, json.loads(json.dumps(phase_json(phase), default=str)))
    assert run.warming == bench_marks == (share > 1)


def test_a_run_that_fails_says_which_one(tmp_path: Path) -> None:
    # No bench package in the tree: `python -m bench.e2e.run` exits at once with an error.
    with pytest.raises(SystemExit, match=r"^run 7 failed \(exit 1\)$"):
        run_phase(tmp_path, "burst", 10, "", "run 7")


def test_warm_up_runs_come_first_under_their_own_name(tmp_path: Path) -> None:
    # The same tree without a bench package: the first run to fail is the first warm-up,
    # before any counted run (and before any wait for a quiet machine).
    with pytest.raises(SystemExit, match=r"^warm-up 1 failed \(exit 1\)$"):
        series_main(["--runs", "1", "--warm-up", "2", "--tree", str(tmp_path),
                     "--quiet-max-seconds", "0"])
    with pytest.raises(SystemExit, match=r"^run 1 failed \(exit 1\)$"):
        series_main(["--runs", "1", "--tree", str(tmp_path), "--quiet-max-seconds", "0"])


def test_the_runs_and_summary_are_written_as_json(tmp_path: Path) -> None:
    runs = [series_run(1, _phase()), series_run(2, {"searchable": 3000, "cpu": {}})]
    out = tmp_path / "series.json"
    write_runs(out, runs, summarize(runs))
    written = json.loads(out.read_text())  # NaN is written as JSON's NaN, read back as nan
    assert [r["number"] for r in written["runs"]] == [1, 2]
    assert written["runs"][0]["works"]["stories"] == pytest.approx(0.5)
    assert math.isnan(written["runs"][1]["python_loop_s"])
    assert written["summary"]["median_ms"] == pytest.approx(2.55)
