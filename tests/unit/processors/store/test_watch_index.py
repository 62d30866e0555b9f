"""WatchIndex against an in-memory stand-in for the Elasticsearch client: the percolate path
(the local stack's Elasticsearch has no percolator module, so the integration tests run the
search path), the cached watch list, duplicates, and documents Elasticsearch cannot parse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from newsflow.errors import NewsflowError, SearchUnavailableError
from newsflow.settings import ElasticsearchSettings
from processors.store.watch_index import WatchExistsError, WatchIndex
from processors.store.watches import Watch


def api_error(status: int, body: Any) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "h", 1))
    return ApiError(str(body), meta, body)


class FakeIndices:
    def __init__(self, es: FakeES) -> None:
        self.es = es

    def exists(self, *, index: str) -> bool:
        return index in self.es.mappings

    def create(self, *, index: str, settings: Any, mappings: Mapping[str, Any]) -> None:
        if mappings["properties"].get("query", {}).get("type") == "percolator" \
                and not self.es.has_percolator:
            raise api_error(400, {"error": {"type": "mapper_parsing_exception", "reason":
                                            "The mapper type [percolator] ... does not exist"}})
        self.es.mappings[index] = dict(mappings)

    def get_mapping(self, *, index: str) -> dict[str, Any]:
        return {index: {"mappings": self.es.mappings[index]}}

    def put_mapping(self, *, index: str, properties: Any) -> None:
        self.es.put_mappings += 1


class FakeES:
    """Watches match a document whose title contains their query string."""

    def __init__(self, *, has_percolator: bool = True) -> None:
        self.has_percolator = has_percolator
        self.indices = FakeIndices(self)
        self.mappings: dict[str, Any] = {}
        self.docs: dict[str, dict[str, Any]] = {}
        self.put_mappings = 0
        self.percolates: list[dict[str, Any]] = []
        self.lists = 0
        self.unreachable = False
        self.refuse: set[str] = set()  # document ids the "mapping" cannot parse

    def options(self, **_: Any) -> FakeES:
        return self

    def close(self) -> None:
        pass

    def index(self, *, index: str, id: str, document: dict[str, Any], op_type: str,
              refresh: bool) -> dict[str, Any]:
        if op_type == "create" and id in self.docs:
            raise api_error(409, {"error": {"type": "version_conflict_engine_exception"}})
        result = "updated" if id in self.docs else "created"
        self.docs[id] = document
        return {"result": result}

    def delete(self, *, index: str, id: str, refresh: bool) -> dict[str, Any]:
        return {"result": "deleted" if self.docs.pop(id, None) else "not_found"}

    def get(self, *, index: str, id: str, source_includes: list[str]) -> dict[str, Any]:
        if id not in self.docs:
            return {"found": False}
        return {"found": True, "_source": {"watch": self.docs[id]["watch"]}}

    def search(self, *, index: str, **body: Any) -> dict[str, Any]:
        if self.unreachable:
            raise ConnectionError("refused")
        percolate = body["query"].get("percolate")
        if percolate is None:
            self.lists += 1
            hits = [{"_id": k, "_source": {"watch": v["watch"]}}
                    for k, v in sorted(self.docs.items())]
            return {"hits": {"total": {"value": len(hits)}, "hits": hits}}
        documents = percolate["documents"]
        self.percolates.append(body)
        if any(d["id"] in self.refuse for d in documents):
            raise api_error(400, {"error": {"type": "document_parsing_exception"}})
        hits = []
        for name, doc in sorted(self.docs.items()):
            text = doc["watch"]["query"]
            slots = [i for i, d in enumerate(documents) if text in d["title"]]
            if slots:
                hits.append({"_id": name, "fields": {"_percolator_document_slot": slots}})
        return {"hits": {"total": {"value": len(hits), "relation": "eq"},
                         "hits": hits[:body["size"]]}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(es: FakeES, clock: Clock | None = None) -> WatchIndex:
    return WatchIndex(ElasticsearchSettings(watches_index="w"), es,  # type: ignore[arg-type]
                      monotonic=clock or Clock(), known_ttl_s=5.0)


def docs(*titles: str) -> list[dict[str, Any]]:
    return [{"id": f"d{i}", "title": title} for i, title in enumerate(titles)]


def test_percolate_one_request_per_batch_slots_to_names() -> None:
    es = FakeES()
    index = make(es)
    index.ensure_ready()
    assert index.percolator is True
    assert es.mappings["w"]["properties"]["query"] == {"type": "percolator"}
    assert "w-batch" not in es.mappings
    index.add(Watch("naval", query="naval"))
    index.add(Watch("drone", query="drone"))
    batch = docs("naval drone strike", "bicycle lanes", "naval exercise")
    assert index.match(batch) == [["drone", "naval"], [], ["naval"]]
    assert len(es.percolates) == 1
    assert es.percolates[0]["query"]["percolate"]["documents"] == batch
    assert index.match([]) == []


def test_no_watches_no_request_and_the_list_is_cached() -> None:
    es, clock = FakeES(), Clock()
    index = make(es, clock)
    index.ensure_ready()
    for _ in range(3):
        assert index.match(docs("a", "b")) == [[], []]
    assert es.percolates == [] and es.lists == 1
    es.docs["late"] = {"watch": {"name": "late", "query": "a"}, "query": {}}  # another process
    assert index.match(docs("a")) == [[]]  # not seen yet
    clock.now += 5.0
    assert index.match(docs("a")) == [["late"]]
    assert es.lists == 2
    index.add(Watch("mine", query="b"))  # this process's own change counts at once
    assert index.match(docs("a b")) == [["late", "mine"]]


def test_more_matches_than_the_size_asks_again() -> None:
    es = FakeES()
    index = make(es)
    index.ensure_ready()
    for n in range(3):
        index.add(Watch(f"w{n}", query="x"))
    assert len(index.known()) == 3
    for n in range(60):  # added elsewhere after this process counted 3
        es.docs[f"z{n:02}"] = {"watch": {"name": f"z{n:02}", "query": "x"}, "query": {}}
    names = index.match(docs("x"))[0]
    assert len(names) == 63
    assert [p["size"] for p in es.percolates] == [53, 63]


def test_a_document_that_cannot_be_parsed_matches_nothing() -> None:
    es = FakeES()
    index = make(es)
    index.ensure_ready()
    index.add(Watch("naval", query="naval"))
    es.refuse = {"d1"}
    assert index.match(docs("naval", "naval", "naval")) == [["naval"], [], ["naval"]]
    assert len(es.percolates) == 4  # the batch, then one by one


def test_duplicates_replace_remove_get_list() -> None:
    es = FakeES()
    index = make(es)
    assert index.add(Watch("naval", query="naval")) is False  # ensure_ready on first use
    with pytest.raises(WatchExistsError, match="exists already"):
        index.add(Watch("naval", query="naval exercise"))
    assert index.add(Watch("naval", query="naval exercise"), replace=True) is True
    got = index.get("naval")
    assert got is not None and got.query == "naval exercise"
    assert index.get("nothing") is None
    index.add(Watch("able", tags=("a",)))
    assert [w.name for w in index.list()] == ["able", "naval"]
    assert index.remove("naval") is True
    assert index.remove("naval") is False
    assert [w.name for w in index.list()] == ["able"]


def test_without_the_percolator_module_the_search_mode_is_chosen() -> None:
    es = FakeES(has_percolator=False)
    index = make(es)
    index.ensure_ready()
    assert index.percolator is False
    assert es.mappings["w"]["properties"]["query"] == {"type": "object", "enabled": False}
    assert "title" in es.mappings["w-batch"]["properties"]
    again = make(es)  # an existing index says which mode it was made for
    again.ensure_ready()
    assert again.percolator is False
    with pytest.raises(NewsflowError):
        WatchIndex(ElasticsearchSettings(watches_index="v"), es,  # type: ignore[arg-type]
                   percolator=True).ensure_ready()


def test_unreachable_is_transient() -> None:
    es = FakeES()
    index = make(es)
    index.ensure_ready()
    es.unreachable = True
    with pytest.raises(SearchUnavailableError):
        index.list()
