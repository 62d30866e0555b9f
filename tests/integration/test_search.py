"""Search filters, highlights and stats aggregations on the real Elasticsearch, through the
adapter and through `newsflow search` / `newsflow stats`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow.article import Article, Entity, Tag, utc_now
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import article_document, backing_index
from processors.store.index import ArticleIndex
from processors.store.ports import IndexRequest
from processors.store.search import (
    SearchQuery,
    StatsQuery,
    build_search,
    build_stats,
    parse_search,
    parse_stats,
)
from tests.integration.processors_support import ES_URL, NEWSFLOW, Names, make_article

pytestmark = pytest.mark.integration


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 6, day, hour, tzinfo=UTC)


def ent(name: str, label: str) -> Entity:
    return Entity(text=name, label=label, canonical=name, start=0, end=len(name))


def tag(name: str) -> Tag:
    return Tag(tag=name, score=0.7, taxonomy_version="t1")


def corpus() -> dict[str, Article]:
    spec = {
        "exercise": (1, "China and Russia hold joint naval exercise", "reuters.com", at(1),
                     ["military-cooperation", "military-exercise"],
                     [ent("China", "GPE"), ent("Russia", "GPE"), ent("Xi Jinping", "PERSON")]),
        "pact": (2, "Japan and Australia sign defence pact", "apnews.com", at(1, 18),
                 ["military-cooperation"], [ent("Japan", "GPE"), ent("Australia", "GPE")]),
        "aid": (3, "Germany pledges air defence systems to Ukraine", "reuters.com", at(2),
                ["military-aid", "russia-ukraine-war"],
                [ent("Germany", "GPE"), ent("Ukraine", "GPE"), ent("NATO", "ORG"),
                 Entity(text="Mr Scholz", label="PERSON", canonical="Olaf Scholz", start=0,
                        end=9)]),
        "drill": (4, "Taiwan stages naval drill", "focustaiwan.tw", at(3),
                  ["military-exercise"],
                  [ent("Taiwan", "GPE"), Entity(text="Kinmen", label="GPE", canonical="",
                                                start=0, end=6)]),
        "bikes": (5, "City approves bicycle lanes", "local.example", at(3), [], []),
        "july": (6, "Russia and China naval patrol near Alaska", "apnews.com",
                 datetime(2025, 7, 1, tzinfo=UTC), ["military-cooperation"],
                 [ent("Russia", "GPE"), ent("China", "GPE"), ent("NATO", "ORG")]),
    }
    out = {}
    for key, (n, title, source, published, tags, entities) in spec.items():
        article = make_article(n, title, summary=f"{title}. More details follow.",
                               source=source, published_at=published)
        out[key] = article.model_copy(update={"tags": [tag(t) for t in tags],
                                              "entities": entities})
    return out


@pytest.fixture(scope="module")
def indexed() -> Iterator[tuple[Names, ArticleIndex, dict[str, Article]]]:
    names = Names()
    settings = ElasticsearchSettings(url=ES_URL, alias=names.alias, template_name=names.alias)
    articles = corpus()
    with ArticleIndex(settings) as index:
        index.ensure_ready(utc_now())
        outcome = index.bulk_index([
            IndexRequest(a.id, backing_index(names.alias, a.published_at),
                         article_document(a, taxonomy_version="t1", indexed_at=utc_now()))
            for a in articles.values()
        ])
        assert len(outcome.indexed) == len(articles)
        index.refresh()
        yield names, index, articles
    names.cleanup()


def ids(index: ArticleIndex, **query: object) -> set[str]:
    result = parse_search(index.search(build_search(SearchQuery(size=50, **query))))  # type: ignore[arg-type]
    return {hit.article.id for hit in result.hits}


def test_filters_select_the_right_articles(indexed: tuple[Names, ArticleIndex,
                                                          dict[str, Article]]) -> None:
    _, index, a = indexed
    assert ids(index, text="naval") == {a["exercise"].id, a["drill"].id, a["july"].id}
    assert ids(index, text="naval", tags=("military-cooperation",)) == \
        {a["exercise"].id, a["july"].id}
    assert ids(index, tags=("military-cooperation", "military-exercise")) == \
        {a["exercise"].id}
    assert ids(index, entities=("nato",)) == {a["aid"].id, a["july"].id}
    assert ids(index, entities=("Russia", "NATO")) == {a["july"].id}
    # An entity is found by its canonical name or its text as printed, in any case, and one
    # without a canonical name by its text (the per-kind arrays list it under that).
    assert ids(index, entities=("olaf scholz",)) == {a["aid"].id}
    assert ids(index, entities=("MR SCHOLZ",)) == {a["aid"].id}
    assert ids(index, entities=("kinmen",)) == {a["drill"].id}
    assert ids(index, entities=("Scholz",)) == set()
    assert ids(index, sources=("reuters.com", "focustaiwan.tw")) == \
        {a["exercise"].id, a["aid"].id, a["drill"].id}
    assert ids(index, since=at(2), until=at(4)) == {a["aid"].id, a["drill"].id, a["bikes"].id}
    assert ids(index, text="naval -Taiwan", since=at(1, 0), until=datetime(2025, 6, 30,
                                                                           tzinfo=UTC)) == \
        {a["exercise"].id}
    assert ids(index, text="\"defence pact\"") == {a["pact"].id}
    assert ids(index, text="submarine") == set()


def test_hits_carry_highlights_and_come_back_as_articles(
    indexed: tuple[Names, ArticleIndex, dict[str, Article]],
) -> None:
    _, index, a = indexed
    result = parse_search(index.search(build_search(SearchQuery(text="bicycle"))))
    assert result.total == 1
    [hit] = result.hits
    assert hit.article.title == a["bikes"].title
    assert hit.highlights["title"] == ["City approves <em>bicycle</em> lanes"]
    assert hit.score is not None and hit.score > 0
    newest = parse_search(index.search(build_search(SearchQuery(size=2)))).hits
    assert [h.article.id for h in newest] == [a["july"].id, a["drill"].id] or \
        [h.article.id for h in newest] == [a["july"].id, a["bikes"].id]


def test_stats_count_articles_per_tag_per_day_and_top_entities(
    indexed: tuple[Names, ArticleIndex, dict[str, Article]],
) -> None:
    _, index, _ = indexed
    query = StatsQuery(tags=("military-cooperation",), top=5)
    stats = parse_stats(query, index.search(build_stats(query)))
    assert stats.total == 6 and stats.untagged == 1
    assert stats.tag_totals == {"military-cooperation": 3}
    assert stats.per_tag["military-cooperation"] == [("2025-06-01", 2), ("2025-07-01", 1)]
    top = stats.top_entities["military-cooperation"]
    assert top["places"][:2] == [("China", 2), ("Russia", 2)]
    assert ("Japan", 1) in top["places"]
    assert top["people"] == [("Xi Jinping", 1)]
    assert top["organizations"] == [("NATO", 1)]

    everything = StatsQuery(since=at(1, 0), until=datetime(2025, 6, 30, tzinfo=UTC),
                            interval="week")
    weekly = parse_stats(everything, index.search(build_stats(everything)))
    assert weekly.total == 5
    assert weekly.tag_totals == {"military-cooperation": 2, "military-exercise": 2,
                                 "military-aid": 1, "russia-ukraine-war": 1}
    # 2025-06-01 is a Sunday: ISO weeks start on Monday, 2025-05-26 and 2025-06-02
    assert weekly.per_tag["military-exercise"] == [("2025-05-26", 1), ("2025-06-02", 1)]


def test_cli_search_and_stats(indexed: tuple[Names, ArticleIndex, dict[str, Article]],
                              tmp_path: Path) -> None:
    names, _, a = indexed
    env = names.env(tmp_path)
    found = subprocess.run([*NEWSFLOW, "search", "naval", "--tag", "military-cooperation",
                            "--since", "2025-06-01", "--until", "2025-06-02", "--json"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert [h["id"] for h in hits] == [a["exercise"].id]
    assert hits[0]["highlights"]["title"] == ["China and Russia hold joint <em>naval</em> "
                                              "exercise"]
    assert hits[0]["tags"][0]["tag"] == "military-cooperation"

    text = subprocess.run([*NEWSFLOW, "search", "--entity", "NATO"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert a["aid"].title in text.stdout and a["july"].title in text.stdout
    assert "2 article(s) match, 2 shown" in text.stderr

    stats = subprocess.run([*NEWSFLOW, "stats", "--tag", "military-aid", "--json"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0, stats.stderr
    out = json.loads(stats.stdout)
    assert out["tags"]["military-aid"]["total"] == 1
    assert out["tags"]["military-aid"]["per_interval"] == [{"start": "2025-06-02",
                                                            "articles": 1}]
    places = out["tags"]["military-aid"]["top_entities"]["places"]
    assert {p["name"] for p in places} == {"Germany", "Ukraine"}

    bad = subprocess.run([*NEWSFLOW, "search", "x", "--since", "whenever"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a date" in bad.stderr
