"""processors.stories.copies: near-copies under a label, a wire line, a trimmed tail, typos;
not other articles about the same event; exact keys; roots of copy groups; state."""

from __future__ import annotations

import numpy as np

from processors.stories.copies import CopyIndex, CopyParams, Fingerprinter
from processors.stories.model import StoryInput
from processors.stories.shingles import prepare

from .samples import QUAKE_CHILE, item, syndicated

PARAMS = CopyParams()


def fingerprint(a: StoryInput):  # type: ignore[no-untyped-def]
    return Fingerprinter(PARAMS).fingerprint(prepare(a.title, a.text))


def indexed(*articles: StoryInput) -> CopyIndex:
    index = CopyIndex(PARAMS)
    for a in articles:
        index.add(a.id, fingerprint(a), a.epoch_s)
    return index


ORIGINALS = [item(f"o{i}", t, x, hours=i) for i, (t, x, _) in enumerate(QUAKE_CHILE)]


def test_copies_under_label_wire_line_boilerplate_trim_and_typos_are_found() -> None:
    index = indexed(*ORIGINALS)
    variants = [
        syndicated(ORIGINALS[0], "c1", label="DEVELOPING: "),
        syndicated(ORIGINALS[0], "c2", lead="By Newsroom Staff", trim=0.25),
        syndicated(ORIGINALS[1], "c3", tail="Copyright 2031 Example Syndicate. All rights "
                   "reserved.", edits=0.05),
        syndicated(ORIGINALS[2], "c4", label="UPDATE 2: ", lead="(Pacific Wire) —",
                   trim=0.2, edits=0.03),
    ]
    expected = ["o0", "o0", "o1", "o2"]
    for copy, original in zip(variants, expected, strict=True):
        match = index.find(fingerprint(copy), (), since=0.0)
        assert match is not None, copy.id
        assert (match.original, match.root, match.how) == (original, original, "shingles")


def test_other_articles_about_the_same_event_are_not_copies() -> None:
    index = indexed(ORIGINALS[0])
    for other in ORIGINALS[1:]:
        assert index.find(fingerprint(other), (), since=0.0) is None


def test_title_only_item_and_its_copy() -> None:
    original = item("t0", "Star swimmer and film actress dies at 91 in Beverly Hills", "")
    index = indexed(original)
    copy = syndicated(original, "t1", label="JUST IN: ", tail="Follow us for more news.")
    match = index.find(fingerprint(copy), (), since=0.0)
    assert match is not None and match.original == "t0"
    # A date-line title never matches by title alone: the bodies must agree.
    dated = [
        item("d0", "Friday, June 7, 2013", "Rescuers searched the rubble of two houses."),
        item("d1", "Friday, June 7, 2013", "The council approved the new budget on Thursday."),
    ]
    index = indexed(dated[0])
    assert index.find(fingerprint(dated[1]), (), since=0.0) is None
    plain = [item("p0", "Council approves the new city budget", "Rescuers searched houses."),
             item("p1", "Council approves the new city budget", "Rescuers searched houses.")]
    index = indexed(plain[0])
    found = index.find(fingerprint(plain[1]), (), since=0.0)
    assert found is not None and found.original == "p0"


def test_a_copy_of_a_copy_points_at_the_first_article() -> None:
    index = indexed(ORIGINALS[0])
    first = syndicated(ORIGINALS[0], "c1", label="BREAKING: ")
    index.add("c1", fingerprint(first), first.epoch_s, root="o0")
    second = syndicated(first, "c2", tail="This story was distributed by a wire service.")
    match = index.find(fingerprint(second), (), since=0.0)
    assert match is not None and match.root == "o0"


def test_exact_keys_come_first_and_old_articles_are_out() -> None:
    index = CopyIndex(PARAMS)
    a = ORIGINALS[0]
    index.add(a.id, fingerprint(a), a.epoch_s, exact_keys=("url:example.com/quake",))
    other = ORIGINALS[1]
    match = index.find(fingerprint(other), ("url:example.com/quake",), since=0.0)
    assert match is not None and (match.original, match.how) == ("o0", "exact")
    copy = syndicated(a, "c1", label="BREAKING: ")
    assert index.find(fingerprint(copy), (), since=a.epoch_s + 1) is None
    assert index.evict(a.epoch_s + 1) == 1 and len(index) == 0
    assert index.find(fingerprint(copy), ("url:example.com/quake",), since=0.0) is None


def test_state_round_trip_keeps_answers_and_order() -> None:
    index = indexed(*ORIGINALS)
    index.add("c1", fingerprint(syndicated(ORIGINALS[0], "c1")), ORIGINALS[0].epoch_s + 60,
              root="o0")
    restored = CopyIndex.from_state(PARAMS, index.to_state())
    assert restored.ids() == index.ids() == ["o0", "o1", "o2", "c1"]
    assert restored.to_state() == index.to_state()
    probe = fingerprint(syndicated(ORIGINALS[1], "c9", label="UPDATE: ", trim=0.1))
    assert restored.find(probe, (), 0.0) == index.find(probe, (), 0.0)


def test_many_articles_exercise_the_sorted_bands() -> None:
    """Past the merge size the candidates come from the sorted bands, not the tail."""
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(3000)]
    index = CopyIndex(PARAMS)
    texts = []
    for i in range(1500):
        words = [vocabulary[j] for j in rng.integers(0, len(vocabulary), 60)]
        text = " ".join(words)
        texts.append(text)
        a = item(f"a{i}", f"headline {i}", text)
        index.add(a.id, fingerprint(a), a.epoch_s)
    probe = item("p", "headline 10", texts[10] + " extra words at the end")
    match = index.find(fingerprint(probe), (), since=0.0)
    assert match is not None and match.original == "a10"
