"""Watches against the real Elasticsearch and Kafka: saved, listed, removed; a batch of
documents matched in one request (the percolator where the cluster has the module, the
scratch-index search where it has not, as the local integ-test distribution); a watch added
later back-filled from the article index to news.watch.<name>, and `newsflow subscribe
--watch` reading it."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from elasticsearch import Elasticsearch
from fastapi import FastAPI
from kafka import KafkaAdminClient

from newsflow.article import Article, Entity, Tag, decode_article, utc_now
from newsflow.settings import ElasticsearchSettings, KafkaSettings, Settings
from processors.service.api import ApiMetrics, _events
from processors.service.api_watches import watches_router
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex
from processors.store.ports import IndexRequest
from processors.store.watch_index import WatchExistsError, WatchIndex
from processors.store.watches import Watch
from tests.integration.processors_support import (
    COOPERATION,
    ES_URL,
    KAFKA,
    NEWSFLOW,
    UNRELATED,
    Names,
    free_port,
    make_article,
    produce_articles,
    read_topic,
    search_alias,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def es_settings(names: Names) -> ElasticsearchSettings:
    # Under the alias's prefix: Names.cleanup deletes "<alias>-*".
    return ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias,
                                 watches_index=f"{names.alias}-watches")


def env(names: Names, tmp: Path) -> dict[str, str]:
    return names.env(tmp, NEWSFLOW_ELASTICSEARCH__WATCHES_INDEX=f"{names.alias}-watches",
                     NEWSFLOW_KAFKA__WATCH_TOPIC_PREFIX=f"it-{names.run}.watch.")


def cooperation(n: int, **extra: object) -> Article:
    article = make_article(n, COOPERATION[0], summary=COOPERATION[1])
    return article.model_copy(update={
        "entities": [Entity(text="Russia", label="GPE", canonical="Russia", start=0, end=6,
                            country_code="RU")],
        "tags": [Tag(tag="military-cooperation", score=0.9, taxonomy_version="t")],
        **extra,
    })


def documents(articles: list[Article]) -> list[dict[str, object]]:
    now = utc_now()
    return [article_document(a, taxonomy_version="t", indexed_at=now) for a in articles]


def percolator_available(settings: ElasticsearchSettings) -> bool:
    es = Elasticsearch(ES_URL)
    probe = f"{settings.watches_index}-probe"
    try:
        reply = es.options(ignore_status=400).indices.create(
            index=probe, mappings={"properties": {"q": {"type": "percolator"}}})
        return "error" not in reply
    finally:
        es.options(ignore_status=404).indices.delete(index=probe)
        es.close()


@pytest.mark.parametrize("percolator", [None, True, False], ids=["auto", "percolate", "search"])
def test_watches_match_a_batch_list_and_remove(names: Names, percolator: bool | None) -> None:
    settings = es_settings(names)
    if percolator and not percolator_available(settings):
        pytest.skip("this Elasticsearch has no percolator module (the integ-test distribution)")
    index = WatchIndex(settings, percolator=percolator)
    try:
        index.ensure_ready()
        assert index.percolator is (percolator_available(settings) if percolator is None
                                    else percolator)
        batch = [cooperation(1), make_article(2, UNRELATED[0], summary=UNRELATED[1]),
                 make_article(3, "Navy announces joint drills", summary="Naval exercise.")]
        assert index.match(documents(batch)) == [[], [], []]  # no watches yet
        index.add(Watch("naval-exercise", query="naval exercise", created_at=utc_now()))
        index.add(Watch("coop-russia", tags=("military-cooperation",), entities=("russia",)))
        index.add(Watch("bicycles", query='"bicycle lanes" | cycleway'))
        index.add(Watch("nothing", query="volcano eruption"))
        with pytest.raises(WatchExistsError):
            index.add(Watch("bicycles", query="bicycle"))
        # One request for the whole batch; right after adding (no refresh wait).
        assert index.match(documents(batch)) == [
            ["coop-russia", "naval-exercise"], ["bicycles"], ["naval-exercise"]]
        assert [w.name for w in index.list()] == [
            "bicycles", "coop-russia", "naval-exercise", "nothing"]
        got = index.get("coop-russia")
        assert got is not None and got.tags == ("military-cooperation",)
        assert got.entities == ("russia",)

        assert index.remove("naval-exercise") is True
        assert index.remove("naval-exercise") is False
        assert index.match(documents(batch)) == [["coop-russia"], ["bicycles"], []]
        assert [w.name for w in WatchIndex(settings).list()] == [
            "bicycles", "coop-russia", "nothing"]  # another process sees the same
    finally:
        index.close()


def test_scratch_copies_are_deleted_in_bulk_and_never_matched_again(names: Names) -> None:
    """Search mode: each batch's copies stay in the scratch index until enough are left
    over (one delete request for many batches), and a later batch never matches them."""
    settings = es_settings(names)
    index = WatchIndex(settings, percolator=False, forget_every=5)
    es = Elasticsearch(ES_URL)

    def scratch_copies() -> int:
        es.indices.refresh(index=index.scratch_index)
        return int(es.count(index=index.scratch_index)["count"])

    try:
        index.add(Watch("naval", query="naval"))
        naval = documents([cooperation(1), cooperation(2), cooperation(3)])
        assert index.match(naval) == [["naval"]] * 3
        assert scratch_copies() == 3  # kept: 3 left over, fewer than 5
        other = documents([make_article(4, UNRELATED[0], summary=UNRELATED[1])])
        assert index.match(other) == [[]]  # the naval copies left over are not its matches
        assert scratch_copies() == 4
        assert index.match(naval[:1]) == [["naval"]]
        assert scratch_copies() == 0  # 5 left over: all deleted in one request
        assert index.match(other) == [[]]
    finally:
        index.close()
    assert scratch_copies() == 0  # close() deleted the last one
    es.close()


def test_a_document_the_mapping_refuses_matches_nothing(names: Names) -> None:
    """Refused in a field watches read: no match. Fields no watch reads are not sent at all
    (watches.matched_document), so they cannot spoil the match; the article index still
    refuses such a document and the index step dead-letters it."""
    index = WatchIndex(es_settings(names))
    try:
        index.add(Watch("naval", query="naval"))
        good = documents([cooperation(1)])[0]
        bad = {**good, "id": "bad", "title": {"not": "text"}}
        unread = {**good, "id": "unread", "not_a_field": 1}
        assert index.match([good, bad, unread]) == [["naval"], [], ["naval"]]
    finally:
        index.close()


def test_backfill_to_the_watch_topic_and_subscribe(names: Names, tmp_path: Path) -> None:
    settings = es_settings(names)
    now = utc_now()
    old = cooperation(10, published_at=now - timedelta(days=30))
    matching = [cooperation(11 + n, published_at=now - timedelta(hours=n + 1))
                for n in range(3)]
    other = make_article(20, UNRELATED[0], summary=UNRELATED[1])
    with ArticleIndex(settings) as articles:
        articles.ensure_ready(now)
        outcome = articles.bulk_index([
            IndexRequest(a.id, backing_index(names.alias, a.published_at),
                         article_document(a, taxonomy_version="t", indexed_at=now))
            for a in [old, *matching, other]])
        assert len(outcome.indexed) == 5
        articles.refresh()
    run_env = env(names, tmp_path)
    added = subprocess.run(
        [*NEWSFLOW, "watch", "add", "russia-drills", "--query", "naval exercise",
         "--entity", "Russia", "--backfill", "--since", "7d", "--json"],
        env=run_env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    topic = f"it-{names.run}.watch.russia-drills"
    assert report["topic"] == topic
    assert report["backfill"]["produced"] == 3 and report["backfill"]["recorded"] == 3

    on_topic = [decode_article(v) for v in read_topic(topic, expect=3)]
    assert [a.id for a in on_topic] == [a.id for a in matching]  # newest first
    assert all(a.watches == ["russia-drills"] for a in on_topic)
    stored = {doc["id"]: doc for doc in search_alias(names.alias)}
    assert all(stored[a.id]["watches"] == ["russia-drills"] for a in matching)
    assert stored[old.id].get("watches") in (None, [])
    assert stored[other.id].get("watches") in (None, [])

    duplicate = subprocess.run([*NEWSFLOW, "watch", "add", "russia-drills", "-q", "x"],
                               env=run_env, capture_output=True, text=True, timeout=60)
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr

    listed = subprocess.run([*NEWSFLOW, "watch", "list", "--json"], env=run_env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) | {"created_at": None} for line in listed.stdout.splitlines()] == [
        {"name": "russia-drills", "query": "naval exercise", "tags": [],
         "entities": ["Russia"], "created_at": None, "topic": topic}]

    subscribed = subprocess.run(
        [*NEWSFLOW, "subscribe", "--watch", "russia-drills", "--from-beginning", "--max", "3",
         "--timeout", "20", "--json"],
        env=run_env, capture_output=True, text=True, timeout=120)
    assert subscribed.returncode == 0, subscribed.stderr
    assert [json.loads(line)["id"] for line in subscribed.stdout.splitlines()] == [
        a.id for a in matching]
    text = subprocess.run(
        [*NEWSFLOW, "subscribe", "--watch", "russia-drills", "--from-beginning", "--max", "1",
         "--timeout", "20"], env=run_env, capture_output=True, text=True, timeout=120)
    assert "[watch:russia-drills]" in text.stdout, text.stderr

    removed = subprocess.run([*NEWSFLOW, "watch", "remove", "russia-drills"], env=run_env,
                             capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    again = subprocess.run([*NEWSFLOW, "watch", "remove", "russia-drills"], env=run_env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "no watch named" in again.stderr


def test_adding_a_watch_creates_its_topic_and_survives_kafka_down(
    names: Names, tmp_path: Path
) -> None:
    run_env = env(names, tmp_path)
    topic = f"it-{names.run}.watch.baltic"
    added = subprocess.run([*NEWSFLOW, "watch", "add", "baltic", "-q", "Baltic", "--json"],
                           env=run_env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["topic_created"] is True
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:  # before any article matched: a subscriber can attach at once
        assert topic in admin.list_topics()
    finally:
        admin.close()

    # Kafka unreachable: the watch is still saved (the worker creates the topic at its first
    # match), with a warning that says so.
    down = {**run_env, "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    second = subprocess.run([*NEWSFLOW, "watch", "add", "arctic", "-q", "Arctic", "--json"],
                            env=down, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["topic_created"] is False
    assert "topic it-" in second.stderr and "first match" in second.stderr
    listed = subprocess.run([*NEWSFLOW, "watch", "list", "--json"], env=run_env,
                            capture_output=True, text=True, timeout=60)
    assert sorted(json.loads(line)["name"] for line in listed.stdout.splitlines()) == [
        "arctic", "baltic"]


def test_sse_route_of_a_watch(names: Names) -> None:
    settings = Settings(
        elasticsearch=es_settings(names),
        kafka=KafkaSettings(bootstrap_servers=KAFKA, watch_topic_prefix=f"it-{names.run}.watch."))
    metrics = ApiMetrics()
    app = FastAPI()
    app.include_router(watches_router(
        settings, lambda reader, label, request, max_events, timeout: _events(
            reader, label, request, metrics, max_events, timeout)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.started, 30, "the test server")
        # no watches index yet: 404 with a reason (the monitor page shows it), nothing created
        missing = httpx.get(f"{base}/streams/watch/naval", timeout=10)
        assert missing.status_code == 404 and "no watch named" in missing.json()["detail"]
        assert httpx.get(f"{base}/streams/watch/Bad_Name", timeout=10).status_code == 404
        index = WatchIndex(settings.elasticsearch)
        index.add(Watch("naval", query="naval"))
        index.close()
        arts = [make_article(n, f"Naval story {n}") for n in range(3)]
        produce_articles(f"it-{names.run}.watch.naval", arts)
        url = f"{base}/streams/watch/naval?from=beginning&max=2&timeout=10"
        with httpx.stream("GET", url, timeout=30) as response:
            assert response.status_code == 200
            lines = list(response.iter_lines())
        ids = [json.loads(line[6:])["id"] for line in lines if line.startswith("data: ")]
        positions = [line[4:] for line in lines if line.startswith("id: ")]
        assert ids == [a.id for a in arts[:2]]
        resumed_url = f"{base}/streams/watch/naval?max=1&timeout=10"
        with httpx.stream("GET", resumed_url, headers={"Last-Event-ID": positions[-1]},
                          timeout=30) as response:
            rest = [json.loads(line[6:])["id"] for line in response.iter_lines()
                    if line.startswith("data: ")]
        assert rest == [arts[2].id]
        assert httpx.get(f"{base}/streams/watch/naval", headers={"Last-Event-ID": "x"},
                         timeout=10).status_code == 400
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_watch_query_of_an_earlier_version_matches_the_documents_sent_now(
    names: Names,
) -> None:
    # Before session 26 an entity filter also asked the per-kind arrays (entity.places, ...),
    # and a percolator index keeps each watch's query as it was stored. The documents matched
    # now carry no arrays: the stored query's nested clause must still find the article.
    from processors.store.documents import ENTITY_KINDS
    from processors.store.watches import article_mappings, matched_document, watch_query

    def stored_before(name: str) -> dict[str, object]:
        query = watch_query(Watch("old", tags=("military-cooperation",), entities=(name,)))
        nested = query["bool"]["filter"][1]
        query["bool"]["filter"][1] = {"bool": {"minimum_should_match": 1, "should": [
            *({"term": {f"entity.{kind}": {"value": name, "case_insensitive": True}}}
              for kind in ENTITY_KINDS), nested]}}
        return query

    index = f"{names.alias}-old-queries"
    es = Elasticsearch(ES_URL)
    try:
        es.indices.create(index=index, mappings=article_mappings("standard"))
        document = matched_document(documents([cooperation(1)])[0])
        assert "entity" not in document and document["entities"]
        es.index(index=index, id="1", document=document, refresh=True)
        for name, hits in (("russia", 1), ("Moscow", 0)):
            found = es.search(index=index, query=stored_before(name))["hits"]["total"]["value"]
            assert found == hits, name
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.close()
