"""Build newsflow's Kibana saved objects: data views over the articles, stories and alerts
indices, saved searches (one per tag from the taxonomy, plus stories, alerts and original
articles only), visualizations and the overview dashboard.

    .venv/bin/python deploy/kibana/generate.py > deploy/kibana/newsflow.ndjson

The committed ndjson is what users import (`newsflow kibana import`, or Kibana's Saved
Objects page); tests/unit/deploy/test_kibana.py checks that it is this script's output for
the current taxonomy, that every reference resolves and that every field it names exists in
the mapping of the index its data view points at.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = ROOT / "processors" / "enrich" / "taxonomy.yaml"

# The index names are ElasticsearchSettings' defaults (alias, stories_index, alerts_index).
DATA_VIEW_ID = "newsflow-articles"
INDEX_PATTERN = "news-articles"  # the alias over the monthly backing indices
TIME_FIELD = "published_at"
STORIES_DATA_VIEW_ID = "newsflow-stories"
STORIES_INDEX = "news-stories"
STORIES_TIME_FIELD = "last_at"  # a story is "in the time range" while it gets articles
ALERTS_DATA_VIEW_ID = "newsflow-alerts"
ALERTS_INDEX = "news-alerts"
ALERTS_TIME_FIELD = "at"  # when the alert fired
LATEST_SEARCH_ID = "newsflow-latest-articles"
ORIGINALS_SEARCH_ID = "newsflow-originals-only"
ACTIVE_STORIES_SEARCH_ID = "newsflow-active-stories"
BIGGEST_STORIES_SEARCH_ID = "newsflow-biggest-stories"
ALERTS_SEARCH_ID = "newsflow-latest-alerts"
DASHBOARD_ID = "newsflow-overview"
CORE_MIGRATION = "8.8.0"
COLUMNS = ["title", "source", "tags", "entity.people", "entity.places"]
STORY_COLUMNS = ["title", "independent_sources", "article_count", "tags", "top_entities"]
ALERT_COLUMNS = ["key", "count", "baseline", "sources", "source_domains", "story_id"]
# Kibana ships objects of these shapes since these versions; it migrates them forward.
TYPE_MIGRATION = {
    "index-pattern": "8.0.0",
    "search": "8.0.0",
    "visualization": "8.5.0",
    "dashboard": "8.7.0",
}
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _object(kind: str, object_id: str, attributes: dict[str, Any],
            references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION,
        "typeMigrationVersion": TYPE_MIGRATION[kind],
    }


def _search_source(query: str) -> dict[str, Any]:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [],
              "indexRefName": INDEX_REF}
    return {"searchSourceJSON": json.dumps(source, sort_keys=True)}


def _data_view_ref(data_view_id: str = DATA_VIEW_ID) -> list[dict[str, str]]:
    return [{"name": INDEX_REF, "type": "index-pattern", "id": data_view_id}]


def data_view(object_id: str = DATA_VIEW_ID, index: str = INDEX_PATTERN,
              name: str = "newsflow articles", time_field: str = TIME_FIELD) -> dict[str, Any]:
    return _object("index-pattern", object_id, {
        "title": index,
        "name": name,
        "timeFieldName": time_field,
    }, [])


def saved_search(object_id: str, title: str, query: str, description: str, *,
                 data_view_id: str = DATA_VIEW_ID, columns: list[str] | None = None,
                 sort: list[list[str]] | None = None) -> dict[str, Any]:
    return _object("search", object_id, {
        "title": title,
        "description": description,
        "columns": COLUMNS if columns is None else columns,
        "sort": [[TIME_FIELD, "desc"]] if sort is None else sort,
        "kibanaSavedObjectMeta": _search_source(query),
    }, _data_view_ref(data_view_id))


def story_searches() -> list[dict[str, Any]]:
    """Stories (the news-stories index): the active ones, and the biggest ones."""
    return [
        saved_search(
            ACTIVE_STORIES_SEARCH_ID, "newsflow: active stories", "",
            "Stories with an article in the time range, the most recently updated first.",
            data_view_id=STORIES_DATA_VIEW_ID, columns=STORY_COLUMNS,
            sort=[[STORIES_TIME_FIELD, "desc"]],
        ),
        saved_search(
            BIGGEST_STORIES_SEARCH_ID, "newsflow: biggest stories", "",
            "Stories with an article in the time range, the most independent sources first.",
            data_view_id=STORIES_DATA_VIEW_ID, columns=STORY_COLUMNS,
            sort=[["independent_sources", "desc"], ["article_count", "desc"]],
        ),
    ]


def alerts_search() -> dict[str, Any]:
    """Spike alerts (the news-alerts index), newest first."""
    return saved_search(
        ALERTS_SEARCH_ID, "newsflow: alerts", "",
        "Spike alerts, the most recent first: the key (tag, tag|entity or watch:<name>), "
        "its count against the baseline, and the story most of its articles belong to.",
        data_view_id=ALERTS_DATA_VIEW_ID, columns=ALERT_COLUMNS,
        sort=[[ALERTS_TIME_FIELD, "desc"]],
    )


def _terms_table(object_id: str, title: str, field: str) -> dict[str, Any]:
    vis_state = {
        "title": title,
        "type": "table",
        "params": {"perPage": 15, "showMetricsAtAllLevels": False, "showPartialRows": False,
                   "showTotal": False},
        "aggs": [
            {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
            {"id": "2", "enabled": True, "type": "terms", "schema": "bucket",
             "params": {"field": field, "size": 15, "order": "desc", "orderBy": "1"}},
        ],
    }
    return _visualization(object_id, title, vis_state)


def _tags_over_time(object_id: str) -> dict[str, Any]:
    title = "Articles per tag over time"
    vis_state = {
        "title": title,
        "type": "histogram",
        "params": {"type": "histogram", "addLegend": True, "legendPosition": "right",
                   "addTooltip": True},
        "aggs": [
            {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
            {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
             "params": {"field": TIME_FIELD, "interval": "auto", "min_doc_count": 1,
                        "extended_bounds": {}}},
            {"id": "3", "enabled": True, "type": "terms", "schema": "group",
             "params": {"field": "tags", "size": 12, "order": "desc", "orderBy": "1"}},
        ],
    }
    return _visualization(object_id, title, vis_state)


def _visualization(object_id: str, title: str, vis_state: dict[str, Any]) -> dict[str, Any]:
    return _object("visualization", object_id, {
        "title": title,
        "description": "",
        "uiStateJSON": "{}",
        "version": 1,
        "visState": json.dumps(vis_state, sort_keys=True),
        "kibanaSavedObjectMeta": _search_source(""),
    }, _data_view_ref())


def dashboard(panels: list[tuple[dict[str, Any], dict[str, int]]]) -> dict[str, Any]:
    panel_json = []
    references = []
    for number, (target, grid) in enumerate(panels, start=1):
        index = str(number)
        panel_json.append({
            "panelIndex": index,
            "gridData": {**grid, "i": index},
            "embeddableConfig": {},
            "panelRefName": f"panel_{index}",
        })
        references.append({"name": f"{index}:panel_{index}", "type": target["type"],
                           "id": target["id"]})
    return _object("dashboard", DASHBOARD_ID, {
        "title": "newsflow overview",
        "description": "Articles per tag over time; top people, organisations and places; "
                       "latest articles; active and biggest stories; latest alerts.",
        "panelsJSON": json.dumps(panel_json, sort_keys=True),
        "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-7d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 30000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
            {"query": {"query": "", "language": "kuery"}, "filter": []}, sort_keys=True)},
    }, references)


def build(taxonomy_path: Path = TAXONOMY) -> list[dict[str, Any]]:
    taxonomy = yaml.safe_load(taxonomy_path.read_text(encoding="utf-8"))
    objects = [
        data_view(),
        data_view(STORIES_DATA_VIEW_ID, STORIES_INDEX, "newsflow stories", STORIES_TIME_FIELD),
        data_view(ALERTS_DATA_VIEW_ID, ALERTS_INDEX, "newsflow alerts", ALERTS_TIME_FIELD),
    ]
    latest = saved_search(LATEST_SEARCH_ID, "newsflow: latest articles", "",
                          "Every article, newest first.")
    objects.append(latest)
    objects.append(saved_search(
        ORIGINALS_SEARCH_ID, "newsflow: originals only (copies hidden)", "not dup_of : *",
        "Articles that copy no other article (no dup_of), newest first.",
    ))
    for tag in taxonomy["tags"]:
        objects.append(saved_search(
            f"newsflow-tag-{tag['id']}", f"newsflow tag: {tag['label']}",
            f'tags : "{tag["id"]}"', " ".join(tag.get("description", "").split()),
        ))
    tags_chart = _tags_over_time("newsflow-vis-tags-over-time")
    people = _terms_table("newsflow-vis-top-people", "Top people", "entity.people")
    orgs = _terms_table("newsflow-vis-top-organizations", "Top organisations",
                        "entity.organizations")
    places = _terms_table("newsflow-vis-top-places", "Top places", "entity.places")
    objects += [tags_chart, people, orgs, places]
    active_stories, biggest_stories = story_searches()
    alerts = alerts_search()
    objects += [active_stories, biggest_stories, alerts]
    objects.append(dashboard([
        (tags_chart, {"x": 0, "y": 0, "w": 48, "h": 14}),
        (people, {"x": 0, "y": 14, "w": 16, "h": 15}),
        (orgs, {"x": 16, "y": 14, "w": 16, "h": 15}),
        (places, {"x": 32, "y": 14, "w": 16, "h": 15}),
        (latest, {"x": 0, "y": 29, "w": 48, "h": 20}),
        (active_stories, {"x": 0, "y": 49, "w": 24, "h": 18}),
        (biggest_stories, {"x": 24, "y": 49, "w": 24, "h": 18}),
        (alerts, {"x": 0, "y": 67, "w": 48, "h": 15}),
    ]))
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in objects)


if __name__ == "__main__":
    sys.stdout.write(to_ndjson(build()))
