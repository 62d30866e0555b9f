"""`newsflow retag` on the real servers: stored articles re-tagged with the shipped taxonomy,
re-indexed in place, newly gained tags published to their stream; a second run finds nothing
left to do."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.article import Tag, decode_article, utc_now
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex
from processors.store.ports import IndexRequest
from tests.integration.processors_support import (
    COOPERATION,
    ES_URL,
    NEWSFLOW,
    UNRELATED,
    Names,
    make_article,
    read_topic,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def test_retag_reindexes_in_place_and_publishes_gained_tags(names: Names,
                                                            tmp_path: Path) -> None:
    coop = make_article(1, COOPERATION[0], summary=COOPERATION[1])
    other = make_article(2, UNRELATED[0], summary=UNRELATED[1]).model_copy(
        update={"tags": [Tag(tag="sanctions", score=0.3, taxonomy_version="0.0-old")]})
    settings = ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias)
    with ArticleIndex(settings) as index:
        index.ensure_ready(utc_now())
        indexed_at = utc_now()
        outcome = index.bulk_index([
            IndexRequest(a.id, backing_index(names.alias, a.published_at),
                         article_document(a, taxonomy_version="0.0-old", indexed_at=indexed_at))
            for a in (coop, other)
        ])
        assert len(outcome.indexed) == 2
        index.refresh()

        env = names.env(tmp_path)
        first = subprocess.run([*NEWSFLOW, "retag", "--json"], env=env, capture_output=True,
                               text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert report["scanned"] == 2 and report["changed"] == 2
        assert report["gained"].get("military-cooperation") == 1
        assert report["lost"] == {"sanctions": 1}
        assert report["published"] >= 1

        index.refresh()
        stored = {a.id: index.get(a.id) for a in (coop, other)}
        assert index.count() == 2
        assert "military-cooperation" in stored[coop.id]["tags"]  # type: ignore[index]
        assert stored[coop.id]["taxonomy_version"] == report["taxonomy_version"]  # type: ignore[index]
        assert stored[other.id]["tags"] == []  # type: ignore[index]
        assert index.locate([coop.id])[coop.id] == backing_index(names.alias, coop.published_at)

    published = [decode_article(v) for v in
                 read_topic(names.tag_topic("military-cooperation"), expect=1)]
    assert [a.id for a in published] == [coop.id]
    assert "military-cooperation" in published[0].tag_names

    again = subprocess.run([*NEWSFLOW, "retag", "--json"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["scanned"] == 0
