"""bench/poller/relist.py's profile summary: py-spy's raw collapsed stacks split into the
poller's main thread, its other threads and its parser processes."""

from __future__ import annotations

from pathlib import Path

from bench.poller.relist import summarize_profile

POLLER = 'process 100:"python -m newsflow.cli.__main__ poll"'
PARSER = 'process 200:"python -c from multiprocessing.forkserver import main"'


def test_summary_splits_processes_and_threads(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text("\n".join([
        f"{POLLER};_run_module_as_main (<frozen runpy>:198);fetch (ingest/fetch.py:1) 6",
        f"{POLLER};_run_module_as_main (<frozen runpy>:198);save (ingest/state.py:2) 2",
        f"{POLLER};_bootstrap (threading.py:1030);crc (kafka/crc.py:3) 4",
        f"{POLLER};{PARSER};main (forkserver.py:1);parse (ingest/parse.py:4) 8",
        f"{POLLER};orphan (anyio/x.py:5) 0",  # nothing sampled: left out
    ]) + "\n")
    text = summarize_profile(raw, 100, top=5)
    assert "== parser processes: 8 samples (40% of all)" in text
    assert "== poller main thread: 8 samples (40% of all)" in text
    assert "== poller other threads: 4 samples (20% of all)" in text
    assert " 75.0%  fetch (ingest/fetch.py:1)" in text
    assert "100.0%  parse (ingest/parse.py:4)" in text


def test_summary_reads_stacks_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    # py-spy writes frame names as it finds them; a non-UTF-8 byte crashed the summary.
    raw = tmp_path / "raw.txt"
    raw.write_bytes(f"{POLLER};fetch (ingest/fetch.py:1) 3\n".encode()
                    + f"{POLLER};odd \xf5 (x.py:2) 1\n".encode("latin-1"))
    text = summarize_profile(raw, 100, top=5)
    assert " 75.0%  fetch (ingest/fetch.py:1)" in text
