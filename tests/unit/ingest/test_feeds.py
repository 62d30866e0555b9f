from __future__ import annotations

from pathlib import Path

import pytest

from ingest.feeds import (
    FeedSpec,
    dump_feed_list,
    export_opml,
    feed_id,
    load_feed_list,
    parse_duration,
    parse_feed_list,
    parse_opml,
    save_feed_list,
)
from newsflow.errors import ConfigError


@pytest.mark.parametrize(("value", "seconds"), [
    (60, 60.0), (1.5, 1.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1d", 86400.0),
    ("250ms", 0.25), (" 2 m ", 120.0),
])
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["soon", "-5", 0, True, "5 minutes"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ConfigError):
        parse_duration(value, "x")


FULL = """
defaults:
  labels: [wire]
  max_interval: 2h
feeds:
  - https://a.example/rss
  - url: https://b.example/atom.xml
    name: B
    language: de
    labels: [defence, europe]
    min_interval: 90s
    allow_private: true
  - url: https://c.example/feed
    enabled: false
"""


def test_parse_feed_list_full_format() -> None:
    a, b, c = parse_feed_list(FULL)
    assert a == FeedSpec(url="https://a.example/rss", labels=("wire",), max_interval_s=7200.0)
    assert b == FeedSpec(url="https://b.example/atom.xml", name="B", language="de",
                         labels=("defence", "europe"), min_interval_s=90.0,
                         max_interval_s=7200.0, allow_private=True)
    assert not c.enabled


@pytest.mark.parametrize(("text", "count"), [
    ("", 0),
    ("- https://a.example/rss\n- url: https://b.example/rss\n", 2),  # a bare list
    ("feeds: []\n", 0),
])
def test_parse_feed_list_shapes(text: str, count: int) -> None:
    assert len(parse_feed_list(text)) == count


@pytest.mark.parametrize(("text", "message"), [
    ("feeds:\n  - url: https://a.example/\n    lables: [x]\n", "unknown option"),
    ("feeds:\n  - url: ftp://a.example/\n", "not an http"),
    ("feeds:\n  - name: no url\n", "'url' must be"),
    ("feeds:\n  - https://a.example/\n  - https://a.example/\n", "listed twice"),
    ("feeds:\n  - url: https://a.example/\n    min_interval: 2h\n    max_interval: 1h\n",
     "min_interval is larger"),
    ("feed:\n  - https://a.example/\n", "unknown top-level key"),
    ("feeds: [\n", "not valid YAML"),
    ("feeds:\n  - 42\n", "expected a URL"),
    ("defaults:\n  url: https://x/\nfeeds: []\n", "'defaults' must map"),
])
def test_parse_feed_list_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_feed_list(text)


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
  <outline text="Defence">
    <outline text="War Wire" type="rss" xmlUrl="https://w.example/rss" category="/europe/baltic"/>
    <outline text="Other" type="rss" xmlURL="https://o.example/rss" language="fr"/>
  </outline>
  <outline text="Top" type="rss" xmlUrl="https://t.example/rss"/>
</body></opml>"""


def test_parse_opml_labels_from_folders_and_categories() -> None:
    war, other, top = parse_opml(OPML)
    assert war == FeedSpec(url="https://w.example/rss", name="War Wire",
                           labels=("Defence", "europe", "baltic"))
    assert other.language == "fr" and other.labels == ("Defence",)
    assert top.labels == ()


def test_opml_round_trip() -> None:
    specs = [FeedSpec(url="https://a.example/rss", name="A & B", labels=("x", "y"),
                      language="en"), FeedSpec(url="https://b.example/rss")]
    again = parse_opml(export_opml(specs))
    assert [(s.url, s.name, s.labels, s.language) for s in again] == [
        ("https://a.example/rss", "A & B", ("x", "y"), "en"),
        ("https://b.example/rss", "https://b.example/rss", (), None)]


def test_opml_entity_bomb_is_defused() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "' + "A" * 100_000 + '">]>'
            '<opml version="2.0"><body><outline text="' + "&a;" * 10 + '" '
            'xmlUrl="https://x.example/rss"/></body></opml>')
    with pytest.raises(ConfigError, match="not valid OPML"):
        parse_opml(bomb)  # the entity is undefined once the DTD is gone


def test_yaml_round_trip_and_file_formats(tmp_path: Path) -> None:
    specs = parse_feed_list(FULL)
    assert parse_feed_list(dump_feed_list(specs)) == specs
    yaml_file, opml_file = tmp_path / "feeds.yaml", tmp_path / "feeds.opml"
    save_feed_list(yaml_file, specs)
    save_feed_list(opml_file, specs)
    assert load_feed_list(yaml_file) == specs
    assert opml_file.read_text().startswith("<?xml")
    assert [s.url for s in load_feed_list(opml_file)] == [s.url for s in specs]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="feed list not found"):
        load_feed_list(tmp_path / "nope.yaml")


def test_feed_id_is_stable() -> None:
    assert feed_id("https://a.example/rss") == feed_id("https://a.example/rss")
    assert len(feed_id("x")) == 20


def test_feed_spec_id_and_host_are_computed_once_and_change_nothing_else() -> None:
    import dataclasses
    import pickle

    from ingest.feeds import FeedSpec, feed_id, host_of

    spec = FeedSpec(url="https://News.example:8443/rss?x=1")
    assert spec.id == feed_id(spec.url) and spec.host == host_of(spec.url) == "news.example"
    assert spec.id is spec.id  # cached
    twin = FeedSpec(url=spec.url)
    assert spec == twin and hash(spec) == hash(twin)  # before and after caching
    assert dataclasses.replace(spec, url="https://other.example/").id == \
        feed_id("https://other.example/")
    assert pickle.loads(pickle.dumps(spec)).id == spec.id
    assert "id" not in dataclasses.asdict(spec)
