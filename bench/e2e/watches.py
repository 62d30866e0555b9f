"""Saved watches for bench/e2e's ``--watches N``: the kind of searches analysts keep, over
the wire articles' vocabulary (bench/e2e/wire.py), so that a known share of the articles
matches some of them and the rest match none. Deterministic.

Mixes, in turn: a country (query), a country pair with a tag, a weapons system (phrase), a
firm (phrase), a person's surname with an entity filter, a city with a negation, and queries
on words the wire never uses (most real watches match nothing most of the time).
"""

from __future__ import annotations

from processors.store.watches import Watch

__all__ = ["watch_set"]

_COUNTRIES = ["Japan", "Philippines", "Poland", "Germany", "France", "India", "Australia",
              "Indonesia", "Turkey", "Brazil", "Kenya", "Norway", "Korea", "Egypt"]
_SURNAMES = ["Sato", "Reyes", "Nowak", "Weber", "Laurent", "Sharma", "Mitchell", "Santoso"]
_SYSTEMS = ["air-defence missiles", "armoured vehicles", "artillery shells", "patrol boats",
            "radar systems"]
_FIRMS = ["Northwind Logistics", "Meridian Foods", "Altavia Airlines", "Corvex Mining"]
_CITIES = ["Lyon", "Osaka", "Porto", "Gdansk", "Mombasa", "Perth", "Bergen", "Izmir"]
_RARE = ["hypersonic", "cyberattack", "uranium", "blockade", "referendum", "famine",
         "coup", "pipeline", "satellite", "ceasefire"]
_TAGS = ["military-cooperation", "military-aid", "drone-warfare"]


def watch_set(n: int) -> list[Watch]:
    watches: list[Watch] = []
    for i in range(n):
        kind = i % 7
        name = f"bench-watch-{i:03d}"
        if kind == 0:
            watches.append(Watch(name, query=_COUNTRIES[i % len(_COUNTRIES)]))
        elif kind == 1:
            a = _COUNTRIES[i % len(_COUNTRIES)]
            b = _COUNTRIES[(i * 3 + 1) % len(_COUNTRIES)]
            watches.append(Watch(name, query=f"{a} AND {b}", tags=(_TAGS[i % len(_TAGS)],)))
        elif kind == 2:
            watches.append(Watch(name, query=f'"{_SYSTEMS[i % len(_SYSTEMS)]}"'))
        elif kind == 3:
            watches.append(Watch(name, query=f'"{_FIRMS[i % len(_FIRMS)]}"'))
        elif kind == 4:
            watches.append(Watch(name, query="minister",
                                 entities=(_SURNAMES[i % len(_SURNAMES)],)))
        elif kind == 5:
            watches.append(Watch(name, query=f"{_CITIES[i % len(_CITIES)]} -weather"))
        else:
            rare = _RARE[i % len(_RARE)]
            watches.append(Watch(name, query=f"{rare} OR {_RARE[(i + 3) % len(_RARE)]}"))
    return watches
