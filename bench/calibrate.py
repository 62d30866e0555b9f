"""How fast this machine's core is right now, to read CPU figures taken hours apart.

The machines these benchmarks run on change speed by 10-20 % over minutes (the same code and
command measured 4.27 and 4.69 ms per article ten minutes apart; bench/RESULTS.md, session
26). Two fixed workloads, each on one thread, give a figure to put beside every measurement:

- ``python_loop_s``: CPU seconds of 10 million pure-Python additions (the interpreter's
  speed: the tagger, the story engine, the event loops; a quiet current x86 core takes
  about 0.3-0.4 s);
- ``matmul_gflops``: float32 matrix products of the NER window encoder's shape (4,802 x 288
  by 288 x 288: one layer of a 64-article batch) through numpy's BLAS on one thread (the
  arithmetic the NER is made of).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Calibration", "calibrate", "matmul_gflops", "python_loop_s"]


@dataclass(frozen=True)
class Calibration:
    python_loop_s: float
    matmul_gflops: float

    def describe(self) -> str:
        return (f"10M Python additions in {self.python_loop_s:.2f} s of CPU, a float32 "
                f"matrix product at {self.matmul_gflops:.0f} GFLOPS (one thread)")


def python_loop_s() -> float:
    """CPU seconds of a fixed pure-Python loop (10 million additions)."""
    t = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - t


def matmul_gflops(repeats: int = 20) -> float:
    """Float32 GFLOPS of the NER encoder's matrix product on one BLAS thread (best of
    ``repeats``: the core's speed, not what else ran meanwhile)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4802, 288), dtype=np.float32)
    w = rng.standard_normal((288, 288), dtype=np.float32)
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        x @ w  # first call: the BLAS library's set-up
        for _ in range(repeats):
            t = time.perf_counter()
            x @ w
            best = min(best, time.perf_counter() - t)
    return 2 * 4802 * 288 * 288 / best / 1e9


def calibrate() -> Calibration:
    return Calibration(python_loop_s(), matmul_gflops())
