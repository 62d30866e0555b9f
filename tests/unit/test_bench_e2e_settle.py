"""bench/e2e's settle step: how busy the machine is, and when a phase counts as under load;
and when Kafka's figure is its JIT warming up."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys

from bench.e2e import procs
from bench.e2e.run import KAFKA_JIT_WARMING_MS, PhaseResult, _kafka_jit_ms, _under_load


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


def test_kafka_is_warming_up_when_its_jit_compiler_threads_are_busy() -> None:
    phase = PhaseResult("burst", False, 0.0, 1000)
    phase.searchable = 1000
    phase.kafka_threads = {"C2 CompilerThreadN": 0.9, "C1 CompilerThreadN": 0.3,
                           "data-plane-kafka-request-handler-N": 0.5}
    assert math.isclose(_kafka_jit_ms(phase), 1.2)
    assert _kafka_jit_ms(phase) > KAFKA_JIT_WARMING_MS
    phase.kafka_threads = {"C2 CompilerThreadN": 0.04, "data-plane-kafka-request-handler-N": 0.5}
    assert _kafka_jit_ms(phase) < KAFKA_JIT_WARMING_MS


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
