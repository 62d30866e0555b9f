"""Feed to search and tag stream, through the real CLI and the real Kafka + Elasticsearch:
local HTTP feed -> `newsflow poll --once` -> `newsflow worker` -> `newsflow search` and
`newsflow subscribe`."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.e2e.conftest import run_newsflow, wait_for
from tests.integration.processors_support import Worker

pytestmark = pytest.mark.e2e

# Written for this test in the style of wire copy; not taken from any publisher.
COOPERATION = {
    "link": "https://wire.example.com/world/2026/11/27/russia-china-naval-drills?utm_source=rss",
    "title": "China and Russia hold joint naval exercise, deepen military cooperation",
    "description": (
        "Chinese and Russian warships began a joint naval exercise in the Sea of Japan on "
        "Thursday, the defence ministries in Beijing and Moscow said, the latest sign of "
        "deepening military cooperation between the two countries. Admiral Li Wen of the "
        "People's Liberation Army Navy said the drills would strengthen coordination between "
        "the two fleets, while Russia's defence minister Andrei Belousov called the "
        "partnership a pillar of regional security."
    ),
}
UNRELATED = {
    "link": "https://wire.example.com/business/2026/11/27/coffee-prices",
    "title": "Coffee prices hit record as harvest in Brazil disappoints",
    "description": (
        "Arabica coffee futures rose to a record high on Thursday after growers in Brazil "
        "reported a smaller harvest than expected, traders in New York said."
    ),
}


def write_feed(path: Path, items: list[dict[str, str]]) -> None:
    published = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    entries = "".join(
        f"<item><title>{item['title']}</title><link>{item['link'].replace('&', '&amp;')}</link>"
        f"<guid>{item['link'].replace('&', '&amp;')}</guid><pubDate>{published}</pubDate>"
        f"<description>{item['description']}</description></item>"
        for item in items
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Wire test feed</title><link>https://wire.example.com/</link>"
        f"<description>test</description>{entries}</channel></rss>",
        encoding="utf-8",
    )


def poll_once(env: dict[str, str], feeds: Path) -> dict[str, object]:
    result = run_newsflow(env, "poll", "--feeds", str(feeds), "--once", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def indexed(es: Elasticsearch, alias: str) -> list[dict[str, object]]:
    if not es.indices.exists_alias(name=alias):
        return []
    es.indices.refresh(index=alias)
    return [hit["_source"] for hit in es.search(index=alias, size=100)["hits"]["hits"]]


@pytest.fixture
def wire_feeds(feed_dir: Path, feed_server: str, tmp_path: Path) -> Path:
    """A feeds file listing one served feed with the two test items."""
    write_feed(feed_dir / "wire.xml", [COOPERATION, UNRELATED])
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {feed_server}/wire.xml\n    name: Wire\n")
    return feeds


def test_feed_to_search_and_tag_stream(
    newsflow_env: dict[str, str],
    wire_feeds: Path,
    es: Elasticsearch,
    start_worker: Callable[..., subprocess.Popen[str]],
) -> None:
    env = newsflow_env
    alias = env["NEWSFLOW_ELASTICSEARCH__ALIAS"]
    feeds = wire_feeds

    first = poll_once(env, feeds)
    assert first["new_articles"] == 2

    worker = start_worker()
    wait_for(lambda: len(indexed(es, alias)) == 2, 180, "both articles in Elasticsearch")

    docs = {doc["title"]: doc for doc in indexed(es, alias)}
    coop = docs[COOPERATION["title"]]
    other = docs[UNRELATED["title"]]
    assert "military-cooperation" in coop["tags"]
    coop_tag = next(t for t in coop["tag_details"] if t["tag"] == "military-cooperation")
    assert coop_tag["evidence"], "a tag must carry its evidence"
    assert coop_tag["taxonomy_version"]
    entity_names = {e["canonical"] for e in coop["entities"]}
    assert {"China", "Russia", "Moscow"} <= entity_names
    assert "military-cooperation" not in other["tags"]
    # utm_* is not part of the canonical URL.
    assert "utm_source" not in coop["canonical_url"]

    found = run_newsflow(env, "search", "naval exercise", "--tag", "military-cooperation", "--json")
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines() if line.strip()]
    assert [h["title"] for h in hits] == [COOPERATION["title"]]

    stream = run_newsflow(
        env, "subscribe", "military-cooperation", "--from-beginning", "--json",
        "--max", "10", "--timeout", "10",
    )
    assert stream.returncode == 0, stream.stderr
    delivered = [json.loads(line) for line in stream.stdout.splitlines() if line.strip()]
    assert [d["title"] for d in delivered] == [COOPERATION["title"]]

    # Polling the same feed again publishes nothing and the index does not grow.
    second = poll_once(env, feeds)
    assert second["new_articles"] == 0
    count_before = len(indexed(es, alias))
    assert count_before == 2

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert len(indexed(es, alias)) == 2


def test_split_roles_enrich_and_ordered_processes(
    newsflow_env: dict[str, str], wire_feeds: Path, es: Elasticsearch, tmp_path: Path
) -> None:
    """One `--role enrich` and one `--role ordered` process in the same group do the work of
    one worker: each owns only its stage's topic, and the article comes out indexed with its
    tags and story, and on its tag stream."""
    env = newsflow_env
    alias = env["NEWSFLOW_ELASTICSEARCH__ALIAS"]
    enrich = Worker(env, tmp_path / "enrich.log", "--role", "enrich")
    ordered = Worker(env, tmp_path / "ordered.log", "--role", "ordered")
    try:
        articles_topic, enriched_topic = (env["NEWSFLOW_KAFKA__ARTICLES_TOPIC"],
                                          env["NEWSFLOW_KAFKA__ENRICHED_TOPIC"])

        def settled() -> bool:
            # Both ready and the group's assignment final (a late joiner's rebalance would
            # abandon an in-flight batch, which is then delivered again: at-least-once).
            mine, theirs = enrich.status(), ordered.status()
            return bool(mine.get("ready") and theirs.get("ready") and mine["partitions"]
                        and theirs["partitions"] == [f"{enriched_topic}[0]"])

        wait_for(settled, 180, "both workers ready with their partitions")
        assert poll_once(env, wire_feeds)["new_articles"] == 2
        wait_for(lambda: len(indexed(es, alias)) == 2, 180, "both articles in Elasticsearch")

        docs = {doc["title"]: doc for doc in indexed(es, alias)}
        coop = docs[COOPERATION["title"]]
        assert "military-cooperation" in coop["tags"]
        assert coop["story_id"]
        assert "military-cooperation" not in docs[UNRELATED["title"]]["tags"]
        stream = run_newsflow(
            env, "subscribe", "military-cooperation", "--from-beginning", "--json",
            "--max", "10", "--timeout", "10",
        )
        assert stream.returncode == 0, stream.stderr
        assert [json.loads(line)["title"] for line in stream.stdout.splitlines()
                if line.strip()] == [COOPERATION["title"]]

        enrich_status, ordered_status = enrich.status(), ordered.status()
        assert (enrich_status["role"], ordered_status["role"]) == ("enrich", "ordered")
        assert all(p.startswith(f"{articles_topic}[") for p in enrich_status["partitions"])
        assert ordered_status["partitions"] == [f"{enriched_topic}[0]"]
        assert enrich_status["batches"]["enrich"]["enriched"] == 2
        assert enrich_status["batches"]["index"]["count"] == 0
        assert ordered_status["batches"]["index"]["indexed"] == 2
        assert ordered_status["batches"]["enrich"]["count"] == 0
        assert enrich.stop() == 0 and ordered.stop() == 0
    finally:
        enrich.kill()
        ordered.kill()
