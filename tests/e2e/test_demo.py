"""`make demo` (deploy/demo/demo.sh) does what README.md says: it polls the bundled sample
feeds into Kafka, indexes every one of their articles, then searches and subscribes.

The script runs as it is, on this test's own topics, index and state (the environment
overrides newsflow's defaults), with its feed server on a free port.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import feedparser
import pytest
import yaml
from elasticsearch import Elasticsearch

from tests.integration.processors_support import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "demo"
TAG = "military-cooperation"


def demo_article_links() -> set[str]:
    """Every distinct item link of the feeds the demo lists, read independently of newsflow."""
    feeds = yaml.safe_load((DEMO / "feeds.yaml").read_text())["feeds"]
    links: set[str] = set()
    for feed in feeds:
        parsed = feedparser.parse(DEMO / "feeds" / feed["url"].rsplit("/", 1)[1])
        links |= {entry.link for entry in parsed.entries}
    return links


@pytest.fixture
def demo_env(newsflow_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    # newsflow_env deletes the run's topics afterwards.
    return {**newsflow_env, "NEWSFLOW_DEMO_HOME": str(tmp_path / "demo"),
            "NEWSFLOW_DEMO_FEEDS_PORT": str(free_port())}


def test_demo_indexes_every_sample_article_then_searches_and_subscribes(
    demo_env: dict[str, str], es: Elasticsearch
) -> None:
    links = demo_article_links()
    assert len(links) > 10  # the sample feeds are not empty

    result = subprocess.run(["bash", str(DEMO / "demo.sh")], env=demo_env, cwd=ROOT,
                            text=True, capture_output=True, timeout=900, check=False)
    out = result.stdout
    assert result.returncode == 0, (out[-3000:], result.stderr[-3000:])

    # The poll's count of new articles is every article of the demo feeds...
    assert f"polled: {len(links)} new articles produced to Kafka" in out, out[-3000:]
    assert re.search(rf"indexed {len(links)}/{len(links)}\b", out), out[-3000:]
    # ...and that many documents are under the alias, one per link.
    alias = demo_env["NEWSFLOW_ELASTICSEARCH__ALIAS"]
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == len(links)

    # Step 4: the tag search and the tag stream both show articles with the tag.
    search = out.split(f"$ newsflow search --tag {TAG}", 1)[1].split("$ newsflow search", 1)[0]
    assert TAG in search, f"no hit tagged {TAG}:\n{search}"
    stream = out.split(f"$ newsflow subscribe {TAG}", 1)[1].split("Done.", 1)[0]
    assert f"[{TAG}]" in stream, f"nothing arrived on the {TAG} stream:\n{stream}"
