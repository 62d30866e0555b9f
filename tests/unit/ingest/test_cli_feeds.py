from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli import cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("NEWSFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_add_list_export_remove(tmp_path: Path) -> None:
    feeds = str(tmp_path / "feeds.yaml")
    assert run("feeds", "add", "https://a.example/rss", "--label", "wire", "--language", "en",
               "--feeds", feeds) == (0, f"added https://a.example/rss to {feeds}\n")
    assert run("feeds", "add", "https://a.example/rss", "--feeds", feeds) == (
        0, f"https://a.example/rss is already in {feeds}\n")
    assert run("feeds", "add", "https://b.example/atom", "--name", "B", "--min-interval", "5m",
               "--feeds", feeds)[0] == 0
    assert run("feeds", "list", "--feeds", feeds) == (
        0, "https://a.example/rss  labels=wire  lang=en\nhttps://b.example/atom  B\n")
    code, out = run("feeds", "list", "--json", "--feeds", feeds)
    assert code == 0 and json.loads(out.splitlines()[1])["min_interval_s"] == 300.0
    code, out = run("feeds", "export-opml", "--feeds", feeds)
    assert 'xmlUrl="https://a.example/rss" category="wire" language="en"' in out
    assert run("feeds", "remove", "https://a.example/rss", "--feeds", feeds) == (
        0, f"removed https://a.example/rss from {feeds}\n")
    assert run("feeds", "list", "--feeds", feeds) == (0, "https://b.example/atom  B\n")


def test_import_opml(tmp_path: Path) -> None:
    opml = tmp_path / "in.opml"
    opml.write_text('<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/r"/>'
                    '<outline text="B" xmlUrl="https://b.example/r"/></body></opml>')
    feeds = str(tmp_path / "feeds.yaml")
    assert run("feeds", "import-opml", str(opml), "--feeds", feeds) == (
        0, f"imported 2 feeds into {feeds} (0 already listed)\n")
    assert run("feeds", "import-opml", str(opml), "--feeds", feeds) == (
        0, f"imported 0 feeds into {feeds} (2 already listed)\n")


def test_bad_input_is_a_config_error(tmp_path: Path) -> None:
    feeds = str(tmp_path / "feeds.yaml")
    with pytest.raises(Exception, match="not an http"):
        run("feeds", "add", "ftp://x.example/", "--feeds", feeds)


def test_health_of_new_feeds(tmp_path: Path) -> None:
    feeds = str(tmp_path / "feeds.yaml")
    run("feeds", "add", "https://a.example/rss", "--feeds", feeds)
    code, out = run("feeds", "health", "--json", "--feeds", feeds,
                    "--state-dir", str(tmp_path / "state"))
    row = json.loads(out)
    assert code == 0 and row["status"] == "new" and row["items_seen"] == 0
