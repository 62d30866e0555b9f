"""The canonical input end to end: ../shared/examples/seed-article.txt (China-Russia military
cooperation amid Ukraine's Kursk incursion) as a full-text feed item, through the real CLI and
the real Kafka + Elasticsearch. It must come out with every tag the taxonomy page lists for it,
with its people, organisations and places, searchable, and delivered on each of its tags'
streams (README, "What newsflow does"; shared/docs/taxonomy.md, "Worked example")."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.e2e.conftest import run_newsflow, wait_for
from tests.e2e.test_pipeline import indexed, poll_once

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[3] / "shared" / "examples" / "seed-article.txt"
TITLE = "China's premier and army commander visit Moscow"
LINK = "https://news.example.org/2024/08/23/china-russia-military-cooperation"
# The taxonomy page's worked example: the tags the seed article carries.
SEED_TAGS = {
    "military-cooperation", "diplomatic-visit", "russia-ukraine-war", "territorial-incursion",
    "military-aid", "military-exercise", "taiwan-strait", "drone-warfare", "sanctions",
}


def write_full_text_feed(path: Path, text: str) -> None:
    """An RSS item as a news site publishes a long story: the lead as the description, the
    whole story as HTML paragraphs in content:encoded."""
    paragraphs = [p.strip() for p in text.splitlines() if p.strip()]
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    published = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>Seed test feed</title><link>https://news.example.org/</link>"
        "<description>test</description>"
        f"<item><title>{escape(TITLE)}</title><link>{LINK}</link><guid>{LINK}</guid>"
        f"<pubDate>{published}</pubDate><description>{escape(paragraphs[0])}</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        "</channel></rss>",
        encoding="utf-8",
    )


@pytest.mark.skipif(not SEED.is_file(), reason="shared/examples/seed-article.txt not available")
def test_the_seed_article_is_tagged_searchable_and_on_each_of_its_tag_streams(
    newsflow_env: dict[str, str],
    feed_dir: Path,
    feed_server: str,
    tmp_path: Path,
    es: Elasticsearch,
    start_worker: Callable[..., subprocess.Popen[str]],
) -> None:
    env = newsflow_env
    alias = env["NEWSFLOW_ELASTICSEARCH__ALIAS"]
    write_full_text_feed(feed_dir / "seed.xml", SEED.read_text(encoding="utf-8"))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {feed_server}/seed.xml\n    name: Seed\n")

    assert poll_once(env, feeds)["new_articles"] == 1
    start_worker()
    wait_for(lambda: len(indexed(es, alias)) == 1, 180, "the seed article in Elasticsearch")
    [doc] = indexed(es, alias)

    # Tagged: every tag of the worked example, each with its evidence, no sentence twice
    # (the description repeats the story's lead).
    assert set(doc["tags"]) >= SEED_TAGS, sorted(SEED_TAGS - set(doc["tags"]))
    details = {t["tag"]: t for t in doc["tag_details"]}
    for tag in SEED_TAGS:
        sentences = [e["sentence"] for e in details[tag]["evidence"]]
        assert sentences, f"{tag} carries no evidence"
        assert len(sentences) == len(set(sentences)), (tag, sentences)
    coop = " ".join(e["sentence"] for e in details["military-cooperation"]["evidence"])
    assert any(phrase in coop for phrase in [  # the page's strongest evidence
        "military cooperation between China and Russia", "conducted joint patrols",
        "jointly developing an attack drone"]), coop

    # Its people, organisations and places, places with their country.
    entities = {(e["label"], e["canonical"]): e for e in doc["entities"]}
    for person in ["Li Qiaoming", "Oleg Salyukov", "Xi Jinping"]:
        assert ("PERSON", person) in entities, person
    assert ("ORG", "Pentagon") in entities
    places = {canonical: e for (_, canonical), e in entities.items()}
    for place, country in [("Moscow", "RU"), ("Kursk", "RU"), ("Taiwan", "TW")]:
        assert place in places, place
        assert places[place].get("country_code") == country, places[place]

    # Searchable: by a name in the body, and by one of its tags.
    for args in (["Li Qiaoming"], ["--tag", "territorial-incursion"]):
        found = run_newsflow(env, "search", *args, "--json")
        assert found.returncode == 0, found.stderr
        assert [json.loads(line)["title"] for line in found.stdout.splitlines()
                if line.strip()] == [TITLE], args

    # Delivered on each of its tags' streams: one subscriber to all of them prints the
    # stream each copy arrived on.
    stream = run_newsflow(env, "subscribe", *sorted(SEED_TAGS), "--from-beginning",
                          "--max", str(len(SEED_TAGS)), "--timeout", "15")
    assert stream.returncode == 0, stream.stderr
    arrived = re.findall(r"^\S+ \S+  \[([a-z-]+)\]  \S+  (.+)$", stream.stdout, re.MULTILINE)
    assert {tag for tag, _ in arrived} == SEED_TAGS, stream.stdout
    assert {title for _, title in arrived} == {TITLE}
