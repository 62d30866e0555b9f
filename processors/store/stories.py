"""The Elasticsearch adapter of stories: the stories index (one document per story), and the
story engine's snapshots (processors.store.story_documents holds the pure part).

Errors as in processors.store.index: unreachable, 429 and 5xx become SearchUnavailableError
(the caller retries with backoff and says what it waits for).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, helpers

from newsflow.article import utc_now
from newsflow.settings import ElasticsearchSettings
from processors.store.index import (
    ensure_plain_index,
    es_client,
    search_or_empty,
    translate_error,
)
from processors.store.story_documents import (
    chunk_id,
    join_chunks,
    meta_id,
    snapshot_chunks,
    state_mappings,
    stories_mappings,
    story_document,
)

__all__ = ["StoryStore", "StoryUpdate"]

logger = logging.getLogger(__name__)

StoryUpdate = tuple[Mapping[str, Any], str, str]  # summary, first article's title and id


class StoryStore:
    def __init__(
        self, settings: ElasticsearchSettings, client: Elasticsearch | None = None
    ) -> None:
        self.index = settings.stories_index
        self.state_index = settings.stories_state_index
        self._client = client or es_client(settings)

    def close(self) -> None:
        self._client.close()

    # -- set-up ---------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        ensure_plain_index(self._client, self.index, stories_mappings())
        ensure_plain_index(self._client, self.state_index, state_mappings())

    # -- stories --------------------------------------------------------------------------

    def put_stories(self, updates: Sequence[StoryUpdate], now: datetime | None = None) -> int:
        """Each story's latest summary (created with its first article's title when new).
        Returns how many Elasticsearch refused; they are logged, never retried: the next
        article of the story rewrites the document."""
        at = now or utc_now()
        actions = []
        for summary, title, first_id in updates:
            doc = story_document(summary, at)
            actions.append({
                "_op_type": "update", "_index": self.index, "_id": summary["story_id"],
                "doc": doc, "upsert": {**doc, "title": title, "first_article_id": first_id},
            })
        if not actions:
            return 0
        try:
            _, errors = helpers.bulk(self._client, actions, raise_on_error=False,
                                     raise_on_exception=True, refresh=False)
        except Exception as exc:
            raise translate_error(exc, f"updating stories in {self.index}") from exc
        failed = errors if isinstance(errors, list) else []
        for error in failed[:3]:
            logger.warning("story document refused: %s", error)
        return len(failed)

    def search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Stories matching ``body``; none before the first worker made the index."""
        return search_or_empty(self._client, self.index, body)

    def get(self, story_id: str) -> dict[str, Any] | None:
        try:
            reply = self._client.options(ignore_status=404).get(index=self.index, id=story_id)
        except Exception as exc:
            raise translate_error(exc, f"reading story {story_id}") from exc
        return dict(reply["_source"]) if reply.get("found") else None

    # -- snapshots of the engine ----------------------------------------------------------

    def save_snapshot(self, key: str, offset: int, blob: bytes) -> bool:
        """Store a snapshot covering the enriched topic up to ``offset``; False (nothing
        changed) when a snapshot at or past that offset is already there, as after a
        rebalance where another worker went on."""
        try:
            current = self._client.options(ignore_status=404).get(
                index=self.state_index, id=meta_id(key))
            found = bool(current.get("found"))
            meta = current["_source"] if found else {}
            if found and int(meta["offset"]) >= offset:
                return False
            generation = int(meta.get("generation", 0)) + 1
            chunks = list(snapshot_chunks(blob))
            for n, chunk in enumerate(chunks):
                self._client.index(index=self.state_index, id=chunk_id(key, generation, n),
                                   document={"key": key, "data": chunk})
            new_meta = {"key": key, "offset": offset, "generation": generation,
                        "chunks": len(chunks), "bytes": len(blob),
                        "saved_at": utc_now().isoformat()}
            # Written last, and only over the meta document read above: a reader sees the
            # old snapshot or the new one, and of two writers the later loses.
            conditions = ({"if_seq_no": current["_seq_no"],
                           "if_primary_term": current["_primary_term"]} if found
                          else {"op_type": "create"})
            self._client.index(index=self.state_index, id=meta_id(key), document=new_meta,
                               refresh=True, **conditions)
        except ApiError as exc:
            if exc.meta.status == 409:
                return False
            raise translate_error(exc, f"saving the story snapshot {key}") from exc
        except Exception as exc:
            raise translate_error(exc, f"saving the story snapshot {key}") from exc
        if found:
            self._delete_generation(key, int(meta["generation"]), int(meta["chunks"]))
        return True

    def _delete_generation(self, key: str, generation: int, chunks: int) -> None:
        for n in range(chunks):
            try:
                self._client.options(ignore_status=404).delete(
                    index=self.state_index, id=chunk_id(key, generation, n))
            except Exception as exc:  # left behind: harmless, overwritten never read
                logger.warning("old snapshot chunk not deleted key=%s reason=%s", key, exc)
                return

    def load_snapshot(self, key: str) -> tuple[int, bytes] | None:
        """The latest snapshot: (the enriched topic's offset it covers, its bytes)."""
        try:
            reply = self._client.options(ignore_status=404).get(
                index=self.state_index, id=meta_id(key))
            if not reply.get("found"):
                return None
            meta = reply["_source"]
            chunks = []
            for n in range(int(meta["chunks"])):
                doc = self._client.get(index=self.state_index,
                                       id=chunk_id(key, int(meta["generation"]), n))
                chunks.append(doc["_source"]["data"])
        except Exception as exc:
            raise translate_error(exc, f"loading the story snapshot {key}") from exc
        return int(meta["offset"]), join_chunks(chunks)
