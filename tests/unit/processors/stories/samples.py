"""Hand-written news items for the story tests: two earthquakes a day apart, two acquisitions
by one company, an unrelated story, and ways to make a syndicated copy of any of them."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from processors.stories.model import StoryEntity, StoryInput

T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def item(
    id_: str,
    title: str,
    text: str,
    *,
    hours: float = 0.0,
    source: str = "example.com",
    entities: tuple[tuple[str, str], ...] = (),
    url: str | None = None,
) -> StoryInput:
    return StoryInput(
        id=id_, title=title, text=text, source=source, published_at=T0 + timedelta(hours=hours),
        url=url, entities=tuple(StoryEntity(name, label, 1) for name, label in entities),
    )


QUAKE_CHILE = [
    ("Magnitude 6.8 earthquake strikes near Valparaiso, Chile",
     "A strong earthquake of magnitude 6.8 struck off the coast of central Chile on Tuesday, "
     "shaking buildings in Valparaiso and Santiago.\n"
     "Chile's emergency office Onemi said at least four people were killed in Valparaiso when "
     "an old adobe house collapsed.\n"
     "Interior Minister Carolina Toha said rescue teams were searching the hillside "
     "neighbourhoods of Valparaiso for people trapped under rubble.\n"
     "The navy ruled out a tsunami after measuring sea levels along the coast.",
     (("Valparaiso", "GPE"), ("Chile", "GPE"), ("Santiago", "GPE"), ("Onemi", "ORG"),
      ("Carolina Toha", "PERSON"))),
    ("Chile quake kills four in Valparaiso, rescuers search rubble",
     "Rescuers in Valparaiso dug through collapsed adobe homes after a magnitude 6.8 quake "
     "hit central Chile, killing four people.\n"
     "Carolina Toha, the interior minister, visited the port city and promised help for "
     "families who lost their homes.\n"
     "Onemi said power had been restored to most of Valparaiso and Santiago by evening.",
     (("Valparaiso", "GPE"), ("Chile", "GPE"), ("Carolina Toha", "PERSON"), ("Onemi", "ORG"),
      ("Santiago", "GPE"))),
    ("Aftershocks rattle Valparaiso a day after deadly Chile earthquake",
     "Several aftershocks shook Valparaiso on Wednesday, a day after the magnitude 6.8 "
     "earthquake that killed four people in central Chile.\n"
     "Interior Minister Carolina Toha said schools in Valparaiso would stay closed while "
     "engineers inspect damaged buildings.\n"
     "Onemi counted more than 300 damaged homes.",
     (("Valparaiso", "GPE"), ("Chile", "GPE"), ("Carolina Toha", "PERSON"), ("Onemi", "ORG"))),
]

QUAKE_JAPAN = [
    ("Magnitude 6.5 earthquake strikes Ishikawa, Japan",
     "A strong earthquake of magnitude 6.5 struck the Noto peninsula in Ishikawa prefecture "
     "in central Japan on Wednesday, shaking buildings in Kanazawa and Wajima.\n"
     "The Japan Meteorological Agency said at least three people were killed in Wajima when "
     "old wooden houses collapsed.\n"
     "Chief Cabinet Secretary Yoshimasa Hayashi said rescue teams were searching Wajima for "
     "people trapped under rubble.\n"
     "The agency issued a brief tsunami advisory for the coast of Ishikawa.",
     (("Ishikawa", "GPE"), ("Japan", "GPE"), ("Kanazawa", "GPE"), ("Wajima", "GPE"),
      ("Japan Meteorological Agency", "ORG"), ("Yoshimasa Hayashi", "PERSON"))),
    ("Japan quake kills three in Wajima, rescuers search rubble",
     "Rescuers in Wajima dug through collapsed wooden homes after a magnitude 6.5 quake hit "
     "Ishikawa in central Japan, killing three people.\n"
     "Yoshimasa Hayashi, the chief cabinet secretary, said the government would send troops "
     "to help families who lost their homes.\n"
     "Power had been restored to most of Kanazawa by evening.",
     (("Wajima", "GPE"), ("Ishikawa", "GPE"), ("Japan", "GPE"), ("Yoshimasa Hayashi", "PERSON"),
      ("Kanazawa", "GPE"))),
]

UNRELATED = (
    "Central bank holds interest rates steady",
    "The central bank kept its benchmark interest rate unchanged at 4.5 percent on Thursday, "
    "saying inflation was easing more slowly than expected.\n"
    "Governor Andrew Bailey said the committee would watch wage growth closely.",
    (("Andrew Bailey", "PERSON"),),
)


def quake_items(gap_h: float = 20.0) -> list[StoryInput]:
    """Three Chile articles and two Japan articles, interleaved, Japan starting ``gap_h``
    hours after Chile."""
    chile = [item(f"cl-{i}", t, x, hours=1.5 * i, source=f"chile{i}.example", entities=e)
             for i, (t, x, e) in enumerate(QUAKE_CHILE)]
    japan = [item(f"jp-{i}", t, x, hours=gap_h + 1.5 * i, source=f"japan{i}.example",
                  entities=e)
             for i, (t, x, e) in enumerate(QUAKE_JAPAN)]
    return sorted(chile + japan, key=lambda a: (a.published_at, a.id))


def edit_words(text: str, share: float, seed: int) -> str:
    """Swap two letters in ``share`` of the words (a typo), keeping lines."""
    rng = random.Random(seed)
    lines = []
    for line in text.split("\n"):
        words = line.split(" ")
        for i, w in enumerate(words):
            if len(w) > 3 and rng.random() < share:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        lines.append(" ".join(words))
    return "\n".join(lines)


def syndicated(original: StoryInput, id_: str, *, label: str = "", lead: str = "",
               tail: str = "", trim: float = 0.0, edits: float = 0.0, hours: float = 1.0,
               source: str = "wire-reprint.example") -> StoryInput:
    """A copy: another source, later, with a title label, a line before or after the text,
    the last ``trim`` of the words cut and ``edits`` of the words misspelt."""
    text = original.text
    if trim:
        words = text.split(" ")
        text = " ".join(words[: int(len(words) * (1 - trim))])
    if edits:
        text = edit_words(text, edits, seed=len(id_))
    if lead:
        text = f"{lead}\n{text}"
    if tail:
        text = f"{text}\n{tail}"
    return replace(original, id=id_, title=f"{label}{original.title}", text=text,
                   source=source, published_at=original.published_at + timedelta(hours=hours),
                   url=None)
