"""The Enricher with the real spaCy model: the worker's contract, the seed article, the
demo feeds, and taxonomy reloads."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from newsflow.article import Article, Entity
from newsflow.settings import ProcessorSettings
from processors.enrich.enrichment import Enricher, enriched_copy

SETTINGS = ProcessorSettings()
REPO = Path(__file__).resolve().parents[4]
SEED = REPO.parent / "shared" / "examples" / "seed-article.txt"
DEMO_FEEDS = REPO / "deploy" / "demo" / "feeds"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(SETTINGS.spacy_model, SETTINGS.taxonomy_file)


def article(title: str, summary: str = "", content: str = "", id_: str = "a1") -> Article:
    return Article(id=id_, url=f"https://example.org/{id_}", canonical_url=f"https://example.org/{id_}",
                   feed_url="https://example.org/feed", source="example.org", title=title,
                   summary=summary, content=content, published_at=NOW, seen_at=NOW)


def test_enrich_returns_enriched_copies_with_offsets_into_the_analysis_text(
    enricher: Enricher,
) -> None:
    original = article("Vietnam and India hold joint naval exercise",
                       "Warships from both navies sailed together off Da Nang, officials in "
                       "Hanoi said.")
    [done] = enricher.enrich([original], NOW)
    assert original.entities == [] and original.tags == [] and original.enriched_at is None
    assert done.enriched_at == NOW and done.id == original.id
    text = done.text_for_analysis()
    for e in done.entities:
        assert text[e.start : e.end] == e.text
    codes = {e.canonical: e.country_code for e in done.entities}
    assert codes.get("Vietnam") == "VN" and codes.get("India") == "IN"
    assert "military-cooperation" in done.tag_names
    for tag in done.tags:
        assert tag.taxonomy_version == enricher.taxonomy_version
        for ev in tag.evidence:
            assert text[ev.start : ev.end] == ev.sentence


def test_only_ner_components_are_loaded(enricher: Enricher) -> None:
    assert enricher._nlp.pipe_names == ["ner"]  # tok2vec, tagger, parser... excluded


def test_batch_keeps_order_and_handles_empty_bodies(enricher: Enricher) -> None:
    items = [article("Heatwave grips Spain", id_="x1"),
             article("Russian missiles hit Odesa port", "Ukraine's air force reported.", id_="x2")]
    out = enricher.enrich(items, NOW)
    assert [a.id for a in out] == ["x1", "x2"]
    assert out[0].tags == [] and "russia-ukraine-war" in out[1].tag_names


@pytest.mark.skipif(not SEED.is_file(), reason="shared/examples not available")
def test_seed_article_gets_every_listed_tag_and_the_named_entities(enricher: Enricher) -> None:
    [done] = enricher.enrich([article("China's premier and army commander visit Moscow",
                                      content=SEED.read_text(encoding="utf-8"))], NOW)
    assert set(done.tag_names) >= {
        "military-cooperation", "diplomatic-visit", "russia-ukraine-war",
        "territorial-incursion", "military-aid", "military-exercise", "taiwan-strait",
        "drone-warfare", "sanctions",
    }
    coop = next(t for t in done.tags if t.tag == "military-cooperation")
    sentences = " ".join(ev.sentence for ev in coop.evidence)
    # The taxonomy page's strongest evidence for it: at least one of its three sentences.
    assert any(phrase in sentences for phrase in [
        "military cooperation between China and Russia", "conducted joint patrols",
        "jointly developing an attack drone"])
    names = {(e.label, e.canonical) for e in done.entities}
    for person in ["Li Qiaoming", "Oleg Salyukov", "Carl Schuster", "Oriana Skylar Mastro",
                   "Anders Corr", "John Aquilino", "Xi Jinping"]:
        assert ("PERSON", person) in names, person
    for org in ["US Indo-Pacific Command", "Pentagon", "Bloomberg"]:
        assert ("ORG", org) in names, org
    for place in ["Moscow", "Kursk", "Donetsk", "Taiwan", "South China Sea"]:
        assert place in {c for _, c in names}, place
    assert ("PERSON", "Schuster") not in names  # merged into Carl Schuster
    kursk = next(e for e in done.entities if e.canonical == "Kursk")
    assert kursk.label == "GPE"


def _demo_articles() -> list[Article]:
    out = []
    for path in sorted(DEMO_FEEDS.glob("*")):
        for i, entry in enumerate(feedparser.parse(str(path)).entries):
            out.append(article(entry.title, entry.get("summary", ""), id_=f"{path.name}-{i}"))
    return out


def test_demo_feeds_cooperation_items_tagged_and_near_misses_not(enricher: Enricher) -> None:
    done = {a.title: set(a.tag_names) for a in enricher.enrich(_demo_articles(), NOW)}
    cooperation = [t for t, tags in done.items() if "military-cooperation" in tags]
    assert len(cooperation) >= 5
    for near_miss in ["drone deliveries", "exercise routine", "battery firm", "royal tour",
                      "Fire drill", "nuclear power plant"]:
        title = next(t for t in done if near_miss in t)
        assert "military-cooperation" not in done[title], title
    assert done[next(t for t in done if "drone deliveries" in t)] == set()
    assert done[next(t for t in done if "exercise routine" in t)] == set()


def test_reload_picks_up_an_edit_and_refuses_a_broken_one(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    shutil.copy(SETTINGS.taxonomy_file, path)
    enricher = Enricher(SETTINGS.spacy_model, path)
    old = enricher.tagger.taxonomy.version
    model = enricher.tagger.model
    assert model is not None
    assert enricher.taxonomy_version == f"{old}+model.{model.version}"
    assert enricher.reload_taxonomy_if_changed() is False
    text = path.read_text(encoding="utf-8").replace(f'version: "{old}"', 'version: "99.0.0"')
    time.sleep(0.01)
    path.write_text(text, encoding="utf-8")
    assert enricher.reload_taxonomy_if_changed() is True
    # The edited taxonomy with the same learned model: tags say both.
    assert enricher.taxonomy_version == f"99.0.0+model.{model.version}"
    [done] = enricher.enrich([article("Vietnam and India hold joint naval exercise")], NOW)
    assert {t.taxonomy_version for t in done.tags} == {enricher.taxonomy_version}
    time.sleep(0.01)
    path.write_text("version: 1\ntags: []\n", encoding="utf-8")
    assert enricher.reload_taxonomy_if_changed() is False
    # The last good version keeps working.
    assert enricher.taxonomy_version == f"99.0.0+model.{model.version}"


@pytest.mark.skipif(not SEED.is_file(), reason="shared/examples not available")
def test_seed_article_lists_every_mention_in_its_field(enricher: Enricher) -> None:
    seed = SEED.read_text(encoding="utf-8")
    [done] = enricher.enrich([article("China's premier and army commander visit Moscow",
                                      summary="Moscow talks on Kursk.", content=seed)], NOW)
    for e in done.entities:
        assert e.count == len(e.mentions) >= 1, e
        for m in e.mentions:
            surface = getattr(done, m.field)[m.start : m.end]
            assert surface and surface == surface.strip(), (e, m)
            # the mention is the name, a short form of it, or an alias ("U.S." -> United States)
            assert (any(w in f"{e.text} {e.canonical}" for w in surface.split())
                    or e.country_code is not None), (e, m, surface)
    moscow = next(e for e in done.entities if e.canonical == "Moscow")
    assert moscow.country_code == "RU"
    # every occurrence of the word, in all three fields, is a mention
    expected = [(f, i) for f in ("title", "summary", "content")
                for i in _occurrences(getattr(done, f), "Moscow")]
    assert [(m.field, m.start) for m in moscow.mentions] == expected
    assert all(getattr(done, m.field)[m.start : m.end] == "Moscow" for m in moscow.mentions)
    kursk = next(e for e in done.entities if e.canonical == "Kursk")
    assert kursk.country_code == "RU" and kursk.mentions[0].field == "summary"


def _occurrences(text: str, word: str) -> list[int]:
    import re

    return [m.start() for m in re.finditer(rf"\b{word}\b", text)]


def test_enrich_record_mentions_index_into_title_and_text(enricher: Enricher) -> None:
    from processors.enrich.records import article_to_record, record_to_article

    record = {"id": 7, "title": " Poland and Germany sign pact",
              "text": "  Poland's defence minister met his German counterpart in Warsaw. "
                      "Poland will host German troops."}
    [done] = enricher.enrich([record_to_article(record, 1, NOW)], NOW)
    out = article_to_record(record, done)
    poland = next(e for e in out["entities"] if e["canonical"] == "Poland")
    spots = [(m["field"], record[m["field"]][m["start"] : m["end"]]) for m in poland["mentions"]]
    assert spots == [("title", "Poland"), ("text", "Poland"), ("text", "Poland")]
    assert poland["count"] == 3
    assert (poland["field"], poland["start"]) == ("title", 1)  # the first mention
    for e in out["entities"]:
        for m in e["mentions"]:
            assert record[m["field"]][m["start"] : m["end"]].strip()


def test_enriched_copy_is_a_deep_copy_with_the_update() -> None:
    original = article("Title", "Summary").model_copy(
        update={"authors": ["A. Writer"], "feed_labels": ["world"], "watches": ["w1"]}
    )
    entity = Entity(text="Title", label="ORG", canonical="Title", start=0, end=5)
    update = {"entities": [entity], "tags": [], "enriched_at": NOW}
    done = enriched_copy(original, update)
    assert done == original.model_copy(update=update, deep=True)
    assert done.model_fields_set == original.model_copy(update=update, deep=True).model_fields_set
    assert done.entities[0] is entity  # this batch's own records, not copied
    for name in ("authors", "feed_labels", "watches", "story_new_tags"):
        assert getattr(done, name) is not getattr(original, name)  # nothing shared
    done.authors.append("B. Editor")
    assert original.authors == ["A. Writer"]
