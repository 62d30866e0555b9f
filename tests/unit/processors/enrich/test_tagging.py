"""The rule engine, one rule kind at a time, on a small taxonomy written here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.article import Entity
from newsflow.errors import ConfigError
from processors.enrich.gazetteer import DATA_DIR, Gazetteer, load_gazetteer
from processors.enrich.phrases import tokenize
from processors.enrich.tagging import Tagger
from processors.enrich.taxonomy import parse_taxonomy


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return load_gazetteer()


def tagger(gz: Gazetteer, *rules: dict[str, Any], negatives: tuple[dict[str, Any], ...] = (),
           threshold: float = 2.0, **scoring: Any) -> Tagger:
    return Tagger(parse_taxonomy({
        "version": "t-1",
        "scoring": {"title_weight": 1.5, "support_weight": 0.5, "max_evidence": 2, **scoring},
        "tags": [{
            "id": "topic", "label": "Topic", "description": "test", "threshold": threshold,
            "rules": list(rules), "negatives": list(negatives),
        }],
    }), gz)


def score(t: Tagger, text: str, entities: list[Entity] | None = None,
          title_end: int = 0) -> float:
    tags = t.tag(text, entities or [], title_end=title_end)
    return tags[0].score if tags else 0.0


def test_cues_match_plurals_prefixes_and_case(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["naval drill", "sanction*", "US"]})
    assert score(t, "They held naval drills.") == 2
    assert score(t, "Firms were sanctioned.") == 2
    assert score(t, "The US said so.") == 2
    assert score(t, "Tell us more.") == 0  # "US" is case-sensitive
    assert score(t, "Oil drilling resumed.") == 0  # no stemming beyond plurals


def test_also_groups_need_every_group_in_the_same_sentence(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["joint"], "also": [["drill"], ["navy"]]})
    assert score(t, "The navy began joint drills.") == 2
    assert score(t, "A joint drill began. The navy watched.") == 0


def test_context_groups_may_be_anywhere_in_the_article(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["drone"], "context": [["war"]]})
    assert score(t, "A drone flew. The war went on.") == 2
    assert score(t, "A drone flew over the beach.") == 0


def test_unless_blocks_the_rule_in_that_sentence(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["partnership"],
                    "unless": ["trade partnership"]})
    assert score(t, "A defence partnership was signed.") == 2
    assert score(t, "A trade partnership was signed.") == 0


@pytest.mark.parametrize("condition,text,fires", [
    ({"min_states": 2}, "Talks between Japan and Vietnam.", True),
    ({"min_states": 2}, "Talks in Japan.", False),
    ({"min_states": 2}, "NATO talks.", True),  # an alliance counts as its members
    ({"states_joined": True}, "Chinese and Russian talks.", True),
    ({"states_joined": True}, "US-Philippine talks.", True),
    ({"states_joined": True}, "Russia warned talks with Japan would fail.", False),
    ({"states_lead": True}, "Chinese and Russian talks.", True),
    ({"states_lead": True}, "The US, Japan and South Korea hold talks.", True),
    ({"states_lead": True}, "\u201cJapan, UK\u201d talks resume.", True),
    ({"states_lead": True}, "Ministers held talks in Japan and Korea.", False),  # where, not who
    ({"states_lead": True}, "Russia warned talks with Japan would fail.", False),
    ({"states_any": ["TW"]}, "Talks about Taiwan.", True),
    ({"states_any": ["TW"]}, "Talks about Japan.", False),
    ({"states_all": ["CN", "TW"]}, "Beijing and Taipei held talks.", True),
    ({"states_all": ["CN", "TW"]}, "Taipei held talks.", False),
    ({"state_after_cue": True}, "Talks in Poland.", True),
    ({"state_after_cue": True}, "Talks in Warsaw and Paris.", True),  # capitals are states
    ({"state_after_cue": True}, "Poland hosts talks in spring.", False),
    ({"state_after_cue": True, "state_after_not": ["UA"]}, "Talks in Ukraine.", False),
    ({"state_after_cue": True, "state_after_places_only": True}, "Talks in Polish.", False),
    ({"state_after_cue": True, "state_after_places_only": True}, "Talks in US bases.", False),
    ({"state_after_cue": True}, "Talks in US bases.", True),
    # a compass point before the state: only where the rule asks (state_after_part) ...
    ({"state_after_cue": True}, "Talks in northern Iraq.", False),
    ({"state_after_cue": True, "state_after_part": True}, "Talks in northern Iraq.", True),
    ({"state_after_cue": True, "state_after_part": True}, "Talks in north-east Syria.", True),
    ({"state_after_cue": True, "state_after_part": True}, "Talks in central Mali.", True),
    ({"state_after_cue": True, "state_after_part": True}, "Talks in southern Europe.", False),
    ({"state_after_cue": True, "state_after_part": True, "state_after_not": ["UA"]},
     "Talks in eastern Ukraine.", False),
    # ... and a state whose name begins with one stays whole
    ({"state_after_cue": True, "state_after_part": True, "states_any": ["KR"]},
     "Talks in South Korea.", True),
    ({"state_after_cue": True, "state_after_part": True, "state_after_not": ["GB"]},
     "Talks in Northern Ireland.", False),
])
def test_entity_conditions(gz: Gazetteer, condition: dict[str, Any], text: str,
                           fires: bool) -> None:
    cues = ["talks in"] if "state_after_cue" in condition else ["talks"]
    t = tagger(gz, {"id": "r", "weight": 2, "cues": cues, "entities": condition})
    assert (score(t, text) > 0) is fires


def test_labels_condition_uses_the_entities(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["visit"],
                    "entities": {"labels_any": ["PERSON"]}})
    text = "Ana Ruiz will visit next week."
    person = Entity(text="Ana Ruiz", label="PERSON", canonical="Ana Ruiz", start=0, end=8)
    assert score(t, text, [person]) == 2
    assert score(t, text, []) == 0


def _place(text: str, surface: str, code: str) -> Entity:
    at = text.index(surface)
    return Entity(text=surface, label="GPE", canonical=surface, start=at,
                  end=at + len(surface), country_code=code)


@pytest.mark.parametrize(("text", "places", "fires"), [
    # the acting state right before the verb, the place after it in another state
    ("Israeli missiles hit targets near Damascus.", [], True),
    ("Turkish drones hit oil sites in Kurdish-held northeast Syria.", [], True),
    ("Israeli jets hit Aleppo overnight.", [("Aleppo", "SY")], True),  # a city NER located
    ("Israeli strike hits drone factory in Iran's Isfahan.", [], True),
    # the place is in the acting state, or in a state the rule leaves out
    ("Pakistani jets hit hideouts in Pakistan's north.", [], False),
    ("Russian missiles hit Kyiv overnight.", [], False),
    # only the first place reached counts: the strike stays in Kyiv
    ("Russian missiles hit Kyiv near the border with Poland.", [], False),
    # a place the verb does not reach: whose forces, where the fuel goes
    ("Iranian jets hit US troops.", [], False),
    ("Iranian jets hit American troops in Syria.", [], False),  # forces, wherever they are
    ("Israeli jets hit an Iranian consulate in Damascus.", [], True),  # a building, in Syria
    ("Dutch firms hit fuel sales to Myanmar.", [], False),
    ("A Russian strike hit a town, and angered Poland.", [], False),  # another clause
    # no acting state near the verb, or only a nationality after it
    ("Officials say missiles hit Damascus.", [], False),
    ("Syria said a strike hit Damascus.", [], False),  # the place is the speaker's own
    ("Thai jets hit Cambodian positions.", [], False),
    # ... unless it names the other state's territory
    ("Israeli jets hit a compound in the Qatari capital.", [], True),
    ("Afghan forces fired on Pakistani border posts.", [], True),
    # an alliance is no single acting state, a state's proxy acts itself
    ("NATO jets hit targets in Libya.", [], False),
    ("Iran-backed militias hit targets in Iraq.", [], False),
])
def test_target_abroad_condition(gz: Gazetteer, text: str, places: list[tuple[str, str]],
                                 fires: bool) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["hit", "hits", "fired on"],
                    "entities": {"target_abroad": True, "state_after_not": ["UA"]}})
    entities = [_place(text, surface, code) for surface, code in places]
    assert (score(t, text, entities) > 0) is fires


def test_target_abroad_places_must_be_near_the_verb(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["hit"],
                    "entities": {"target_abroad": True}})
    assert score(t, "Israeli jets hit one two three four five in Syria.") > 0
    assert score(t, "Israeli jets hit one two three four five six seven in Syria.") == 0
    # ... at most three words after its preposition of place
    assert score(t, "Israeli jets hit sites in one two three Syria.") > 0
    assert score(t, "Israeli jets hit sites in one two three four Syria.") == 0
    # ... and the acting state near it, at most three words before it
    assert score(t, "Israeli one two hit targets in Syria.") > 0
    assert score(t, "Israeli one two three hit targets in Syria.") == 0
    assert score(t, "Israel said on Monday that its jets hit targets in Syria.") == 0


@pytest.mark.parametrize(("text", "mentions"), [
    ("Xi meets Putin in Moscow.", [("Xi", "leader"), ("Putin", "leader"), ("Moscow", "capital")]),
    ("President Vladimir Putin spoke.", [("Vladimir Putin", "leader")]),  # a title before
    ("Lawyers of the Trump Organization met in Trump Tower.", []),  # a longer name after
    ("Kim and Wang met Austin officials.", []),  # surnames shared by many: full names only
    ("Kim Jong Un met Lavrov.", [("Kim Jong Un", "leader"), ("Lavrov", "leader")]),
    # another first name before a surname is someone else; a title, an initial or a
    # sentence's opening word is not
    ("Jill Biden and Hunter Biden met Ivanka Trump.", []),
    ("Donald J. Trump met Mr. Biden.", [("Trump", "leader"), ("Biden", "leader")]),
    ("On Monday Putin met US President Biden.",
     [("Putin", "leader"), ("US", "country"), ("Biden", "leader")]),
])
def test_leaders_are_state_mentions_of_their_own_kind(
    gz: Gazetteer, text: str, mentions: list[tuple[str, str]]
) -> None:
    found = gz.state_mentions(text, tokenize(text))
    assert [(m.text, m.kind) for m in found] == mentions
    assert all(m.codes for m in found)


def test_the_leader_list_keeps_its_own_rules(gz: Gazetteer) -> None:
    # people.yaml: a surname alone only where it is no place, nationality, stoplisted name or
    # title; a surname names the state its full names do.
    surnames = {name: code for name, code in gz.leaders.items() if " " not in name}
    assert len(surnames) > 20
    for name in surnames:
        assert not (gz.place(name) or gz.nationality(name) or name in gz.stoplist
                    or name in gz.titles), name
    for name, code in gz.leaders.items():
        last = name.split()[-1]
        if " " in name and last in surnames:
            assert surnames[last] == code, name


def test_a_leader_listed_under_two_states_is_refused(tmp_path: Path) -> None:
    for source in DATA_DIR.iterdir():
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    people = tmp_path / "people.yaml"
    doc = yaml.safe_load(people.read_text(encoding="utf-8"))
    doc["leaders"]["FR"].append("Putin")
    people.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'Putin' is listed under (RU and FR|FR and RU)"):
        load_gazetteer(tmp_path)


@pytest.mark.parametrize(("condition", "cue", "text", "fires"), [
    # Only a rule that asks for leaders counts them.
    ({"min_states": 2}, "meets", "Xi meets Putin.", False),
    ({"min_states": 2, "leaders": True}, "meets", "Xi meets Putin.", True),
    ({"states_joined": True}, "talks", "Xi and Putin hold talks.", False),
    ({"states_joined": True, "leaders": True}, "talks", "Xi and Putin hold talks.", True),
    ({"states_lead": True, "leaders": True}, "talks", "Biden, Kishida hold talks.", True),
    ({"min_states": 2, "leaders": True}, "meets", "Biden meets Joe Biden's aides.", False),
    # Leaders count only beside another state (another leader's, or a state named): with
    # one state in all, the sentence is read as if it named no leader.
    ({"min_states": 1, "leaders": True}, "visits", "Biden visits Lewiston.", False),
    ({"states_any": ["CN"], "leaders": True}, "visits", "Xi visits Shanghai.", False),
    ({"state_after_cue": True, "leaders": True}, "talks with", "Talks with Putin.", False),
    ({"min_states": 1, "leaders": True}, "visits", "Biden visits US troops.", True),  # the US
    ({"min_states": 1, "leaders": True}, "visits", "Biden visits Poland.", True),
    ({"min_states": 1, "leaders": True}, "meets", "Biden meets Lula.", True),
    # A leader is a person, not a place.
    ({"state_after_cue": True, "leaders": True}, "talks with", "Talks with Putin on Ukraine.",
     True),
    ({"state_after_cue": True, "state_after_places_only": True, "leaders": True},
     "talks with", "Talks with Putin on Ukraine.", False),
    ({"target_abroad": True, "leaders": True}, "hit", "Israeli jets hit Netanyahu's foes "
     "in Syria.", True),  # the strike reaches past the leader, to Syria
])
def test_a_rule_may_count_leaders_as_their_states(
    gz: Gazetteer, condition: dict[str, Any], cue: str, text: str, fires: bool
) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": [cue], "entities": condition})
    assert (score(t, text) > 0) is fires


def test_leaders_are_no_condition_of_their_own() -> None:
    with pytest.raises(ConfigError, match="rule 'r' needs cues or an entity condition"):
        parse_taxonomy({
            "version": "t-1", "scoring": {},
            "tags": [{"id": "topic", "label": "Topic", "description": "test", "threshold": 2,
                      "rules": [{"id": "r", "entities": {"leaders": True}}]}],
        })


def test_stoplisted_name_inside_a_longer_name_is_not_a_state(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["talks"], "entities": {"min_states": 2}})
    assert score(t, "Michael Jordan joined talks in Japan.") == 0
    assert score(t, "Jordan joined talks in Japan.") == 2


@pytest.mark.parametrize(
    ("text", "states"),
    [
        ("A train derailed in East Palestine, Ohio, near Pittsburgh.", []),
        ("The mayor of Lebanon, Pennsylvania met officials of Paris, Texas.", []),
        ("Police in Moscow, Idaho, made an arrest.", []),
        # A country or capital followed by something else than a US state is still one.
        ("Israel struck Lebanon, the army said.", ["Israel", "Lebanon"]),
        ("Talks in Paris, France, with officials from Kyiv, Ukraine.",
         ["Paris", "France", "Kyiv", "Ukraine"]),
    ],
)
def test_a_name_followed_by_a_us_state_is_a_us_town_not_a_state(
    gz: Gazetteer, text: str, states: list[str]
) -> None:
    tokens = tokenize(text)
    assert [m.text for m in gz.state_mentions(text, tokens)] == states
    # Nor does entities add the town as the country or capital NER would have missed.
    added = {text[start:end] for start, end, kind, _ in gz.missed_names(text, tokens)
             if kind == "place"}
    assert added >= set(states)
    if not states:
        assert not added & {"Palestine", "Lebanon", "Paris", "Moscow"}


def test_negatives_subtract_or_veto(gz: Gazetteer) -> None:
    rule = {"id": "r", "weight": 3, "cues": ["exercise"]}
    t = tagger(gz, rule, negatives=({"id": "n", "weight": 2, "cues": ["gym"]},))
    assert score(t, "An exercise at the gym.") == 0  # 3 - 2 = 1 < threshold 2
    assert score(t, "A naval exercise.") == 3
    t = tagger(gz, rule, negatives=({"id": "n", "veto": True, "cues": ["fitness"]},))
    assert score(t, "A fitness exercise with a naval exercise.") == 0


def test_article_scope_negative_applies_everywhere(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2.5, "cues": ["weapons package"]},
               negatives=({"id": "sale", "scope": "article", "weight": 2, "cues": ["arms sale"]},))
    assert score(t, "An arms sale was approved.\n\nThe weapons package is large.") == 0
    assert score(t, "A weapons package was approved.") == 2.5


def test_a_cue_in_a_timing_clause_counts_for_no_rule(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["visit"]},
               timing_phrases=["amid", "on the eve of"], timing_reach=6)
    assert score(t, "Strikes hit Kharkiv amid the minister's visit.") == 0
    assert score(t, "Strikes hit Kharkiv on the eve of the visit.") == 0
    # Before the phrase, the cue is the story; so it is once the clause has ended.
    assert score(t, "The minister's visit went ahead amid strikes.") == 2
    assert score(t, "Amid strikes, the minister began his visit.") == 2
    assert score(t, "Amid strikes on the city — the minister's visit began.") == 2
    # The clause reaches timing_reach words at most.
    assert score(t, "Amid strikes on the city that went on all night the visit began.") == 2
    # Without timing phrases nothing is left out.
    assert score(tagger(gz, {"id": "r", "weight": 2, "cues": ["visit"]}),
                 "Strikes hit Kharkiv amid the minister's visit.") == 2


def test_a_sentence_opening_with_a_teaser_phrase_counts_for_no_rule(gz: Gazetteer) -> None:
    """A newsletter's list of its other stories carries no tag (the labelling guide)."""
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["joint drill"]},
               {"id": "ctx", "weight": 2, "cues": ["summit"], "context": [["joint drill"]]},
               teaser_phrases=["also in today's newsletter", "plus"])
    expected = {
        "Also in today\u2019s newsletter, a joint drill off Guam.": 0,
        "Plus: a joint drill off Guam and the week's markets.": 0,
        # Nor is a teaser's cue the article's context for another sentence.
        "A summit opened. Plus, a joint drill.": 0,
        # Only at the sentence's opening: elsewhere the phrase is a word like any other.
        "A joint drill, plus a parade, marked the day.": 2,
        "Markets fell. Also in today\u2019s newsletter: nothing. A joint drill.": 2,
    }
    assert {text: score(t, text) for text in expected} == expected
    # Without teaser phrases nothing is left out.
    plain = tagger(gz, {"id": "r", "weight": 2, "cues": ["joint drill"]})
    assert score(plain, "Plus: a joint drill off Guam.") == 2
    [sentence] = t.sentences("Plus: a joint drill.")
    assert sentence.teaser and not sentence.cues


def test_timing_phrases_are_still_cues_of_the_rules_that_name_them(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["visit"]},
               negatives=({"id": "n", "weight": 1, "cues": ["on the eve of"]},),
               timing_phrases=["on the eve of"])
    [result] = t.analyse("The visit began on the eve of talks.")
    assert result.score == 1 and "n" in result.fired


def test_title_weight_support_and_threshold(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 1.5, "cues": ["joint drill"]})
    assert score(t, "Body: a joint drill.") == 0  # 1.5 < 2
    title = "Joint drill begins"
    assert score(t, f"{title}\n\nNothing else.", title_end=len(title)) == 2.25
    # best sentence + 0.5 x the others
    assert score(t, "A joint drill. Another joint drill.") == 2.25


def test_a_result_knows_whether_its_rules_scored_in_the_opening(gz: Gazetteer) -> None:
    """The title and the first sentence after it are the item's subject; a finding only
    further on is background, which the learned tagger leaves to the model."""
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["joint drill"]})
    title = "Joint drill begins"

    def opening(text: str, title_end: int = 0) -> bool:
        [result] = t.analyse(text, title_end=title_end)
        return result.opening

    assert opening(f"{title}\n\nNothing else. Or here.", title_end=len(title))
    assert opening("Talks ended\n\nA joint drill began. Nothing else.", title_end=11)
    assert opening("A joint drill began. Nothing else.")  # no title: the first sentence
    later = "Talks ended\n\nNothing happened. Later a joint drill began."
    assert not opening(later, title_end=11)
    assert t.analyse(later, title_end=11)[0].score == 2  # the score itself is unchanged
    # Any scoring sentence in the opening will do, not only the best one.
    assert opening("Talks ended\n\nA joint drill. A joint drill and a joint drill.",
                   title_end=11)
    # Nothing scored: no opening.
    assert not opening("Talks ended\n\nNothing at all.", title_end=11)


def test_evidence_has_sentence_offsets_cues_and_version(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["joint patrol"],
                    "entities": {"states_joined": True}})
    text = "Weather was calm.\n\nChinese and Russian bombers flew joint patrols near Alaska."
    [tag] = t.tag(text, [])
    assert tag.tag == "topic" and tag.taxonomy_version == "t-1"
    [ev] = tag.evidence
    assert text[ev.start : ev.end] == ev.sentence
    assert ev.sentence.startswith("Chinese and Russian bombers")
    assert ev.cues == ["joint patrols", "Chinese + Russian"]
    assert ev.score == 2


def test_rules_skip_sentences_without_their_cues_but_not_rules_without_cues(
    gz: Gazetteer,
) -> None:
    t = tagger(gz, {"id": "cue", "weight": 2, "cues": ["naval drill"]})
    assert score(t, "Nothing here. Still nothing.") == 0
    assert score(t, "Nothing here. They held a naval drill.") == 2
    # A rule with an entity condition alone fires in sentences with no cues at all.
    t = tagger(gz, {"id": "states", "weight": 2, "entities": {"min_states": 2}})
    assert score(t, "China and Russia met.") == 2


def test_given_tokens_are_the_texts_own_tokens(gz: Gazetteer) -> None:
    t = tagger(gz, {"id": "r", "weight": 2, "cues": ["naval drill*"],
                    "entities": {"min_states": 2}})
    text = "China, Russia hold naval drills\n\nThe U.S. Navy watched. Mr. Li said China's navy led."
    alone = t.analyse(text, title_end=31)
    given = t.analyse(text, title_end=31, tokens=tokenize(text))
    assert given == alone and alone[0].score > 0


def test_a_name_is_inside_a_longer_name_as_the_40_characters_around_it_say() -> None:
    import re

    from processors.enrich.gazetteer import _NOT_NAME_WORDS, _inside_longer_name

    def sliced(text: str, start: int, end: int) -> bool:  # the definition, on copies
        before = re.search(r"([A-Z][\w.]*) $", text[max(0, start - 40) : start])
        after = re.match(r" ([A-Z]\w*)", text[end : end + 40])
        return bool((before and before.group(1) not in _NOT_NAME_WORDS)
                    or (after and after.group(1) not in _NOT_NAME_WORDS))

    text = ("Michael Jordan met Jordan's king. In Jordan, the USS George Washington docked;"
            " The Washington Post said so.\nWashington\nSaid")
    for name in ("Jordan", "Washington"):
        for match in re.finditer(name, text):
            assert _inside_longer_name(text, match.start(), match.end()) == sliced(
                text, match.start(), match.end()
            ), (name, match.start())
    assert _inside_longer_name(text, 8, 14)  # "Michael Jordan"
    assert not _inside_longer_name(text, 19, 25)  # "met Jordan's"
