"""Kibana cannot run here: check the saved objects' structure, references and fields, and
the import command's request against a local HTTP server standing in for Kibana's API."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from processors.store.documents import index_template

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


MAPPED = _mapping_fields(index_template("news-articles")["template"]["mappings"]["properties"])


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


def test_one_data_view_a_saved_search_per_tag_and_a_dashboard() -> None:
    import yaml

    taxonomy = yaml.safe_load((ROOT / "processors/enrich/taxonomy.yaml").read_text())
    tags = [t["id"] for t in taxonomy["tags"]]
    kinds = [o["type"] for o in OBJECTS]
    assert kinds.count("index-pattern") == 1
    assert kinds.count("dashboard") == 1
    queries = [json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
               for o in OBJECTS if o["type"] == "search"]
    for tag in tags:
        assert {"query": f'tags : "{tag}"', "language": "kuery"} in queries, tag
    assert len({(o["type"], o["id"]) for o in OBJECTS}) == len(OBJECTS), "duplicate ids"


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
        if " : " in query:
            named.add(query.split(" : ", 1)[0].strip())
    return named


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_every_field_named_exists_in_the_index_mapping(obj: dict[str, Any]) -> None:
    missing = _fields_named(obj) - MAPPED
    assert not missing, f"{obj['id']} names unmapped fields {missing}"


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
