"""processors.stories.engine: stories, copies, summaries, eviction by event time, snapshot and
restore, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from processors.stories.clusters import ClusterParams
from processors.stories.copies import CopyIndex, CopyParams
from processors.stories.engine import StoryEngine, StoryParams
from processors.stories.model import StoryInput

from .samples import QUAKE_CHILE, UNRELATED, item, quake_items, syndicated

ROOT = Path(__file__).resolve().parents[4]


def run(items: list[StoryInput], engine: StoryEngine | None = None) -> list[dict[str, Any]]:
    engine = engine or StoryEngine()
    return [engine.assign(i).to_json() for i in items]


def stream() -> list[StoryInput]:
    """Two quakes of one kind a day apart, an unrelated item, copies of two articles."""
    items = quake_items(gap_h=20.0)
    chile0 = next(i for i in items if i.id == "cl-0")
    japan0 = next(i for i in items if i.id == "jp-0")
    items += [
        syndicated(chile0, "cl-0-copy", label="BREAKING: ", trim=0.2, edits=0.03, hours=0.5,
                   source="reprint-a.example"),
        syndicated(japan0, "jp-0-copy", lead="By Wire Staff", tail="Follow us for more news "
                   "updates.", hours=2.0, source="reprint-b.example"),
        item("bank-0", *UNRELATED[:2], hours=10.0, entities=UNRELATED[2]),
    ]
    return sorted(items, key=lambda a: (a.published_at, a.id))


def test_two_events_of_one_kind_stay_apart_and_each_gathers_its_articles() -> None:
    out = {r["id"]: r for r in run(stream())}
    chile = {out[f"cl-{i}"]["story_id"] for i in range(3)} | {out["cl-0-copy"]["story_id"]}
    japan = {out[f"jp-{i}"]["story_id"] for i in range(2)} | {out["jp-0-copy"]["story_id"]}
    assert chile == {"cl-0"}  # a story's id is its first article's id
    assert japan == {"jp-0"}
    assert out["bank-0"]["story_id"] == "bank-0" and out["bank-0"]["new_story"]


def test_it_is_the_entities_that_keep_the_two_quakes_apart() -> None:
    """The two reports are written alike (magnitude, collapsed houses, rubble, tsunami): at a
    threshold where words alone put the Japan quake into the Chile story, its names (none in
    common with the story's) keep it out."""
    params = StoryParams(cluster=ClusterParams(threshold=0.2))
    with_names = {r["id"]: r["story_id"] for r in run(stream(), StoryEngine(params))}
    words_only = {r["id"]: r["story_id"]
                  for r in run([replace(i, entities=()) for i in stream()], StoryEngine(params))}
    assert with_names["jp-0"] == "jp-0"
    assert words_only["jp-0"] == "cl-0"


def test_copies_get_dup_of_and_add_no_independent_source() -> None:
    engine = StoryEngine()
    out = {r["id"]: r for r in run(stream(), engine)}
    assert out["cl-0-copy"]["dup_of"] == "cl-0"
    assert out["jp-0-copy"]["dup_of"] == "jp-0"
    assert all(r["dup_of"] is None for a, r in out.items() if not a.endswith("-copy"))
    story = engine.story("cl-0")
    assert story is not None
    assert story.article_count == 4
    assert story.independent_sources == 3  # three outlets wrote; the reprint copied
    assert "reprint-a.example" in story.source_domains and len(story.source_domains) == 4
    assert story.first_at == QUAKE_FIRST_AT and story.last_at > story.first_at
    assert "Valparaiso" in story.top_entities


QUAKE_FIRST_AT = quake_items()[0].published_at


def test_a_replayed_article_gets_its_answer_again_and_changes_nothing() -> None:
    engine = StoryEngine()
    items = stream()
    run(items, engine)
    before = engine.snapshot()
    again = engine.assign(items[0])
    assert again.reason == "seen" and again.story_id == "cl-0"
    assert engine.snapshot() == before


def test_restore_then_continue_equals_never_stopping() -> None:
    items = stream() + [
        item(f"cl-late-{i}", t, x, hours=40.0 + i, entities=e, source=f"late{i}.example")
        for i, (t, x, e) in enumerate(QUAKE_CHILE)
    ]
    straight = run(items)
    for cut in (1, 4, len(items) - 2):
        engine = StoryEngine()
        first = run(items[:cut], engine)
        blob = engine.snapshot()
        restored = StoryEngine.restore(blob)
        assert restored.snapshot() == blob  # the state survives the round trip exactly
        assert first + run(items[cut:], restored) == straight


def test_same_input_same_output_bytes_in_another_process() -> None:
    """Another interpreter with another string-hash seed: the same JSON lines, byte for byte."""
    lines = "\n".join(json.dumps(r) for r in run(stream()))
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tests.unit.processors.stories.test_engine import run, stream\n"
        "print('\\n'.join(json.dumps(r) for r in run(stream())))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=120, check=True)
    assert result.stdout.rstrip("\n") == lines


def test_eviction_follows_event_time_not_the_wall_clock() -> None:
    params = StoryParams(cluster=ClusterParams(window_h=24.0), retention_h=48.0,
                         copy_retention_h=48.0)
    chile = [item(f"cl-{i}", t, x, hours=float(i), entities=e)
             for i, (t, x, e) in enumerate(QUAKE_CHILE)]
    engine = StoryEngine(params)
    run(chile[:1], engine)
    # 30 h later in event time: the story is idle past the 24 h window, so a same-event
    # article starts a new story, although no wall-clock time has passed.
    late = replace(chile[1], published_at=chile[0].published_at + timedelta(hours=30))
    assert engine.assign(late).story_id == late.id
    # 50 h after the first article the first story and its copy candidates are forgotten
    # (48 h retention), while the later story is still kept.
    copy = syndicated(chile[0], "cl-0-copy", hours=50.0)
    assignment = engine.assign(copy)
    assert assignment.dup_of is None
    assert engine.story("cl-0") is None and engine.story(late.id) is not None
    # The same copy within the retention finds its original.
    engine = StoryEngine(params)
    run(chile[:1], engine)
    assert engine.assign(syndicated(chile[0], "c", hours=40.0)).dup_of == "cl-0"


def test_out_of_order_article_does_not_move_the_clock_back() -> None:
    engine = StoryEngine()
    items = quake_items()
    run(items[1:], engine)
    clock = engine.snapshot()
    early = engine.assign(items[0])
    assert early.story_id in {"cl-0", "cl-1"}
    assert json.loads(engine.snapshot())["clock"] == json.loads(clock)["clock"]


@pytest.mark.parametrize("bad", [b"{}", b'{"format": "other"}', b"[1, 2]"])
def test_restore_refuses_what_is_not_a_snapshot(bad: bytes) -> None:
    with pytest.raises(ValueError, match="not a story engine snapshot"):
        StoryEngine.restore(bad)


def test_params_round_trip_through_the_snapshot() -> None:
    params = StoryParams(cluster=ClusterParams(threshold=0.41, window_h=30.0),
                         stream_df_weight=0.5)
    engine = StoryEngine(params)
    run(quake_items()[:2], engine)
    assert StoryEngine.restore(engine.snapshot()).params == params


# A wire template filled in twice: same words, other countries, other people.
_TEMPLATE = ("{a} and {b} hold joint naval exercise, deepen military cooperation",
             "{A} and {B} warships began a joint naval exercise in the Baltic Sea on Tuesday, "
             "the defence ministries in {ca} and {cb} said, the latest sign of deepening "
             "military cooperation between the two countries. Officers said 12 vessels would "
             "practise air defence, replenishment at sea and search and rescue, and that the "
             "drills would strengthen coordination between the two navies. Defence Minister "
             "{m} said the partnership was a pillar of regional security.")


def _filled(id_: str, a: tuple[str, str, str, str], b: tuple[str, str, str, str],
            hours: float, source: str) -> StoryInput:
    title, text = _TEMPLATE
    values = {"a": a[0], "b": b[0], "A": a[1], "B": b[1], "ca": a[2], "cb": b[2], "m": a[3]}
    return item(id_, title.format(**values), text.format(**values), hours=hours, source=source,
                entities=((a[0], "GPE"), (b[0], "GPE"), (a[1], "NORP"), (b[1], "NORP"),
                          (a[2], "GPE"), (b[2], "GPE"), (a[3], "PERSON"),
                          ("the Baltic Sea", "LOC")))


JAPAN = ("Japan", "Japanese", "Tokyo", "Sato")
POLAND = ("Poland", "Polish", "Warsaw", "Nowak")
FRANCE = ("France", "French", "Paris", "Laurent")
KENYA = ("Kenya", "Kenyan", "Nairobi", "Otieno")


def test_a_template_filled_in_for_other_countries_is_no_copy_but_a_reprint_is() -> None:
    first = _filled("drills-1", JAPAN, POLAND, 0.0, "wire-a.example")
    other = _filled("drills-2", FRANCE, KENYA, 1.0, "wire-b.example")
    reprint = replace(first, id="drills-1-copy", source="reprint.example",
                      title="BREAKING: " + first.title,
                      published_at=first.published_at + timedelta(hours=2))
    out = {r["id"]: r for r in run([first, other, reprint])}
    # Not a copy (which story it joins is the clustering's call, not the copy check's).
    assert out["drills-2"]["dup_of"] is None
    assert out["drills-1-copy"]["dup_of"] == "drills-1"
    # Without names the two fillings look like a copy: it is the names that tell them apart.
    nameless = {r["id"]: r for r in run([replace(first, entities=()),
                                          replace(other, entities=())])}
    assert nameless["drills-2"]["dup_of"] == "drills-1"


def test_a_snapshot_without_names_still_loads() -> None:
    engine = StoryEngine()
    run([_filled("drills-1", JAPAN, POLAND, 0.0, "wire-a.example")], engine)
    state = json.loads(engine.snapshot())
    del state["copies"]["entities"]
    restored = StoryEngine.restore(json.dumps(state).encode())
    out = restored.assign(_filled("drills-2", FRANCE, KENYA, 1.0, "wire-b.example"))
    assert out.dup_of == "drills-1"  # no names kept for the older article: words decide


def test_among_hundreds_of_fillings_of_one_template_a_reprint_finds_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every earlier filling is a copy candidate; only the best few are checked one by one,
    and the reprint's own original is among them."""
    checked: list[int] = []
    verify = CopyIndex._verify

    def counting(self: CopyIndex, fp: Any, slots: Any, agree: Any) -> Any:
        checked.append(len(slots))  # candidates verified by this query
        return verify(self, fp, slots, agree)

    monkeypatch.setattr(CopyIndex, "_verify", counting)
    # Two countries of their own per filling: no two fillings name the same ones.
    fillings = [_filled(f"fill-{n}", (f"Town{n}", f"Townish{n}", f"Capital{n}", f"Min{n}"),
                        (f"Port{n}", f"Portish{n}", f"Harbour{n}", f"Envoy{n}"), n * 0.01,
                        f"wire{n % 7}.example") for n in range(150)]
    target = fillings[120]
    reprint = replace(target, id="fill-120-copy", source="reprint.example",
                      title="UPDATE: " + target.title,
                      published_at=fillings[-1].published_at + timedelta(minutes=5))
    out = {r["id"]: r for r in run([*fillings, reprint])}
    assert sum(checked) <= 151 * (CopyParams().max_verified + ClusterParams().members_kept)
    assert out["fill-120-copy"]["dup_of"] == "fill-120"
    assert all(out[f"fill-{n}"]["dup_of"] is None for n in range(150))
