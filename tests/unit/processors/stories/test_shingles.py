"""processors.stories.shingles: wire furniture comes off by its shape, words and shingles."""

from __future__ import annotations

import pytest

from processors.stories.shingles import (
    clean_body,
    clean_title,
    content_terms,
    is_dateline,
    prepare,
    shingles,
    words,
)

PLAN = "Minister resigns over leaked budget plan"


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("EXCLUSIVE: Minister resigns over leaked budget plan", PLAN),
        ("Live Updates: Minister resigns over leaked budget plan", PLAN),
        ("WATCH NOW: Minister resigns over leaked budget plan", PLAN),
        # A label needs a real title after it; a colon inside a title is not a label.
        ("Tornado: What now", "Tornado: What now"),
        ("Minister resigns: budget plan leaked", "Minister resigns: budget plan leaked"),
        ("the panel said: no more delays in budget", "the panel said: no more delays in budget"),
    ],
)
def test_title_label_before_a_colon_is_dropped_by_shape(title: str, clean: str) -> None:
    assert clean_title(title) == clean


def test_body_lead_wire_lines_and_trailing_boilerplate_are_dropped() -> None:
    body = "By Jane Smith, Staff Reporter\nThe minister resigned on Monday.\nHe denied wrongdoing."
    assert clean_body(body) == "The minister resigned on Monday.\nHe denied wrongdoing."
    dateline = "OSLO, Norway (Nordic Press) — The minister resigned on Monday.\nHe left."
    assert clean_body(dateline) == "The minister resigned on Monday.\nHe left."
    tail = ("The minister resigned on Monday.\nHe left.\n"
            "© 2031 Example Media Group. All rights reserved.\nSubscribe to our newsletter")
    assert clean_body(tail) == "The minister resigned on Monday.\nHe left."
    # Clustering keeps a short first line: it may be a sub-headline.
    sub = "Ten dead in mountain village\nA landslide buried three houses on Monday."
    assert clean_body(sub, lead=False) == sub
    assert clean_body(sub) == "A landslide buried three houses on Monday."


def test_a_short_real_last_line_and_a_lone_line_stay() -> None:
    body = "The minister resigned on Monday.\nHe denied wrongdoing."
    assert clean_body(body) == body
    assert clean_body("Star swimmer dies at 91") == "Star swimmer dies at 91"


@pytest.mark.parametrize(
    ("title", "dateline"),
    [
        ("Friday, June 7, 2013", True),
        ("27 NOVEMBER, 2005", True),
        ("Posted: Nov 27, 2005 8:20 AM ET Last Updated: Nov 27, 2005 8:10 PM ET", True),
        ("March 3rd, 2024, 09:11 GMT", True),
        ("June 2013 floods leave thousands homeless across the region", False),
        ("Minister resigns over leaked budget plan", False),
    ],
)
def test_dateline_titles(title: str, dateline: bool) -> None:
    assert is_dateline(title) is dateline


def test_words_and_content_terms() -> None:
    assert words("Klitschko's U.S. fight: 5.6 magnitude, it's over") == [
        "klitschko", "u.s", "fight", "5.6", "magnitude", "it", "over"]
    assert content_terms(words("The 26 pirates were arrested by the Indian navy")) == [
        "26", "pirates", "arrested", "indian", "navy"]


def test_prepare_gives_clustering_and_copy_views() -> None:
    p = prepare("BREAKING: Minister resigns over leaked plan",
                "By Wire Staff\nThe minister resigned.\nFollow us for more news updates.")
    assert p.title_words[0] == "breaking"
    assert p.copy_title_words == ["minister", "resigns", "over", "leaked", "plan"]
    assert p.body_words == ["by", "wire", "staff", "the", "minister", "resigned"]
    assert p.copy_body_words == ["the", "minister", "resigned"]
    assert not p.dateline_title


def test_shingles_are_distinct_stable_hashes() -> None:
    a = shingles(["a", "b", "c", "d", "a", "b", "c"], 3)
    assert len(a) == 4  # abc, bcd, cda, dab; the second abc is the first again
    assert a == shingles(["a", "b", "c", "d", "a", "b", "c"], 3)
    assert set(shingles(["a", "b", "c", "d"], 3)) < set(a)
    assert all(0 <= h < 2**32 for h in a)
    assert shingles(["a", "b"], 3) != shingles(["b", "a"], 3)
    assert shingles([], 3) == []
