"""The product's tagger: rules + the shipped learned model (no spaCy: entities are not needed
for these cases)."""

from __future__ import annotations

import pytest

from newsflow.settings import ProcessorSettings
from processors.enrich.gazetteer import load_gazetteer
from processors.enrich.phrases import tokenize
from processors.enrich.tagging import Tagger
from processors.enrich.tagmodel import DEFAULT_TAG_MODEL, TagModel, rule_features, rule_openings
from processors.enrich.taxonomy import load_taxonomy
from processors.enrich.topic_tagger import TagInput, TopicTagger, split_windows

SETTINGS = ProcessorSettings()


@pytest.fixture(scope="module")
def rules() -> Tagger:
    return Tagger(load_taxonomy(SETTINGS.taxonomy_file), load_gazetteer())


@pytest.fixture(scope="module")
def tagger(rules: Tagger) -> TopicTagger:
    return TopicTagger(rules, TagModel.load(DEFAULT_TAG_MODEL))


def item(title: str, body: str) -> TagInput:
    return TagInput(f"{title}\n\n{body}", (), len(title))


def test_the_shipped_model_is_versioned_with_the_shipped_taxonomy(tagger: TopicTagger) -> None:
    assert tagger.model is not None
    assert tagger.model.meta["taxonomy_version"] == tagger.taxonomy.version
    assert tagger.model.tags == tagger.taxonomy.tag_ids
    assert tagger.version == f"{tagger.taxonomy.version}+model.{tagger.model.version}"


def test_short_item_gets_a_calibrated_score_and_evidence(tagger: TopicTagger) -> None:
    [tags] = tagger.tag_many([item(
        "EU adopts new sanctions package against Russia",
        "The measures freeze the assets of banks and ban exports of dual-use goods.")])
    by_tag = {t.tag: t for t in tags}
    assert "sanctions" in by_tag
    tag = by_tag["sanctions"]
    assert 0.0 < tag.score <= 1.0
    assert tag.evidence and tag.evidence[0].cues
    text = "EU adopts new sanctions package against Russia\n\nThe measures freeze"
    assert text.startswith(tag.evidence[0].sentence) or tag.evidence[0].start > 0


def test_a_near_miss_is_not_tagged(tagger: TopicTagger) -> None:
    [tags] = tagger.tag_many([item(
        "Steelmakers form joint defence against cheap imports",
        "Producers in two countries ask for tariffs on steel from abroad.")])
    assert "military-cooperation" not in {t.tag for t in tags}


def test_a_short_item_and_the_same_item_inside_a_long_article_agree(tagger: TopicTagger) -> None:
    title = "Vietnam and India hold joint naval exercise in the South China Sea"
    deck = "The two navies drilled together for three days, their defence ministries said."
    filler = " ".join(
        f"Paragraph {i} describes the weather, the port's history and local markets at length."
        for i in range(40))
    [short, long] = tagger.tag_many([item(title, deck), item(title, f"{deck}\n{filler}")])
    assert {"military-cooperation", "military-exercise"} <= {t.tag for t in short}
    assert {t.tag for t in short} <= {t.tag for t in long}


def test_long_text_is_read_in_feed_sized_windows_with_offsets_back() -> None:
    title = "Title of the piece"
    body = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    text = f"{title}\n\n{body}"
    windows = split_windows(text, len(title))
    assert len(windows) > 3
    for w in windows:
        assert w.text.startswith(title + "\n\n")
        sentence_start = w.body_start
        original = w.to_text(sentence_start)
        assert text[original : original + 8] == w.text[sentence_start : sentence_start + 8]
    # A feed-sized text is one window: itself.
    [one] = split_windows(f"{title}\n\nShort deck.", len(title))
    assert one.text == f"{title}\n\nShort deck." and one.to_text(5) == 5


def test_evidence_has_no_sentence_twice_and_offsets_into_the_text(tagger: TopicTagger) -> None:
    title = "China and Russia hold joint naval drills"
    lead = "Chinese and Russian warships began a joint exercise in the Sea of Japan on Monday."
    rest = " ".join(
        f"Filler sentence {i} talks about the weather and the harbour." for i in range(30))
    text_input = item(title, f"{lead}\n\n{lead} {rest}")
    [tags] = tagger.tag_many([text_input])
    assert tags
    for tag in tags:
        sentences = [" ".join(e.sentence.split()) for e in tag.evidence]
        assert len(sentences) == len(set(sentences)), tag.tag
        for e in tag.evidence:
            assert text_input.text[e.start : e.end] == e.sentence


def test_without_a_model_the_rules_decide(rules: Tagger) -> None:
    plain = TopicTagger(rules, None)
    text = "Russia and China hold joint naval exercise\n\nThe drills began on Monday."
    assert [t.tag for t in plain.tag(text, title_end=42)] == [
        t.tag for t in rules.tag(text, title_end=42)]
    assert plain.version == rules.version


def test_a_tag_the_model_does_not_know_falls_back_to_its_rules(rules: Tagger) -> None:
    model = TagModel.load(DEFAULT_TAG_MODEL)
    # The same model, but as if trained before "sanctions" existed.
    j = model.tags.index("sanctions")
    model.tags[j] = "retired-tag"
    partial = TopicTagger(rules, model)
    text = "EU imposes sanctions on Russian banks\n\nAsset freezes and export bans follow."
    assert "sanctions" in {t.tag for t in partial.tag(text, title_end=37)}
    assert "retired-tag" not in {t.tag for t in partial.tag(text, title_end=37)}


def test_rule_floors_only_take_away_tags_the_rules_alone_would_add(rules: Tagger) -> None:
    """Floor 0: model or rules. A floor above every probability: the model alone decides
    the learned tags. The shipped floors sit in between."""
    items = [
        item("EU adopts new sanctions package against Russia",
             "The measures freeze the assets of banks and ban exports of dual-use goods."),
        item("China and Russia hold joint naval drills",
             "Chinese and Russian warships began a joint exercise in the Sea of Japan."),
        item("Minister visits Kyiv", "The defence minister met his counterpart to discuss aid."),
    ]
    emitted = []
    for floor in (0.0, None, 2.0):
        model = TagModel.load(DEFAULT_TAG_MODEL)
        if floor is not None:
            model.rule_floors[:] = floor
        tagged = TopicTagger(rules, model).tag_many(items)
        emitted.append([{t.tag for t in tags} for tags in tagged])
    union, shipped, model_only = emitted
    for u, s, m in zip(union, shipped, model_only, strict=True):
        assert m <= s <= u


def test_rules_alone_emit_a_learned_tag_only_from_the_title_or_first_sentence(
    rules: Tagger,
) -> None:
    """A rule finding further on is mostly background ("..., after Finland applied to join
    NATO"): the model must support it. A tag the model does not know is its rules' alone."""
    model = TagModel.load(DEFAULT_TAG_MODEL)
    j = model.tags.index("sanctions")
    model.thresholds[j] = 1.0  # the model alone never emits it: what is left is the rules
    model.rule_floors[:] = 0.0
    sentence = "The EU imposed sanctions on Russian banks, freezing their assets."
    lead = item("Markets close lower", f"{sentence} Shares fell in Frankfurt.")
    later = item("Markets close lower", f"Shares fell in Frankfurt. {sentence}")
    [at_lead, further_on] = TopicTagger(rules, model).tag_many([lead, later])
    assert "sanctions" in {t.tag for t in at_lead}
    assert "sanctions" not in {t.tag for t in further_on}
    # The same rules' score either way: only where they fired differs.
    scores = [next(r for r in rules.analyse(i.text, title_end=i.title_end)
                   if r.tag == "sanctions") for i in (lead, later)]
    assert scores[0].score == scores[1].score >= rules.taxonomy.tag("sanctions").threshold
    assert [r.opening for r in scores] == [True, False]
    model.tags[j] = "retired-tag"  # as if trained before "sanctions" existed
    [further_on] = TopicTagger(rules, model).tag_many([later])
    assert "sanctions" in {t.tag for t in further_on}


def test_in_a_long_article_each_windows_first_sentence_is_an_opening(rules: Tagger) -> None:
    """A long article is read as feed-item-sized windows (title + a run of sentences): a
    rule finding that opens a window speaks for the article on its own; one in the middle
    of a window, like one further on in a feed item, needs the model."""
    model = TagModel.load(DEFAULT_TAG_MODEL)
    model.thresholds[model.tags.index("sanctions")] = 1.0  # what is left is the rules
    model.rule_floors[:] = 0.0
    title = "Markets close lower"
    filler = "Traders in the city watched prices move slowly through a quiet afternoon."
    finding = "The EU imposed sanctions on Russian banks, freezing their assets."

    def article(before: int) -> TagInput:
        return item(title, " ".join([filler] * before + [finding] + [filler] * 12))

    def opens_a_window(i: TagInput) -> bool:
        windows = split_windows(i.text, i.title_end)
        assert len(windows) > 2
        return any(w.text[w.body_start:].startswith(finding) for w in windows)

    layouts = [article(before) for before in range(2, 12)]
    opens = next(i for i in layouts if opens_a_window(i))
    inside = next(i for i in layouts if not opens_a_window(i))
    [at_opening, mid_window] = TopicTagger(rules, model).tag_many([opens, inside])
    assert "sanctions" in {t.tag for t in at_opening}
    assert "sanctions" not in {t.tag for t in mid_window}


def test_explaining_a_row_in_place_equals_explaining_the_sliced_row(tagger: TopicTagger) -> None:
    model = tagger.model
    assert model is not None
    items = [item("Navies of India and Vietnam hold joint drills", "Warships sailed together."),
             item("Russia and China sign arms deal", "Moscow will sell jets to Beijing."),
             item("Weather", "Rain.")]
    x = model.features([i.text for i in items], [i.text[: i.title_end] for i in items],
                       [rule_features(tagger.rules.analyse(i.text, title_end=i.title_end))
                        for i in items])
    for row in range(len(items)):
        for j in range(len(model.tags)):
            assert model.explain_row(x, row, j, top=8) == model.explain_row(
                x[row].tocsr(), 0, j, top=8)
    assert model.explain_row(x, 0, model.tags.index("military-cooperation")).terms


def test_given_tokens_give_the_same_tags(tagger: TopicTagger) -> None:
    long_body = " ".join(
        f"Sentence {n} says the navies of India and Vietnam drilled near Da Nang."
        for n in range(40)
    )
    plain = [item("Vietnam and India hold joint naval exercise", "Warships sailed off Da Nang."),
             item("Long article: the U.S. and China's navies", long_body)]
    assert len(split_windows(plain[1].text, plain[1].title_end)) > 1  # windows: own tokens
    with_tokens = [TagInput(i.text, i.entities, i.title_end, tokenize(i.text)) for i in plain]
    assert tagger.tag_many(with_tokens) == tagger.tag_many(plain)


POOL = SETTINGS.taxonomy_file.resolve().parents[3] / "shared" / "eval" / "topics-pool.jsonl"


@pytest.mark.skipif(not POOL.is_file(), reason="shared/eval/topics-pool.jsonl not available")
def test_the_tagger_decides_as_the_training_code_scores(rules: Tagger) -> None:
    """`newsflow tagger evaluate` scores `evaluate.predict`; the worker runs `TopicTagger`.
    The two must make the same decision, the veto model's floor included: with floors high
    enough to matter, on 300 feed items of the corpus."""
    import json

    from processors.training.evaluate import predict
    from processors.training.fit import TrainingSet

    records = [json.loads(line) for line in POOL.read_text(encoding="utf-8").splitlines()[:300]]
    titles = [r["title"].strip() for r in records]
    texts = [f"{title}\n\n{r['text']}" for title, r in zip(titles, records, strict=True)]
    analyses = [rules.analyse(t, (), title_end=len(title))
                for t, title in zip(texts, titles, strict=True)]
    data = TrainingSet(
        texts, titles, [rule_features(a) for a in analyses], [frozenset()] * len(texts),
        [rule_openings(a) for a in analyses],
    )
    cuts = rules.taxonomy.rule_thresholds
    model = TagModel.load(DEFAULT_TAG_MODEL)
    model.rule_floors[:] = 0.3
    tagged = TopicTagger(rules, model).tag_many(
        [TagInput(t, (), len(title)) for t, title in zip(texts, titles, strict=True)])
    emitted = [{t.tag for t in tags} for tags in tagged]
    assert emitted == predict(model, data, cuts)
    # The floor is read against the veto model: against the main model it decides otherwise.
    assert model.veto is not None
    model.veto = None
    assert predict(model, data, cuts) != emitted
