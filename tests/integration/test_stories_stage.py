"""The ordered stage's stories on the real Kafka and Elasticsearch: every article is indexed
with its story, a copy with dup_of, the stories get their own documents, and the same input
order gives the same stories when the stage moves to another worker mid-stream (its engine
rebuilt from the snapshot in Elasticsearch plus the enriched topic; docs/stories.md).

Articles are produced one at a time, each once the previous one is indexed, so that the
order on the enriched topic is the production order in every run.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from newsflow.article import Article
from tests.integration.processors_support import (
    ES_URL,
    NEWSFLOW,
    Names,
    Worker,
    make_article,
    produce_articles,
    search_alias,
    wait_for,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

# Two events of one kind (two earthquakes) and an unrelated one, written for this test.
EVENTS = {
    "quake-chile": [
        ("Strong earthquake shakes northern Chile",
         "A magnitude 6.8 earthquake struck near Antofagasta in northern Chile on Sunday, "
         "the US Geological Survey said. Buildings swayed in Antofagasta and Calama and "
         "power was cut in parts of the Antofagasta region."),
        ("Chile quake: power cuts in Antofagasta after magnitude 6.8 tremor",
         "Residents of Antofagasta fled into the streets when the magnitude 6.8 earthquake "
         "hit northern Chile. Chile's disaster agency Senapred said it was assessing damage "
         "to roads near Calama."),
        ("Senapred assesses damage after northern Chile earthquake",
         "Chilean authorities inspected mines and roads around Calama and Antofagasta after "
         "Sunday's magnitude 6.8 earthquake; no deaths were reported, Senapred said."),
    ],
    "quake-turkey": [
        ("Earthquake hits eastern Turkey, buildings collapse in Malatya",
         "A magnitude 5.9 earthquake struck Malatya province in eastern Turkey on Sunday, "
         "collapsing several buildings, Turkey's disaster agency AFAD said. Rescue teams "
         "searched the rubble in Malatya and Elazig."),
        ("AFAD: rescuers search rubble after Malatya earthquake",
         "Rescuers in Malatya pulled two people from a collapsed building after the magnitude "
         "5.9 earthquake in eastern Turkey, AFAD said, as aftershocks shook Elazig."),
    ],
    "budget": [
        ("City council passes budget with new bicycle lanes",
         "The city council of Springfield voted 7-2 on Tuesday for next year's budget, which "
         "funds protected bicycle lanes on three downtown streets."),
        ("Springfield budget vote: what the bicycle lanes will cost",
         "Springfield's new budget, passed 7-2 by the city council, sets aside 4 million "
         "dollars for protected bicycle lanes downtown."),
    ],
}


def the_articles() -> list[Article]:
    """Reports from different outlets, interleaved in time, and two syndicated copies."""
    order = [("quake-chile", 0), ("quake-turkey", 0), ("budget", 0), ("quake-chile", 1),
             ("quake-turkey", 1), ("quake-chile", 2), ("budget", 1)]
    articles: list[Article] = []
    for n, (event, k) in enumerate(order):
        title, text = EVENTS[event][k]
        articles.append(make_article(100 + n, title, summary=text,
                                     source=f"outlet{n}.example",
                                     published_at=T0 + timedelta(minutes=10 * n)))
    # A wire copy of the first Chile report with a prefix, and of the first Turkey one with
    # a trimmed tail, on other sites a little later.
    chile, turkey = articles[0], articles[1]
    articles.insert(3, make_article(200, f"BREAKING: {chile.title}", summary=chile.summary,
                                    source="copier1.example",
                                    published_at=chile.published_at + timedelta(minutes=25)))
    articles.append(make_article(201, turkey.title, summary=turkey.summary[:150],
                                 source="copier2.example",
                                 published_at=turkey.published_at + timedelta(hours=2)))
    return articles


def cli_json(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    """`newsflow ARGS --json` as a subprocess: its JSON lines."""
    done = subprocess.run([*NEWSFLOW, *args, "--json"], env=env, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def runs() -> Iterator[list[Names]]:
    made: list[Names] = []
    yield made
    for names in made:
        names.cleanup()


def indexed(names: Names) -> dict[str, dict[str, object]]:
    return {str(d["id"]): d for d in search_alias(names.alias)}


def feed_one_by_one(names: Names, articles: list[Article], on_each: object = None) -> None:
    for n, article in enumerate(articles):
        produce_articles(names.articles, [article])
        wait_for(lambda n=n: len(indexed(names)) == n + 1, 60,  # type: ignore[misc]
                 f"article {n + 1} indexed")
        if callable(on_each):
            on_each(n)


def stories_of(names: Names) -> dict[str, tuple[object, object]]:
    return {i: (d.get("story_id"), d.get("dup_of")) for i, d in indexed(names).items()}


def test_stories_are_indexed_and_survive_the_stage_moving_to_another_worker(
    runs: list[Names], tmp_path: Path,
) -> None:
    articles = the_articles()
    by_id = {a.id: a for a in articles}

    # Run 1: one worker, uninterrupted.
    one = Names()
    runs.append(one)
    worker = Worker(one.env(tmp_path / "one"), tmp_path / "one.log")
    try:
        worker.wait_ready()
        feed_one_by_one(one, articles)
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]
    first = stories_of(one)
    docs = indexed(one)

    # The copies point at their originals; the two earthquakes and the budget are three
    # stories; every report of one event is in its story.
    chile, turkey = articles[0], articles[1]
    copy_of_chile, copy_of_turkey = articles[3], articles[-1]
    assert first[copy_of_chile.id] == (chile.id, chile.id)
    assert first[copy_of_turkey.id] == (turkey.id, turkey.id)
    story_of_event = {}
    for article in articles:
        event = next(e for e, reports in EVENTS.items()
                     if any(article.summary.startswith(t[1][:100]) for t in reports))
        story_of_event.setdefault(event, set()).add(first[article.id][0])
    assert all(len(ids) == 1 for ids in story_of_event.values()), story_of_event
    assert len({next(iter(ids)) for ids in story_of_event.values()}) == 3
    # A copy adds no independent source: the Chile story has 3 outlets and a copier.
    last_chile = max((d for d in docs.values() if d["story_id"] == chile.id),
                     key=lambda d: str(d["published_at"]))
    assert last_chile["story_sources"] == 3
    assert docs[chile.id]["story_new_tags"] == docs[chile.id]["tags"]
    assert docs[copy_of_chile.id]["story_new_tags"] == []

    es = Elasticsearch(ES_URL)
    try:
        es.indices.refresh(index=f"{one.alias}-stories")
        story = es.get(index=f"{one.alias}-stories", id=chile.id)["_source"]
    finally:
        es.close()
    assert story["article_count"] == 4 and story["independent_sources"] == 3
    assert story["title"] == chile.title
    assert {"copier1.example", "outlet0.example"} <= set(story["source_domains"])

    # What the README promises of the CLI: one hit per story, and the story list.
    env = one.env(tmp_path / "one")
    hits = cli_json(env, "search", "earthquake", "--collapse", "-n", "20")
    assert sorted(h["story_id"] for h in hits) == sorted({chile.id, turkey.id})
    listed = cli_json(env, "stories", "--since", "all", "--sort", "biggest")
    assert next(s["story_id"] for s in listed) == chile.id  # the most sources
    assert {s["story_id"] for s in listed} == {first[a.id][0] for a in articles}

    # Run 2: two workers; after the fourth article the one that owns the ordered stage is
    # stopped, the other takes the stage over (engine from the snapshot plus the topic).
    two = Names()
    runs.append(two)
    env = two.env(tmp_path / "two", NEWSFLOW_PROCESSORS__STORIES_SNAPSHOT_EVERY_S="0.01",
                  NEWSFLOW_PROCESSORS__SESSION_TIMEOUT_S="10")
    workers = [Worker(env, tmp_path / f"two-{n}.log") for n in range(2)]
    enriched = f"it-{two.run}.enriched[0]"
    stopped: list[Worker] = []

    def owner() -> Worker | None:
        return next((w for w in workers if w not in stopped
                     and enriched in w.status().get("partitions", [])), None)

    def maybe_stop(n: int) -> None:
        if n == 3:
            current = owner()
            assert current is not None, "nobody owns the ordered stage"
            current.proc.send_signal(signal.SIGTERM)
            assert current.proc.wait(timeout=60) == 0, current.output()[-3000:]
            stopped.append(current)
            wait_for(lambda: owner() is not None, 90, "the other worker taking the stage")

    try:
        for w in workers:
            w.wait_ready()
        wait_for(lambda: owner() is not None, 60, "an owner of the ordered stage")
        feed_one_by_one(two, articles, maybe_stop)
        survivor = owner()
        assert survivor is not None and survivor not in stopped
        assert "story engine started from a snapshot" in survivor.output()
    finally:
        for w in workers:
            w.stop()
    second = stories_of(two)
    assert second == first, {i: (first[i], second.get(i)) for i in first
                             if first[i] != second.get(i) and i in by_id}
