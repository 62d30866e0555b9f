"""CPU time and memory of processes and their children, read from /proc (Linux)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "JvmThreads",
    "ProcStat",
    "busy_cores",
    "descendants",
    "java_thread_cpu",
    "java_thread_cpu_spent",
    "jvm_kind",
    "jvm_spent",
    "jvm_threads",
    "parse_java_threads",
    "sample",
    "tree_sample",
]

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    cpu_s: float  # user + system seconds so far
    rss_kb: int  # resident now
    peak_rss_kb: int  # VmHWM: the most it was ever resident


def _stat_fields(path: str) -> list[str]:
    """The fields of a /proc .../stat file after the command name (which may hold spaces
    and parentheses): index 1 is the parent's pid, 11 and 12 user and system ticks."""
    return Path(path).read_text().rsplit(")", 1)[1].split()


def _cpu_s(fields: list[str]) -> float:
    """User + system CPU seconds so far, from ``_stat_fields``."""
    return (int(fields[11]) + int(fields[12])) / _TICK


def sample(pid: int) -> ProcStat | None:
    try:
        fields = _stat_fields(f"/proc/{pid}/stat")
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    values = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
    return ProcStat(_cpu_s(fields), int(values.get("VmRSS", 0)), int(values.get("VmHWM", 0)))


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(f"{entry}/stat")[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_sample(pid: int) -> tuple[ProcStat | None, list[ProcStat]]:
    """The process itself and each of its descendants (e.g. a poller's parser processes)."""
    kids = [s for s in (sample(p) for p in descendants(pid)) if s is not None]
    return sample(pid), kids


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat's first line."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    idle = values[3] + values[4]
    return total - idle, total


def busy_cores(window_s: float) -> float:
    """How many cores the whole machine kept busy over the next ``window_s`` seconds (every
    process, not only ours): what contention a measurement starting now would meet."""
    busy0, total0 = _cpu_ticks()
    time.sleep(window_s)
    busy1, total1 = _cpu_ticks()
    cores = os.cpu_count() or 1
    return cores * (busy1 - busy0) / max(1, total1 - total0)


_JAVA_THREAD = re.compile(r'^"(?P<name>[^"]*)".*?\bcpu=(?P<ms>[0-9.]+)ms', re.MULTILINE)


def java_thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a JVM's threads, summed by kind (the thread name with its
    numbers replaced by N: Kafka's request handlers, network threads, log cleaner, ...),
    from ``jcmd <pid> Thread.print``; empty when jcmd is missing or cannot attach (it must
    run as the JVM's user). Threads that ended are not counted."""
    jcmd = shutil.which("jcmd")
    if jcmd is None:
        return {}
    try:
        out = subprocess.run([jcmd, str(pid), "Thread.print"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_java_threads(out)


def parse_java_threads(dump: str) -> dict[str, float]:
    """CPU seconds by thread kind from a ``jcmd Thread.print`` dump (see java_thread_cpu)."""
    kinds: dict[str, float] = {}
    for match in _JAVA_THREAD.finditer(dump):
        kind = re.sub(r"\d+", "N", match["name"])
        kinds[kind] = kinds.get(kind, 0.0) + float(match["ms"]) / 1000
    return kinds


def java_thread_cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each thread kind spent between two ``java_thread_cpu`` readings.

    A kind first seen in ``after`` (threads the JVM started in between, e.g. its dynamic JIT
    compiler threads) counts whole. A thread that ended in between takes its CPU with it, so
    its kind can read less than it spent: a kind is never below 0, and the figures are lower
    bounds."""
    return {kind: max(0.0, cpu_s - before.get(kind, 0.0)) for kind, cpu_s in after.items()}


@dataclass(frozen=True)
class JvmThreads:
    """A JVM's CPU so far: the whole process (threads that ended included) and each live
    thread with its kind (``jvm_kind``)."""

    total_s: float
    threads: dict[int, tuple[str, float]]  # thread id -> (kind, CPU seconds so far)


def jvm_kind(name: str) -> str:
    """The kind of a JVM thread from its Linux name (15 characters at most): ``jit`` for the
    JIT compiler's threads, ``gc`` for the garbage collector's, ``work`` for the rest."""
    if name.startswith(("C1 CompilerThre", "C2 CompilerThre")):
        return "jit"
    if name.startswith(("GC Thread", "G1 ", "VM Periodic")) or " Conc" in name:
        return "gc"
    return "work"


def jvm_threads(pid: int) -> JvmThreads | None:
    """CPU so far of a JVM and of each of its threads, from /proc (no attach: it costs the
    JVM nothing and works for a JVM of another user); None when the process is gone."""
    me = sample(pid)
    if me is None:
        return None
    threads: dict[int, tuple[str, float]] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return None
    for tid in tids:
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # ended while listed
        threads[tid] = (jvm_kind(name), _cpu_s(fields))
    return JvmThreads(me.cpu_s, threads)


def jvm_spent(before: JvmThreads, after: JvmThreads) -> dict[str, float]:
    """CPU seconds a JVM spent between two readings, by kind of thread.

    A thread alive at both counts its difference, one started in between counts whole. A
    thread that ended in between (the JVM stops idle JIT compiler threads) took its CPU out
    of the per-thread figures but not out of the process's: that rest is ``ended``."""
    spent: dict[str, float] = {}
    for tid, (kind, cpu_s) in after.threads.items():
        _, was = before.threads.get(tid, (kind, 0.0))
        spent[kind] = spent.get(kind, 0.0) + max(0.0, cpu_s - was)
    ended = (after.total_s - before.total_s) - sum(spent.values())
    spent["ended"] = max(0.0, ended)
    return spent
