"""Synthetic wire-style news feeds for the parse benchmark and the equivalence tests.

Deterministic (seeded): the same arguments give the same bytes. The text is made up; the
shape follows real news feeds: HTML in descriptions (escaped and in CDATA), named and
numeric entities, several namespaces (dc:creator, media:content, content:encoded,
atom:link), tracking parameters on links, several date formats and time zones.
``rss_feed(70)`` is about 45 KB, the size of a big outlet's top-stories feed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

__all__ = ["atom_feed", "generated_feeds", "rss_feed"]

_PLACES = ["Warsaw", "Vilnius", "Kyiv", "Taipei", "Manila", "Brussels", "Ankara", "Seoul",
           "Canberra", "Riga", "Tallinn", "Bucharest", "Helsinki", "Oslo", "Tokyo", "Hanoi",
           "São Paulo", "Zürich", "Kraków", "Malmö", "Reykjavík", "Québec"]
_ACTORS = ["defence ministers", "foreign ministers", "coast guard officials", "central bankers",
           "grain traders", "energy regulators", "port authorities", "trade negotiators",
           "election monitors", "air-force commanders", "shipping insurers", "union leaders"]
_VERBS = ["agreed on", "postponed", "signed", "rejected", "announced", "reviewed",
          "criticised", "welcomed", "extended", "suspended"]
_OBJECTS = ["joint air-defence drills", "a fisheries accord", "new export controls",
            "a grain corridor", "a naval exercise", "a sanctions package", "a pipeline deal",
            "emergency funding", "a border patrol plan", "a cyber-security pact",
            "satellite-sharing rules", "a ceasefire monitoring mission"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_REASONS = ["rising costs", "regional tensions", "legal concerns", "the weather",
            "supply shortages"]
_SECTIONS = ["world", "europe", "asia-pacific", "markets", "politics", "business", "defence"]
_AUTHORS = ["Anna Kowalska", "Jan Becker", "Mei-Ling Chen", "Tomás Ortega", "Olena Bondar",
            "Kenji Sato", "Grace O'Neill", "Lukas Novák", "Amara Diallo", "Sofia Lindqvist"]
# As they appear inside escaped HTML: the entities are decoded twice on the way to text.
_QUOTES = ["“We will not be rushed,” a spokesperson said.",
           "Officials said talks would continue &amp;ldquo;in good faith&amp;rdquo;.",
           "Analysts called the move &#8220;significant but overdue&#8221;.",
           "Markets barely moved &amp;mdash; traders had expected it.",
           "The ministry declined to comment on &quot;operational details&quot;."]
_ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=1)), UTC]
_BASE = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@dataclass
class _Story:
    n: int
    slug: str
    title: str
    lead: str
    body: list[str]
    quote: str
    authors: list[str]
    date: datetime
    image: str
    section: str
    tracking: bool


def _sentence(rng: random.Random) -> str:
    return (f"{rng.choice(_ACTORS).capitalize()} in {rng.choice(_PLACES)} "
            f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)} on {rng.choice(_DAYS)}, citing "
            f"{rng.choice(_REASONS)}.")


def _story(rng: random.Random, n: int) -> _Story:
    section = rng.choice(_SECTIONS)
    core = f"{rng.choice(_ACTORS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    return _Story(
        n=n,
        slug=f"{section}/{_BASE:%Y%m%d}-{rng.randrange(10**6):06d}",
        title=rng.choice([core, f"{rng.choice(_PLACES)}: {core}", f"{core} &amp; talks go on",
                          f"UPDATE 2-{core}", f"{core} &#8211; sources"]),
        lead=_sentence(rng),
        body=[_sentence(rng) for _ in range(rng.randint(2, 4))],
        quote=rng.choice(_QUOTES),
        authors=rng.sample(_AUTHORS, rng.choice([1, 1, 1, 2])),
        date=_BASE - timedelta(minutes=17 * n + rng.randrange(15)),
        image=f"https://img.wire.example/{n:04d}/{rng.randrange(10**8):08d}.jpg",
        section=rng.choice(_SECTIONS),
        tracking=rng.random() < 0.6,
    )


def rss_feed(items: int = 70, seed: int = 1, *, host: str = "wire.example") -> bytes:
    """An RSS 2.0 wire feed: about 45 KB for 70 items."""
    rng = random.Random(seed)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
           '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
           ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
           ' xmlns:media="http://search.yahoo.com/mrss/"'
           ' xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
           f"<title>Example Wire &#8211; Top News</title>\n<link>https://{host}/</link>\n"
           f'<atom:link href="https://{host}/rss/top.xml" rel="self" '
           'type="application/rss+xml"/>\n'
           "<description>Top stories from Example Wire</description>\n"
           "<language>en-gb</language>\n"
           f"<lastBuildDate>{format_datetime(_BASE, usegmt=True)}</lastBuildDate>\n"]
    for n in range(items):
        s = _story(rng, n)
        link = f"https://{host}/{s.slug}"
        if s.tracking:
            link += "?utm_source=rss&amp;utm_medium=feed"
        zone = _ZONES[n % len(_ZONES)]
        pub = format_datetime(s.date.astimezone(zone), usegmt=zone is UTC and n % 2 == 0)
        quote = f" {s.quote}" if n % 3 == 0 else ""
        more = "&lt;p&gt;&lt;b&gt;More&lt;/b&gt;&amp;nbsp;&amp;raquo;&lt;/p&gt;" if n % 2 else ""
        parts = [
            f"<item>\n<title>{s.title}</title>\n<link>{link}</link>\n",
            f'<guid isPermaLink="false">wire-{seed}-{n}</guid>\n' if n % 4 == 0
            else f"<guid>https://{host}/{s.slug}</guid>\n",
            f"<pubDate>{pub}</pubDate>\n",
            *(f"<dc:creator>{escape(a)}</dc:creator>\n" for a in s.authors),
            f"<category>{s.section}</category>\n" if n % 2 else "",
            f"<description>&lt;p&gt;{escape(s.lead)}{quote}&lt;/p&gt;{more}</description>\n",
        ]
        if n % 5 == 0:
            body = "".join(f"<p>{sentence}</p>" for sentence in s.body)
            parts.append(f'<content:encoded><![CDATA[<div class="story">{body}'
                         f'<img src="{s.image}" alt=""/></div>]]></content:encoded>\n')
        if n % 2 == 0:
            parts.append(f'<media:content url="{s.image}" medium="image" width="1200"/>\n')
        parts.append("</item>\n")
        out.extend(parts)
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def atom_feed(items: int = 70, seed: int = 2, *, host: str = "atom.wire.example",
              lang: str = "en") -> bytes:
    """An Atom 1.0 wire feed of about the same size and shape."""
    rng = random.Random(seed)
    out = ['<?xml version="1.0" encoding="utf-8"?>\n'
           f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"'
           ' xmlns:media="http://search.yahoo.com/mrss/"'
           ' xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
           '<title type="text">Example Wire &#8211; World</title>\n'
           f'<link rel="alternate" type="text/html" href="https://{host}/"/>\n'
           f'<link rel="self" href="https://{host}/atom.xml"/>\n'
           f"<id>tag:{host},2026:world</id>\n<updated>{_BASE.isoformat()}</updated>\n"]
    for n in range(items):
        s = _story(rng, n)
        link = f"https://{host}/{s.slug}"
        if s.tracking:
            link += "?utm_source=atom&utm_medium=feed"
        quote = f" {s.quote}" if n % 3 == 0 else ""
        title_type = ' type="html"' if "&amp;" in s.title else ""
        parts = [
            f"<entry>\n<title{title_type}>{s.title}</title>\n",
            f'<link rel="alternate" type="text/html" href={quoteattr(link)}/>\n',
            f"<id>tag:{host},2026:{n}-{seed}</id>\n",
            f"<published>{s.date.isoformat()}</published>\n",
            f"<updated>{(s.date + timedelta(minutes=5)):%Y-%m-%dT%H:%M:%SZ}</updated>\n",
            *(f"<author><name>{escape(a)}</name></author>\n" for a in s.authors),
            f'<category term="{s.section}"/>\n',
            f'<summary type="html">{escape(f"<p>{s.lead}")}{quote}&lt;/p&gt;</summary>\n',
        ]
        if n % 4 == 0:
            body = "".join(f"<p>{sentence}</p>" for sentence in s.body)
            parts.append('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                         f"{body}</div></content>\n")
        if n % 2 == 0:
            parts.append(f'<media:thumbnail url="{s.image}" width="320" height="180"/>\n')
        parts.append("</entry>\n")
        out.extend(parts)
    out.append("</feed>\n")
    return "".join(out).encode("utf-8")


def generated_feeds() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Name -> (body, response headers): the generated feeds the tests and the bench use."""
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    atom = {"Content-Type": "application/atom+xml; charset=utf-8"}
    return {
        "wire-rss-70": (rss_feed(70, seed=1), rss),
        "wire-atom-70": (atom_feed(70, seed=2), atom),
        "wire-rss-20": (rss_feed(20, seed=3, host="www.news.example"), rss),
        "wire-atom-20-de": (atom_feed(20, seed=4, lang="de-DE"), atom),
    }


# -- Quirky small feeds: the variety real feeds show, for the equivalence tests ------------

_Q_RSS_DATES = [
    "Sun, 01 Mar 2026 10:00:00 GMT", "Sun, 01 Mar 2026 10:00:00 +0000",
    "Sun, 01 Mar 2026 10:00:00 -0500", "Sun, 01 Mar 2026 10:00:00 +0530",
    "Sun, 01 Mar 2026 10:00:00 EST", "Sun, 01 Mar 2026 10:00:00 PDT",
    "Sun, 01 Mar 2026 10:00:00 UT", "Sun, 01 Mar 2026 10:00:00 Z",
    "01 Mar 2026 10:00:00 +0100", "Sun, 1 Mar 2026 10:00:00 GMT", "Sun, 01 Mar 2026 10:00 GMT",
    "Mon, 01 Mar 2026 10:00:00 GMT", "Sun, 01 Mar 26 10:00:00 GMT", "sun, 01 mar 2026 10:00:00 gmt",
    "2026-03-01T10:00:00Z", "2026-03-01T10:00:00+02:00", "2026-03-01 10:00:00",
    " Sun, 01 Mar 2026 10:00:00 GMT\n", "Fri, 01 Jan 2099 00:00:00 GMT", "yesterday",
    "Sun, 01 Mar 2026 25:61:00 GMT", "Tue, 29 Feb 2028 12:00:00 GMT",
]
_Q_ATOM_DATES = [
    "2026-03-01T10:00:00Z", "2026-03-01T10:00:00+01:00", "2026-03-01T10:00:00.250-05:00",
    "2026-03-01T10:00Z", "2026-03-01", "2026-03-01t10:00:00z", "2099-01-01T00:00:00Z",
    "2026-03-01T10:00:00", "not a date",
]
_Q_TITLES = [
    "Plain title", "Ministers meet &amp; agree", "Double &amp;amp; escaped",
    "Quote &#8217;s and &#x2019;s", "<![CDATA[CDATA <b>bold</b> & raw]]>",
    "Escaped &lt;i&gt;html&lt;/i&gt; title", "\n   Padded\n   title  \n", "",
    "Émoji 🚀 and 中文 and עברית", "Tab\tand  spaces", "A &lt;script&gt;x()&lt;/script&gt; b",
    "Ends with entity &amp;hellip;",
]
_Q_DESCRIPTIONS = [
    "&lt;p&gt;Escaped &lt;b&gt;HTML&lt;/b&gt;&amp;nbsp;&amp;mdash; with entities.&lt;/p&gt;",
    "<![CDATA[<p>CDATA <a href=\"https://x.example/\">link</a><br/>line</p>"
    "<script>alert(1)</script>]]>",
    "Plain text description.", "", "&lt;img src=&quot;https://x.example/i.jpg&quot;/&gt;",
    "<![CDATA[Text with &amp; and &nbsp; inside CDATA]]>", "Trailing   whitespace   \n\n",
    "&amp;lt;p&amp;gt;Twice escaped&amp;lt;/p&amp;gt;",
]
_Q_AUTHORS = ["Anna Kowalska", "By Jan Becker", "Mei-Ling Chen and Kenji Sato",
              "Tomás Ortega, Example Wire", "  Olena Bondar  ", "REUTERS"]
_Q_LINKS = [
    "https://news.example/a/{n}", "http://News.Example/b/{n}?utm_source=rss&amp;id=7",
    "https://news.example/c/{n}#section", "https://news.example:443/d/{n}",
    "https://news.example/é/{n}", "\n  https://news.example/f/{n}  \n",
    "https://news.example/g/{n}?a=1&amp;b=2&amp;fbclid=xyz",
]
_Q_GOOD_HEADERS = [
    {"Content-Type": "application/rss+xml; charset=utf-8"}, {"Content-Type": "application/xml"},
    {"Content-Type": "text/xml; charset=UTF-8"}, {"Content-Type": "application/atom+xml"},
]
# Headers under which feedparser decodes differently or notes a problem: fallback.
_Q_OTHER_HEADERS = [
    {"Content-Type": "text/xml"}, {"Content-Type": "text/html; charset=utf-8"}, {},
    {"Content-Type": "application/rss+xml; charset=iso-8859-1"},
    {"Content-Type": "application/xml", "Content-Language": "fr"},
]
# Each breakage is something the fast path must hand to feedparser (or get right anyway).
_Q_BREAKAGES = [
    "unescaped-amp", "undefined-entity", "mismatched-tag", "invalid-utf8", "dtd-entity",
    "relative-link", "no-date", "no-link", "xml-lang", "dc-language", "rss-author",
    "media-description", "itunes-summary", "c1-reference", "feed-author", "two-links",
    "xml-base", "latin1-declared", "comment-dashes", "unknown-namespace", "json",
]


# Breakages RSS and Atom carry alike, on the first item (one breakage per feed): a title
# that is not well-formed XML, or one more element.
_Q_FIRST_TITLE = {
    "c1-reference": "<title>Smart &#147;quotes&#148;</title>",
    "unescaped-amp": "<title>AT&T results</title>",
    "undefined-entity": "<title>Non&nbsp;breaking</title>",
}
_Q_FIRST_EXTRA = {
    "mismatched-tag": "<b>unclosed",
    "unknown-namespace": '<x:extra xmlns:x="https://x.example/ns">value</x:extra>',
}


def _break_first_item(parts: list[str], breakage: str) -> None:
    """Apply a shared breakage to the first item's parts (its title is parts[0])."""
    if breakage in _Q_FIRST_TITLE:
        parts[0] = _Q_FIRST_TITLE[breakage]
    elif breakage in _Q_FIRST_EXTRA:
        parts.append(_Q_FIRST_EXTRA[breakage])


def _q_rss(rng: random.Random, breakage: str) -> str:
    ns = ('xmlns:dc="http://purl.org/dc/elements/1.1/" '
          'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
          'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom" '
          'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"')
    lang = rng.choice(["<language>en-us</language>", "<language>de</language>", "",
                       "<language>EN_gb</language>"])
    if breakage == "dc-language":
        lang = "<dc:language>fr</dc:language>"
    root_attrs = ' xml:lang="es"' if breakage == "xml-lang" else ""
    items = []
    for n in range(rng.randint(1, 6)):
        link = rng.choice(_Q_LINKS).format(n=n)
        parts = [f"<title>{rng.choice(_Q_TITLES)}</title>"]
        if breakage == "relative-link" and n == 0:
            link = f"/relative/{n}"
        if not (breakage == "no-link" and n == 0):
            parts.append(f"<link>{link}</link>")
        if breakage == "two-links" and n == 0:
            parts.append(f"<link>https://other.example/{n}</link>")
        guid = rng.random()
        if guid < 0.3:
            parts.append(f'<guid isPermaLink="false">id-{n}</guid>')
        elif guid < 0.6:
            parts.append(f"<guid>https://news.example/guid/{n}</guid>")
        if not (breakage == "no-date" and n == 0):
            parts.append(f"<pubDate>{rng.choice(_Q_RSS_DATES)}</pubDate>")
        if rng.random() < 0.2:
            parts.append("<dc:date>2026-02-28T08:00:00Z</dc:date>")
        for author in rng.sample(_Q_AUTHORS, rng.choice([0, 1, 1, 2])):
            parts.append(f"<dc:creator>{author}</dc:creator>")
        if breakage == "rss-author":
            parts.append("<author>desk@news.example (News Desk)</author>")
        if rng.random() < 0.85:
            parts.append(f"<description>{rng.choice(_Q_DESCRIPTIONS)}</description>")
        if rng.random() < 0.3:
            parts.append("<content:encoded><![CDATA[<div><p>Full text &amp; more.</p>"
                         "<p>Second paragraph.</p></div>]]></content:encoded>")
        if rng.random() < 0.4:
            parts.append('<media:content url="https://img.example/1.jpg" medium="image">'
                         "<media:credit>Photo Desk</media:credit></media:content>")
        if rng.random() < 0.3:
            parts.append(f"<category>{rng.choice(_SECTIONS)}</category>")
        if rng.random() < 0.2:
            parts.append('<enclosure url="https://img.example/a.mp3" length="1" '
                         'type="audio/mpeg"/>')
        if breakage == "media-description":
            parts.append("<media:description>Caption text</media:description>")
        if breakage == "itunes-summary":
            parts.append("<itunes:summary>Podcast summary</itunes:summary>")
        if n == 0:
            _break_first_item(parts, breakage)
        if breakage == "xml-base" and n == 0:
            parts.append('<comments xml:base="https://base.example/">c</comments>')
        items.append("<item>" + "".join(parts) + "</item>")
    closing = "</item>" if breakage == "mismatched-tag" else ""
    return (f'<rss version="2.0" {ns}{root_attrs}><channel><title>Quirk Wire</title>'
            f"<link>https://news.example/</link>{lang}"
            + "".join(items) + closing + "</channel></rss>")


def _q_atom(rng: random.Random, breakage: str) -> str:
    lang = rng.choice(['xml:lang="en"', 'xml:lang="pt-BR"', ""])
    feed_author = ("<author><name>Feed Desk</name></author>" if breakage == "feed-author"
                   else "")
    entries = []
    for n in range(rng.randint(1, 6)):
        link = rng.choice(_Q_LINKS).format(n=n).strip()
        title_type = rng.choice(["", ' type="html"', ' type="text"'])
        parts = [f"<title{title_type}>{rng.choice(_Q_TITLES)}</title>",
                 f"<id>urn:quirk:{n}</id>"]
        if breakage == "relative-link" and n == 0:
            link = f"relative/{n}"
        if not (breakage == "no-link" and n == 0):
            parts.append(f'<link rel="alternate" href="{link}"/>')
        if breakage == "two-links" and n == 0:
            parts.append(f'<link href="https://other.example/{n}"/>')
        if rng.random() < 0.3:
            parts.append('<link rel="enclosure" href="https://img.example/a.jpg"/>')
        if not (breakage == "no-date" and n == 0):
            parts.append(f"<updated>{rng.choice(_Q_ATOM_DATES)}</updated>")
            if rng.random() < 0.5:
                parts.append(f"<published>{rng.choice(_Q_ATOM_DATES)}</published>")
        for author in rng.sample(_Q_AUTHORS, rng.choice([0, 1, 1, 2])):
            email = "<email>desk@news.example</email>" if rng.random() < 0.2 else ""
            parts.append(f"<author><name>{author}</name>{email}</author>")
        summary = rng.random()
        if summary < 0.5:
            parts.append(f'<summary type="html">{rng.choice(_Q_DESCRIPTIONS)}</summary>')
        elif summary < 0.7:
            parts.append("<summary>Plain &lt;summary&gt; text</summary>")
        content = rng.random()
        if content < 0.3:
            parts.append('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                         "<p>XHTML <b>content</b> &amp; more</p></div></content>")
        elif content < 0.5:
            parts.append('<content type="html">&lt;p&gt;HTML content&lt;/p&gt;</content>')
        if n == 0:
            _break_first_item(parts, breakage)
        if breakage == "xml-lang" and n == 0:
            parts.append('<rights xml:lang="fr">Droits</rights>')
        if breakage == "xml-base" and n == 0:
            parts.append('<rights xml:base="https://base.example/">r</rights>')
        entries.append("<entry>" + "".join(parts) + "</entry>")
    return (f'<feed xmlns="http://www.w3.org/2005/Atom" {lang}><title>Quirk Atom</title>'
            f"<id>urn:quirk</id><updated>2026-03-01T10:00:00Z</updated>{feed_author}"
            + "".join(entries) + "</feed>")


def quirk_feeds(count: int = 300, seed: int = 7) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Small RSS and Atom feeds mixing the quirks real feeds show; about a third also carry
    one breakage from a list of things the fast path must not get wrong."""
    rng = random.Random(seed)
    out: dict[str, tuple[bytes, dict[str, str]]] = {}
    for i in range(count):
        breakage = rng.choice(_Q_BREAKAGES) if rng.random() < 0.35 else ""
        atom = rng.random() < 0.4
        if breakage == "json":
            body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
                    b'[{"id": "1", "url": "https://news.example/j", "title": "J1", '
                    b'"date_published": "2026-03-01T10:00:00Z"}]}')
            out[f"quirk-{i:03d}-json"] = (body, {"Content-Type": "application/json"})
            continue
        doc = _q_atom(rng, breakage) if atom else _q_rss(rng, breakage)
        prolog = rng.choice(['<?xml version="1.0" encoding="utf-8"?>\n',
                             '<?xml version="1.0"?>', "", '\ufeff<?xml version="1.0"?>'])
        if breakage == "latin1-declared":
            prolog = '<?xml version="1.0" encoding="iso-8859-1"?>'
        if breakage == "dtd-entity":
            prolog += '<!DOCTYPE x [<!ENTITY e "expanded">]>'
            doc = doc.replace("<title>Quirk", "<title>&e; Quirk", 1)
        if breakage == "comment-dashes":
            prolog += "<!-- a -- b -->"
        body = (prolog + doc).encode("utf-8")
        if breakage == "invalid-utf8":
            body = body.replace(b"Quirk", b"Qu\xe9rk", 1)
        headers = dict(rng.choice(_Q_GOOD_HEADERS if rng.random() < 0.75
                                  else _Q_OTHER_HEADERS))
        kind = "atom" if atom else "rss"
        out[f"quirk-{i:03d}-{kind}{'-' + breakage if breakage else ''}"] = (body, headers)
    return out
