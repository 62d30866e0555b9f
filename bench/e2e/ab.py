"""Alternated A/B runs of bench/e2e, for judging a change by its CPU per article.

    .venv/bin/python -m bench.e2e.ab --rounds 3 --a=--ordered-process \\
        --b="--ordered-process --watches 100" [--a-tree DIR] [--b-tree DIR] \\
        [--phase burst] [--articles 3000] [--json FILE]

(``--a=...`` with the equals sign: the value starts with a dash.)

The burst figure the issues budget moves by 0.3-0.6 ms from one run to the next on 2 cores
(bench/RESULTS.md, sessions 10 and 11), more than most changes it is asked to show. So a
change is judged on pairs run back to back. The order alternates (A B, then B A, ...), so
that neither side always runs on the broker and Elasticsearch the other one just warmed.
Each side runs ``python -m bench.e2e.run --no-stages --phases PHASE --json ...`` with its
arguments, in its own tree (``--a-tree``: a ``git worktree`` of the commit before a
change, with this bench copied in if it predates it; default: this repository).

Prints each run's CPU per article by role, then each pair's B - A and their mean and
spread, with the core count and each run's load average. Warm the stack first (a few runs):
a freshly started broker and Elasticsearch spend their JIT compilers' time in the first
runs (bench/RESULTS.md, session 10).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.e2e.run import PRODUCT_ROLES, REPO, role_cpu_ms

__all__ = ["PairSummary", "Run", "add_phase_arguments", "figure", "role_ms", "run_of_phase",
           "run_order", "run_phase", "summarize", "write_runs"]


@dataclass
class Run:
    side: str  # "A" or "B"
    round: int
    total_ms: float
    by_role: dict[str, float] = field(default_factory=dict)
    load_start: float = math.nan
    load_end: float = math.nan
    # bench/calibrate.py's pure-Python loop just before the phase (CPU s): the machine's speed.
    python_loop_s: float = math.nan


@dataclass
class PairSummary:
    mean_a: float
    mean_b: float
    diffs: list[float]  # B - A, one per round
    mean_diff: float
    sd_diff: float  # sample standard deviation of the diffs (nan for one pair)


def role_ms(phase: Mapping[str, Any]) -> dict[str, float]:
    """CPU ms per searchable article of each role in one phase of bench/e2e's --json, as
    run.py's report computes it."""
    return role_cpu_ms(phase.get("cpu") or {}, int(phase.get("searchable") or 0))


def run_order(rounds: int) -> list[tuple[int, str]]:
    """(round, side) in running order: A B, B A, A B, ..."""
    order: list[tuple[int, str]] = []
    for r in range(1, rounds + 1):
        sides = ("A", "B") if r % 2 else ("B", "A")
        order += [(r, side) for side in sides]
    return order


def summarize(runs: Sequence[Run]) -> PairSummary:
    """Means of each side and the per-round B - A over the rounds both sides completed."""
    by_round: dict[int, dict[str, float]] = {}
    for run in runs:
        by_round.setdefault(run.round, {})[run.side] = run.total_ms
    pairs = [(sides["A"], sides["B"]) for _, sides in sorted(by_round.items())
             if "A" in sides and "B" in sides]
    if not pairs:
        raise ValueError("no round has both an A and a B run")
    diffs = [round(b - a, 4) for a, b in pairs]
    return PairSummary(
        mean_a=statistics.fmean(a for a, _ in pairs),
        mean_b=statistics.fmean(b for _, b in pairs),
        diffs=diffs,
        mean_diff=statistics.fmean(diffs),
        sd_diff=statistics.stdev(diffs) if len(diffs) > 1 else math.nan,
    )


def run_phase(tree: Path, phase: str, articles: int, extra_args: str, label: str) -> dict[str, Any]:
    """Run ``python -m bench.e2e.run`` for one phase in ``tree`` and return that phase from
    its ``--json`` (SystemExit, naming ``label``, when the run fails)."""
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-run-") as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "bench.e2e.run", "--articles", str(articles),
                   "--no-stages", "--phases", phase, "--json", str(out),
                   *shlex.split(extra_args)]
        print(f"{label}: {shlex.join(command)} (in {tree})", file=sys.stderr, flush=True)
        done = subprocess.run(command, cwd=tree, stdout=subprocess.DEVNULL, check=False)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"{label} failed (exit {done.returncode})")
        found: dict[str, Any] = next(p for p in json.loads(out.read_text())["phases"]
                                     if p["name"] == phase)
    return found


def _one_run(tree: Path, args: argparse.Namespace, side_args: str, side: str,
             round_no: int) -> Run:
    phase = run_phase(tree, args.phase, args.articles, side_args, f"round {round_no} {side}")
    return run_of_phase(side, round_no, phase)


def figure(phase: Mapping[str, Any], key: str, within: str = "") -> float:
    """A number of a phase in bench/e2e's --json (``within``: of that nested object, e.g.
    the calibration); NaN when an older tree's phase lacks it or it is null."""
    data = (phase.get(within) or {}) if within else phase
    value = data.get(key)
    return math.nan if value is None else float(value)


def run_of_phase(side: str, round_no: int, phase: Mapping[str, Any]) -> Run:
    """One side's run from its phase in bench/e2e's --json (an older tree's may lack the
    load or the calibration: NaN)."""
    by_role = role_ms(phase)
    return Run(side, round_no, sum(by_role.values()), by_role,
               figure(phase, "load_start"), figure(phase, "load_end"),
               figure(phase, "python_loop_s", "calibration"))


def report(runs: Sequence[Run], summary: PairSummary, args: argparse.Namespace) -> str:
    lines = [f"bench/e2e A/B, phase {args.phase}, {args.articles} articles, "
             f"{os.cpu_count()} cores", f"A: {args.a or '(defaults)'} in {args.a_tree}",
             f"B: {args.b or '(defaults)'} in {args.b_tree}", "",
             "| round | side | ms/article | pollers / workers / kafka / elasticsearch | load | "
             "machine (10M Python additions, s) |",
             "|---|---|---|---|---|---|"]
    for run in runs:
        parts = " / ".join(f"{run.by_role.get(role, 0):.2f}" for role in PRODUCT_ROLES)
        machine = "-" if math.isnan(run.python_loop_s) else f"{run.python_loop_s:.2f}"
        lines.append(f"| {run.round} | {run.side} | {run.total_ms:.2f} | {parts} | "
                     f"{run.load_start:.2f} -> {run.load_end:.2f} | {machine} |")
    spread = "" if math.isnan(summary.sd_diff) else f" (sd {summary.sd_diff:.2f})"
    lines += ["", f"mean A {summary.mean_a:.2f}, mean B {summary.mean_b:.2f} ms/article; "
              f"B - A per round: {', '.join(f'{d:+.2f}' for d in summary.diffs)}; "
              f"mean {summary.mean_diff:+.2f}{spread}"]
    return "\n".join(lines)


def add_phase_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every runner of bench/e2e here shares: which phase, how many articles, and
    a file for the runs as JSON."""
    parser.add_argument("--phase", default="burst", help="the phase run (default burst)")
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="also write the runs and summary here")


def write_runs(path: Path, runs: Sequence[Any], summary: Any) -> None:
    """The runs and their summary (dataclasses) as the JSON file ``--json`` names."""
    path.write_text(json.dumps({"runs": [asdict(r) for r in runs],
                                "summary": asdict(summary)}, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--a", default="", help="bench.e2e.run arguments of side A (--a='--x --y')")
    parser.add_argument("--b", default="", help="bench.e2e.run arguments of side B (--b='--x --y')")
    parser.add_argument("--a-tree", type=Path, default=REPO, help="where side A runs")
    parser.add_argument("--b-tree", type=Path, default=REPO, help="where side B runs")
    add_phase_arguments(parser)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    runs: list[Run] = []
    for round_no, side in run_order(args.rounds):
        tree, side_args = (args.a_tree, args.a) if side == "A" else (args.b_tree, args.b)
        runs.append(_one_run(tree, args, side_args, side, round_no))
        print(f"  {runs[-1].total_ms:.2f} ms/article", file=sys.stderr, flush=True)
    summary = summarize(runs)
    print(report(runs, summary, args))
    if args.json:
        write_runs(args.json, runs, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
