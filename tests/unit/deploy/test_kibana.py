"""Kibana cannot run here: check the saved objects' structure, references and fields, and
the import command's request against a local HTTP server standing in for Kibana's API."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.settings import ElasticsearchSettings
from processors.store.alert_documents import alerts_mappings
from processors.store.documents import index_template
from processors.store.story_documents import stories_mappings

ROOT = Path(__file__).resolve().parents[3]
NDJSON = ROOT / "deploy" / "kibana" / "newsflow.ndjson"
OBJECTS: list[dict[str, Any]] = [json.loads(line) for line in NDJSON.read_text().splitlines()]
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}


def _mapping_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    fields: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        fields.add(path)
        fields |= {f"{path}.{sub}" for sub in spec.get("fields", {})}
        fields |= _mapping_fields(spec.get("properties", {}), f"{path}.")
    return fields


def _default(field: str) -> str:
    value = ElasticsearchSettings.model_fields[field].default
    assert isinstance(value, str)
    return value


ARTICLES, STORIES, ALERTS = (_default(f) for f in ("alias", "stories_index", "alerts_index"))
# The fields of each index a data view may point at (by its title, the index pattern).
MAPPED = {
    ARTICLES: _mapping_fields(index_template(ARTICLES)["template"]["mappings"]["properties"]),
    STORIES: _mapping_fields(stories_mappings()["properties"]),
    ALERTS: _mapping_fields(alerts_mappings()["properties"]),
}
DATA_VIEWS = {"newsflow-articles": ARTICLES, "newsflow-stories": STORIES,
              "newsflow-alerts": ALERTS}


def test_the_committed_ndjson_is_the_generator_output() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("kibana_generate",
                                                  ROOT / "deploy/kibana/generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert NDJSON.read_text() == module.to_ndjson(module.build()), (
        "regenerate: .venv/bin/python deploy/kibana/generate.py > deploy/kibana/newsflow.ndjson"
    )


def test_three_data_views_a_saved_search_per_tag_and_a_dashboard() -> None:
    import yaml

    taxonomy = yaml.safe_load((ROOT / "processors/enrich/taxonomy.yaml").read_text())
    tags = [t["id"] for t in taxonomy["tags"]]
    kinds = [o["type"] for o in OBJECTS]
    views = {o["id"]: o["attributes"] for o in OBJECTS if o["type"] == "index-pattern"}
    assert {i: v["title"] for i, v in views.items()} == DATA_VIEWS
    assert {i: v["timeFieldName"] for i, v in views.items()} == {
        "newsflow-articles": "published_at", "newsflow-stories": "last_at",
        "newsflow-alerts": "at"}
    assert kinds.count("dashboard") == 1
    queries = [json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
               for o in OBJECTS if o["type"] == "search"]
    for tag in tags:
        assert {"query": f'tags : "{tag}"', "language": "kuery"} in queries, tag
    assert len({(o["type"], o["id"]) for o in OBJECTS}) == len(OBJECTS), "duplicate ids"


def _search(title: str) -> dict[str, Any]:
    [found] = [o for o in OBJECTS if o["type"] == "search" and o["attributes"]["title"] == title]
    return found


def _data_view_of(obj: dict[str, Any]) -> str:
    [view] = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
    assert isinstance(view, str)
    return view


def _query(obj: dict[str, Any]) -> str:
    source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    query: str = source["query"]["query"]
    return query


def test_the_story_alert_and_originals_searches() -> None:
    active = _search("newsflow: active stories")
    biggest = _search("newsflow: biggest stories")
    alerts = _search("newsflow: alerts")
    originals = _search("newsflow: originals only (copies hidden)")
    story_columns = ["title", "independent_sources", "article_count", "tags", "top_entities"]
    for stories in (active, biggest):
        assert _data_view_of(stories) == "newsflow-stories"
        assert stories["attributes"]["columns"] == story_columns
    assert active["attributes"]["sort"][0] == ["last_at", "desc"]
    assert biggest["attributes"]["sort"][0] == ["independent_sources", "desc"]
    assert _data_view_of(alerts) == "newsflow-alerts"
    assert alerts["attributes"]["columns"] == [
        "key", "count", "baseline", "sources", "source_domains", "story_id"]
    assert alerts["attributes"]["sort"][0] == ["at", "desc"]
    assert _data_view_of(originals) == "newsflow-articles"
    assert _query(originals) == "not dup_of : *"


def test_the_dashboard_shows_stories_and_alerts_in_a_valid_grid() -> None:
    [board] = [o for o in OBJECTS if o["type"] == "dashboard"]
    shown = {(r["type"], r["id"]) for r in board["references"]}
    for title in ("newsflow: latest articles", "newsflow: active stories",
                  "newsflow: biggest stories", "newsflow: alerts"):
        assert ("search", _search(title)["id"]) in shown, title
    cells: dict[tuple[int, int], str] = {}
    for panel in json.loads(board["attributes"]["panelsJSON"]):
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] + grid["w"] <= 48, f"panel {grid['i']} is wider than the grid"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {grid['i']} overlap"
                cells[(x, y)] = grid["i"]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_every_reference_resolves(obj: dict[str, Any]) -> None:
    for ref in obj["references"]:
        assert (ref["type"], ref["id"]) in BY_ID, f"{obj['id']} -> missing {ref}"
    attributes = obj["attributes"]
    source = attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
    if source and "indexRefName" in json.loads(source):
        names = {ref["name"] for ref in obj["references"]}
        assert json.loads(source)["indexRefName"] in names
    if obj["type"] == "dashboard":
        panels = json.loads(attributes["panelsJSON"])
        names = {ref["name"] for ref in obj["references"]}
        for panel in panels:
            assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
            assert {"x", "y", "w", "h", "i"} <= set(panel["gridData"])


def _fields_named(obj: dict[str, Any]) -> set[str]:
    attributes = obj["attributes"]
    named = set(attributes.get("columns", []))
    named |= {field for field, _order in attributes.get("sort", [])}
    if "timeFieldName" in attributes:
        named.add(attributes["timeFieldName"])
    if "visState" in attributes:
        for agg in json.loads(attributes["visState"])["aggs"]:
            if "field" in agg["params"]:
                named.add(agg["params"]["field"])
    source = attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
    if source:
        query = json.loads(source).get("query", {}).get("query", "")
        # KQL `field : value` clauses (quoted values are no fields; not/and/or are no fields).
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
        named |= {field for field in re.findall(r"([A-Za-z_@][\w.@]*)\s*:", unquoted)
                  if field.lower() not in {"not", "and", "or"}}
    return named


def test_the_field_parser_reads_kql() -> None:
    def search(query: str) -> dict[str, Any]:
        meta = {"searchSourceJSON": json.dumps({"query": {"query": query}})}
        return {"attributes": {"kibanaSavedObjectMeta": meta}}

    assert _fields_named(search('tags : "a: b"')) == {"tags"}
    assert _fields_named(search("not dup_of : *")) == {"dup_of"}
    assert _fields_named(search('tag : "x" and not entity.people:"y"')) == {"tag",
                                                                           "entity.people"}


def _index_of(obj: dict[str, Any]) -> str:
    """The index the object's fields come from: its own pattern, or its data view's."""
    if obj["type"] == "index-pattern":
        title: str = obj["attributes"]["title"]
        return title
    views = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
    assert len(views) <= 1, f"{obj['id']} refers to several data views"
    return BY_ID[("index-pattern", views[0])]["attributes"]["title"] if views else ARTICLES


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_every_field_named_exists_in_the_index_mapping(obj: dict[str, Any]) -> None:
    index = _index_of(obj)
    assert index in MAPPED, f"{obj['id']} points at {index}, an index without a known mapping"
    missing = _fields_named(obj) - MAPPED[index]
    assert not missing, f"{obj['id']} names fields unmapped in {index}: {missing}"


class _KibanaApi(http.server.BaseHTTPRequestHandler):
    """Records the import request and answers like Kibana's saved-objects API."""

    requests: list[dict[str, Any]] = []
    answer: dict[str, Any] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers),
                                    "body": body})
        payload = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kibana_api() -> Iterator[str]:
    _KibanaApi.requests = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _KibanaApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_posts_the_ndjson_with_the_xsrf_header(kibana_api: str) -> None:
    _KibanaApi.answer = {"success": True, "successCount": len(OBJECTS), "errors": []}
    result = CliRunner().invoke(cli, ["kibana", "import", "--url", kibana_api, "--space", "ops"])
    assert result.exit_code == 0, result.output
    assert result.output == f"imported {len(OBJECTS)} saved objects into Kibana\n"
    request = _KibanaApi.requests[0]
    assert request["path"] == "/s/ops/api/saved_objects/_import?overwrite=true"
    assert request["headers"]["kbn-xsrf"] == "true"
    assert b'name="file"' in request["body"] and NDJSON.read_bytes() in request["body"]


def test_import_fails_when_kibana_refuses_objects(kibana_api: str) -> None:
    _KibanaApi.answer = {"success": False, "successCount": 0, "errors": [
        {"type": "dashboard", "id": "newsflow-overview", "error": {"type": "missing_references"}}
    ]}
    result = CliRunner().invoke(cli, ["kibana", "import", "--url", kibana_api])
    assert result.exit_code == 1
    assert "missing_references" in str(result.exception)
