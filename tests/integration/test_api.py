"""`newsflow api` as a real server (subprocess) over the real Elasticsearch and Kafka: every
endpoint, and SSE resume — a client killed mid-stream reconnects with Last-Event-ID and gets
every event exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsflow.article import Article, Entity, Tag, utc_now
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex
from processors.store.ports import IndexRequest
from tests.integration.processors_support import (
    ES_URL,
    NEWSFLOW,
    Names,
    free_port,
    make_article,
    produce_articles,
    wait_for,
)

pytestmark = pytest.mark.integration

TAG = "military-cooperation"

# A minimal SSE client run as its own process, so that the test can kill it mid-stream.
SSE_CLIENT = r"""
import json, sys, httpx
url, last = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
headers = {"Last-Event-ID": last} if last else {}
with httpx.stream("GET", url, headers=headers, timeout=None) as response:
    event = {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and "data" in event:
            print(json.dumps({"id": event["id"], "article": event["data"]["id"]}), flush=True)
            event = {}
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory,
        ) -> Iterator[tuple[Names, str, dict[str, Article]]]:
    names = Names()
    tmp = tmp_path_factory.mktemp("api")
    settings = ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias)
    coop = make_article(1, "Navies of India and France hold joint patrol",
                        source="wire.example").model_copy(update={
                            "tags": [Tag(tag=TAG, score=0.8, taxonomy_version="t")],
                            "entities": [Entity(text="India", label="GPE", canonical="India",
                                                start=10, end=15)]})
    other = make_article(2, "Bakery wins national bread award", source="food.example")
    with ArticleIndex(settings) as index:
        index.ensure_ready(utc_now())
        index.bulk_index([IndexRequest(a.id, backing_index(names.alias, a.published_at),
                                       article_document(a, taxonomy_version="t",
                                                        indexed_at=utc_now()))
                          for a in (coop, other)])
        index.refresh()
    port = free_port()
    log = (tmp / "api.log").open("w")
    env = names.env(tmp)
    server = subprocess.Popen([*NEWSFLOW, "api", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, "the API to answer")
        yield names, base, {"coop": coop, "other": other}
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        log.close()
        names.cleanup()
    assert code == 0, (tmp / "api.log").read_text()[-2000:]


def test_search_articles_tags_stats_health_metrics_openapi(
    api: tuple[Names, str, dict[str, Article]],
) -> None:
    _, base, a = api
    found = httpx.get(f"{base}/search", params={"q": "joint patrol", "tag": TAG}).json()
    assert found["total"] == 1
    assert found["hits"][0]["id"] == a["coop"].id
    assert found["hits"][0]["highlights"]["title"] == [
        "Navies of India and France hold <em>joint</em> <em>patrol</em>"]
    by_entity = httpx.get(f"{base}/search", params={"entity": "india"}).json()
    assert [h["id"] for h in by_entity["hits"]] == [a["coop"].id]
    by_source = httpx.get(f"{base}/search", params=[("source", "food.example")]).json()
    assert [h["id"] for h in by_source["hits"]] == [a["other"].id]
    assert httpx.get(f"{base}/search", params={"since": "someday"}).status_code == 422

    one = httpx.get(f"{base}/articles/{a['coop'].id}")
    assert one.status_code == 200 and one.json()["title"] == a["coop"].title
    assert one.json()["tags"][0]["tag"] == TAG
    assert httpx.get(f"{base}/articles/nope").status_code == 404

    tags = httpx.get(f"{base}/tags").json()
    coop_tag = next(t for t in tags["tags"] if t["tag"] == TAG)
    assert coop_tag["articles"] == 1 and coop_tag["sse"] == f"/streams/{TAG}"
    assert tags["taxonomy_version"]

    stats = httpx.get(f"{base}/stats", params={"tag": TAG}).json()
    assert stats["total"] == 2 and stats["untagged"] == 1
    assert stats["tags"][TAG]["top_entities"]["places"] == [{"name": "India", "articles": 1}]

    health = httpx.get(f"{base}/healthz").json()
    assert health["status"] == "ok" and health["elasticsearch"]["ok"] and health["kafka"]["ok"]

    metrics = httpx.get(f"{base}/metrics").text
    assert 'newsflow_api_requests_total{route="/search",status="200"}' in metrics
    assert 'newsflow_api_requests_total{route="/search",status="422"}' in metrics

    spec = httpx.get(f"{base}/openapi.json").json()
    assert {"/search", "/articles/{article_id}", "/tags", "/stats", "/streams/{tag}",
            "/healthz", "/metrics"} <= set(spec["paths"])


def test_cli_openapi_prints_the_served_description(
    api: tuple[Names, str, dict[str, Article]], tmp_path: Path,
) -> None:
    names, base, _ = api
    printed = subprocess.run([*NEWSFLOW, "api", "--openapi"], env=names.env(tmp_path),
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == httpx.get(f"{base}/openapi.json").json()


class SseClient:
    def __init__(self, url: str, last_event_id: str | None = None) -> None:
        args = [sys.executable, "-c", SSE_CLIENT, url] + ([last_event_id] if last_event_id
                                                          else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.events: list[dict[str, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))


def test_sse_resume_with_last_event_id_delivers_every_event_exactly_once(
    api: tuple[Names, str, dict[str, Article]],
) -> None:
    names, base, _ = api
    topic = names.tag_topic(TAG)
    first = [make_article(100 + n, f"Joint drill {n}") for n in range(10)]
    produce_articles(topic, first)

    client = SseClient(f"{base}/streams/{TAG}?from=beginning")
    wait_for(lambda: len(client.events) >= 4, 30, "the first events")
    client.proc.kill()  # mid-stream, without goodbye
    client.proc.wait(timeout=10)
    received = list(client.events)
    last_id = received[-1]["id"]

    more = [make_article(200 + n, f"Joint patrol {n}") for n in range(5)]
    produce_articles(topic, more)  # arrive while the client is away

    resumed = SseClient(f"{base}/streams/{TAG}?timeout=3", last_event_id=last_id)
    assert resumed.proc.wait(timeout=60) == 0
    every = [e["article"] for e in received + resumed.events]
    assert every == [a.id for a in first + more]  # no gap, no repeat, in order
    assert resumed.events[-1]["id"] == "0:15"


def test_sse_without_position_starts_at_new_articles_and_honours_max(
    api: tuple[Names, str, dict[str, Article]],
) -> None:
    names, base, _ = api
    topic = names.tag_topic("sanctions")
    produce_articles(topic, [make_article(300, "Old sanctions story")])
    new = [make_article(310 + n, f"New sanctions {n}") for n in range(3)]
    with httpx.stream("GET", f"{base}/streams/sanctions?max=2", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"  # headers and the first bytes are out
        produce_articles(topic, new)
        ids = [json.loads(line[6:])["id"] for line in lines if line.startswith("data: ")]
    assert ids == [a.id for a in new[:2]]
    assert httpx.get(f"{base}/streams/Not_A_Tag").status_code == 404
    assert httpx.get(f"{base}/streams/sanctions",
                     headers={"Last-Event-ID": "garbage"}).status_code == 400
