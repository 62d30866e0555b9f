"""Repeated runs of one bench/e2e phase, each on a quiet machine: the figure now, and its spread.

    .venv/bin/python -m bench.e2e.series --runs 3 [--phase burst] [--articles 3000] \\
        [--args='--ordered-process --watches 100'] [--warm-up 0] [--quiet-load 0.5] \\
        [--json FILE]

(``--args=...`` with the equals sign: the value starts with a dash.)

One run of the burst phase moves by 0.3-0.6 ms per article from the next on 2 cores, on the
same code (bench/RESULTS.md, sessions 26-28), and a run that starts while something else
still uses the cores is inflated further. So the figure an issue is judged by is a series:
each run starts only once the 1-minute load average has fallen under ``--quiet-load``
(bench/e2e's own settle step then waits for the cores to be idle over 5 s), at most
``--quiet-max-seconds`` (a run that started anyway is marked NOT QUIET). Each run is
``python -m bench.e2e.run --no-stages --phases PHASE --articles N --json ...`` with ``--args``.

Prints, per run: CPU ms per article in all and by role (pollers, workers, Kafka,
Elasticsearch), the workers' CPU by work (enrich, stories, Elasticsearch calls, the event
loops), the machine's speed just before it (bench/calibrate.py), poll -> searchable p50 and
p95, the e2e rate, the load and each server's JIT compiler's CPU per article (a run where it
is above bench/e2e's warming-up mark is marked WARMING UP); then the median, lowest and
highest CPU per article, with the core count. The first run after the stack started pays
the servers' JIT warm-up: ``--warm-up 1`` runs one first that is not counted. A stack run
with the JVM's tiered default is not warm after tens of thousands of articles
(bench/RESULTS.md, session 29): read its runs with their JIT column.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.e2e.ab import add_phase_arguments, figure, role_ms, run_phase, write_runs
from bench.e2e.run import (
    JIT_WARMING_MS,
    PRODUCT_ROLES,
    REPO,
    jit_ms_per_article,
    servers_warming,
    worker_work_ms,
)
from processors.service.metrics import CPU_WORKS

__all__ = ["Quiet", "SeriesRun", "SeriesSummary", "report", "series_run", "summarize",
           "wait_for_quiet"]


@dataclass(frozen=True)
class Quiet:
    load: float  # the 1-minute load average when the wait ended
    waited_s: float
    quiet: bool  # False: the wait gave up and the run started on a busy machine


def wait_for_quiet(
    threshold: float,
    max_wait_s: float,
    *,
    poll_s: float = 10.0,
    loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Quiet:
    """Wait until the 1-minute load average is under ``threshold``, at most ``max_wait_s``."""
    start = monotonic()
    while True:
        load = loadavg()[0]
        waited = monotonic() - start
        if load < threshold:
            return Quiet(load, waited, True)
        if waited >= max_wait_s:
            return Quiet(load, waited, False)
        sleep(min(poll_s, max_wait_s - waited))


@dataclass
class SeriesRun:
    number: int
    total_ms: float
    by_role: dict[str, float] = field(default_factory=dict)
    # The workers' CPU ms per article by work (CPU_WORKS) and "rest" (their event loops);
    # empty for a tree whose workers do not count it.
    works: dict[str, float] = field(default_factory=dict)
    python_loop_s: float = math.nan
    matmul_gflops: float = math.nan
    search_p50_s: float = math.nan
    search_p95_s: float = math.nan
    throughput: float = math.nan
    load_start: float = math.nan
    load_end: float = math.nan
    quiet: bool = True
    # Each server's JIT compiler threads, CPU ms per article (empty: not measured). Above
    # run.JIT_WARMING_MS the server was still compiling and its figure is inflated.
    jit_ms: dict[str, float] = field(default_factory=dict)

    @property
    def warming(self) -> bool:
        return bool(servers_warming(self.jit_ms))

    def jit_text(self) -> str:
        return ", ".join(f"{name} {ms:.2f}" for name, ms in self.jit_ms.items()) or "-"


def series_run(number: int, phase: Mapping[str, Any], quiet: bool = True) -> SeriesRun:
    """One run of the series from its phase in bench/e2e's ``--json``."""
    by_role = role_ms(phase)
    thread_cpu = phase.get("thread_cpu") or {}
    searchable = int(phase.get("searchable") or 0)
    works = worker_work_ms(phase.get("cpu") or {}, thread_cpu, searchable) if thread_cpu else {}
    return SeriesRun(
        number=number,
        total_ms=sum(by_role.values()),
        by_role=by_role,
        works=works,
        python_loop_s=figure(phase, "python_loop_s", "calibration"),
        matmul_gflops=figure(phase, "matmul_gflops", "calibration"),
        search_p50_s=figure(phase, "search_p50"),
        search_p95_s=figure(phase, "search_p95"),
        throughput=figure(phase, "throughput"),
        load_start=figure(phase, "load_start"),
        load_end=figure(phase, "load_end"),
        quiet=quiet,
        jit_ms=jit_ms_per_article(phase.get("jvm") or {}, searchable),
    )


@dataclass(frozen=True)
class SeriesSummary:
    median_ms: float
    lowest_ms: float
    highest_ms: float
    median_by_role: dict[str, float]


def summarize(runs: Sequence[SeriesRun]) -> SeriesSummary:
    if not runs:
        raise ValueError("no runs")
    totals = [run.total_ms for run in runs]
    return SeriesSummary(
        median_ms=statistics.median(totals),
        lowest_ms=min(totals),
        highest_ms=max(totals),
        median_by_role={role: statistics.median(run.by_role.get(role, 0.0) for run in runs)
                        for role in PRODUCT_ROLES},
    )


def _f(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def report(runs: Sequence[SeriesRun], summary: SeriesSummary, *, phase: str, articles: int,
           extra_args: str, cores: int) -> str:
    lines = [f"bench/e2e series, phase {phase}, {articles} articles, {cores} cores; "
             f"arguments: {extra_args or '(defaults)'}", "",
             "| run | ms/article | pollers / workers / kafka / elasticsearch | workers: "
             f"{' / '.join(CPU_WORKS)} / event loops | machine (10M additions s, GFLOPS) | "
             "poll→searchable p50 / p95 s | e2e/s | load | servers' JIT |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        roles = " / ".join(_f(run.by_role.get(role, math.nan)) for role in PRODUCT_ROLES)
        works = (" / ".join(_f(run.works.get(w, math.nan)) for w in (*CPU_WORKS, "rest"))
                 if run.works else "-")
        mark = ("" if run.quiet else " NOT QUIET") + (" WARMING UP" if run.warming else "")
        lines.append(
            f"| {run.number} | {run.total_ms:.2f}{mark} | {roles} | {works} | "
            f"{_f(run.python_loop_s)}, {_f(run.matmul_gflops, 0)} | "
            f"{_f(run.search_p50_s)} / {_f(run.search_p95_s)} | {_f(run.throughput, 1)} | "
            f"{_f(run.load_start)} -> {_f(run.load_end)} | {run.jit_text()} |")
    roles = ", ".join(f"{role} {summary.median_by_role[role]:.2f}" for role in PRODUCT_ROLES)
    lines += ["", f"median {summary.median_ms:.2f} ms/article (lowest {summary.lowest_ms:.2f}, "
              f"highest {summary.highest_ms:.2f}; by role, medians: {roles})"]
    if any(run.warming for run in runs):
        lines.append(f"WARMING UP: a server's JIT compiler took more than {JIT_WARMING_MS} ms "
                     "per article in that run; its figure is inflated (a stack started a "
                     "short while ago, or run with the JVM's tiered default)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    add_phase_arguments(parser)
    parser.add_argument("--args", default="--ordered-process --watches 100",
                        help="more bench.e2e.run arguments (default: issue 17's "
                             "'--ordered-process --watches 100'; --args='' for none)")
    parser.add_argument("--tree", type=Path, default=REPO, help="where the runs run")
    parser.add_argument("--warm-up", type=int, default=0, metavar="N",
                        help="first run N runs that are not counted (not waited for either): "
                             "the servers' JIT after a stack start, or a tiered stack's C2")
    parser.add_argument("--quiet-load", type=float, default=0.5,
                        help="start a run once the 1-minute load average is under this")
    parser.add_argument("--quiet-max-seconds", type=float, default=600.0,
                        help="start it anyway after this long (marked NOT QUIET)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.warm_up < 0:
        parser.error("--warm-up must not be negative")
    for number in range(1, args.warm_up + 1):
        warm = series_run(number, run_phase(args.tree, args.phase, args.articles, args.args,
                                            f"warm-up {number}"))
        print(f"  warm-up {number}: {warm.total_ms:.2f} ms/article (servers' JIT "
              f"{warm.jit_text()}), not counted", file=sys.stderr, flush=True)
    runs: list[SeriesRun] = []
    for number in range(1, args.runs + 1):
        quiet = wait_for_quiet(args.quiet_load, args.quiet_max_seconds)
        print(f"run {number}: 1-minute load {quiet.load:.2f} after {quiet.waited_s:.0f} s"
              f"{'' if quiet.quiet else ' (NOT QUIET: gave up waiting)'}", file=sys.stderr,
              flush=True)
        phase = run_phase(args.tree, args.phase, args.articles, args.args, f"run {number}")
        runs.append(series_run(number, phase, quiet.quiet))
        print(f"  {runs[-1].total_ms:.2f} ms/article", file=sys.stderr, flush=True)
    summary = summarize(runs)
    print(report(runs, summary, phase=args.phase, articles=args.articles,
                 extra_args=args.args, cores=os.cpu_count() or 1))
    if args.json:
        write_runs(args.json, runs, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
