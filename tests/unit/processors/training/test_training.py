"""The training side: labels, agreement, thresholds, and that a fit is deterministic and
learns. Small synthetic corpora; no spaCy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from newsflow.errors import ConfigError
from newsflow.settings import ProcessorSettings
from processors.enrich.tagmodel import TagModel, squash_rule_score
from processors.enrich.taxonomy import load_taxonomy
from processors.training.agreement import agreement
from processors.training.corpus import (
    ADJUDICATED,
    LABELS_DIR,
    Dispute,
    corpus_label_files,
    disputes,
    load_labels,
    load_passes,
    load_settled_labels,
    second_pass_files,
    settle,
)
from processors.training.evaluate import Scores, SeedSummary, predict
from processors.training.fit import (
    FitParams,
    TrainingSet,
    best_threshold,
    fit_model,
    rule_hits,
)

TAGS = load_taxonomy(ProcessorSettings().taxonomy_file).tag_ids


# -- the shipped labels ---------------------------------------------------------------------

def test_the_corpus_has_at_least_1500_labelled_items_with_known_tags() -> None:
    labels = load_labels(corpus_label_files(), TAGS)  # raises on an unknown tag or a repeat
    assert len(labels) >= 1500
    assert all(i.startswith("pool-") for i in labels)
    # Every tag has positives to learn from.
    for tag in TAGS:
        assert sum(tag in tags for tags in labels.values()) >= 20, tag


def test_label_files_hold_ids_and_tags_only() -> None:
    """No text of the publishers is copied into the repository."""
    for path in [*corpus_label_files(), *second_pass_files(), LABELS_DIR / ADJUDICATED,
                 LABELS_DIR / "second-pass.jsonl"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert set(json.loads(line)) == {"id", "tags"}, path


def test_the_second_pass_overlaps_at_least_100_corpus_items() -> None:
    first = load_labels(corpus_label_files(), TAGS)
    second = load_labels([LABELS_DIR / "second-pass.jsonl"], TAGS)
    assert len(set(first) & set(second)) >= 100
    assert set(second) <= set(first)


def test_every_item_is_labelled_twice_and_every_dispute_is_settled() -> None:
    first = load_labels(corpus_label_files(), TAGS)
    second = load_labels(second_pass_files(), TAGS)
    assert set(second) == set(first)
    settled, files = load_settled_labels(LABELS_DIR, TAGS)  # raises on an open dispute
    assert set(settled) == set(first)
    assert LABELS_DIR / ADJUDICATED in files
    # The passes as adjudicated, before the guide revision (test_revision.py) re-reads some.
    adjudicated = replace(load_passes(LABELS_DIR, TAGS), revision=None).settled()
    for item_id, tags in adjudicated.items():
        assert first[item_id] & second[item_id] <= tags <= first[item_id] | second[item_id]


def _labels(**items: str) -> dict[str, frozenset[str]]:
    return {k: frozenset(v.split()) for k, v in items.items()}


def test_disputes_show_the_agreed_and_the_disputed_tags_not_who_gave_them() -> None:
    first = _labels(a="x y", b="x", c="")
    second = _labels(a="x z", b="x", c="y")
    assert disputes(first, second) == [
        Dispute("a", frozenset({"x"}), frozenset({"y", "z"})),
        Dispute("c", frozenset(), frozenset({"y"})),
    ]
    assert disputes(second, first) == disputes(first, second)


def test_settle_keeps_agreements_and_takes_the_adjudicated_tags() -> None:
    first = _labels(a="x y", b="x", c="", d="y")
    second = _labels(a="x z", b="x", c="y")  # d labelled once: its one label stands
    settled = settle(first, second, _labels(a="x z", c=""))
    assert settled == _labels(a="x z", b="x", c="", d="y")


def test_settle_refuses_an_open_stale_or_overreaching_adjudication() -> None:
    first = _labels(a="x y", b="x")
    second = _labels(a="x z", b="x")
    with pytest.raises(ConfigError, match="not adjudicated"):
        settle(first, second, {})
    with pytest.raises(ConfigError, match="not disputed"):
        settle(first, second, _labels(a="x", b="x"))
    with pytest.raises(ConfigError, match="agree on"):
        settle(first, second, _labels(a="y"))  # drops the agreed x
    with pytest.raises(ConfigError, match="agree on"):
        settle(first, second, _labels(a="x w"))  # adds w, which no pass gave
    with pytest.raises(ConfigError, match="no first-pass label"):
        settle(first, {**second, "c": frozenset()}, _labels(a="x"))


def test_a_label_folder_with_one_pass_is_read_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.jsonl").write_text(
        '{"id": "pool-1", "tags": ["sanctions"]}\n{"id": "pool-2", "tags": []}\n'
    )
    labels, files = load_settled_labels(tmp_path, TAGS)
    assert labels == {"pool-1": frozenset({"sanctions"}), "pool-2": frozenset()}
    assert files == [tmp_path / "parts" / "a.jsonl"]
    (tmp_path / "pass2").mkdir()
    (tmp_path / "pass2" / "b.jsonl").write_text(
        '{"id": "pool-1", "tags": []}\n{"id": "pool-2", "tags": []}\n'
    )
    with pytest.raises(ConfigError, match="not adjudicated"):
        load_settled_labels(tmp_path, TAGS)
    (tmp_path / ADJUDICATED).write_text('{"id": "pool-1", "tags": ["sanctions"]}\n')
    labels, files = load_settled_labels(tmp_path, TAGS)
    assert labels == {"pool-1": frozenset({"sanctions"}), "pool-2": frozenset()}
    assert len(files) == 3


def test_a_label_repeated_or_unknown_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "pool-1", "tags": []}\n{"id": "pool-1", "tags": []}\n')
    with pytest.raises(ConfigError, match="twice"):
        load_labels([path], TAGS)
    path.write_text('{"id": "pool-1", "tags": ["cooking"]}\n')
    with pytest.raises(ConfigError, match="unknown tags"):
        load_labels([path], TAGS)


# -- agreement ------------------------------------------------------------------------------

def test_agreement_counts_and_kappa() -> None:
    a = {"1": frozenset({"x"}), "2": frozenset({"x"}), "3": frozenset(), "4": frozenset()}
    b = {"1": frozenset({"x"}), "2": frozenset(), "3": frozenset(), "4": frozenset(),
         "5": frozenset({"x"})}
    overlap, exact, [row] = agreement(a, b, ["x"])
    assert overlap == 4 and exact == 0.75
    assert (row.both, row.only_first, row.only_second, row.neither) == (1, 1, 0, 2)
    # observed 0.75; chance = 0.5*0.25 + 0.5*0.75 = 0.5; kappa = 0.25/0.5
    assert row.kappa == pytest.approx(0.5)
    assert row.positive_agreement == pytest.approx(2 / 3)


# -- thresholds -----------------------------------------------------------------------------

def test_a_seed_summary_averages_each_seeds_figures() -> None:
    """Several shuffles into folds: each tag's precision, recall and F1 are the mean of the
    per-seed figures (not of pooled counts), its F1's range is shown, and macro-F1 is
    given per seed and as their mean."""
    first, second = Scores.empty(["a", "b"]), Scores.empty(["a", "b"])
    first.counts = {"a": [8, 2, 0], "b": [1, 0, 1]}   # a: P 0.8 R 1.0; b: P 1.0 R 0.5
    second.counts = {"a": [6, 0, 4], "b": [0, 1, 1]}  # a: P 1.0 R 0.6; b: nothing right
    summary = SeedSummary({7: first, 11: second})
    p, r, f = summary.mean_prf("a")
    assert (round(p, 3), round(r, 3)) == (0.9, 0.8)
    assert f == pytest.approx((8 / 9 + 0.75) / 2)  # F1s 0.889 and 0.75, averaged
    assert summary.f1_range("b") == (0.0, pytest.approx(2 / 3))
    assert summary.macro_f1_by_seed == {7: first.macro_f1, 11: second.macro_f1}
    assert summary.mean_macro_f1 == pytest.approx((first.macro_f1 + second.macro_f1) / 2)
    as_dict = summary.as_dict()
    assert as_dict["seeds"] == [7, 11] and as_dict["tags"]["b"]["f1_min"] == 0.0
    assert "mean 0." in summary.table().splitlines()[-1]
    with pytest.raises(ValueError):
        SeedSummary({})


def test_best_threshold_cuts_between_the_classes() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 1, 0, 0, 0])
    assert best_threshold(p, y) == pytest.approx(0.5)  # midpoint of the gap 0.7 .. 0.3


def test_best_threshold_with_precision_weight_cuts_higher() -> None:
    p = np.array([0.9, 0.8, 0.6, 0.5, 0.4, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0])
    assert best_threshold(p, y, beta=1.0) == pytest.approx(0.45)
    assert best_threshold(p, y, beta=0.3) == pytest.approx(0.7)


def test_best_threshold_is_chosen_for_the_model_or_the_rules() -> None:
    """Items the rules emit anyway count in every cut: the model's cut is the one that adds
    the right items to them, not the one that would be best alone."""
    p = np.array([0.9, 0.8, 0.6, 0.5, 0.4, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0])
    assert best_threshold(p, y, beta=1.0) == pytest.approx(0.45)
    # The rules already emit the third positive (and nothing wrong): the model need only
    # take the top two, and 0.6 (a negative) is no longer worth taking for the 0.5.
    emitted = np.array([False, False, False, True, False, False])
    assert best_threshold(p, y, beta=1.0, emitted=emitted) == pytest.approx(0.7)
    # The rules emit every positive: the model adds nothing, its cut is above every item.
    emitted = y.astype(bool)
    assert best_threshold(p, y, beta=1.0, emitted=emitted) == pytest.approx(0.95)
    # Nothing emitted: the model's own best cut, as without the argument.
    assert best_threshold(p, y, beta=1.0, emitted=np.zeros(6, bool)) == pytest.approx(0.45)


# -- fitting --------------------------------------------------------------------------------

def _toy(n: int = 120, *, weak_cue: bool = False) -> TrainingSet:
    """A quarter of the items are positive, the rules fire on half of the positives and
    nothing else. The word "sanctions" is in every positive and nothing else, or with
    ``weak_cue`` in most positives and some negatives (the model is then unsure)."""
    rng = np.random.default_rng(1 if weak_cue else 0)
    texts, titles, rules, tags = [], [], [], []
    filler = ["markets", "weather", "football", "election", "culture", "budget"]
    for i in range(n):
        words = list(rng.choice(filler, 4))
        positive = i % 4 == 0
        cue = ((positive and i % 12 != 0) or (not positive and i % 7 == 0)) if weak_cue \
            else positive
        if cue:
            words.insert(int(rng.integers(0, 4)), "sanctions")
        title = " ".join(words[:3])
        texts.append(title + "\n\n" + " ".join(words))
        titles.append(title)
        rules.append({"r:score:sanctions": 0.8} if positive and i % 8 == 0 else {})
        tags.append(frozenset({"sanctions"}) if positive else frozenset())
    return TrainingSet(texts, titles, rules, tags, [frozenset({"sanctions"})] * n)


def test_a_fit_learns_the_signal_and_is_deterministic(tmp_path: Path) -> None:
    data = _toy()
    params = FitParams(inner_folds=3)
    first = fit_model(data, ["sanctions", "nuclear-weapons"], params, {"taxonomy_version": "t"},
                      {})
    second = fit_model(data, ["sanctions", "nuclear-weapons"], params, {"taxonomy_version": "t"},
                      {})
    np.testing.assert_array_equal(first.coef, second.coef)
    np.testing.assert_array_equal(first.thresholds, second.thresholds)
    held = TrainingSet(["x\n\nfootball sanctions budget", "y\n\nfootball weather budget"],
                       ["x", "y"], [{}, {}], [frozenset(), frozenset()], [frozenset()] * 2)
    assert predict(first, held) == [{"sanctions"}, set()]
    # A tag with no positives is never emitted by the model; its rules decide (floor 0).
    assert first.thresholds[1] == 1.0
    assert first.rule_floors.tolist() == [params.rule_floor, 0.0]


def test_a_fit_chooses_the_threshold_with_what_the_rules_emit() -> None:
    """With the taxonomy's threshold given, the model's cut is chosen for "model or rules".
    Here the rules are right whenever they fire, so the model need take fewer doubtful
    items: its cut rises."""
    data = _toy(200, weak_cue=True)
    params = FitParams(inner_folds=3)
    alone = fit_model(data, ["sanctions"], params, {}, {})
    with_rules = fit_model(data, ["sanctions"], params, {}, {"sanctions": 0.5})
    np.testing.assert_array_equal(alone.coef, with_rules.coef)
    assert with_rules.thresholds[0] > alone.thresholds[0]
    # Rules that never reach their threshold leave the model's own cut.
    never = fit_model(data, ["sanctions"], params, {}, {"sanctions": 100.0})
    assert never.thresholds[0] == alone.thresholds[0]


def test_rule_hits_read_the_squashed_score_against_the_taxonomy_threshold() -> None:
    hit = {"r:score:sanctions": squash_rule_score(2.0)}
    data = TrainingSet(
        ["a"] * 4, [""] * 4, [hit, {"r:score:sanctions": 0.1}, {}, hit], [frozenset()] * 4,
        [frozenset({"sanctions"})] * 3 + [frozenset()],
    )
    assert rule_hits(data, "sanctions", 2.0).tolist() == [True, False, False, False]
    assert rule_hits(data, "nuclear-weapons", 2.0).tolist() == [False] * 4
    # A hit only after the first sentence emits nothing on its own, unless the tag is one
    # the model does not know (its rules decide it alone, wherever they fired).
    assert rule_hits(data, "sanctions", 2.0, anywhere=True).tolist() == [True, False, False,
                                                                          True]


def test_the_rules_emit_a_learned_tag_unless_the_veto_model_rules_it_out() -> None:
    model = fit_model(_toy(), ["sanctions"], FitParams(inner_folds=3), {}, {})
    held = TrainingSet(
        ["y\n\nfootball weather budget"], ["y"],
        [{"r:score:sanctions": 0.9, "r:score:nuclear-weapons": 0.9}], [frozenset()],
        [frozenset({"sanctions", "nuclear-weapons"})],
    )
    [[main_p]], [[veto_p]] = model.decision_probabilities(
        model.features(held.texts, held.titles, held.rules))
    assert main_p != pytest.approx(veto_p, abs=1e-3)  # two models, two opinions
    model.thresholds[0] = 1.0  # the model alone never emits it
    cuts = {"sanctions": 2.0, "nuclear-weapons": 2.0}
    model.rule_floors[0] = 0.0
    assert predict(model, held, cuts) == [{"sanctions", "nuclear-weapons"}]
    # The floor is read against the veto model's probability, not the main model's.
    model.rule_floors[0] = veto_p - 1e-6
    assert predict(model, held, cuts) == [{"sanctions", "nuclear-weapons"}]
    model.rule_floors[0] = veto_p + 1e-6
    # Vetoed for the learned tag; a tag the model does not know is left to its rules.
    assert predict(model, held, cuts) == [{"nuclear-weapons"}]
    # Rules that scored only after the first sentence need the model for a learned tag; a
    # tag the model does not know is still its rules' alone.
    model.rule_floors[0] = 0.0
    later = TrainingSet(held.texts, held.titles, held.rules, held.tags, [frozenset()])
    assert predict(model, later, cuts) == [{"nuclear-weapons"}]


def test_the_veto_model_reads_the_words_alone() -> None:
    """The rule features move the main model's probability and never the veto's: the veto
    is an opinion independent of the rules it may overrule."""
    model = fit_model(_toy(), ["sanctions"], FitParams(inner_folds=3), {}, {})
    assert model.veto is not None
    texts, titles = ["x\n\nsanctions budget"] * 2, ["x"] * 2
    main, veto = model.decision_probabilities(
        model.features(texts, titles, [{}, {"r:score:sanctions": 0.9}]))
    assert veto[0, 0] == pytest.approx(veto[1, 0])
    assert main[1, 0] > main[0, 0]
    # The veto model's probability is its own calibrated words-only score.
    v_coef, v_intercept, v_calibration = model.veto
    x_words = model.features(texts[:1], titles[:1], [{}])[:, : v_coef.shape[0]]
    margin = float((x_words @ v_coef)[0, 0] + v_intercept[0])
    a, b = v_calibration[0]
    assert veto[0, 0] == pytest.approx(1 / (1 + np.exp(-(a * margin + b))))


def test_a_saved_model_loads_back_identical(tmp_path: Path) -> None:
    model = fit_model(_toy(), ["sanctions"], FitParams(inner_folds=3), {"model_version": "v1"},
                      {})
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = TagModel.load(path)
    assert loaded.version == "v1" and loaded.tags == ["sanctions"]
    np.testing.assert_allclose(loaded.rule_floors, model.rule_floors, rtol=1e-6)
    data = _toy(16)
    x1 = model.features(data.texts, data.titles, data.rules)
    x2 = loaded.features(data.texts, data.titles, data.rules)
    np.testing.assert_allclose(model.probabilities(x1), loaded.probabilities(x2), rtol=1e-5)
    np.testing.assert_allclose(model.decision_probabilities(x1)[1],
                               loaded.decision_probabilities(x2)[1], rtol=1e-5)


def _saved_model_arrays(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A fitted toy model saved to a file, and the file's arrays to alter and write back."""
    model = fit_model(_toy(), ["sanctions"], FitParams(inner_folds=3), {}, {})
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as data:
        return path, dict(data)


def _format_1(arrays: dict[str, np.ndarray], drop: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays as a build before the veto model wrote them (format 1), less ``drop``."""
    header = json.loads(bytes(arrays["header"]).decode())
    header["format"] = 1
    kept = {k: v for k, v in arrays.items() if not k.startswith("veto_") and k not in drop}
    return {**kept, "header": np.frombuffer(json.dumps(header).encode(), np.uint8)}


def test_a_model_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path, arrays = _saved_model_arrays(tmp_path)
    header = json.loads(bytes(arrays["header"]).decode())
    header["format"] = 999
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match="format 999"):
        TagModel.load(path)
    path.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot read tag model"):
        TagModel.load(path)


def test_a_model_file_without_rule_floors_reads_as_floors_of_zero(tmp_path: Path) -> None:
    """Files written before the floors existed keep their decision: model or rules."""
    path, arrays = _saved_model_arrays(tmp_path)
    np.savez(path, **_format_1(arrays, drop=("rule_floors",)))
    assert TagModel.load(path).rule_floors.tolist() == [0.0]


def test_a_model_file_without_a_veto_model_reads_its_floors_against_the_model(
    tmp_path: Path,
) -> None:
    """Files written before the veto model existed keep their decision: the floor against
    the main model's probability."""
    path, arrays = _saved_model_arrays(tmp_path)
    assert json.loads(bytes(arrays["header"]).decode())["format"] == 2
    # Without the veto arrays but still saying format 2, a file is refused: the floors it
    # holds are meant for a veto model and must not be read against another.
    np.savez(path, **{k: v for k, v in arrays.items() if not k.startswith("veto_")})
    with pytest.raises(ConfigError, match="format 2 without a veto model"):
        TagModel.load(path)
    np.savez(path, **_format_1(arrays))
    old = TagModel.load(path)
    assert old.veto is None
    data = _toy(16)
    main, floor = old.decision_probabilities(old.features(data.texts, data.titles, data.rules))
    np.testing.assert_array_equal(main, floor)


def test_a_veto_model_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path, arrays = _saved_model_arrays(tmp_path)
    arrays["veto_coef"] = arrays["veto_coef"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match="veto coef"):
        TagModel.load(path)
