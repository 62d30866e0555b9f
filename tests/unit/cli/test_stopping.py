"""Ctrl-C and SIGTERM set the CLI readers' stop flag; the previous handlers come back."""

from __future__ import annotations

import os
import signal

from newsflow.cli.stopping import stop_on_signals


def test_sigterm_and_sigint_ask_to_stop_and_the_old_handlers_return() -> None:
    before_term = signal.getsignal(signal.SIGTERM)
    before_int = signal.getsignal(signal.SIGINT)
    with stop_on_signals() as stopping:
        assert not stopping()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping()
    with stop_on_signals() as stopping:
        os.kill(os.getpid(), signal.SIGINT)
        assert stopping()
    assert signal.getsignal(signal.SIGTERM) is before_term
    assert signal.getsignal(signal.SIGINT) is before_int
