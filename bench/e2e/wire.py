"""Synthetic wire-style articles and the RSS that carries them. Pure, deterministic.

Written for newsflow's benchmarks and fault tests: the events, people and quotes are
invented. Several templates fire the shipped taxonomy's tags (military-cooperation,
military-aid, drone-warfare); the rest is unrelated news (markets, weather, sport), so that
tag streams receive a known fraction of the articles.

Feed-sized items are a title and a summary of about 60 words; full-text items add a body of
about 800 words (content:encoded), the size of a long wire story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from ingest.normalize import canonical_url
from newsflow.article import article_id

__all__ = ["CHANNEL_TAIL", "KINDS", "WireItem", "channel_head", "expected_id", "item_xml",
           "make_item", "make_items", "render_rss"]

# (adjective, country, capital, minister's surname) — pairs of these make the stories.
_STATES = [
    ("Japanese", "Japan", "Tokyo", "Sato"),
    ("Philippine", "the Philippines", "Manila", "Reyes"),
    ("Polish", "Poland", "Warsaw", "Nowak"),
    ("German", "Germany", "Berlin", "Weber"),
    ("French", "France", "Paris", "Laurent"),
    ("Indian", "India", "New Delhi", "Sharma"),
    ("Australian", "Australia", "Canberra", "Mitchell"),
    ("Indonesian", "Indonesia", "Jakarta", "Santoso"),
    ("Turkish", "Turkey", "Ankara", "Demir"),
    ("Brazilian", "Brazil", "Brasilia", "Costa"),
    ("Kenyan", "Kenya", "Nairobi", "Otieno"),
    ("Norwegian", "Norway", "Oslo", "Hansen"),
    ("South Korean", "South Korea", "Seoul", "Kim"),
    ("Egyptian", "Egypt", "Cairo", "Hassan"),
]
_SEAS = ["the Baltic Sea", "the South China Sea", "the Arabian Sea", "the Mediterranean",
         "the Sea of Japan", "the North Sea"]
_SYSTEMS = ["air-defence missiles", "armoured vehicles", "artillery shells",
            "anti-tank weapons", "patrol boats", "radar systems"]
_FIRMS = ["Northwind Logistics", "Meridian Foods", "Altavia Airlines", "Corvex Mining",
          "Helio Power", "Bluebay Telecom"]
_CITIES = ["Lyon", "Osaka", "Porto", "Gdansk", "Mombasa", "Perth", "Bergen", "Izmir"]

KINDS = ("cooperation", "aid", "drones", "markets", "weather", "sport")


@dataclass(frozen=True)
class WireItem:
    """One story: ``uid`` makes the link (and so the article id) unique."""

    uid: str
    kind: str
    title: str
    summary: str
    body: str  # empty for feed-sized items
    link: str


def _pair(rng: random.Random) -> tuple[tuple[str, str, str, str], tuple[str, str, str, str]]:
    a, b = rng.sample(_STATES, 2)
    return a, b


def _story(kind: str, rng: random.Random) -> tuple[str, str, list[str]]:
    """Title, summary (~60 words) and body sentences for one story of ``kind``."""
    a, b = _pair(rng)
    sea, system = rng.choice(_SEAS), rng.choice(_SYSTEMS)
    firm, city = rng.choice(_FIRMS), rng.choice(_CITIES)
    n = rng.randint(2, 40)
    if kind == "cooperation":
        title = (f"{a[1].capitalize()} and {b[1]} hold joint naval exercise, deepen military "
                 "cooperation")
        summary = (
            f"{a[0]} and {b[0]} warships began a joint naval exercise in {sea} on Tuesday, "
            f"the defence ministries in {a[2]} and {b[2]} said, the latest sign of deepening "
            f"military cooperation between the two countries. Officers said {n} vessels would "
            f"practise air defence, replenishment at sea and search and rescue, and that the "
            f"drills would strengthen coordination between the two navies."
        )
        extra = [
            f"Defence Minister {a[3]} said the partnership was a pillar of regional security.",
            f"His {b[0]} counterpart {b[3]} said both armed forces would train together again "
            f"next year under a new defence cooperation agreement.",
            "The two countries signed a reciprocal access agreement last year that lets their "
            "troops train on each other's territory.",
        ]
    elif kind == "aid":
        title = f"{a[1].capitalize()} pledges new military aid package to {b[1]}"
        summary = (
            f"{a[1].capitalize()} will send {b[1]} {system} and ammunition worth {n} million "
            f"dollars in a new military aid package, the government in {a[2]} said on "
            f"Wednesday. The weapons will be delivered to the {b[0]} armed forces within "
            f"months, officials said, adding that {a[0]} instructors would also train "
            f"{b[0]} soldiers to operate the equipment."
        )
        extra = [
            f"Defence Minister {a[3]} said the shipment of {system} would begin in spring.",
            f"{b[0]} officials thanked {a[2]} for the military assistance and asked for more.",
            "Lawmakers approved the package after a short debate, according to officials.",
        ]
    elif kind == "drones":
        title = f"Drone strikes hit military airfield in {b[1]}, army says"
        summary = (
            f"Attack drones struck a military airfield near {b[2]} overnight, the {b[0]} army "
            f"said on Thursday, in the latest wave of drone warfare in the conflict. Air "
            f"defence units shot down {n} of the unmanned aerial vehicles, but debris damaged "
            f"a hangar, officials said. Military analysts said armed drones had become the "
            f"main weapon on both sides of the front."
        )
        extra = [
            "Loitering munitions and kamikaze drones were launched in several waves.",
            "The army said its own drone units had struck a fuel depot in response.",
            "Electronic warfare teams jammed some of the drones before they reached the base.",
        ]
    elif kind == "markets":
        title = f"Shares in {firm} jump after quarterly profit beats forecasts"
        summary = (
            f"Shares in {firm} rose {n} percent on Tuesday after the company reported "
            f"quarterly profit well above analysts' forecasts, helped by strong demand and "
            f"lower costs. The chief executive said the group would raise its dividend and "
            f"expected sales to keep growing next year, although traders warned that higher "
            f"interest rates could weigh on consumer spending."
        )
        extra = [
            "Analysts at several banks raised their price targets after the results.",
            "The company said it would open new offices and hire more staff.",
            "Trading volumes were about twice the daily average, brokers said.",
        ]
    elif kind == "weather":
        title = f"Heavy rain floods streets in {city}, trains cancelled"
        summary = (
            f"Heavy rain flooded streets in {city} on Monday, forcing the cancellation of "
            f"dozens of trains and closing {n} schools, the city council said. Forecasters "
            f"said more than a month's rainfall had fallen in a day and warned that rivers "
            f"could burst their banks overnight. Residents were asked to avoid travel and to "
            f"keep away from the riverside."
        )
        extra = [
            "Firefighters pumped water out of basements across the old town.",
            "The weather service expected the rain to ease by the weekend.",
            "Insurers said it was too early to estimate the cost of the damage.",
        ]
    else:  # sport
        title = f"{city} win cup final after late penalty"
        summary = (
            f"{city} won the national cup final on Saturday with a penalty in the {80 + n % 10}th "
            f"minute, ending a long wait for a trophy in front of a sold-out stadium. The "
            f"coach praised the players' patience and said the victory belonged to the fans, "
            f"who had followed the team through two difficult seasons in the lower league."
        )
        extra = [
            "The captain lifted the trophy as fireworks went off over the stadium.",
            "The losing side complained about the referee's decision.",
            "Celebrations in the city centre went on late into the night.",
        ]
    return title, summary, extra


_FILLER = [
    "Officials gave no further details and declined to say when more information would be "
    "released.",
    "The statement came after several days of meetings between delegations from both sides.",
    "Observers said the announcement had been expected for some time.",
    "A spokesperson said the government would publish a full report later this month.",
    "Local media reported the news earlier, citing people familiar with the matter.",
    "The decision was welcomed by some lawmakers and criticised by others.",
    "Further talks are planned for the coming weeks, according to a joint statement.",
    "Reporters at the scene described a calm but busy atmosphere.",
]


def _body(summary: str, extra: list[str], rng: random.Random, words: int) -> str:
    paragraphs = [summary, " ".join(extra)]
    count = sum(len(p.split()) for p in paragraphs)
    while count < words:
        paragraph = " ".join(rng.sample(_FILLER, 4))
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)


def make_item(seq: int, *, run: str, full_text: bool = False, seed: int = 7,
              kinds: tuple[str, ...] = KINDS) -> WireItem:
    """Story number ``seq`` of run ``run``; the same arguments give the same story."""
    rng = random.Random(f"{seed}:{run}:{seq}")
    kind = kinds[seq % len(kinds)]
    title, summary, extra = _story(kind, rng)
    body = _body(summary, extra, rng, 800) if full_text else ""
    link = f"https://wire.example.com/{run}/{kind}/{seq:07d}?utm_source=rss"
    return WireItem(f"{run}-{seq}", kind, title, summary, body, link)


def make_items(count: int, *, run: str, start: int = 0, full_text: bool = False,
               seed: int = 7) -> list[WireItem]:
    return [make_item(i, run=run, full_text=full_text, seed=seed)
            for i in range(start, start + count)]


def expected_id(item: WireItem) -> str:
    """The id newsflow gives ``item``'s article: that of its canonical link."""
    canonical = canonical_url(item.link)
    assert canonical, item.link
    return article_id(canonical)


def channel_head(title: str, description: str = "newsflow synthetic wire") -> str:
    """An RSS 2.0 document up to its first item (close it with ``CHANNEL_TAIL``)."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>{escape(title)}</title><link>https://wire.example.com/</link>"
            f"<description>{escape(description)}</description><language>en</language>")


CHANNEL_TAIL = "</channel></rss>"


def item_xml(item: WireItem, published: datetime) -> str:
    """One <item>; a full-text body goes in content:encoded as HTML paragraphs."""
    link = escape(item.link)
    out = [f"<item><title>{escape(item.title)}</title><link>{link}</link>"
           f"<guid>{link}</guid><pubDate>{format_datetime(published)}</pubDate>"
           f"<description>{escape(item.summary)}</description>"]
    if item.body:
        html = "".join(f"<p>{escape(p)}</p>" for p in item.body.split("\n\n"))
        out.append(f"<content:encoded><![CDATA[{html}]]></content:encoded>")
    out.append("</item>")
    return "".join(out)


def render_rss(title: str, items: list[WireItem], published: datetime) -> bytes:
    """An RSS 2.0 document of ``items``, all published at ``published``."""
    return (channel_head(title) + "".join(item_xml(item, published) for item in items)
            + CHANNEL_TAIL).encode("utf-8")
