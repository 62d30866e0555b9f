"""The shipped taxonomy on sentences written for these tests: clear cases must get their
tag, near-misses (same words, other meaning) must not."""

from __future__ import annotations

import pytest

from newsflow.settings import ProcessorSettings
from processors.gazetteer import load_gazetteer
from processors.tagging import Tagger
from processors.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_taxonomy(ProcessorSettings().taxonomy_file), load_gazetteer())


def tags(tagger: Tagger, title: str, body: str) -> set[str]:
    text = f"{title}\n\n{body}"
    return {t.tag for t in tagger.tag(text, [], title_end=len(title))}


POSITIVES = [
    ("military-cooperation", "Vietnam and India hold first joint naval exercise",
     "Warships from both navies sailed together off Da Nang on Monday."),
    ("military-cooperation", "Greece and France sign mutual defence pact",
     "The treaty obliges each side to come to the other's aid if attacked."),
    ("military-cooperation", "Kenya and Britain extend basing agreement for troops",
     "British soldiers will keep training at a camp north of Nairobi until 2031."),
    ("military-cooperation", "Seoul and Tokyo agree to share missile intelligence",
     "The intelligence sharing deal covers real-time warning data on launches."),
    ("military-cooperation", "Turkey and Azerbaijan to co-produce armed drones",
     "The two countries' defence firms will jointly develop a long-range drone."),
    ("military-aid", "Germany pledges more air defence systems to Ukraine",
     "Berlin will send two further batteries and missiles worth 500 million euros."),
    ("military-aid", "Norway sends artillery shells to Kyiv",
     "The shipment includes 20,000 rounds of ammunition."),
    ("drone-warfare", "Rebels use armed drones to strike army base",
     "The militants launched five explosive-laden drones at dawn, the army said."),
    ("military-exercise", "Chinese navy stages live-fire drills near Pacific islands",
     "Destroyers fired at targets during the exercise, state media said."),
    ("territorial-incursion", "Fighter jets violate Latvian airspace",
     "Two aircraft entered the country's airspace for three minutes, the military said."),
    ("sanctions", "Britain imposes sanctions on shipping firms",
     "The asset freeze targets companies accused of moving oil in breach of the embargo."),
    ("diplomatic-visit", "French president arrives in Jakarta for state visit",
     "The president will meet his Indonesian counterpart to discuss trade and defence."),
    ("taiwan-strait", "PLA warships circle Taiwan in new pressure campaign",
     "Beijing says the island is part of China; Taipei condemned the move."),
    ("russia-ukraine-war", "Russian missiles hit Odesa port",
     "Ukraine's air force said it shot down 12 of 20 missiles fired overnight."),
    ("nuclear-weapons", "Treaty talks stall as nuclear arsenals grow",
     "Negotiators failed to agree on limits for strategic warheads."),
]

NEAR_MISSES = [
    ("military-cooperation", "Carmakers announce joint venture to produce batteries",
     "German and Chinese firms will build cells together in Hungary."),
    ("military-cooperation", "Britain and Japan sign free trade agreement",
     "The trade deal cuts tariffs on cars and cheese."),
    ("military-cooperation", "Researchers in Denmark and Sweden test exercise routine",
     "Office workers who did a daily strength exercise had less back pain."),
    ("military-cooperation", "France and Italy clash over migrant boats",
     "The two governments accuse each other of ignoring rescue requests."),
    ("military-aid", "Retailer ships drones to customers",
     "Parcels now arrive by delivery drone in under an hour."),
    ("drone-warfare", "Wedding photographers turn to drones",
     "Couples are paying extra for aerial filming of their ceremonies."),
    ("drone-warfare", "Airport closed after drone sightings",
     "Flights were diverted for two hours after unidentified drones were seen."),
    ("military-exercise", "Five-minute exercise routine for busy parents",
     "A fitness coach explains a short workout you can do at home."),
    ("military-exercise", "Fire drill clears central station",
     "Commuters waited outside for twenty minutes."),
    ("territorial-incursion", "Fans stage pitch invasion after derby win",
     "Supporters ran onto the field at the final whistle."),
    ("sanctions", "League sanctions club over crowd trouble",
     "The football club was fined and must play two matches behind closed doors."),
    ("diplomatic-visit", "King and Queen begin royal tour of Canada",
     "The royal couple arrived in Ottawa for a five-day visit."),
    ("diplomatic-visit", "Presidents speak by phone about trade",
     "The two leaders held a phone call on Tuesday."),
    ("taiwan-strait", "Earthquake shakes eastern Taiwan",
     "The magnitude 6.1 quake damaged roads near Hualien."),
    ("nuclear-weapons", "Japan restarts nuclear power plant",
     "The reactor resumed operation after a safety upgrade."),
    ("russia-ukraine-war", "Ukraine's wheat harvest beats forecasts",
     "Farmers brought in a record crop after a wet spring."),
]


@pytest.mark.parametrize("tag,title,body", POSITIVES)
def test_clear_cases_get_their_tag(tagger: Tagger, tag: str, title: str, body: str) -> None:
    assert tag in tags(tagger, title, body)


@pytest.mark.parametrize("tag,title,body", NEAR_MISSES)
def test_near_misses_do_not(tagger: Tagger, tag: str, title: str, body: str) -> None:
    assert tag not in tags(tagger, title, body)


def test_single_state_drills_are_not_cooperation(tagger: Tagger) -> None:
    found = tags(tagger, "Russian navy holds drills in the Baltic",
                 "Twenty warships took part in the exercise, the defence ministry said.")
    assert "military-exercise" in found
    assert "military-cooperation" not in found


def test_one_way_aid_is_not_cooperation(tagger: Tagger) -> None:
    found = tags(tagger, "Canada sends armoured vehicles to Ukraine",
                 "The delivery is part of a C$500 million military aid package.")
    assert "military-aid" in found
    assert "military-cooperation" not in found


def test_adiz_entry_is_not_an_incursion(tagger: Tagger) -> None:
    found = tags(tagger, "Chinese aircraft enter Taiwan's air defence zone",
                 "Taiwan scrambled jets after 20 aircraft entered its air defense "
                 "identification zone.")
    assert "territorial-incursion" not in found
    assert "taiwan-strait" in found
