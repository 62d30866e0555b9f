"""The Elasticsearch adapter of alerts: the alerts index (one document per alert, id =
alert_id, created once), recent alerts, and what an alert's articles are (their outlets and
stories).

Errors as in processors.store.index: unreachable, 429 and 5xx become SearchUnavailableError
(the caller retries with backoff and says what it waits for).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch, helpers

from newsflow.settings import ElasticsearchSettings
from processors.store.alert_documents import alerts_mappings
from processors.store.index import (
    ensure_plain_index,
    es_client,
    search_or_empty,
    translate_error,
)

__all__ = ["AlertIndex"]

logger = logging.getLogger(__name__)


class AlertIndex:
    def __init__(
        self, settings: ElasticsearchSettings, client: Elasticsearch | None = None
    ) -> None:
        self.index = settings.alerts_index
        self.alias = settings.alias
        self._client = client or es_client(settings)

    def close(self) -> None:
        self._client.close()

    def ensure_ready(self) -> None:
        ensure_plain_index(self._client, self.index, alerts_mappings())

    def create(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store each alert once; returns the ids that were new (a conflict means the same
        alert was raised before: by this worker before a restart, or by another)."""
        if not documents:
            return []
        actions = [{"_op_type": "create", "_index": self.index, "_id": d["alert_id"],
                    "_source": dict(d)} for d in documents]
        try:
            _, errors = helpers.bulk(self._client, actions, raise_on_error=False,
                                     raise_on_exception=True, refresh="wait_for")
        except Exception as exc:
            raise translate_error(exc, f"storing alerts in {self.index}") from exc
        refused: set[str] = set()
        for error in errors if isinstance(errors, list) else []:
            item = error.get("create", {})
            refused.add(str(item.get("_id")))
            if item.get("status") != 409:
                logger.warning("alert document refused: %s", item.get("error"))
        return [d["alert_id"] for d in documents if d["alert_id"] not in refused]

    def search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Alerts matching ``body``; none before the index exists."""
        return search_or_empty(self._client, self.index, body)

    def articles(self, article_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """source and story_id of each indexed article of ``article_ids``."""
        if not article_ids:
            return {}
        try:
            reply = self._client.options(ignore_status=404).search(
                index=self.alias, query={"ids": {"values": list(article_ids)}},
                source_includes=["source", "story_id"], size=len(article_ids))
        except Exception as exc:
            raise translate_error(exc, f"reading the articles of an alert from {self.alias}"
                                  ) from exc
        return {hit["_id"]: dict(hit["_source"]) for hit in reply.get("hits", {}).get("hits", [])}
