"""Ctrl-C and SIGTERM as a polite stop for the CLI's long-running readers (subscribe,
alerts tail): the loop checks the flag between messages, so the one being printed is
finished and committed, and the reader closes cleanly. The previous handlers come back on
exit."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["StopFlag", "stop_on_signals"]


class StopFlag:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    flag = StopFlag()

    def stop(signum: int, frame: FrameType | None) -> None:
        flag.requested = True

    previous = signal.signal(signal.SIGTERM, stop)
    previous_int = signal.signal(signal.SIGINT, stop)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
