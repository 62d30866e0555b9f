"""bench/e2e's settle step: how busy the machine is, and when a phase counts as under load;
and when the servers' figures are their JIT warming up; the workers' collector's share;
the pollers' unchanged polls; the machine's speed before each phase."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time

import pytest

from bench.calibrate import Calibration, matmul_gflops
from bench.e2e import procs
from bench.e2e.run import (
    JIT_WARMING_MS,
    PhaseResult,
    _under_load,
    calibration_lines,
    collector_lines,
    jvm_thread_lines,
    poll_lines,
    thread_cpu_lines,
)


def test_busy_cores_sees_a_process_spinning_a_core() -> None:
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        busy = procs.busy_cores(1.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert 0.8 <= busy <= (os.cpu_count() or 1) + 0.01


def test_a_phase_is_under_load_when_the_settle_step_gave_up() -> None:
    args = argparse.Namespace(settle_cores=0.7)
    quiet, busy = PhaseResult("burst", False, 0.0, 10), PhaseResult("burst", False, 0.0, 10)
    quiet.busy_before, busy.busy_before = 0.5, 1.4
    quiet.load_start = busy.load_start = 3.0  # the lagging load average is not the judge
    assert not _under_load(quiet, args)
    assert _under_load(busy, args)


def test_without_the_settle_step_the_load_average_decides() -> None:
    args = argparse.Namespace(settle_cores=0.7)
    phase = PhaseResult("burst", False, 0.0, 10)
    assert math.isnan(phase.busy_before)
    phase.load_start = 1.5
    assert _under_load(phase, args)
    phase.load_start = 0.4
    assert not _under_load(phase, args)


def test_jvm_threads_are_kinds_by_their_linux_names() -> None:
    assert procs.jvm_kind("C2 CompilerThre") == "jit"
    assert procs.jvm_kind("C1 CompilerThre") == "jit"
    assert procs.jvm_kind("GC Thread#0") == "gc"
    assert procs.jvm_kind("G1 Conc#0") == "gc"
    assert procs.jvm_kind("G1 Refine#0") == "gc"
    assert procs.jvm_kind("elasticsearch[n") == "work"
    assert procs.jvm_kind("data-plane-kafk") == "work"


def test_jvm_spent_counts_new_threads_whole_and_what_ended_threads_took_as_ended() -> None:
    before = procs.JvmThreads(10.0, {1: ("work", 4.0), 2: ("jit", 3.0), 3: ("jit", 1.0)})
    # Thread 3 ended after spending 0.5 s more; thread 4 (JIT) started and spent 0.2 s.
    after = procs.JvmThreads(12.0, {1: ("work", 4.8), 2: ("jit", 3.5), 4: ("jit", 0.2)})
    spent = procs.jvm_spent(before, after)
    assert spent == pytest.approx({"work": 0.8, "jit": 0.7, "ended": 0.5})
    assert sum(spent.values()) == pytest.approx(after.total_s - before.total_s)


def test_jvm_threads_reads_this_process_from_proc() -> None:
    """A live reading: every thread of this Python process is "work", and the threads'
    CPU is at most the process's own (which also holds ended threads)."""
    reading = procs.jvm_threads(os.getpid())
    assert reading is not None and reading.threads
    assert {kind for kind, _ in reading.threads.values()} == {"work"}
    assert sum(cpu for _, cpu in reading.threads.values()) <= reading.total_s + 0.02
    assert procs.jvm_threads(2**22 + 12345) is None  # no such process


def test_sample_and_descendants_read_processes_from_proc() -> None:
    """A child that spins for a moment: found below this process, its CPU and memory read
    from the same /proc fields the JVM readings use."""
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.2: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        stat = None
        while time.monotonic() < deadline:
            stat = procs.sample(child.pid)
            if stat is not None and stat.cpu_s >= 0.15:
                break
            time.sleep(0.05)
        assert child.pid in procs.descendants(os.getpid())
        assert stat is not None and stat.cpu_s >= 0.15 and stat.rss_kb > 0
        assert stat.peak_rss_kb >= stat.rss_kb
        me, kids = procs.tree_sample(os.getpid())
        assert me is not None and any(k.cpu_s >= 0.15 for k in kids)
    finally:
        child.kill()
        child.wait()
    assert procs.sample(child.pid) is None  # gone


def test_a_phase_whose_servers_jit_is_busy_is_marked_warming_up() -> None:
    phase = PhaseResult("burst", False, 0.0, 1000)
    phase.searchable = 1000
    phase.cpu = {"kafka": 0.9, "elasticsearch": 1.0}
    phase.jvm = {"kafka": {"work": 0.6, "jit": 0.3, "gc": 0.0, "ended": 0.0},
                 "elasticsearch": {"work": 0.5, "jit": 0.1, "gc": 0.0, "ended": 0.4}}
    report = "\n".join(jvm_thread_lines([phase]))
    assert "**SERVERS WARMING UP**: the JIT compiler took kafka 0.30 ms per article" in report
    assert "elasticsearch ended 0.40, gc 0.00, jit 0.10, work 0.50" in report
    phase.jvm["kafka"]["jit"] = JIT_WARMING_MS / 2
    assert "WARMING UP" not in "\n".join(jvm_thread_lines([phase]))


def test_java_thread_cpu_reads_jcmd_thread_lines() -> None:
    dump = ('"main" #1 prio=5 os_prio=0 cpu=1295.40ms elapsed=134.19s tid=0x1 nid=0x1261 waiting\n'
            '"data-plane-kafka-request-handler-0" #70 daemon prio=5 cpu=500.00ms elapsed=9s\n'
            '"data-plane-kafka-request-handler-1" #71 daemon prio=5 cpu=250.00ms elapsed=9s\n'
            '   java.lang.Thread.State: WAITING (parking)\n')
    assert procs.parse_java_threads(dump) == {
        "main": 1.2954, "data-plane-kafka-request-handler-N": 0.75}


def test_thread_cpu_spent_counts_threads_started_in_between_and_never_goes_negative() -> None:
    before = {"C2 CompilerThreadN": 2.0, "kafka-log-cleaner-thread-N": 1.0}
    after = {"C2 CompilerThreadN": 2.5, "kafka-log-cleaner-thread-N": 0.4,  # one ended
             "C1 CompilerThreadN": 0.3}  # started during the phase
    assert procs.java_thread_cpu_spent(before, after) == {
        "C2 CompilerThreadN": 0.5, "kafka-log-cleaner-thread-N": 0.0, "C1 CompilerThreadN": 0.3}


def test_the_workers_collector_is_reported_per_searchable_article_when_they_count_it() -> None:
    counted = PhaseResult("burst", False, 0.0, 3000)
    counted.searchable = 2000
    counted.collector_s = 0.18
    older_tree = PhaseResult("latency", False, 100.0, 3000)  # its workers had no such metric
    assert collector_lines([counted, older_tree]) == [
        "- burst: of the workers' CPU, the garbage collector 0.09 ms per article"]


def test_the_workers_cpu_is_reported_by_the_work_of_their_threads_and_the_rest() -> None:
    counted = PhaseResult("burst", False, 0.0, 3000)
    counted.searchable = 3000
    counted.cpu = {"worker-0": 3.3, "worker-1": 3.3, "worker-ordered": 2.7, "poller-0": 1.5}
    counted.thread_cpu = {"enrich": 5.88, "stories": 1.71, "elasticsearch": 0.24}
    older_tree = PhaseResult("latency", False, 100.0, 3000)  # its workers had no such metric
    assert thread_cpu_lines([counted, older_tree]) == [
        "- burst: the workers' CPU by work: enrich 1.96, stories 0.57, elasticsearch 0.08, "
        "the rest (event loops: Kafka, decoding, hand-over) 0.49 ms per article"]


def test_the_pollers_unchanged_polls_are_reported_per_searchable_article() -> None:
    burst = PhaseResult("burst", False, 0.0, 3000)
    burst.searchable = 3000
    burst.farm = {"requests": 1016, "bodies": 50, "items_served": 3000, "not_modified": 966}
    no_farm = PhaseResult("latency", False, 100.0, 3000)  # the farm's counters never read
    assert poll_lines([burst, no_farm]) == [
        "- burst: the pollers asked 1016 times: 50 feed bodies, 966 answered 304 "
        "(0.32 unchanged polls per article)"]


def test_each_phase_reports_the_machines_speed_measured_just_before_it() -> None:
    measured = PhaseResult("burst", False, 0.0, 3000)
    measured.calibration = Calibration(python_loop_s=0.314, matmul_gflops=95.6)
    older = PhaseResult("latency", False, 100.0, 3000)  # not measured
    assert calibration_lines([measured, older]) == [
        "- burst: the machine just before it: 10M Python additions in 0.31 s of CPU, a "
        "float32 matrix product at 96 GFLOPS (one thread)"]


def test_the_matrix_product_calibration_counts_the_products_flops() -> None:
    # 2 x 4,802 x 288 x 288 floating-point operations per product: any working BLAS core
    # does more than a GFLOPS and no single core a few thousand.
    assert 1.0 < matmul_gflops(repeats=3) < 5000.0
